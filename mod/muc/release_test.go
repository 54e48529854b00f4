package muc

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"ignis/jid"
	"ignis/mod"
)

// TestReleaseWave: the heap goes back once a wave of ReleaseAfterJoins has
// been quiet for releaseQuiet; a smaller wave, or one within releaseEvery
// of the last release, starts the count again.
func TestReleaseWave(t *testing.T) {
	// the first tick after a join sees it; the quiet counts from there
	quietTicks := int(releaseQuiet/releaseTick) + 1
	type step struct {
		joins, ticks int
		released     bool // a release happened in this step
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"wave then quiet", []step{{3, quietTicks - 1, false}, {0, 1, true}}},
		{"joins keep it open", []step{{3, quietTicks - 1, false}, {1, quietTicks - 1, false}, {0, 1, true}}},
		{"small wave resets", []step{{2, quietTicks, false}, {2, quietTicks, false}}},
		{"too soon after a release", []step{{3, quietTicks, true}, {5, quietTicks, false}, {3, quietTicks, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(mod.NewHandle("muc", nil, jid.MustParse("localhost"), slog.New(slog.NewTextHandler(io.Discard, nil))), Config{ReleaseAfterJoins: 3})
			now := time.Unix(1e9, 0)
			for i, s := range tc.steps {
				last := m.rel.last
				for range s.joins {
					m.joined()
				}
				for range s.ticks {
					now = now.Add(releaseTick)
					m.releaseTick(now)
				}
				if got := !m.rel.last.Equal(last); got != s.released {
					t.Fatalf("step %d: released %v, want %v", i, got, s.released)
				}
			}
		})
	}
}
