package store

import (
	"errors"
	"reflect"
	"testing"
)

func TestPrivacy(t *testing.T) {
	db := openTest(t, nil)
	p := db.Privacy()
	work := PrivacyList{Name: "work", Items: []PrivacyItem{
		{Type: PrivacyJID, Value: "boss@localhost", Allow: true, Order: 1},
		{Type: PrivacyGroup, Value: "Friends", Allow: false, Order: 2, Stanzas: PrivacyMessage | PrivacyPresenceOut},
		{Type: PrivacySubscription, Value: "none", Allow: false, Order: 3, Stanzas: PrivacyIQ},
		{Type: PrivacyFallThrough, Allow: true, Order: 4},
	}}
	home := PrivacyList{Name: "home", Items: []PrivacyItem{{Type: PrivacyJID, Value: "boss@localhost", Order: 1}}}
	for _, l := range []PrivacyList{work, home} {
		if err := p.PutList("alice", l); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.SetDefault("alice", "home"); err != nil {
		t.Fatal(err)
	}
	def, lists, err := p.Load("alice")
	if err != nil {
		t.Fatal(err)
	}
	if def != "home" || !reflect.DeepEqual(lists, []PrivacyList{home, work}) {
		t.Fatalf("Load = %q, %+v", def, lists)
	}
	done := make(chan error, 1)
	p.DeleteListAsync("alice", "home", true, func(err error) { done <- err })
	for range 1 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	def, lists, err = p.Load("alice")
	if err != nil || def != "" || !reflect.DeepEqual(lists, []PrivacyList{work}) {
		t.Fatalf("after delete: %q, %+v, %v", def, lists, err)
	}
	if err := p.PutList("alice", PrivacyList{}); err == nil {
		t.Fatal("stored a list without a name")
	}
}

func TestPrivacyCodec(t *testing.T) {
	l := PrivacyList{Items: []PrivacyItem{{Type: PrivacySubscription, Value: "both", Allow: true, Order: 1 << 31, Stanzas: PrivacyIQ}}}
	got, err := decodePrivacyList(appendPrivacyList(nil, l))
	if err != nil || !reflect.DeepEqual(got, l) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, v := range [][]byte{nil, {9}, {privacyV1, 1}, {privacyV1, 1, 7, 0, 0, 0, 0}, {privacyV1, 0, 0}} {
		if _, err := decodePrivacyList(v); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decode(%v): %v, want ErrCorrupt", v, err)
		}
	}
}
