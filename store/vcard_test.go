package store

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestVCards(t *testing.T) {
	mem := vfs.NewCrashableMem()
	db := openTest(t, mem)
	v := db.VCards()

	if _, err := v.Get("alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Set: %v, want ErrNotFound", err)
	}
	first := []byte("<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>")
	if err := v.Set("alice", first); err != nil {
		t.Fatal(err)
	}
	second := []byte("<vCard xmlns='vcard-temp'><FN>Alice L.</FN><NICKNAME>al</NICKNAME></vCard>")
	done := make(chan error, 1)
	v.SetAsync("alice", second, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := v.Set("al", first); err != nil { // a prefix of alice: must not collide
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, user string
		want       []byte
	}{
		{name: "overwritten", user: "alice", want: second},
		{name: "other-user", user: "al", want: first},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Get(tc.user)
			if err != nil || string(got) != string(tc.want) {
				t.Fatalf("Get(%s) = %q, %v; want %q", tc.user, got, err, tc.want)
			}
		})
	}
	if _, err := v.Get("bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(bob): %v, want ErrNotFound", err)
	}
	if err := v.Set("", first); !errors.Is(err, ErrInvalidUser) {
		t.Fatalf("Set with an empty user: %v, want ErrInvalidUser", err)
	}

	// acknowledged means on disk: a crash keeps it
	crashed := openTest(t, mem.CrashClone(vfs.CrashCloneCfg{})).VCards()
	if got, err := crashed.Get("alice"); err != nil || string(got) != string(second) {
		t.Fatalf("after a crash: %q, %v", got, err)
	}

	// deleting the account deletes its vCard
	if err := db.Accounts().Create("al", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := db.Accounts().Delete("al"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Get("al"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("vCard after account deletion: %v, want ErrNotFound", err)
	}
	if _, err := v.Get("alice"); err != nil {
		t.Fatalf("alice's vCard went with al's account: %v", err)
	}
}
