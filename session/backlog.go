package session

import "ignis/mod"

// Backlog implements mod.Backlogged: Info's Queued figure, cheaper (no
// address or transport name), and the output cap of a slow reader.
func (s *Stream) Backlog() (held, limit int) {
	in := &s.inbox
	in.mu.Lock()
	if to := in.moved; to != nil {
		in.mu.Unlock()
		return to.Backlog() // resumed on another stream (sm.go)
	}
	held = in.bytes
	in.mu.Unlock()
	pending := int(s.outPending.Load())
	if pending > 0 && held == 0 {
		// outPending is refreshed only when the loop wakes: without new
		// deliveries (which wake it) a client that has read its backlog
		// would look behind for ever to whoever waits for it to drain
		s.tr.Wake()
	}
	return held + pending, s.cfg.Limits.MaxPendingOut
}

var _ mod.Backlogged = (*Stream)(nil)
