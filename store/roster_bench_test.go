package store

import (
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
	for _, tc := range []struct{ name, user string }{{"empty", "u7"}, {"20-items", "u70"}} {
		b.Run(tc.name, func(b *testing.B) {
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
