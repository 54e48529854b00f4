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
// The sessions that tell theirs are linked in their seats (room.sessions).
type pacer struct {
	linked   int       // seats with a link
	at       time.Time // when busy was counted
	busy     int       // sessions over BusyOutput at that count
	refusing bool
}

// seat is an occupant session in the room: its occupant, and its link
// when the session tells its backlog. One entry of one map per session: a
// room of thousands keeps nothing else per session.
type seat struct {
	occ *occupant
	link
}

// occupantAt is the occupant of the session with full JID full, or nil.
func (r *room) occupantAt(full string) *occupant {
	if s := r.sessions[full]; s != nil {
		return s.occ
	}
	return nil
}

// linkAt is the link of the session with full JID full, or nil.
func (r *room) linkAt(full string) *link {
	if s := r.sessions[full]; s != nil && s.b != nil {
		return &s.link
	}
	return nil
}

// unseat forgets the session with full JID full (it left the room).
func (r *room) unseat(full string) {
	if s := r.sessions[full]; s != nil && s.b != nil {
		r.pace.linked--
	}
	delete(r.sessions, full)
}

// link is an occupant session that tells its backlog, with the last
// figure read (a read takes the session's lock: the presence broadcasts
// reuse one for up to recount).
type link struct {
	b    mod.Backlogged
	held int
	at   int64 // Unix ns of the read; 0: never read
}

// backlog is l's held bytes, read again if the last figure is older than recount.
func (l *link) backlog(now time.Time) int {
	if l.at == 0 || time.Duration(now.UnixNano()-l.at) >= recount {
		l.held, _ = l.b.Backlog()
		l.at = now.UnixNano()
	}
	return l.held
}

// link remembers the session behind a joined full JID (res may be nil: a
// remote occupant, or a stanza the server made).
func (r *room) link(full jid.JID, res mod.Resource) {
	b, ok := res.(mod.Backlogged)
	s := r.sessions[full.String()]
	if !ok || s == nil || !res.JID().Equal(full) {
		return
	}
	if s.b == nil {
		r.pace.linked++
	}
	s.link = link{b: b}
}

// congested reports whether the room refuses groupchat messages for now.
func (r *room) congested() bool {
	cfg := &r.m.cfg
	p := &r.pace
	if cfg.BusyShare >= 1 || p.linked < 2 {
		return false
	}
	now := r.m.now()
	// while some sessions are behind and the room still takes messages,
	// a small room counts again on every message: from busy to the
	// slow-reader cut is a few messages for an occupant whose connection
	// has stalled
	eager := p.busy > 0 && !p.refusing && p.linked <= eagerRecount
	if !p.at.IsZero() && now.Sub(p.at) < recount && !eager {
		return p.refusing
	}
	p.at = now
	p.busy = 0
	for _, l := range r.sessions {
		if l.b == nil {
			continue
		}
		held, limit := l.b.Backlog()
		l.held, l.at = held, now.UnixNano()
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
