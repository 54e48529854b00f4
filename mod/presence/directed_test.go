package presence

import (
	"fmt"
	"runtime"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// res is a session as the tracking keys it: only its identity matters.
type res struct{ j jid.JID }

func (r *res) JID() jid.JID                                      { return r.j }
func (r *res) Available() bool                                   { return true }
func (r *res) Priority() int8                                    { return 0 }
func (r *res) LastPresence() *stanza.Stanza                      { return nil }
func (r *res) Close(*stanza.StreamError)                         {}
func (r *res) Offer(*stanza.Stanza) bool                         { return true }
func (r *res) OfferConfirmed(*stanza.Stanza, func(ok bool)) bool { return true }

// TestDirectedMemory reports what tracking costs a session that sent
// directed presence to one room (the common case: a group chat occupant).
// The target JIDs are made beforehand: their strings belong to the stanzas
// that were routed (and to the room's occupant record), not to the tracking.
func TestDirectedMemory(t *testing.T) {
	const n = 1000
	m := &Module{cfg: Config{MaxDirected: 1000}}
	sessions := make([]mod.Resource, n)
	targets := make([]jid.JID, n)
	for i := range n {
		sessions[i] = &res{j: jid.MustParse(fmt.Sprintf("user%d@localhost/r", i))}
		targets[i] = jid.MustParse(fmt.Sprintf("room@conference.localhost/user%d", i))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		m.directed.Add(sessions[i], targets[i].String(), m.cfg.MaxDirected)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.0f bytes per session with one directed presence (%d sessions)", per, n)
	if per > 128 {
		t.Errorf("%.0f bytes per session, want at most 128", per)
	}
	runtime.KeepAlive(m)
	runtime.KeepAlive(sessions)
	runtime.KeepAlive(targets)
}
