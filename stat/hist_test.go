package stat

import (
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{0, time.Microsecond, 3 * time.Microsecond, time.Second, time.Hour} {
		h.Observe(d)
	}
	cum, n, sum := h.Snapshot()
	if n != 5 {
		t.Fatalf("count %d, want 5", n)
	}
	if want := time.Hour + time.Second + 4*time.Microsecond; sum != want {
		t.Errorf("sum %v, want %v", sum, want)
	}
	tests := []struct {
		bound time.Duration
		want  uint64
	}{
		{time.Microsecond, 2}, {2500 * time.Nanosecond, 2}, {5 * time.Microsecond, 3},
		{500 * time.Millisecond, 3}, {time.Second, 4}, {2500 * time.Millisecond, 4},
	}
	for _, tt := range tests {
		for i, b := range Bounds {
			if b == tt.bound && cum[i] != tt.want {
				t.Errorf("le %v: %d, want %d", b, cum[i], tt.want)
			}
		}
	}
}

func TestObserveAllocs(t *testing.T) {
	var h Histogram
	if n := testing.AllocsPerRun(100, func() { h.Observe(42 * time.Microsecond) }); n != 0 {
		t.Errorf("Observe allocates %v times", n)
	}
}
