package session

import (
	"context"
	"sync"
	"time"

	"ignis/route"
	"ignis/stanza"
)

// errShuttingDown ends streams when the server stops (RFC 6120 §4.9.3.17).
var errShuttingDown = stanza.StreamErr(stanza.SystemShutdown, "the server is stopping")

// strangers is the set of open streams that are not bound (yet): they are
// in no session table. Streams opened once Shutdown began are refused.
type strangers struct {
	mu       sync.Mutex
	m        map[*Stream]struct{} // guarded by mu
	stopping bool                 // guarded by mu
}

// add records s, or reports false once the server is stopping.
func (g *strangers) add(s *Stream) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopping {
		return false
	}
	if g.m == nil {
		g.m = map[*Stream]struct{}{}
	}
	g.m[s] = struct{}{}
	return true
}

func (g *strangers) remove(s *Stream) {
	g.mu.Lock()
	delete(g.m, s)
	g.mu.Unlock()
}

// stop refuses later streams and returns those open now.
func (g *strangers) stop() []*Stream {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopping = true
	out := make([]*Stream, 0, len(g.m))
	for s := range g.m {
		out = append(out, s)
	}
	return out
}

// left counts the strangers not closed yet.
func (g *strangers) left() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.m)
}

// Shutdown ends every session of c for a server that stops: each gets
// a <system-shutdown/> stream error (RFC 6120 §4.9.3.17) and its stream is
// closed; what it had queued but not written, and, with XEP-0198, what its
// client had not acknowledged, is routed again, which ends in offline
// storage since every session goes. Detached XEP-0198 sessions end too, and
// so do streams not bound yet (negotiating, or authenticated but unbound);
// streams opened from now on get the same stream error at once. Sessions
// bound meanwhile are ended as well. It returns how many sessions
// it ended once none is left and the stanzas they handed back are routed,
// or ctx's error when that takes longer. The store must stay open until it
// returns.
func (c *Config) Shutdown(ctx context.Context) (int, error) {
	se := errShuttingDown
	seen := map[*Stream]bool{}
	for _, s := range c.strangers.stop() {
		s.Close(se) // on its loop, as for bound ones; not counted as a session
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		left := 0
		c.Router.Table().Each(func(e route.Endpoint) bool {
			s, ok := e.(*Stream)
			if !ok || s.cfg != c {
				return true
			}
			left++
			if !seen[s] {
				seen[s] = true
				s.Close(se) // on its loop: the stream error, then shutdown
			}
			return true
		})
		if left+c.strangers.left() == 0 {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return len(seen), ctx.Err()
		}
	}
	done := make(chan struct{})
	go func() { c.late.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return len(seen), ctx.Err()
	}
	return len(seen), nil
}
