package store

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func countRange(t testing.TB, db *DB, lo, hi []byte) int {
	t.Helper()
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return n
}

// scratchValue is the 400-byte value stored at scratchKey(n).
func scratchValue(n uint64) []byte {
	v := bytes.Repeat([]byte{byte(n)}, 400)
	copy(v, fmt.Sprintf("value %d", n))
	return v
}

func scratchBatch(db *DB, n uint64) *pebble.Batch {
	b := db.NewBatch()
	if err := b.Set(scratchKey(n), scratchValue(n), nil); err != nil {
		panic(err)
	}
	return b
}

// TestCommitAsyncDurable: many concurrent CommitAsync writes, a crash once
// every callback has reported success, and every write is in the crashed copy.
// It also checks that the writer grouped them.
func TestCommitAsyncDurable(t *testing.T) {
	mem := vfs.NewCrashableMem()
	db := openTest(t, mem)
	const submitters, each = 32, 100
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	wg.Add(submitters * each)
	for s := range submitters {
		go func() {
			for i := range each {
				n := uint64(s*each + i)
				db.CommitAsync(scratchBatch(db, n), func(err error) {
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
					wg.Done()
				})
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d commits failed, first: %v", len(errs), errs[0])
	}
	groups, batches := db.w.groups.Load(), db.w.batches.Load()
	t.Logf("%d batches in %d synced commits", batches, groups)
	if groups >= batches {
		t.Errorf("no grouping: %d batches in %d commits", batches, groups)
	}

	crashed := openTest(t, mem.CrashClone(vfs.CrashCloneCfg{}))
	for n := range uint64(submitters * each) {
		v, closer, err := crashed.pdb.Get(scratchKey(n))
		if err != nil {
			t.Fatalf("write %d lost: %v", n, err)
		}
		if !bytes.Equal(v, scratchValue(n)) {
			t.Fatalf("write %d has the wrong value", n)
		}
		closer.Close()
	}
}

// TestCommitKeepsOrder: batches from one submitter are applied in order, so
// the last write to a key wins even when they share a group.
func TestCommitKeepsOrder(t *testing.T) {
	db := openTest(t, nil)
	var wg sync.WaitGroup
	const n = 500
	wg.Add(n)
	for i := range n {
		b := db.NewBatch()
		if err := b.Set(scratchKey(0), fmt.Appendf(nil, "%d", i), nil); err != nil {
			t.Fatal(err)
		}
		db.CommitAsync(b, func(err error) {
			if err != nil {
				t.Error(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	v, closer, err := db.pdb.Get(scratchKey(0))
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if string(v) != fmt.Sprint(n-1) {
		t.Fatalf("value %q; want %d", v, n-1)
	}
}

// TestCommitBatchIsAtomic: a batch of several writes is applied whole.
func TestCommitBatchIsAtomic(t *testing.T) {
	mem := vfs.NewCrashableMem()
	db := openTest(t, mem)
	b := db.NewBatch()
	for n := range uint64(10) {
		if err := b.Set(scratchKey(n), scratchValue(n), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	lo, hi := tableSpan(tableScratch)
	if got := countRange(t, openTest(t, mem.CrashClone(vfs.CrashCloneCfg{})), lo, hi); got != 10 {
		t.Fatalf("%d of 10 writes after the crash", got)
	}
}

// TestCommitMalformedBatchFailsAlone: a batch that cannot be merged fails
// without failing the others of its group.
func TestCommitMalformedBatchFailsAlone(t *testing.T) {
	db := openTest(t, nil)
	// Hold the writer busy so the next batches queue up and form one group.
	block := make(chan struct{})
	var unblock sync.Once
	defer unblock.Do(func() { close(block) })
	db.CommitAsync(db.NewBatch(), func(error) { <-block })
	var wg sync.WaitGroup
	results := make([]error, 3)
	for i := range results {
		b := scratchBatch(db, uint64(i))
		if i == 1 {
			// Not from db.NewBatch, so SetRepr does not check the records.
			bad := new(pebble.Batch)
			if err := bad.SetRepr(append(bytes.Clone(b.Repr()), 0xff)); err != nil {
				t.Fatal(err)
			}
			b.Close()
			b = bad
		}
		wg.Add(1)
		db.CommitAsync(b, func(err error) { results[i] = err; wg.Done() })
	}
	unblock.Do(func() { close(block) })
	wg.Wait()
	if results[0] != nil || results[2] != nil || results[1] == nil {
		t.Fatalf("results %v; want only the second to fail", results)
	}
}

func TestCommitAfterClose(t *testing.T) {
	db, err := Open(&Options{FS: vfs.NewMem(), Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(nil); err == nil {
		t.Fatal("Commit(nil) succeeded")
	}
	b := db.NewBatch()
	db.Close()
	if err := db.Commit(b); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close: %v; want ErrClosed", err)
	}
	var got error
	db.CommitAsync(db.NewBatch(), func(err error) { got = err })
	if !errors.Is(got, ErrClosed) {
		t.Fatalf("CommitAsync after Close: %v; want ErrClosed", got)
	}
}

// TestCloseDrains: writes queued before Close are committed and reported.
func TestCloseDrains(t *testing.T) {
	mem := vfs.NewCrashableMem()
	db, err := Open(&Options{FS: mem, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var mu sync.Mutex
	acked := 0
	for i := range uint64(n) {
		db.CommitAsync(scratchBatch(db, i), func(err error) {
			if err == nil {
				mu.Lock()
				acked++
				mu.Unlock()
			}
		})
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if acked != n {
		t.Fatalf("%d of %d writes acknowledged by Close", acked, n)
	}
	lo, hi := tableSpan(tableScratch)
	if got := countRange(t, openTest(t, mem.CrashClone(vfs.CrashCloneCfg{})), lo, hi); got != n {
		t.Fatalf("%d of %d writes after Close and crash", got, n)
	}
}

// TestFenceAfterEarlierWrites: a fence is reported only after every write
// submitted before it, from any goroutine, was reported, and a crash right
// after it keeps them all; a fence with nothing before it is reported at
// once; Submitted counts writes, not fences; after Close a fence fails.
func TestFenceAfterEarlierWrites(t *testing.T) {
	mem := vfs.NewCrashableMem()
	db := openTest(t, mem)
	fenced := make(chan error, 1)
	db.Fence(func(err error) { fenced <- err })
	if err := <-fenced; err != nil {
		t.Fatalf("lone fence: %v", err)
	}
	before := db.Submitted()
	const n = 200
	var reported sync.WaitGroup
	reported.Add(n)
	var mu sync.Mutex
	done := 0
	for i := range n {
		db.CommitAsync(scratchBatch(db, uint64(i)), func(err error) {
			if err != nil {
				t.Errorf("commit %d: %v", i, err)
			}
			mu.Lock()
			done++
			mu.Unlock()
			reported.Done()
		})
	}
	var atFence int
	db.Fence(func(err error) {
		mu.Lock()
		atFence = done
		mu.Unlock()
		fenced <- err
	})
	if err := <-fenced; err != nil {
		t.Fatalf("fence: %v", err)
	}
	if atFence != n {
		t.Fatalf("fence reported after %d of %d earlier writes", atFence, n)
	}
	if got := db.Submitted() - before; got != n {
		t.Fatalf("Submitted grew by %d, want %d (fences do not count)", got, n)
	}
	crashed := mem.CrashClone(vfs.CrashCloneCfg{})
	reported.Wait()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db.Fence(func(err error) { fenced <- err })
	if err := <-fenced; !errors.Is(err, ErrClosed) {
		t.Fatalf("fence after Close: %v, want ErrClosed", err)
	}
	db2 := openTest(t, crashed)
	if got := countRange(t, db2, scratchKey(0), scratchKey(n)); got != n {
		t.Fatalf("after a crash right after the fence: %d of %d writes", got, n)
	}
}
