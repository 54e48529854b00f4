package store

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestPrivate(t *testing.T) {
	mem := vfs.NewCrashableMem()
	db := openTest(t, mem)
	p := db.Private()

	bm := PrivateItem{NS: "storage:bookmarks", Local: "storage", XML: []byte("<storage xmlns='storage:bookmarks'/>")}
	bm2 := PrivateItem{NS: "storage:bookmarks", Local: "storage", XML: []byte("<storage xmlns='storage:bookmarks'><conference jid='a@b'/></storage>")}
	prefs := PrivateItem{NS: "exodus:prefs", Local: "exodus", XML: []byte("<exodus xmlns='exodus:prefs'><defaultnick>A</defaultnick></exodus>")}
	other := PrivateItem{NS: "exodus:prefs", Local: "other", XML: []byte("<other xmlns='exodus:prefs'/>")}

	if err := p.Set("alice", bm, prefs); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	p.SetAsync("alice", []PrivateItem{bm2, other}, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := p.Set("al", bm); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, user, ns, local string
		want                  []byte // nil: not found
	}{
		{name: "overwritten", user: "alice", ns: "storage:bookmarks", local: "storage", want: bm2.XML},
		{name: "kept", user: "alice", ns: "exodus:prefs", local: "exodus", want: prefs.XML},
		{name: "same-ns-other-name", user: "alice", ns: "exodus:prefs", local: "other", want: other.XML},
		{name: "other-user", user: "al", ns: "storage:bookmarks", local: "storage", want: bm.XML},
		{name: "other-user-missing", user: "al", ns: "exodus:prefs", local: "exodus"},
		{name: "unknown-user", user: "bob", ns: "storage:bookmarks", local: "storage"},
		{name: "ns-local-split", user: "alice", ns: "exodus:prefs\x00exodus", local: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Get(tc.user, tc.ns, tc.local)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("Get = %q, want an error", got)
				}
				return
			}
			if err != nil || string(got) != string(tc.want) {
				t.Fatalf("Get = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := p.Get("bob", "storage:bookmarks", "storage"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v, want ErrNotFound", err)
	}
	if err := p.Set("alice", PrivateItem{NS: "x\x00y", Local: "z", XML: []byte("<z/>")}); err == nil {
		t.Fatal("Set accepted a namespace with NUL")
	}

	crashed := openTest(t, mem.CrashClone(vfs.CrashCloneCfg{})).Private()
	if got, err := crashed.Get("alice", "exodus:prefs", "other"); err != nil || string(got) != string(other.XML) {
		t.Fatalf("after a crash: %q, %v", got, err)
	}
}
