// Package stat holds the lock-free figures the server's layers keep for its
// metrics endpoint: counters are plain atomics in each layer, and latency
// distributions are Histograms. It imports only the standard library.
package stat

import (
	"sync/atomic"
	"time"
)

// Bounds are the upper bounds of a Histogram's buckets, 1µs to 2.5s: wide
// enough for an in-memory route (microseconds) and a synced disk commit
// (milliseconds). The last bucket (past 2.5s) is implicit.
var Bounds = [...]time.Duration{
	time.Microsecond, 2500 * time.Nanosecond, 5 * time.Microsecond, 10 * time.Microsecond,
	25 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond,
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
}

// Histogram counts durations in the buckets of Bounds. Observe is a few
// atomic adds: no lock and no allocation, safe from any goroutine.
type Histogram struct {
	counts [len(Bounds) + 1]atomic.Uint64 // per bucket, not cumulative
	sum    atomic.Int64                   // nanoseconds
}

// Observe records one duration.
func (h *Histogram) Observe(d time.Duration) {
	i := 0
	for i < len(Bounds) && d > Bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Snapshot returns the cumulative count at or below each bound of Bounds
// (Prometheus' layout), the total count and the sum. Concurrent Observes may
// make it a little inconsistent, never decreasing.
func (h *Histogram) Snapshot() (cumulative [len(Bounds)]uint64, count uint64, sum time.Duration) {
	for i := range h.counts {
		count += h.counts[i].Load()
		if i < len(Bounds) {
			cumulative[i] = count
		}
	}
	return cumulative, count, time.Duration(h.sum.Load())
}
