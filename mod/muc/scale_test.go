package muc

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// fakeSession is a newcomer's session that tells its backlog: what the
// room sent it is held until the test drains it.
type fakeSession struct {
	full jid.JID
	mu   sync.Mutex
	held int
	got  []*stanza.Stanza
	max  int           // the most ever held at once
	asks chan struct{} // a signal per Backlog call
}

func (f *fakeSession) JID() jid.JID                                      { return f.full }
func (f *fakeSession) Available() bool                                   { return true }
func (f *fakeSession) Priority() int8                                    { return 0 }
func (f *fakeSession) LastPresence() *stanza.Stanza                      { return nil }
func (f *fakeSession) Close(*stanza.StreamError)                         {}
func (f *fakeSession) Offer(*stanza.Stanza) bool                         { return true }
func (f *fakeSession) OfferConfirmed(*stanza.Stanza, func(ok bool)) bool { return true }
func (f *fakeSession) Backlog() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case f.asks <- struct{}{}:
	default:
	}
	return f.held, 1 << 20
}

func (f *fakeSession) deliver(st *stanza.Stanza) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, st)
	f.held += len(st.Bytes())
	f.max = max(f.max, f.held)
}

// drain reads everything held; it returns what arrived since the last drain.
func (f *fakeSession) drain() []*stanza.Stanza {
	f.mu.Lock()
	defer f.mu.Unlock()
	got := f.got
	f.got, f.held = nil, 0
	return got
}

// sessionsEnv delivers to fake sessions by full JID and counts the rest.
type sessionsEnv struct {
	countEnv
	to map[string]*fakeSession
}

func (e *sessionsEnv) Send(st *stanza.Stanza) {
	if f := e.to[st.To.String()]; f != nil {
		f.deliver(st)
		return
	}
	e.countEnv.Send(st)
}

// SendTo delivers the shared stanza itself, as the router does.
func (e *sessionsEnv) SendTo(to jid.JID, st *stanza.Stanza) {
	if f := e.to[to.String()]; f != nil {
		f.deliver(st)
		return
	}
	e.countEnv.SendTo(to, st)
}

