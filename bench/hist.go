package bench

import (
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds from 1 µs to 2 minutes with three
// significant digits; longer values are clamped to the top.
const (
	histLowest  = 1
	histHighest = int64(2 * time.Minute / time.Microsecond)
	histDigits  = 3
)

// Histogram is the HdrHistogram the bench records latencies in (µs).
type Histogram = hdr.Histogram

// NewHistogram returns an empty latency histogram in the run's geometry.
func NewHistogram() *hdr.Histogram { return hdr.New(histLowest, histHighest, histDigits) }

// Percentiles summarizes a latency histogram in milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

// Summarize reads the percentiles of h (recorded in µs) in ms.
func Summarize(h *hdr.Histogram) Percentiles {
	if h == nil || h.TotalCount() == 0 {
		return Percentiles{}
	}
	ms := func(v int64) float64 { return float64(v) / 1000 }
	return Percentiles{
		Count: h.TotalCount(),
		Mean:  h.Mean() / 1000,
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
	}
}

// EncodeHistogram writes h in the HdrHistogram V2 compressed, base64 form
// ("" for an empty histogram), for passing between worker processes.
func EncodeHistogram(h *hdr.Histogram) string {
	if h == nil || h.TotalCount() == 0 {
		return ""
	}
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		return ""
	}
	return string(b)
}

// MergeEncoded adds an EncodeHistogram string into h.
func MergeEncoded(h *hdr.Histogram, enc string) error {
	if enc == "" {
		return nil
	}
	o, err := hdr.Decode([]byte(enc))
	if err != nil {
		return err
	}
	h.Merge(o)
	return nil
}

const recShards = 4

// recorder is a latency histogram many goroutines record into: a few
// mutex-guarded shards, each with a whole-run and a current-interval part.
// A value goes into the interval part only (one histogram update per
// message), which joins the whole-run part when the interval is taken.
type recorder struct {
	shards [recShards]struct {
		mu       sync.Mutex
		total    *hdr.Histogram
		interval *hdr.Histogram
		_        [40]byte // keep shards on separate cache lines
	}
}

func newRecorder() *recorder {
	r := &recorder{}
	for i := range r.shards {
		r.shards[i].total = NewHistogram()
		r.shards[i].interval = NewHistogram()
	}
	return r
}

// record adds one latency; shard spreads contention (any int).
func (r *recorder) record(shard int, d time.Duration) {
	us := d.Microseconds()
	us = min(max(us, histLowest), histHighest)
	s := &r.shards[uint(shard)%recShards]
	s.mu.Lock()
	_ = s.interval.RecordValue(us)
	s.mu.Unlock()
}

// takeInterval merges into into the values recorded since the last call
// and starts a new interval.
func (r *recorder) takeInterval(into *hdr.Histogram) {
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		into.Merge(s.interval)
		s.total.Merge(s.interval)
		s.interval.Reset()
		s.mu.Unlock()
	}
}

// total returns a merged copy of everything recorded.
func (r *recorder) total() *hdr.Histogram {
	h := NewHistogram()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		h.Merge(s.total)
		h.Merge(s.interval)
		s.mu.Unlock()
	}
	return h
}
