package session

import (
	"context"
	"time"

	"ignis/route"
	"ignis/stanza"
)

// Shutdown ends every bound session of c for a server that stops: each gets
// a <system-shutdown/> stream error (RFC 6120 §4.9.3.17) and its stream is
// closed; what it had queued but not written, and, with XEP-0198, what its
// client had not acknowledged, is routed again, which ends in offline
// storage since every session goes. Detached XEP-0198 sessions end too.
// Sessions bound meanwhile are ended as well. It returns how many sessions
// it ended once none is left and the stanzas they handed back are routed,
// or ctx's error when that takes longer. The store must stay open until it
// returns.
func (c *Config) Shutdown(ctx context.Context) (int, error) {
	se := stanza.StreamErr(stanza.SystemShutdown, "the server is stopping")
	seen := map[*Stream]bool{}
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
		if left == 0 {
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
