package broadcast

import (
	"testing"
	"time"
)

// TestLimiter: a burst of PerMinute, then one more per 60/PerMinute
// seconds; senders are counted apart; the sweep forgets refilled buckets.
func TestLimiter(t *testing.T) {
	var l limiter
	l.init(2)
	t0 := time.Unix(1000, 0)
	for _, step := range []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{"a", 0, true},
		{"a", 0, true},
		{"a", time.Second, false}, // burst spent
		{"b", time.Second, true},  // another sender
		{"a", 29 * time.Second, false},
		{"a", 31 * time.Second, true}, // one token every 30 s
		{"a", 32 * time.Second, false},
	} {
		if got := l.allow(step.key, t0.Add(step.at)); got != step.want {
			t.Fatalf("%s at %v: allow = %v, want %v", step.key, step.at, got, step.want)
		}
	}
	l.sweep(t0.Add(40 * time.Second))
	if _, ok := l.mu.m["a"]; !ok || len(l.mu.m) != 1 {
		t.Fatalf("after 40 s: %d buckets, want a's only (b refilled at 31 s)", len(l.mu.m))
	}
	l.sweep(t0.Add(2 * time.Minute))
	if len(l.mu.m) != 0 {
		t.Fatalf("%d buckets after they refilled", len(l.mu.m))
	}
}
