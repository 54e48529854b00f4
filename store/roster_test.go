package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestRosterPutGetListDelete(t *testing.T) {
	r := openTest(t, nil).Roster()
	if v, err := r.Version("romeo"); err != nil || v != 0 {
		t.Fatalf("Version of a new roster = %d, %v; want 0", v, err)
	}
	if _, err := r.Get("romeo", "juliet@localhost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing item: %v, want ErrNotFound", err)
	}
	items := []RosterItem{
		{JID: "juliet@localhost", Name: "Juliet", Groups: []string{"Capulets", "Friends"}, Sub: SubBoth},
		{JID: "nurse@localhost", Sub: SubNone, Ask: true},
		{JID: "benvolio@localhost", Sub: SubFrom, Approved: true, PendingIn: []byte("<presence type='subscribe'/>")},
	}
	for i, it := range items {
		v, err := r.Put("romeo", it)
		if err != nil || v != uint64(i+1) {
			t.Fatalf("Put #%d = %d, %v; want version %d", i, v, err, i+1)
		}
	}
	got, err := r.Get("romeo", "juliet@localhost")
	if err != nil || got.Name != "Juliet" || !slices.Equal(got.Groups, items[0].Groups) || got.Sub != SubBoth {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	var listed []RosterItem
	ver, err := r.List("romeo", func(it RosterItem) bool { listed = append(listed, it); return true })
	if err != nil || ver != 3 || len(listed) != 3 {
		t.Fatalf("List = %d items, version %d, %v", len(listed), ver, err)
	}
	if b := listed[0]; b.JID != "benvolio@localhost" || !b.Approved || string(b.PendingIn) != "<presence type='subscribe'/>" || b.Sub != SubFrom {
		t.Fatalf("first listed = %+v", b)
	}
	// a write nobody can see (only the pending request changes) keeps the version
	b := listed[0]
	b.PendingIn = nil
	if v, err := r.Put("romeo", b); err != nil || v != 3 {
		t.Fatalf("invisible Put = %d, %v; want version 3", v, err)
	}
	if v, err := r.Delete("romeo", "nurse@localhost"); err != nil || v != 4 {
		t.Fatalf("Delete = %d, %v; want version 4", v, err)
	}
	if v, err := r.Delete("romeo", "nobody@localhost"); err != nil || v != 4 {
		t.Fatalf("Delete of a missing item = %d, %v; want version 4", v, err)
	}
	if _, err := r.Get("romeo", "nurse@localhost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted item: %v", err)
	}
	// another user's roster is separate
	if v, err := r.Version("rom"); err != nil || v != 0 {
		t.Fatalf("Version(rom) = %d, %v", v, err)
	}
}

func TestRosterAsyncAndWatch(t *testing.T) {
	r := openTest(t, nil).Roster()
	var mu sync.Mutex
	var seen []string
	r.Watch(func(user string, ver uint64, cs []RosterChange) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			seen = append(seen, fmt.Sprintf("%s v%d %s removed=%v", user, ver, c.Item.JID, c.Removed))
		}
	})
	const n = 50
	var wg sync.WaitGroup
	vers := make(chan uint64, n)
	for i := range n {
		wg.Add(1)
		r.PutAsync("romeo", RosterItem{JID: fmt.Sprintf("c%02d@localhost", i)}, func(v uint64, err error) {
			if err != nil {
				t.Error(err)
			}
			vers <- v
			wg.Done()
		})
	}
	wg.Wait()
	close(vers)
	var got []uint64
	for v := range vers {
		got = append(got, v)
	}
	slices.Sort(got)
	for i, v := range got {
		if v != uint64(i+1) {
			t.Fatalf("versions %v: want 1..%d, each once", got, n)
		}
	}
	if v, _ := r.Version("romeo"); v != n {
		t.Fatalf("Version = %d, want %d", v, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Fatalf("watcher saw %d changes, want %d", len(seen), n)
	}
}

// TestRosterTxnReadsInFlight: a transaction sees what earlier ones
// submitted before it is on disk.
func TestRosterTxnReadsInFlight(t *testing.T) {
	r := openTest(t, nil).Roster()
	tx := r.Begin("romeo")
	tx.Put("romeo", RosterItem{JID: "juliet@localhost", Ask: true})
	done := make(chan error, 1)
	tx.CommitAsync(func(err error) { done <- err })
	tx2 := r.Begin("romeo")
	it, ok, err := tx2.Get("romeo", "juliet@localhost")
	if err != nil || !ok || !it.Ask {
		t.Fatalf("second transaction read %+v, %v, %v", it, ok, err)
	}
	it.Sub = SubTo
	it.Ask = false
	tx2.Put("romeo", it)
	if _, err := tx2.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := r.Get("romeo", "juliet@localhost")
	if err != nil || got.Sub != SubTo || got.Ask {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if v, _ := r.Version("romeo"); v != 2 {
		t.Fatalf("Version = %d, want 2", v)
	}
}

// TestRosterDurable: acknowledged roster changes and the version survive a
// crash that loses everything unsynced.
func TestRosterDurable(t *testing.T) {
	mem := vfs.NewCrashableMem()
	r := openTest(t, mem).Roster()
	for i := range 10 {
		if _, err := r.Put("juliet", RosterItem{JID: fmt.Sprintf("c%d@localhost", i), Name: "n", Sub: SubBoth}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Delete("juliet", "c3@localhost"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	r.PutAsync("juliet", RosterItem{JID: "late@localhost"}, func(_ uint64, err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r2 := openTest(t, mem.CrashClone(vfs.CrashCloneCfg{})).Roster()
	n := 0
	ver, err := r2.List("juliet", func(it RosterItem) bool {
		n++
		if it.JID == "c3@localhost" {
			t.Errorf("deleted item is back")
		}
		return true
	})
	if err != nil || ver != 12 || n != 10 {
		t.Fatalf("after the crash: %d items, version %d, %v; want 10 items, version 12", n, ver, err)
	}
}

func TestRosterItemEncoding(t *testing.T) {
	for _, it := range []RosterItem{
		{},
		{Name: "x", Groups: []string{"a", ""}, Sub: SubTo, Ask: true, Approved: true, Hidden: true, PendingIn: []byte{}},
		{PendingIn: []byte("<presence/>"), Sub: SubFrom},
	} {
		got, err := decodeRosterItem(appendRosterItem(nil, &it))
		if err != nil || !got.Equal(it) {
			t.Errorf("round trip of %+v = %+v, %v", it, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 0, 5, 'a'}, {1, 0, 0, 200}, {1, 0, 0, 0, 9}} {
		if _, err := decodeRosterItem(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decode %x: %v, want ErrCorrupt", bad, err)
		}
	}
}