// TestJoinBurst: a newcomer to a room of 1,000 gets its occupant list as
// its connection drains, never more than the join window (and one
// presence) held at once; every occupant once, its own presence after them
// all, the subject last; meanwhile nothing more is sent while it holds
// the window. The figures: bytes held at most, bytes allocated per join.
func TestJoinBurst(t *testing.T) {
	const n = 1000
	m, _ := newTestModule(t, Config{MaxOccupants: n + 10})
	nc := &fakeSession{full: jid.MustParse("new@localhost/r"), asks: make(chan struct{}, 1)}
	env := &sessionsEnv{to: map[string]*fakeSession{nc.full.String(): nc}}
	fill(t, m, env, n)
	// a status of ~100 bytes, as clients send (caps, show, status)
	for i := range n {
		o := m.lookup(jid.MustParse("room@conference.localhost")).occupants[fmt.Sprintf("u%d", i)]
		o.payload = []byte("<show>away</show><status>" + strings.Repeat("s", 40) + "</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='x' ver='y'/>")
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m.presence(&mod.Ctx{Env: env, From: nc}, presenceTo(nc.full.String(), "room@conference.localhost/newcomer"))
	runtime.ReadMemStats(&after)
	window := m.cfg.JoinWindow
	// the first window is held, not read: the pacing asks and sends nothing
	for range 3 {
		<-nc.asks
	}
	first := nc.drain()
	if len(first) == 0 || len(first) >= n || listBytes(first) > window+1024 {
		t.Fatalf("%d stanzas (%d bytes) before the newcomer read anything, want the first window's", len(first), listBytes(first))
	}
	// drain as the pacing asks, until the list is out (an ask comes before
	// its part is sent: the last part may come after the last ask)
	all := readUntilIdle(m, nc, first)
	seen := map[string]bool{}
	self := -1
	for i, st := range all {
		b := string(st.Bytes())
		if strings.Contains(b, "<status code='110'/>") {
			self = i
			continue
		}
		if st.Kind != stanza.Presence {
			continue
		}
		if seen[st.From.String()] {
			t.Fatalf("%s listed twice", st.From)
		}
		seen[st.From.String()] = true
	}
	if len(seen) != n || self != n || self != len(all)-2 {
		t.Fatalf("%d occupants listed, own presence at %d of %d; want %d, then self, then the subject", len(seen), self, len(all), n)
	}
	if nc.max > window+1024 {
		t.Fatalf("%d bytes held at once, want at most the window %d and one presence", nc.max, window)
	}
	t.Logf("room of %d: %d bytes of list, at most %d held at once; %d bytes allocated by the join call",
		n, listBytes(all), nc.max, after.TotalAlloc-before.TotalAlloc)
}

func listBytes(sts []*stanza.Stanza) int {
	n := 0
	for _, st := range sts {
		n += len(st.Bytes())
	}
	return n
}

// TestPresenceShared: one serialisation per view, whoever receives it:
// for a list sent to two newcomers at once, and for a leave.
func TestPresenceShared(t *testing.T) {
	const n = 300
	m, _ := newTestModule(t, Config{MaxOccupants: n + 10, JoinWindow: 2048})
	a := &fakeSession{full: jid.MustParse("a@localhost/r"), asks: make(chan struct{}, 1)}
	b := &fakeSession{full: jid.MustParse("b@localhost/r"), asks: make(chan struct{}, 1)}
	env := &sessionsEnv{to: map[string]*fakeSession{a.full.String(): a, b.full.String(): b}}
	fill(t, m, env, n)
	r := m.lookup(jid.MustParse("room@conference.localhost"))
	// both joins under one lock: their lists run side by side
	r.mu.Lock()
	for _, f := range []*fakeSession{a, b} {
		if _, err := r.join(nil, f.full, f.full.Local(), presenceTo(f.full.String(), "room@conference.localhost/"+f.full.Local()), false); err != nil {
			t.Fatal(err)
		}
		r.link(f.full, f)
	}
	rest := r.takeLists(env)
	r.mu.Unlock()
	m.startLists(rest)
	// drain both until done
	var got [2][]*stanza.Stanza
	idle := make(chan struct{})
	go func() { m.waitLists(); close(idle) }()
	for done := false; !done; {
		select {
		case <-a.asks:
		case <-b.asks:
		case <-idle:
			done = true
		}
		got[0] = append(got[0], a.drain()...)
		got[1] = append(got[1], b.drain()...)
	}
	got[0] = append(got[0], a.drain()...)
	got[1] = append(got[1], b.drain()...)
	byFrom := map[string]*stanza.Stanza{}
	for _, st := range got[0] {
		if st.Kind == stanza.Presence {
			byFrom[st.From.String()] = st
		}
	}
	sharedN := 0
	for _, st := range got[1] {
		if o := byFrom[st.From.String()]; o != nil && st.Kind == stanza.Presence && &o.Bytes()[0] == &st.Bytes()[0] {
			sharedN++
		}
	}
	// the first window of each was built at its join, before the lists ran together
	if sharedN < n*3/4 {
		t.Fatalf("%d of %d listed presences shared by the two newcomers", sharedN, n)
	}
	t.Logf("%d of %d listed presences were one serialisation for both newcomers", sharedN, n)

	// a leave: one unavailable presence for the two receivers without real JIDs
	r.mu.Lock()
	out := r.leave(nil, jid.MustParse("u7@localhost/r"), nil)
	r.mu.Unlock()
	var views []*stanza.Stanza
	for _, d := range out {
		if d.To.Equal(a.full) || d.To.Equal(b.full) {
			views = append(views, d.St)
		}
	}
	if len(views) != 2 || &views[0].Bytes()[0] != &views[1].Bytes()[0] || !strings.Contains(string(views[0].Bytes()), "type='unavailable'") {
		t.Fatalf("a leave to two plain occupants: %d presences, not one shared", len(views))
	}
}

// TestPresenceCoalesced: a session that holds more than PresenceBacklog
// for its client gets no more presence updates queued: a storm of status
// changes and a wave of joins leave it one owed entry per occupant, and
// once it drains it gets each occupant's latest presence once; a leave
// still goes straight, and an owed occupant that left is not announced.
func TestPresenceCoalesced(t *testing.T) {
	m, _ := newTestModule(t, Config{MaxOccupants: 500})
	slow := &fakeSession{full: jid.MustParse("slow@localhost/r"), asks: make(chan struct{}, 1)}
	env := &sessionsEnv{to: map[string]*fakeSession{slow.full.String(): slow}}
	const room = "room@conference.localhost"
	fill(t, m, env, 10)
	m.presence(&mod.Ctx{Env: env, From: slow}, presenceTo(slow.full.String(), room+"/slow"))
	m.waitLists()
	slow.drain()
	// its client stops reading: the session holds more than the backlog
	slow.mu.Lock()
	slow.held = m.cfg.PresenceBacklog + 1
	slow.mu.Unlock()

	ctx := &mod.Ctx{Env: env}
	status := func(from string, i int) *stanza.Stanza {
		return stanza.MustParse(fmt.Appendf(nil, "<presence from='%s@localhost/r' to='%s/%s'><status>s%d</status></presence>", from, room, from, i))
	}
	for i := range 100 {
		m.presence(ctx, status("u1", i))
	}
	const wave = 200
	for i := range wave {
		m.presence(ctx, presenceTo(fmt.Sprintf("w%d@localhost/r", i), fmt.Sprintf("%s/w%d", room, i)))
	}
	m.presence(ctx, status("w7", 1))
	m.presence(ctx, stanza.MustParse([]byte("<presence type='unavailable' from='w7@localhost/r' to='"+room+"/w7'/>")))
	slow.mu.Lock()
	queued := len(slow.got)
	slow.mu.Unlock()
	if queued != 1 {
		t.Fatalf("%d stanzas queued on a session behind during 100 status changes, %d joins and a leave; want the leave alone", queued, wave)
	}
	r := m.lookup(jid.MustParse(room))
	r.mu.Lock()
	owed := r.owing[slow.full.String()].nowed
	r.mu.Unlock()
	if owed != wave {
		// u1 and the wave but w7, who left: its entry went with it
		t.Fatalf("%d occupants owed, want %d (one entry each)", owed, wave)
	}

	// it reads: the owed presences follow, the latest of each, once
	all := readUntilIdle(m, slow, slow.drain())
	count := map[string]int{}
	for _, st := range all {
		count[st.From.Resource()]++
		if st.From.Resource() == "u1" && !strings.Contains(string(st.Bytes()), "<status>s99</status>") {
			t.Fatalf("u1's presence is not its latest: %s", st.Bytes())
		}
	}
	if count["u1"] != 1 || count["w7"] != 1 || count["w8"] != 1 || len(count) != wave+1 {
		t.Fatalf("after draining: u1 %d, w7 %d (its leave), w8 %d, %d senders; want each once, %d senders", count["u1"], count["w7"], count["w8"], len(count), wave+1)
	}
	r.mu.Lock()
	left := len(r.owing)
	r.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d listings left after draining", left)
	}
}

