package store

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
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
}

// commitReq is one submitted batch. Exactly one of cb and done is used.
type commitReq struct {
	b    *pebble.Batch
	cb   func(error)
	done chan error
}

func (w *writer) start(db *DB) {
	w.db = db
	w.reqs = make(chan *commitReq, db.opts.CommitQueue)
	w.done = make(chan struct{})
	go w.run()
}

// submit queues r, or closes r.b and returns ErrClosed.
func (w *writer) submit(r *commitReq) error {
	if r.b == nil {
		return errors.New("store: commit of a nil batch")
	}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		_ = r.b.Close()
		return ErrClosed
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
		size := r.b.Len()
	drain:
		for len(pending) < maxN && size < maxBytes {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break drain // closed: the range above ends after this group
				}
				pending = append(pending, r)
				size += r.b.Len()
			default:
				break drain
			}
		}
		w.commit(group, pending)
		clear(pending) // drop references for the GC
	}
}

func (w *writer) commit(group *pebble.Batch, reqs []*commitReq) {
	w.batches.Add(uint64(len(reqs)))
	if len(reqs) == 1 {
		w.groups.Add(1)
		w.report(reqs[0], w.db.pdb.Apply(reqs[0].b, pebble.Sync))
		return
	}
	group.Reset()
	for _, r := range reqs {
		if err := group.Apply(r.b, nil); err != nil {
			w.oneByOne(reqs)
			return
		}
	}
	w.groups.Add(1)
	err := w.db.pdb.Apply(group, pebble.Sync)
	for _, r := range reqs {
		w.report(r, err)
	}
}

func (w *writer) oneByOne(reqs []*commitReq) {
	for _, r := range reqs {
		w.groups.Add(1)
		w.report(r, w.db.pdb.Apply(r.b, pebble.Sync))
	}
}

// report closes the submitted batch (the store owns it) and hands back err.
func (w *writer) report(r *commitReq, err error) {
	_ = r.b.Close()
	if r.cb != nil {
		r.cb(err)
		return
	}
	r.done <- err
}
