package store

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// BenchmarkArchiveQuery measures a query on one user's archive of a million
// messages (ten million with IGNIS_BENCH_10M=1; generating them takes
// minutes), with 100 contacts, on disk in a temporary folder:
//
//	last-page    the latest 50 messages (RSM <before/>), as a client opening
//	             its history does
//	with-middle  50 messages with one contact, after a cursor half way
//	             through that contact's messages
//
// Neither is counted (mod/mam asks for no count scan: RSM <count/> is given
// only when the page holds the whole result set). The data is written once per size with batched NoSync
// commits straight into Pebble and flushed to tables.
//
//	go test ./store -run '^$' -bench BenchmarkArchiveQuery -benchtime 2000x
func BenchmarkArchiveQuery(b *testing.B) {
	sizes := []int{1_000_000}
	if os.Getenv("IGNIS_BENCH_10M") == "1" {
		sizes = append(sizes, 10_000_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("msgs=%dM", n/1_000_000), func(b *testing.B) {
			db, err := Open(&Options{Dir: b.TempDir(), Logger: quietLogger})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			const contacts = 100
			idOf := fillBenchArchive(b, db, "alice", n, contacts)
			a := db.Archive()
			b.Run("last-page", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					p, err := a.Query("alice", ArchiveQuery{Limit: 50, FromEnd: true})
					if err != nil || len(p.Entries) != 50 || p.Complete {
						b.Fatalf("%d entries, complete %v, %v", len(p.Entries), p.Complete, err)
					}
				}
			})
			b.Run("with-middle", func(b *testing.B) {
				b.ReportAllocs()
				// contact 50's messages are numbers 50, 150, 250…; start half way
				after := idOf(50 + contacts*(n/contacts/2))
				for b.Loop() {
					p, err := a.Query("alice", ArchiveQuery{With: "c50@localhost", After: after, Limit: 50})
					if err != nil || len(p.Entries) != 50 || p.Entries[0].ID <= after {
						b.Fatalf("%d entries, %v", len(p.Entries), err)
					}
				}
			})
		})
	}
}

// fillBenchArchive writes n messages of user, message i with contact
// c(i%contacts), one millisecond apart, and returns the id of message i.
func fillBenchArchive(b *testing.B, db *DB, user string, n, contacts int) func(i int) uint64 {
	b.Helper()
	start := time.Now()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	idOf := func(i int) uint64 { return ArchiveIDAt(t0.Add(time.Duration(i) * time.Millisecond)) }
	batch := db.pdb.NewBatch()
	var v []byte
	for i := range n {
		with := fmt.Sprintf("c%d@localhost", i%contacts)
		raw := fmt.Appendf(nil, "<message from='%s/phone' to='%s@localhost/laptop' type='chat' id='msg-%d'>"+
			"<body>message number %d of a long conversation, long enough to look like a real one</body>"+
			"<origin-id xmlns='urn:xmpp:sid:0' id='origin-%d'/></message>", with, user, i, i, i)
		v = appendArchiveValue(v[:0], ArchiveDir(1+i%2), with, raw)
		id := idOf(i)
		if err := batch.Set(userSeqKey(tableArchive, user, id), v, nil); err != nil {
			b.Fatal(err)
		}
		if err := batch.Set(archiveWithKey(user, with, id), nil, nil); err != nil {
			b.Fatal(err)
		}
		if batch.Len() > 4<<20 {
			if err := batch.Commit(pebble.NoSync); err != nil {
				b.Fatal(err)
			}
			batch = db.pdb.NewBatch()
		}
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		b.Fatal(err)
	}
	if err := db.pdb.Flush(); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d messages written and flushed in %v", n, time.Since(start).Round(time.Millisecond))
	return idOf
}
