package muc

import (
	"time"

	"ignis/jid"
	"ignis/mod"
)

// Back-pressure at the room. A groupchat message becomes one delivery per
// occupant session, queued on that session; a room fed faster than its
// occupants' connections (or the server's loops) take the deliveries would
// grow every queue without a bound but the per-session slow-reader cut.
// Instead, while more than BusyShare of its sessions (and more than one)
// each hold over BusyOutput bytes for their clients, the room refuses
// groupchat messages with <resource-constraint/> (type wait), as the
// per-occupant rate limit does. One slow occupant never stops a room: it
// is cut as a slow reader when its own queue reaches the session's cap.

// recount is how long a room's count of busy sessions holds when none was
// busy or the room refuses already: the count takes a lock per session, so
// a room of thousands does it at most this often, not per message.
const recount = 20 * time.Millisecond

// eagerRecount is the most sessions a room counts on every message while
// some are behind; a bigger room keeps to recount, so that one slow
// occupant does not cost every message a lock per session.
const eagerRecount = 64

// pacer is a room's view of its occupants' backlogs (guarded by room.mu).
type pacer struct {
	links    map[string]*link // full JID of an occupant session → the session, when it tells its backlog
	at       time.Time        // when busy was counted
	busy     int              // sessions over BusyOutput at that count
	refusing bool
}

// link is an occupant session that tells its backlog, with the last
// figure read (a read takes the session's lock: the presence broadcasts
// reuse one for up to recount).
type link struct {
	b    mod.Backlogged
	held int
	at   time.Time
}

// backlog is l's held bytes, read again if the last figure is older than recount.
func (l *link) backlog(now time.Time) int {
	if l.at.IsZero() || now.Sub(l.at) >= recount {
		l.held, _ = l.b.Backlog()
		l.at = now
	}
	return l.held
}

// link remembers the session behind a joined full JID (res may be nil: a
// remote occupant, or a stanza the server made).
func (r *room) link(full jid.JID, res mod.Resource) {
	b, ok := res.(mod.Backlogged)
	if !ok || !res.JID().Equal(full) {
		return
	}
	if r.pace.links == nil {
		r.pace.links = map[string]*link{}
	}
	r.pace.links[full.String()] = &link{b: b}
}

// unlink forgets a session that left the room.
func (r *room) unlink(full jid.JID) {
	delete(r.pace.links, full.String())
}

// congested reports whether the room refuses groupchat messages for now.
func (r *room) congested() bool {
	cfg := &r.m.cfg
	p := &r.pace
	if cfg.BusyShare >= 1 || len(p.links) < 2 {
		return false
	}
	now := r.m.now()
	// while some sessions are behind and the room still takes messages,
	// a small room counts again on every message: from busy to the
	// slow-reader cut is a few messages for an occupant whose connection
	// has stalled
	eager := p.busy > 0 && !p.refusing && len(p.links) <= eagerRecount
	if !p.at.IsZero() && now.Sub(p.at) < recount && !eager {
		return p.refusing
	}
	p.at = now
	p.busy = 0
	for _, l := range p.links {
		held, limit := l.b.Backlog()
		l.held, l.at = held, now
		// busy before the slow-reader cut, whatever the two settings
		if held > min(cfg.BusyOutput, limit/2) {
			p.busy++
		}
	}
	was := p.refusing
	p.refusing = p.busy > 1 && float64(p.busy) > cfg.BusyShare*float64(len(r.sessions))
	if p.refusing != was {
		if p.refusing {
			r.m.h.Log().Warn("room refuses messages: its occupants are behind", "room", r.jid.String(),
				"busy_sessions", p.busy, "sessions", len(r.sessions))
		} else {
			r.m.h.Log().Info("room takes messages again", "room", r.jid.String(), "busy_sessions", p.busy, "sessions", len(r.sessions))
		}
	}
	return p.refusing
}
