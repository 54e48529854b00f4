package store

import (
	"runtime"
	"strconv"
	"testing"
)

// BenchmarkRosterList reads a roster as a login and a presence broadcast
// do, in a store of 20,000 users of which every tenth has 20 contacts,
// flushed to tables so that reads go through the levels, not only the
// memtable.
//
//	go test -run '^$' -bench RosterList -benchmem ./store/
func BenchmarkRosterList(b *testing.B) {
	db := openBench(b)
	r := db.Roster()
	for u := range 20000 {
		if u%10 != 0 {
			continue
		}
		user := "u" + strconv.Itoa(u)
		for c := range 20 {
			if _, err := r.Put(user, RosterItem{JID: "c" + strconv.Itoa(c) + "@example.org", Sub: SubBoth}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := db.pdb.Flush(); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name, user string
		held       bool
	}{{"empty", "u7", false}, {"20-items", "u70", false}, {"empty-cached", "u7", true}, {"20-items-cached", "u70", true}} {
		b.Run(tc.name, func(b *testing.B) {
			if tc.held {
				r.Hold(tc.user)
				defer r.Release(tc.user)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if _, err := r.List(tc.user, func(RosterItem) bool { n++; return true }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRosterCacheMemory measures what the cache costs per held user:
// the heap after loading the rosters of 2,000 held users with N items each
// (25-byte contact JIDs, subscription both, one group), less the heap
// before (with Pebble's block cache already warm), per user.
//
//	go test -run '^$' -bench RosterCacheMemory -benchtime 1x ./store/
func BenchmarkRosterCacheMemory(b *testing.B) {
	const users = 2000
	for _, items := range []int{0, 20, 100} {
		b.Run(strconv.Itoa(items)+"-items", func(b *testing.B) {
			db := openBench(b)
			r := db.Roster()
			for u := range users {
				user := "u" + strconv.Itoa(u)
				tx := r.Begin(user)
				for c := range items {
					tx.Put(user, RosterItem{JID: "contact" + strconv.Itoa(100000+c) + "@example.org", Sub: SubBoth, Groups: []string{"Friends"}})
				}
				if _, err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			var perUser float64
			for b.Loop() {
				// Pebble's block cache is warmed first: it is not the roster cache's cost
				for u := range users {
					if _, err := r.List("u"+strconv.Itoa(u), func(RosterItem) bool { return true }); err != nil {
						b.Fatal(err)
					}
				}
				before := heap()
				for u := range users {
					user := "u" + strconv.Itoa(u)
					r.Hold(user)
					if _, err := r.List(user, func(RosterItem) bool { return true }); err != nil {
						b.Fatal(err)
					}
				}
				perUser = float64(heap()-before) / users
				for u := range users {
					r.Release("u" + strconv.Itoa(u))
				}
			}
			b.ReportMetric(perUser, "B/user")
		})
	}
}

func heap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
