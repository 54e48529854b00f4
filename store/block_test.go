package store

import (
	"reflect"
	"testing"
)

func TestBlocklist(t *testing.T) {
	db := openTest(t, nil)
	bl := db.Blocklist()
	get := func(user string) []string {
		t.Helper()
		l, err := bl.Get(user)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := get("alice"); len(l) != 0 {
		t.Fatalf("new user's blocklist: %v", l)
	}
	if err := bl.Block("alice", []string{"eve@localhost", "spam.example", "bob@localhost/phone"}); err != nil {
		t.Fatal(err)
	}
	if err := bl.Block("al", []string{"x@y"}); err != nil { // a prefix of alice
		t.Fatal(err)
	}
	want := []string{"bob@localhost/phone", "eve@localhost", "spam.example"}
	if l := get("alice"); !reflect.DeepEqual(l, want) {
		t.Fatalf("Get = %v, want %v", l, want)
	}
	if err := bl.Unblock("alice", []string{"eve@localhost", "not@blocked"}); err != nil {
		t.Fatal(err)
	}
	if l := get("alice"); !reflect.DeepEqual(l, []string{"bob@localhost/phone", "spam.example"}) {
		t.Fatalf("after unblock: %v", l)
	}
	done := make(chan error, 1)
	bl.UnblockAsync("alice", nil, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if l := get("alice"); len(l) != 0 {
		t.Fatalf("after unblock all: %v", l)
	}
	if l := get("al"); !reflect.DeepEqual(l, []string{"x@y"}) {
		t.Fatalf("unblock all reached another user: %v", l)
	}
	if err := bl.Block("alice", []string{""}); err == nil {
		t.Fatal("blocked an empty JID")
	}
}

func TestBlocklistClearedWithAccount(t *testing.T) {
	db := openTest(t, nil)
	if err := db.Accounts().Create("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := db.Blocklist().Block("alice", []string{"eve@localhost"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Accounts().Delete("alice"); err != nil {
		t.Fatal(err)
	}
	if l, _ := db.Blocklist().Get("alice"); len(l) != 0 {
		t.Fatalf("blocklist survived the account: %v", l)
	}
}

// TestUsersWithLists: the users with a blocklist or privacy lists, each
// once, a user whose name is a prefix of another's apart, none of another
// table's.
func TestUsersWithLists(t *testing.T) {
	db := openTest(t, nil)
	if u, err := db.Blocklist().Users(); err != nil || len(u) != 0 {
		t.Fatalf("empty table: %v, %v", u, err)
	}
	for user, jids := range map[string][]string{"alice": {"a@x", "b@x", "c@x"}, "al": {"d@x"}, "zed": {"e@x"}} {
		if err := db.Blocklist().Block(user, jids); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Privacy().PutList("bob", PrivacyList{Name: "l", Items: []PrivacyItem{{Type: PrivacyJID, Value: "x@y", Order: 1}}}); err != nil {
		t.Fatal(err)
	}
	if u, err := db.Blocklist().Users(); err != nil || !reflect.DeepEqual(u, []string{"al", "alice", "zed"}) {
		t.Fatalf("blocklist users: %v, %v", u, err)
	}
	if u, err := db.Privacy().Users(); err != nil || !reflect.DeepEqual(u, []string{"bob"}) {
		t.Fatalf("privacy users: %v, %v", u, err)
	}
	if err := db.Blocklist().Unblock("alice", nil); err != nil {
		t.Fatal(err)
	}
	if u, err := db.Blocklist().Users(); err != nil || !reflect.DeepEqual(u, []string{"al", "zed"}) {
		t.Fatalf("after alice unblocked all: %v, %v", u, err)
	}
}
