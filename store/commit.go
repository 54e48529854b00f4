package store

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"ignis/stat"
)

// Group commit.
//
// An fsync costs ~150 µs on our disks (TECH-NOTES §4.3), so one synced commit
// per acknowledged write caps the server near 6.5 k writes/s. Instead every
// acknowledged write goes to one writer goroutine through a bounded channel.
// The writer takes the first waiting batch, then whatever else is already
// queued (up to MaxGroupBatches or MaxGroupBytes), appends them into one
// reused batch and commits that with pebble.Sync: one fsync for the group.
// It does not wait for more batches to arrive: while it syncs, new ones queue
// up, so groups grow by themselves with the load and a lone write pays no
// extra latency.
//
// Merging keeps each submitted batch atomic (the merged batch is applied
// whole) and preserves submission order. If appending a batch fails (only for
// a malformed batch), the group falls back to committing its batches one by
// one so the bad one fails alone.
type writer struct {
	db   *DB
	reqs chan *commitReq
	done chan struct{} // closed when run returns

	// mu guards closed and, held for reading by submitters while they send,
	// keeps Close from closing reqs under a sender.
	mu     sync.RWMutex
	closed bool

	// Counters, read by tests and benchmarks.
	groups  atomic.Uint64 // synced commits
	batches atomic.Uint64 // submitted batches committed in them

	// submitted counts requests ever queued (fences excepted): a caller
	// that sees it unchanged across some work knows that work wrote nothing.
	submitted atomic.Uint64

	// latency is how long each synced commit took (the metrics endpoint).
	latency stat.Histogram
}

// commitReq is one submitted batch, or a fence (b nil, fence set): a
// request that commits nothing and is reported once everything submitted
// before it was. Exactly one of cb and done is used.
type commitReq struct {
	b     *pebble.Batch
	fence bool
	cb    func(error)
	done  chan error
}

func (w *writer) start(db *DB) {
	w.db = db
	w.reqs = make(chan *commitReq, db.opts.CommitQueue)
	w.done = make(chan struct{})
	go w.run()
}

// submit queues r, or closes r.b and returns ErrClosed.
func (w *writer) submit(r *commitReq) error {
	if r.b == nil && !r.fence {
		return errors.New("store: commit of a nil batch")
	}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		if r.b != nil {
			_ = r.b.Close()
		}
		return ErrClosed
	}
	if !r.fence {
		w.submitted.Add(1)
	}
	w.reqs <- r
	w.mu.RUnlock()
	return nil
}

// stop closes the queue and waits until the writer has committed everything
// in it. It reports false if the writer was already stopped.
func (w *writer) stop() bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	w.closed = true
	close(w.reqs)
	w.mu.Unlock()
	<-w.done
	return true
}

func (w *writer) run() {
	defer close(w.done)
	var (
		maxN     = w.db.opts.MaxGroupBatches
		maxBytes = w.db.opts.MaxGroupBytes
		group    = w.db.pdb.NewBatch() // reused for every merged commit
		pending  = make([]*commitReq, 0, maxN)
	)
	defer group.Close()
	for r := range w.reqs {
		pending = append(pending[:0], r)
		size := r.len()
	drain:
		for len(pending) < maxN && size < maxBytes {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break drain // closed: the range above ends after this group
				}
				pending = append(pending, r)
				size += r.len()
			default:
				break drain
			}
		}
		w.commit(group, pending)
		clear(pending) // drop references for the GC
	}
}

func (r *commitReq) len() int {
	if r.b == nil {
		return 0
	}
	return r.b.Len()
}

func (w *writer) commit(group *pebble.Batch, reqs []*commitReq) {
	batches := 0
	for _, r := range reqs {
		if !r.fence {
			batches++
		}
	}
	if batches == 0 {
		// only fences: every earlier group was committed and reported
		for _, r := range reqs {
			w.report(r, nil)
		}
		return
	}
	w.batches.Add(uint64(batches))
	if len(reqs) == 1 {
		w.groups.Add(1)
		t0 := time.Now()
		err := w.db.pdb.Apply(reqs[0].b, pebble.Sync)
		w.latency.Observe(time.Since(t0))
		w.report(reqs[0], err)
		return
	}
	group.Reset()
	for _, r := range reqs {
		if r.fence {
			continue
		}
		if err := group.Apply(r.b, nil); err != nil {
			w.oneByOne(reqs)
			return
		}
	}
	w.groups.Add(1)
	t0 := time.Now()
	err := w.db.pdb.Apply(group, pebble.Sync)
	w.latency.Observe(time.Since(t0))
	for _, r := range reqs {
		w.report(r, err)
	}
}

func (w *writer) oneByOne(reqs []*commitReq) {
	for _, r := range reqs {
		if r.fence {
			w.report(r, nil) // everything before it was reported
			continue
		}
		w.groups.Add(1)
		w.report(r, w.db.pdb.Apply(r.b, pebble.Sync))
	}
}

// report closes the submitted batch (the store owns it) and hands back err.
func (w *writer) report(r *commitReq, err error) {
	if r.b != nil {
		_ = r.b.Close()
	}
	if r.cb != nil {
		r.cb(err)
		return
	}
	r.done <- err
}

// Submitted counts the writes ever submitted to the writer. Work that runs
// on one goroutine and finds it unchanged afterwards submitted nothing, so it
// needs no Fence to be durable.
func (db *DB) Submitted() uint64 { return db.w.submitted.Load() }

// CommitLatency is the distribution of synced commits' durations.
func (db *DB) CommitLatency() *stat.Histogram { return &db.w.latency }

// DiskUsage is the bytes the store's files take on disk now.
func (db *DB) DiskUsage() uint64 {
	if !db.reading() {
		return 0
	}
	defer db.doneReading()
	return db.pdb.Metrics().DiskSpaceUsage()
}

// Fence calls done, on the writer goroutine, once every write submitted
// before it is on disk (or failed and was reported): what a caller that
// submitted writes asynchronously waits on before it acknowledges them
// (XEP-0198 h). A fence adds no commit of its own: it rides with the group
// that follows it, or is reported at once when nothing precedes it. done
// gets ErrClosed, on the caller's goroutine, after Close. The rules of
// CommitAsync's done apply.
func (db *DB) Fence(done func(error)) {
	r := &commitReq{fence: true, cb: done}
	if err := db.w.submit(r); err != nil {
		done(err)
	}
}
