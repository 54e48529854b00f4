package muc

import (
	"bytes"
	"context"
	"math/bits"
	"sync"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// The join burst. A newcomer to a room of n gets n presences before its
// own (XEP-0045 §7.2.3); queued at once, a room of 1,000 holds a
// megabyte per join until the connection drains, and a wave of joins
// grows the heap by that many times. So the occupant list goes out as the
// newcomer's connection drains: up to JoinWindow bytes at join, the rest
// whenever less than half of that is still held for the client (checked
// every listTick), then its own presence, the history and the subject.
// Meanwhile the newcomer is an occupant like any other: what the room
// broadcasts reaches it between the parts of its list. The list is the
// occupants when it joined; one who left before its turn is skipped, one
// who joined after is announced to the newcomer by the broadcast.
//
// While lists are being sent, each occupant's presence is serialised once
// for all newcomers (room.views) instead of once per newcomer.
//
// Presence updates to a session that is behind go the same way. A join,
// a status change or a nick's new presence is state: what a receiver
// needs is each occupant's latest. So while a session holds more than
// PresenceBacklog bytes for its client, the plain available presences the
// room broadcasts are not queued on it: the occupant is owed to it, once
// however often it changed, in that session's listing (room.owing), and
// its current presence goes out as the connection drains. A join wave or
// a storm of status changes then costs a session that is behind one entry
// per occupant at most, not one queued stanza per change; what the room
// sends still reaches it in order of the occupants' latest states. Leaves,
// kicks and the unavailable half of a nick change are events and go
// straight (an owed occupant that left is skipped); so do groupchat
// messages, which the room's own back-pressure (pace.go) bounds.

// listTick is how often the lists in progress look at their connections.
const listTick = 5 * time.Millisecond

// listing is the occupant list still owed to one session: a newcomer's,
// or the presences owed to a session that is behind. It holds no copy of
// the room: the list at its join is a cursor over the room's slots (the
// occupants who joined before seq), what was owed since a bit per slot,
// so a join costs O(1) garbage however big the room.
type listing struct {
	r      *room
	to     jid.JID
	occ    *occupant
	env    mod.Env
	link   *link // nil: the session does not tell; a window a tick
	window int   // the next part is sent while less than half of it is held
	at     int   // the next slot of the list at its join
	end    int   // slots at its join
	seq    uint32
	owed   []uint64       // by slot: owed since and not sent yet (owe)
	nowed  int            // bits set in owed
	tail   []mod.Delivery // own presence, history, subject
	done   bool           // out and finished (the pacing goroutine's)
}

// lists are the listings in progress, for the pacing goroutine that runs
// while there are any. Lock order: a room's mu, then lists.mu.
type lists struct {
	mu      sync.Mutex
	active  []*listing
	running bool
	idle    sync.Cond // broadcast when running ends (L is &mu once used)
}

// occupy gives o a slot (a free one first) and its join number.
func (r *room) occupy(o *occupant) {
	o.seq = r.joins
	r.joins++
	if r.nfree > 0 {
		for i, v := range r.slots {
			if v == nil {
				r.slots[i], o.slot = o, int32(i)
				r.nfree--
				return
			}
		}
	}
	o.slot = int32(len(r.slots))
	r.slots = append(r.slots, o)
}

// vacate frees o's slot; what listings owe of o goes with it (its leave
// was broadcast), so a newcomer in that slot is not announced twice.
func (r *room) vacate(o *occupant) {
	i := int(o.slot)
	if i >= len(r.slots) || r.slots[i] != o {
		return
	}
	r.slots[i] = nil
	r.nfree++
	for _, l := range r.owing {
		l.unowe(i)
	}
	if i < len(r.views) {
		r.views[i] = cachedView{}
	}
	n := len(r.slots)
	for n > 0 && r.slots[n-1] == nil {
		n--
		r.nfree--
	}
	r.slots = r.slots[:n]
	if n == 0 {
		r.slots = nil // an emptied room keeps no array
	}
}

// view is o's available presence without 'to', with the real JID or not,
// from the room's cache while lists are in progress. A cached view is
// checked against what it shows, so no change of o can make it stale.
func (r *room) view(o *occupant, withJID bool) *stanza.Stanza {
	if r.views == nil {
		return r.presenceOf(o, false, jid.JID{}, withJID, nil)
	}
	i := 0
	if withJID {
		i = 1
	}
	if int(o.slot) >= len(r.views) {
		r.views = append(r.views, make([]cachedView, int(o.slot)+1-len(r.views))...)
	}
	c := &r.views[o.slot]
	if c.o != o || c.nick != o.nick || c.role != o.role || c.aff != r.aff(o.bare()) ||
		!bytes.Equal(c.payload, o.payload) || (len(o.sessions) > 0 && !c.first.Equal(o.sessions[0])) {
		*c = cachedView{o: o, nick: o.nick, role: o.role, aff: r.aff(o.bare()), payload: o.payload}
		if len(o.sessions) > 0 {
			c.first = o.sessions[0]
		}
	}
	if c.v[i] == nil {
		c.v[i] = r.presenceOf(o, false, jid.JID{}, withJID, nil)
	}
	return c.v[i]
}

// cachedView is an occupant's shared presence and what it was built from.
type cachedView struct {
	o       *occupant
	nick    string
	role    role
	aff     affiliation
	payload []byte
	first   jid.JID
	v       [2]*stanza.Stanza
}

// listFor sends session to of occupant o the presences of the others who
// joined before seq, then tail: up to JoinWindow bytes appended to out
// now, the rest later (the room's pending listing: presence takes it,
// sends out, then starts it).
func (r *room) listFor(out []mod.Delivery, to jid.JID, o *occupant, seq uint32, tail []mod.Delivery) []mod.Delivery {
	l := &listing{r: r, to: to, occ: o, end: len(r.slots), seq: seq, tail: tail, window: r.m.cfg.JoinWindow}
	if r.views == nil {
		// the first window shares the views of lists in progress, or
		// makes the cache the rest of its list will use
		r.views = make([]cachedView, len(r.slots))
	}
	out = l.next(out, r.m.cfg.JoinWindow)
	if !l.more() {
		if r.listing == 0 {
			r.views = nil
		}
		return append(out, tail...)
	}
	r.startListing(l)
	return out
}

// startListing counts l in and leaves it for presence to start (takeLists).
func (r *room) startListing(l *listing) {
	if r.views == nil {
		r.views = make([]cachedView, len(r.slots))
	}
	if r.owing == nil {
		r.owing = map[string]*listing{}
	}
	r.owing[l.to.String()] = l
	r.listing++
	r.pending = append(r.pending, l)
}

// presenceOverhead is about what a presence holds beside its payload
// (addresses, the MUC item, occupant-id).
const presenceOverhead = 256

// owes reports whether o's presence to session s (of occupant v) waits in
// a listing: s has one in progress, or holds over PresenceBacklog bytes
// (then o is owed to it from now on). Under r.mu; only the plain
// available presence of o is owed (its view is built when sent).
func (r *room) owes(s jid.JID, v, o *occupant, now time.Time) bool {
	k := s.String()
	l := r.owing[k]
	if l == nil {
		ln := r.linkAt(k)
		if ln == nil {
			return false
		}
		if ln.backlog(now) <= r.m.cfg.PresenceBacklog {
			// queued: counted until the next read of the backlog, or a
			// storm could pass the output cap between two reads
			ln.held += len(o.payload) + presenceOverhead
			return false
		}
		l = &listing{r: r, to: s, occ: v, window: 2 * r.m.cfg.PresenceBacklog}
		r.startListing(l)
	}
	l.owe(int(o.slot))
	return true
}

// owe marks slot i owed unless an update of it is owed already. One in
// the list at the join still to come is marked all the same: it goes out
// once, as it is then (next).
func (l *listing) owe(i int) {
	w, b := i/64, uint64(1)<<(i%64)
	if w >= len(l.owed) {
		l.owed = append(l.owed, make([]uint64, w+1-len(l.owed))...)
	}
	if l.owed[w]&b == 0 {
		l.owed[w] |= b
		l.nowed++
	}
}

// unowe clears slot i: sent, or its occupant left.
func (l *listing) unowe(i int) {
	w, b := i/64, uint64(1)<<(i%64)
	if w < len(l.owed) && l.owed[w]&b != 0 {
		l.owed[w] &^= b
		l.nowed--
	}
}

// more reports whether anything of the list is left to send.
func (l *listing) more() bool {
	return l.at < l.end || l.nowed > 0
}

// next appends presences of the list up to budget bytes (one at least):
// the rest of the list at its join, then what was owed since, by slot.
func (l *listing) next(out []mod.Delivery, budget int) []mod.Delivery {
	r := l.r
	withJID := r.seesJID(l.occ)
	for l.at < l.end && budget > 0 {
		i := l.at
		l.at++
		if i >= len(r.slots) {
			l.at = l.end // the room shrank: nothing further is in the list
			break
		}
		v := r.slots[i]
		if v == nil || v == l.occ || int32(v.seq-l.seq) >= 0 {
			continue // gone since (its leaving was broadcast), the newcomer, or announced by the broadcast
		}
		l.unowe(i) // sent now as it is: an owed update of it is spent
		st := r.view(v, withJID)
		budget -= len(st.Bytes())
		out = append(out, mod.Delivery{To: l.to, St: st})
	}
	for w := 0; l.nowed > 0 && budget > 0 && w < len(l.owed); {
		if l.owed[w] == 0 {
			w++
			continue
		}
		i := w*64 + bits.TrailingZeros64(l.owed[w])
		l.unowe(i)
		if i >= len(r.slots) || r.slots[i] == nil || r.slots[i] == l.occ {
			continue // not expected: a leaver's bit is cleared (vacate)
		}
		st := r.view(r.slots[i], withJID)
		budget -= len(st.Bytes())
		out = append(out, mod.Delivery{To: l.to, St: st})
	}
	return out
}

// takeLists returns the listings the join just made, with the session of
// each if it tells its backlog. Under r.mu.
func (r *room) takeLists(env mod.Env) []*listing {
	if len(r.pending) == 0 {
		return nil
	}
	out := r.pending
	r.pending = nil
	for _, l := range out {
		l.env, l.link = env, r.linkAt(l.to.String())
	}
	return out
}

// startLists hands listings to the pacing goroutine: after the join sent
// the first part, so no later part can overtake it.
func (m *Module) startLists(ls []*listing) {
	if len(ls) == 0 {
		return
	}
	m.lists.mu.Lock()
	m.lists.active = append(m.lists.active, ls...)
	start := !m.lists.running
	m.lists.running = true
	m.lists.mu.Unlock()
	if start {
		if err := m.h.Go(m.paceLists); err != nil {
			m.lists.mu.Lock()
			m.lists.stopped() // stopping: the newcomers get no more
			m.lists.mu.Unlock()
		}
	}
}

// paceLists sends the lists in progress as their connections drain, and
// returns once none is left.
func (m *Module) paceLists(ctx context.Context) {
	t := time.NewTicker(listTick)
	defer t.Stop()
	var batch []*listing
	var out []mod.Delivery // reused: a part is sent before the next is made
	for {
		select {
		case <-ctx.Done():
			m.lists.mu.Lock()
			m.lists.stopped()
			m.lists.mu.Unlock()
			return
		case <-t.C:
		}
		m.lists.mu.Lock()
		batch = append(batch[:0], m.lists.active...)
		m.lists.mu.Unlock()
		finished := false
		for _, l := range batch {
			out, l.done = l.step(out[:0])
			finished = finished || l.done
			m.send(l.env, out)
			clear(out)
		}
		clear(batch)
		m.lists.mu.Lock()
		if finished {
			k := 0
			for _, l := range m.lists.active {
				if !l.done {
					m.lists.active[k] = l
					k++
				}
			}
			clear(m.lists.active[k:])
			m.lists.active = m.lists.active[:k]
		}
		if len(m.lists.active) == 0 {
			m.lists.stopped()
			m.lists.mu.Unlock()
			return
		}
		m.lists.mu.Unlock()
	}
}

// step appends to out the next part of l if its connection has drained;
// done once the list and tail are out, or the newcomer left.
func (l *listing) step(out []mod.Delivery) (_ []mod.Delivery, done bool) {
	r := l.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone || r.occupantAt(l.to.String()) != l.occ {
		r.listDone(l)
		return out, true
	}
	budget := l.window
	if l.link != nil {
		held, _ := l.link.b.Backlog()
		l.link.held, l.link.at = held, r.m.now().UnixNano()
		if held >= budget/2 {
			return out, false
		}
		budget -= held
	}
	out = l.next(out, budget)
	if l.more() {
		return out, false
	}
	r.listDone(l)
	return append(out, l.tail...), true
}

// listDone counts listing l of the room out; the view cache goes with the
// last one.
func (r *room) listDone(l *listing) {
	if r.owing[l.to.String()] == l {
		delete(r.owing, l.to.String())
	}
	if r.listing--; r.listing == 0 {
		r.views = nil
		r.owing = nil
	}
}

// stopped: the pacing goroutine ends. Under mu.
func (ls *lists) stopped() {
	ls.running = false
	ls.active = nil
	if ls.idle.L != nil {
		ls.idle.Broadcast()
	}
}

// waitLists returns once every occupant list in progress is out (tests).
func (m *Module) waitLists() {
	m.lists.mu.Lock()
	defer m.lists.mu.Unlock()
	if m.lists.idle.L == nil {
		m.lists.idle.L = &m.lists.mu
	}
	for m.lists.running {
		m.lists.idle.Wait()
	}
}
