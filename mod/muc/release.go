package muc

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// A wave of joins into big rooms grows the Go heap to many times what the
// rooms keep (the occupant lists and the newcomers' presences queued to
// everyone), and the runtime keeps those pages: it only scavenges down to
// the heap goal of the last GC, and an idle server runs no GC for two
// minutes. So once a wave of at least ReleaseAfterJoins joins (none more
// than releaseQuiet apart) has been quiet for releaseQuiet, the module returns the freed heap to the OS once
// (a GC and a scavenge: milliseconds of CPU), at most every releaseEvery.
// Never per join.
const (
	releaseTick  = 250 * time.Millisecond
	releaseQuiet = time.Second
	releaseEvery = time.Minute
)

// releaser is the join-wave state; joins is bumped on every join (one
// atomic add), the rest is only touched by the ticker.
type releaser struct {
	joins atomic.Int64 // joins since the last release
	armed atomic.Bool  // a tick is scheduled (only while joins are counted: an idle server never wakes)
	seen  int64        // joins at the last tick
	quiet time.Duration
	last  time.Time // the last release
}

// joined counts a join towards the wave.
func (m *Module) joined() {
	if m.cfg.ReleaseAfterJoins > 0 {
		m.rel.joins.Add(1)
		if m.rel.armed.CompareAndSwap(false, true) {
			m.scheduleRelease()
		}
	}
}

// scheduleRelease runs the next tick; ticks go on while a wave is counted
// and stop once it is released or reset.
func (m *Module) scheduleRelease() {
	_, err := m.h.After(releaseTick, func(context.Context) {
		m.releaseTick(m.now())
		if m.rel.joins.Load() > 0 {
			m.scheduleRelease()
			return
		}
		m.rel.armed.Store(false)
		if m.rel.joins.Load() > 0 && m.rel.armed.CompareAndSwap(false, true) {
			m.scheduleRelease() // a join came between the check and the store
		}
	})
	if err != nil { // the module is stopping
		m.rel.armed.Store(false)
	}
}

// releaseTick releases when a big enough wave has been quiet long enough.
func (m *Module) releaseTick(now time.Time) {
	r := &m.rel
	n := r.joins.Load()
	if n != r.seen {
		r.seen, r.quiet = n, 0
		return
	}
	r.quiet += releaseTick
	if r.quiet < releaseQuiet || n == 0 {
		return
	}
	if n < int64(m.cfg.ReleaseAfterJoins) || (!r.last.IsZero() && now.Sub(r.last) < releaseEvery) {
		// the wave ended small (or too soon after the last release): the
		// next one counts from zero, so a trickle never adds up to a wave
		r.joins.Add(-n)
		r.seen = 0
		return
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	debug.FreeOSMemory()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	r.joins.Add(-n)
	r.seen, r.quiet, r.last = 0, 0, now
	m.h.Log().Info("join wave over: heap returned to the OS", "joins", n, "took", took,
		"released", after.HeapReleased-before.HeapReleased, "heap_in_use", after.HeapInuse)
}
