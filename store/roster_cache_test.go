package store

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// view lists a user's roster through list: r.listDisk (Pebble) or r.List
// (the cache, for a held user), for comparison.
func view(t *testing.T, list func(string, func(RosterItem) bool) (uint64, error), user string) (uint64, []RosterItem) {
	t.Helper()
	var items []RosterItem
	ver, err := list(user, func(it RosterItem) bool { items = append(items, it); return true })
	if err != nil {
		t.Fatal(err)
	}
	return ver, items
}

func sameItems(a, b []RosterItem) bool {
	return slices.EqualFunc(a, b, func(x, y RosterItem) bool { return x.JID == y.JID && x.Equal(y) })
}

func checkCache(t *testing.T, r *Roster, user string) {
	t.Helper()
	dv, di := view(t, r.listDisk, user)
	cv, ci := view(t, r.List, user)
	if dv != cv || !sameItems(di, ci) {
		t.Fatalf("%s: cache has version %d %+v; disk %d %+v", user, cv, ci, dv, di)
	}
	for _, it := range di {
		got, err := r.Get(user, it.JID)
		if err != nil || !got.Equal(it) {
			t.Fatalf("%s: Get(%s) = %+v, %v; disk %+v", user, it.JID, got, err, it)
		}
	}
}

// TestRosterCache: a held roster is loaded at the first read, follows every
// kind of write (put, change, hidden item, delete, a transaction over two
// users), and is dropped at the last release and when the account goes.
func TestRosterCache(t *testing.T) {
	db := openTest(t, nil)
	r := db.Roster()
	if _, err := r.Put("romeo", RosterItem{JID: "nurse@localhost"}); err != nil {
		t.Fatal(err)
	}
	r.Hold("romeo")
	r.Hold("romeo") // a second session
	if held, loaded := r.Cached(); held != 1 || loaded != 0 {
		t.Fatalf("after Hold: %d held, %d loaded", held, loaded)
	}
	checkCache(t, r, "romeo")
	if _, loaded := r.Cached(); loaded != 1 {
		t.Fatal("the first read did not load the roster")
	}
	steps := []struct {
		name string
		do   func(tx *RosterTxn)
	}{
		{"add", func(tx *RosterTxn) {
			tx.Put("romeo", RosterItem{JID: "juliet@localhost", Name: "J", Groups: []string{"C"}})
		}},
		{"add before", func(tx *RosterTxn) { tx.Put("romeo", RosterItem{JID: "benvolio@localhost"}) }},
		{"change", func(tx *RosterTxn) {
			tx.Put("romeo", RosterItem{JID: "juliet@localhost", Sub: SubBoth, Groups: []string{"C", "D"}})
		}},
		{"hidden", func(tx *RosterTxn) {
			tx.Put("romeo", RosterItem{JID: "tybalt@localhost", Hidden: true, PendingIn: []byte("<p/>")})
		}},
		{"hidden emptied", func(tx *RosterTxn) { tx.Put("romeo", RosterItem{JID: "tybalt@localhost", Hidden: true}) }},
		{"delete", func(tx *RosterTxn) { tx.Delete("romeo", "nurse@localhost") }},
		{"two users", func(tx *RosterTxn) {
			tx.Put("romeo", RosterItem{JID: "mercutio@localhost", Ask: true})
			tx.Put("mercutio", RosterItem{JID: "romeo@localhost", PendingIn: []byte("<p/>"), Hidden: true})
		}},
		{"same twice", func(tx *RosterTxn) {
			tx.Put("romeo", RosterItem{JID: "a@localhost"})
			tx.Delete("romeo", "a@localhost")
		}},
	}
	for _, s := range steps {
		tx := r.Begin("romeo", "mercutio")
		s.do(tx)
		if _, err := tx.Commit(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		checkCache(t, r, "romeo")
	}
	// a caller appending to a cached item's groups does not change the cache
	it, _ := r.Get("romeo", "juliet@localhost")
	_ = append(it.Groups, "X")
	checkCache(t, r, "romeo")

	r.Release("romeo")
	if held, _ := r.Cached(); held != 1 {
		t.Fatal("dropped while a session still holds it")
	}
	r.Release("romeo")
	if held, loaded := r.Cached(); held != 0 || loaded != 0 {
		t.Fatalf("after the last Release: %d held, %d loaded", held, loaded)
	}

	r.Hold("mercutio")
	checkCache(t, r, "mercutio")
	if err := db.Accounts().Create("mercutio", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := db.Accounts().Delete("mercutio"); err != nil {
		t.Fatal(err)
	}
	if _, items := view(t, r.List, "mercutio"); len(items) != 0 {
		t.Fatalf("deleted account's roster still cached: %+v", items)
	}
	r.Release("mercutio")
}

// TestRosterCacheConcurrent: loads race with commits (the cache is held and
// released while writers run); at the end the cache equals the disk.
func TestRosterCacheConcurrent(t *testing.T) {
	r := openTest(t, nil).Roster()
	const writers, n = 4, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range n {
				c := fmt.Sprintf("c%d@localhost", rng.IntN(20))
				if rng.IntN(4) == 0 {
					if _, err := r.Delete("romeo", c); err != nil {
						t.Error(err)
					}
					continue
				}
				if _, err := r.Put("romeo", RosterItem{JID: c, Name: fmt.Sprint(w, i), Sub: Subscription(rng.IntN(4))}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() {
		for range n {
			r.Hold("romeo")
			if _, err := r.List("romeo", func(RosterItem) bool { return true }); err != nil {
				t.Error(err)
			}
			r.Release("romeo")
		}
	})
	r.Hold("romeo")
	wg.Wait()
	checkCache(t, r, "romeo")
	r.Release("romeo")
}
