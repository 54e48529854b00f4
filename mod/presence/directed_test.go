package presence

import (
	"fmt"
	"runtime"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/mod/modtest"
)

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
		sessions[i] = &modtest.Resource{J: jid.MustParse(fmt.Sprintf("user%d@localhost/r", i))} // a pointer, as a session is
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