// TestOwedSlotReused: the room's slot of an owed occupant who left is
// taken by the next to join; a session that is behind gets the newcomer's
// presence once and nothing more of the leaver than its leave.
func TestOwedSlotReused(t *testing.T) {
	m, _ := newTestModule(t, Config{MaxOccupants: 50})
	slow := &fakeSession{full: jid.MustParse("slow@localhost/r"), asks: make(chan struct{}, 1)}
	env := &sessionsEnv{to: map[string]*fakeSession{slow.full.String(): slow}}
	const room = "room@conference.localhost"
	fill(t, m, env, 10)
	m.presence(&mod.Ctx{Env: env, From: slow}, presenceTo(slow.full.String(), room+"/slow"))
	m.waitLists()
	slow.drain()
	slow.mu.Lock()
	slow.held = m.cfg.PresenceBacklog + 1
	slow.mu.Unlock()

	ctx := &mod.Ctx{Env: env}
	m.presence(ctx, stanza.MustParse([]byte("<presence from='u3@localhost/r' to='"+room+"/u3'><status>away</status></presence>")))
	m.presence(ctx, stanza.MustParse([]byte("<presence type='unavailable' from='u3@localhost/r' to='"+room+"/u3'/>")))
	m.presence(ctx, presenceTo("x@localhost/r", room+"/x"))
	r := m.lookup(jid.MustParse(room))
	r.mu.Lock()
	reused := r.occupants["x"].slot == 3
	owed := r.owing[slow.full.String()].nowed
	r.mu.Unlock()
	if !reused || owed != 1 {
		t.Fatalf("x in slot 3: %v, %d owed to the slow session; want true, 1 (x alone)", reused, owed)
	}

	all := readUntilIdle(m, slow, slow.drain())
	count := map[string]int{}
	for _, st := range all {
		count[st.From.Resource()]++
	}
	if len(all) != 2 || count["u3"] != 1 || count["x"] != 1 || !strings.Contains(string(all[0].Bytes()), "unavailable") {
		t.Fatalf("the slow session got %d stanzas (u3 %d, x %d); want u3's leave, then x once", len(all), count["u3"], count["x"])
	}
}

// readUntilIdle appends to all what s gets, read as it asks (its part is
// sent as its connection drains), until no list is in progress.
func readUntilIdle(m *Module, s *fakeSession, all []*stanza.Stanza) []*stanza.Stanza {
	idle := make(chan struct{})
	go func() { m.waitLists(); close(idle) }()
	for done := false; !done; {
		select {
		case <-s.asks:
		case <-idle:
			done = true
		}
		all = append(all, s.drain()...)
	}
	return all
}
