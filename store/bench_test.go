package store

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// BenchmarkCommitSync measures acknowledged (synced) 400-byte writes on the
// real file system: one at a time with pebble.Sync, through the group-commit
// writer from N waiting submitters, and through CommitAsync from one
// submitter (an event loop) with a window of writes in flight.
//
//	go test -run '^$' -bench CommitSync -benchtime 3s ./store/
func BenchmarkCommitSync(b *testing.B) {
	b.Run("mode=one-by-one", func(b *testing.B) {
		db := openBench(b)
		var seq uint64
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			bt := scratchBatch(db, seq)
			if err := db.pdb.Apply(bt, pebble.Sync); err != nil {
				b.Fatal(err)
			}
			bt.Close()
			seq++
		}
		reportRate(b, db, start)
	})
	for _, n := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("mode=group/submitters=%d", n), func(b *testing.B) {
			submitters(b, n, func(db *DB, seq uint64) error { return db.Commit(scratchBatch(db, seq)) })
		})
	}
	// Reference: the same submitters calling Pebble directly with Sync, which
	// groups concurrent WAL syncs itself (TECH-NOTES §4.3).
	for _, n := range []int{16, 256} {
		b.Run(fmt.Sprintf("mode=pebble-direct/submitters=%d", n), func(b *testing.B) {
			submitters(b, n, func(db *DB, seq uint64) error {
				bt := scratchBatch(db, seq)
				defer bt.Close()
				return db.pdb.Apply(bt, pebble.Sync)
			})
		})
	}
	b.Run("mode=async/inflight=256", func(b *testing.B) {
		db := openBench(b)
		window := make(chan struct{}, 256)
		var wg sync.WaitGroup
		done := func(err error) {
			if err != nil {
				b.Error(err)
			}
			<-window
			wg.Done()
		}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			window <- struct{}{}
			wg.Add(1)
			db.CommitAsync(scratchBatch(db, uint64(i)), done)
		}
		wg.Wait()
		b.StopTimer()
		reportRate(b, db, start)
	})
}

func openBench(b *testing.B) *DB {
	b.Helper()
	db, err := Open(&Options{Dir: b.TempDir(), Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// submitters runs b.N writes, each one commit(db, seq) with a fresh seq,
// from n goroutines at once on a fresh store, and reports the rate.
func submitters(b *testing.B, n int, commit func(db *DB, seq uint64) error) {
	db := openBench(b)
	var seq atomic.Uint64
	left := atomic.Int64{}
	left.Store(int64(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := commit(db, seq.Add(1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportRate(b, db, start)
}

// reportRate adds writes/s and, for the writer, the mean group size.
func reportRate(b *testing.B, db *DB, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
	if g := db.w.groups.Load(); g > 1 {
		// The first group is Open's format record.
		b.ReportMetric(float64(db.w.batches.Load()-1)/float64(g-1), "batches/sync")
	}
}
