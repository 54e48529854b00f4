package session

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/route"
	"ignis/stanza"
)

// TestSMCounting: acknowledgements are modulo 2^32 (XEP-0198 §5), and an h
// that acknowledges more than was sent is refused.
func TestSMCounting(t *testing.T) {
	st := stanza.MustParse([]byte("<message to='alice@localhost/r'><body>x</body></message>"))
	for _, tc := range []struct {
		name    string
		start   uint32 // hOut before sending
		send    int
		acks    []uint32
		ok      []bool
		unacked int // left after the acks
	}{
		{"simple", 0, 5, []uint32{3, 5}, []bool{true, true}, 0},
		{"same-h-twice", 0, 5, []uint32{2, 2}, []bool{true, true}, 3},
		{"too-high", 0, 5, []uint32{6}, []bool{false}, 5},
		{"backwards", 0, 5, []uint32{4, 3}, []bool{true, false}, 1},
		{"wrap", math.MaxUint32 - 2, 5, []uint32{1}, []bool{true}, 1},
		{"wrap-all", math.MaxUint32 - 2, 5, []uint32{math.MaxUint32, 2}, []bool{true, true}, 0},
		{"wrap-too-high", math.MaxUint32 - 2, 5, []uint32{3}, []bool{false}, 5},
		{"wrap-backwards", math.MaxUint32 - 2, 5, []uint32{0, math.MaxUint32}, []bool{true, false}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &smState{hOut: tc.start}
			for range tc.send {
				m.sent(st)
			}
			for i, h := range tc.acks {
				if got := m.ack(h); got != tc.ok[i] {
					t.Fatalf("ack(%d) = %v, want %v", h, got, tc.ok[i])
				}
			}
			if m.unacked.n != tc.unacked {
				t.Fatalf("%d unacknowledged, want %d", m.unacked.n, tc.unacked)
			}
		})
	}
}

// TestRingOrder: the ring keeps order across growth and wrap-around.
func TestRingOrder(t *testing.T) {
	var sts []*stanza.Stanza
	for range 100 {
		sts = append(sts, stanza.MustParse([]byte("<message/>")))
	}
	var r ring
	next, popped := 0, 0
	for round := range 20 {
		for range round % 7 * 3 {
			r.push(sts[next%len(sts)])
			next++
		}
		for range round % 5 {
			if r.n == 0 {
				break
			}
			if got := r.pop(); got != sts[popped%len(sts)] {
				t.Fatalf("round %d: popped stanza %d out of order", round, popped)
			}
			popped++
		}
	}
	for r.n > 0 {
		if r.pop() != sts[popped%len(sts)] {
			t.Fatalf("drain: stanza %d out of order", popped)
		}
		popped++
	}
	if popped != next {
		t.Fatalf("pushed %d, popped %d", next, popped)
	}
}

// TestRingNoAllocs: once grown, sending and acknowledging allocate nothing,
// and a large idle ring is released.
func TestRingNoAllocs(t *testing.T) {
	st := stanza.MustParse([]byte("<message/>"))
	m := &smState{}
	for range 10 {
		m.sent(st)
	}
	m.ack(m.hOut)
	if n := testing.AllocsPerRun(1000, func() {
		for range 10 {
			m.sent(st)
		}
		m.ack(m.hOut - 3)
		m.ack(m.hOut)
	}); n != 0 {
		t.Fatalf("%v allocations per round, want 0", n)
	}
	for range 1000 {
		m.sent(st)
	}
	m.ack(m.hOut)
	if m.unacked.buf != nil {
		t.Fatalf("an empty ring of %d slots is kept", len(m.unacked.buf))
	}
}

// login drives a Stream to stAuthed (bind false) or stBound.
func login(t testing.TB, cfg *Config, bind bool) (*Stream, *memTransport) {
	t.Helper()
	tr := &memTransport{}
	s := New(cfg, tr)
	in := header + plainAuth("alice", "wonderland")
	if err := s.Traffic([]byte(in)); err != nil {
		t.Fatal(err)
	}
	if err := s.Traffic([]byte(header)); err != nil {
		t.Fatal(err)
	}
	if bind {
		feed(t, s, "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>")
	}
	tr.out.Reset()
	return s, tr
}

func feed(t testing.TB, s *Stream, in string) {
	t.Helper()
	if err := s.Traffic([]byte(in)); err != nil {
		t.Fatalf("Traffic(%q): %v", in, err)
	}
}

func expectOut(t *testing.T, tr *memTransport, want ...string) {
	t.Helper()
	out := tr.out.String()
	for _, w := range want {
		i := strings.Index(out, w)
		if i < 0 {
			t.Fatalf("output %q lacks %q (in this order: %q)", tr.out.String(), w, want)
		}
		out = out[i+len(w):]
	}
	tr.out.Reset()
}

// TestSMTransitions: enable only once bound; <r/> and <a/>; a lost
// connection detaches a resumable stream, which a new stream of the same
// user resumes: same JID in the table, unacknowledged stanzas resent, then
// what was delivered meanwhile, and later deliveries to the old stream
// forwarded.
func TestSMTransitions(t *testing.T) {
	cfg := testConfig(t)
	s, tr := login(t, cfg, false)
	feed(t, s, "<enable xmlns='urn:xmpp:sm:3'/>")
	expectOut(t, tr, "<failed xmlns='urn:xmpp:sm:3'><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>")
	feed(t, s, "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>")
	tr.out.Reset()

	feed(t, s, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	if s.sm == nil || len(s.sm.id) != 36 {
		t.Fatalf("sm state after enable: %+v", s.sm)
	}
	id := s.sm.id
	expectOut(t, tr, "<enabled xmlns='urn:xmpp:sm:3' id='"+id+"' resume='true' max='300'/>")
	feed(t, s, "<enable xmlns='urn:xmpp:sm:3'/>")
	expectOut(t, tr, "<failed xmlns='urn:xmpp:sm:3'><unexpected-request")

	m1 := stanza.MustParse([]byte("<message from='bob@localhost/x' to='alice@localhost/r' type='chat'><body>one</body></message>"))
	m2 := stanza.MustParse([]byte("<message from='bob@localhost/x' to='alice@localhost/r' type='chat'><body>two</body></message>"))
	m3 := stanza.MustParse([]byte("<message from='bob@localhost/x' to='alice@localhost/r' type='chat'><body>three</body></message>"))
	s.Deliver(m1)
	s.Wakeup()
	feed(t, s, "<presence to='bob@localhost/x' type='unavailable'/><r xmlns='urn:xmpp:sm:3'/>")
	expectOut(t, tr, "<body>one</body>", "<a xmlns='urn:xmpp:sm:3' h='1'/>")
	if s.sm.hOut != 1 || s.sm.unacked.n != 1 {
		t.Fatalf("hOut=%d unacked=%d", s.sm.hOut, s.sm.unacked.n)
	}

	// the connection breaks: detached, still bound, still accepting
	s.Closed(nil)
	if s.state != stClosed || cfg.Router.Table().Lookup(s.JID()) != s {
		t.Fatalf("after Closed: state %s, bound %v", s.state, cfg.Router.Table().Lookup(s.JID()))
	}
	if !s.Deliver(m2) {
		t.Fatal("a detached stream refused a delivery")
	}

	// another user cannot take it; alice can
	s2, tr2 := login(t, cfg, false)
	s2.jid = jid.MustParse("mallory@localhost")
	feed(t, s2, "<resume xmlns='urn:xmpp:sm:3' previd='"+id+"' h='1'/>")
	expectOut(t, tr2, "<failed xmlns='urn:xmpp:sm:3'><item-not-found")
	s2.jid = jid.MustParse("alice@localhost")
	feed(t, s2, "<resume xmlns='urn:xmpp:sm:3' previd='"+id+"' h='0'/>")
	expectOut(t, tr2, "<resumed xmlns='urn:xmpp:sm:3' previd='"+id+"' h='1'/>", "<body>one</body>", "<body>two</body>")
	if s2.state != stBound || !s2.JID().Equal(s.JID()) || cfg.Router.Table().Lookup(s2.JID()) != s2 {
		t.Fatalf("after resume: state %s, jid %s, bound %v", s2.state, s2.JID(), cfg.Router.Table().Lookup(s2.JID()))
	}
	if s2.sm.hOut != 2 || s2.sm.unacked.n != 2 || s.sm != nil {
		t.Fatalf("counters after resume: hOut=%d unacked=%d", s2.sm.hOut, s2.sm.unacked.n)
	}
	// a stale reference to the old stream forwards
	if !s.Deliver(m3) {
		t.Fatal("the resumed stream's predecessor refused a delivery")
	}
	s2.Wakeup()
	expectOut(t, tr2, "<body>three</body>")
	feed(t, s2, "<a xmlns='urn:xmpp:sm:3' h='3'/>")
	if s2.sm.unacked.n != 0 {
		t.Fatalf("%d unacknowledged after h=3", s2.sm.unacked.n)
	}
	// resuming again asks s2, attached, to hand the session over (see
	// TestSMHandover); s3 gives up
	s3, tr3 := login(t, cfg, false)
	feed(t, s3, "<resume xmlns='urn:xmpp:sm:3' previd='"+id+"' h='0'/>")
	if s3.hand == nil || tr3.out.Len() != 0 {
		t.Fatalf("resume of the attached session: hand %v, out %q", s3.hand, tr3.out.String())
	}
	s3.Closed(nil)
	if err := s2.Traffic([]byte("</stream:stream>")); err == nil || cfg.Router.Table().Count() != 0 {
		t.Fatalf("clean close: err %v, %d bound", err, cfg.Router.Table().Count())
	}
}

// TestSMMaxUnacked: past the limit of unacknowledged stanzas the stream ends.
func TestSMMaxUnacked(t *testing.T) {
	cfg := testConfig(t)
	cfg.SM.MaxUnacked = 10
	s, tr := login(t, cfg, true)
	feed(t, s, "<enable xmlns='urn:xmpp:sm:3'/>")
	m := stanza.MustParse([]byte("<message from='bob@localhost/x' to='alice@localhost/r' type='chat'><body>x</body></message>"))
	for range 11 {
		s.Deliver(m)
	}
	s.Wakeup()
	if s.state != stClosed || !strings.Contains(tr.out.String(), "<resource-constraint") {
		t.Fatalf("state %s, out %q", s.state, tr.out.String())
	}
}

// smBound logs alice in on resource r with Stream Management and
// resumption enabled; it returns the stream and its resumption id.
func smBound(t *testing.T, cfg *Config) (*Stream, *memTransport, string) {
	t.Helper()
	s, tr := login(t, cfg, true)
	feed(t, s, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	if s.sm == nil || s.sm.id == "" {
		t.Fatal("no resumption id")
	}
	tr.out.Reset()
	return s, tr, s.sm.id
}

func chat(body string) *stanza.Stanza {
	return stanza.MustParse([]byte("<message from='bob@localhost/x' to='alice@localhost/r' type='chat'><body>" + body + "</body></message>"))
}

// TestSMHandover: a resume of a stream still attached to its connection
// holds the new stream's input until the old stream, woken on its loop,
// closes its connection with <conflict/> and detaches; the new stream then
// resumes: unacknowledged stanzas, then what the old one had queued, then
// the input held meanwhile; later deliveries to the old stream follow.
func TestSMHandover(t *testing.T) {
	cfg := testConfig(t)
	old, oldTr, id := smBound(t, cfg)
	old.Deliver(chat("one"))
	old.Wakeup()
	expectOut(t, oldTr, "<body>one</body>")

	s, tr := login(t, cfg, false)
	woken := oldTr.woken
	feed(t, s, "<resume xmlns='urn:xmpp:sm:3' previd='"+id+"' h='0'/><r xmlns='urn:xmpp:sm:3'/>")
	if tr.out.Len() != 0 || s.hand == nil || s.state != stAuthed || tr.timer != handoverWait {
		t.Fatalf("while waiting: out %q, hand %v, state %s, timer %s", tr.out.String(), s.hand, s.state, tr.timer)
	}
	if oldTr.woken == woken {
		t.Fatal("the old stream was not woken")
	}
	// a second resume of the same session fails while the first waits
	s3, tr3 := login(t, cfg, false)
	feed(t, s3, "<resume xmlns='urn:xmpp:sm:3' previd='"+id+"' h='0'/>")
	expectOut(t, tr3, "<failed xmlns='urn:xmpp:sm:3'><item-not-found")
	// a spurious wake-up changes nothing
	s.Wakeup()
	if s.hand == nil || tr.out.Len() != 0 {
		t.Fatalf("after a spurious wake-up: hand %v, out %q", s.hand, tr.out.String())
	}

	old.Deliver(chat("two")) // queued in the old stream: the new one writes it
	woken = tr.woken
	old.Wakeup()
	expectOut(t, oldTr, "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>", "</stream:error></stream:stream>")
	if !oldTr.closed || old.state != stClosed || tr.woken == woken {
		t.Fatalf("old stream: closed %v, state %s; new stream woken %v", oldTr.closed, old.state, tr.woken != woken)
	}
	old.Closed(nil) // the connection's close follows; it changes nothing

	s.Wakeup()
	expectOut(t, tr, "<resumed xmlns='urn:xmpp:sm:3' previd='"+id+"' h='0'/>", "<body>one</body>", "<body>two</body>", "<a xmlns='urn:xmpp:sm:3' h='0'/>")
	if s.hand != nil || s.state != stBound || cfg.Router.Table().Lookup(s.JID()) != s || s.sm.unacked.n != 2 {
		t.Fatalf("after the handover: hand %v, state %s, bound %v", s.hand, s.state, cfg.Router.Table().Lookup(s.JID()))
	}
	if n := cfg.Stats.SMResumed.Load(); n != 1 {
		t.Fatalf("SMResumed = %d", n)
	}
	if !old.Deliver(chat("three")) {
		t.Fatal("the handed-over stream refused a delivery")
	}
	s.Wakeup()
	expectOut(t, tr, "<body>three</body>")

	// the session can be handed over again, from the new stream
	s2, tr2 := login(t, cfg, false)
	feed(t, s2, "<resume xmlns='urn:xmpp:sm:3' previd='"+id+"' h='3'/>")
	s.Wakeup()
	s2.Wakeup()
	expectOut(t, tr2, "<resumed xmlns='urn:xmpp:sm:3' previd='"+id+"' h='0'/>")
	if s2.sm.unacked.n != 0 || cfg.Router.Table().Lookup(s2.JID()) != s2 {
		t.Fatalf("second handover: %d unacknowledged", s2.sm.unacked.n)
	}
}

// TestSMHandoverRefused: the old stream never lets go (its loop is stuck):
// the resume fails after handoverWait and the old session is untouched;
// another user's resume never reaches the old stream; a new stream that
// ends while waiting withdraws its request.
func TestSMHandoverRefused(t *testing.T) {
	cfg := testConfig(t)
	old, oldTr, id := smBound(t, cfg)

	s, tr := login(t, cfg, false)
	feed(t, s, "<resume xmlns='urn:xmpp:sm:3' previd='"+id+"' h='0'/><iq type='set' id='b2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>other</resource></bind></iq>")
	s.Timer(time.Now())
	expectOut(t, tr, "<failed xmlns='urn:xmpp:sm:3'><item-not-found", "<jid>alice@localhost/other</jid>")
	if s.hand != nil || old.inbox.takeover != nil || tr.timer == handoverWait {
		t.Fatalf("after the timeout: hand %v, takeover %v, timer %s", s.hand, old.inbox.takeover, tr.timer)
	}
	old.Deliver(chat("one"))
	old.Wakeup()
	expectOut(t, oldTr, "<body>one</body>")

	m, mtr := login(t, cfg, false)
	m.jid = jid.MustParse("mallory@localhost")
	woken := oldTr.woken
	feed(t, m, "<resume xmlns='urn:xmpp:sm:3' previd='"+id+"' h='0'/>")
	expectOut(t, mtr, "<failed xmlns='urn:xmpp:sm:3'><item-not-found")
	if oldTr.woken != woken || old.inbox.takeover != nil {
		t.Fatal("another user's resume reached the old stream")
	}
	for _, previd := range []string{"", "0123"} {
		n, ntr := login(t, cfg, false)
		feed(t, n, "<resume xmlns='urn:xmpp:sm:3' previd='"+previd+"' h='0'/>")
		expectOut(t, ntr, "<item-not-found")
	}

	n, _ := login(t, cfg, false)
	feed(t, n, "<resume xmlns='urn:xmpp:sm:3' previd='"+id+"' h='0'/>")
	n.Closed(nil)
	if old.inbox.takeover != nil {
		t.Fatal("a closed stream still waits to take the session over")
	}
	old.Wakeup()
	if oldTr.closed || old.state != stBound {
		t.Fatalf("old stream: closed %v, state %s", oldTr.closed, old.state)
	}
}

// TestSMHandoverHeldInputLimit: what a client sends while its resume waits
// for a handover is held, up to the stanza size limit in all; past it the
// stream ends with <policy-violation/>, and the waiting request is withdrawn.
func TestSMHandoverHeldInputLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.MaxStanzaBytes = 4096 // the tokenizer's own limit stays larger
	old, _, id := smBound(t, cfg)
	s, tr := login(t, cfg, false)
	feed(t, s, "<resume xmlns='urn:xmpp:sm:3' previd='"+id+"' h='0'/>")
	if s.hand == nil {
		t.Fatal("the resume does not wait for the handover")
	}
	msg := "<message to='bob@localhost' type='chat'><body>" + strings.Repeat("x", 1000) + "</body></message>"
	feed(t, s, msg+msg+msg) // about 3.2 KB held: still within the limit
	if s.state == stClosed || tr.out.Len() != 0 {
		t.Fatalf("within the limit: state %s, out %q", s.state, tr.out.String())
	}
	if err := s.Traffic([]byte(msg)); err == nil {
		t.Fatal("input past the limit was held")
	}
	expectOut(t, tr, "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>")
	if old.inbox.takeover != nil {
		t.Fatal("the ended stream still waits to take the session over")
	}
}

// TestSMHandledCountTooHigh: an <a/> (or a <resume/>) acknowledging more
// than was sent ends the stream with <undefined-condition/> and XEP-0198's
// <handled-count-too-high/>.
func TestSMHandledCountTooHigh(t *testing.T) {
	cfg := testConfig(t)
	s, tr, id := smBound(t, cfg)
	s.Deliver(chat("one"))
	s.Wakeup()
	s.Closed(nil) // detached
	s2, tr2 := login(t, cfg, false)
	if err := s2.Traffic([]byte("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='7'/>")); err == nil {
		t.Fatal("resume with h=7 of 1 sent accepted")
	}
	expectOut(t, tr2, "<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>",
		"<handled-count-too-high xmlns='urn:xmpp:sm:3' h='7' send-count='1'/></stream:error>")
	_ = tr

	s, tr = login(t, cfg, true)
	feed(t, s, "<enable xmlns='urn:xmpp:sm:2'/>")
	s.Deliver(chat("one"))
	s.Deliver(chat("two"))
	s.Wakeup()
	tr.out.Reset()
	if err := s.Traffic([]byte("<a xmlns='urn:xmpp:sm:2' h='3'/>")); err == nil {
		t.Fatal("h=3 of 2 sent accepted")
	}
	expectOut(t, tr, "<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text",
		"</text><handled-count-too-high xmlns='urn:xmpp:sm:3' h='3' send-count='2'/></stream:error></stream:stream>")
}

// heldWrites stands in for the store's writer: handlers "submit" by
// counting, and fences wait until the test releases them, in order.
type heldWrites struct {
	n      uint64
	fences []func(error)
}

func (h *heldWrites) Submitted() uint64      { return h.n }
func (h *heldWrites) Fence(done func(error)) { h.fences = append(h.fences, done) }

func (h *heldWrites) release(t *testing.T) {
	t.Helper()
	if len(h.fences) == 0 {
		t.Fatal("no fence to release")
	}
	h.fences[0](nil)
	h.fences = h.fences[1:]
}

// storing is a module whose offline hook "submits a write" for messages to
// durable@localhost and takes nothing else.
type storing struct{ w *heldWrites }

func (storing) Name() string { return "storing" }
func (m storing) Register(r *mod.Registry) {
	r.OnUndeliverable(func(_ *mod.Ctx, st *stanza.Stanza) bool {
		if st.To.Local() != "durable" {
			return false
		}
		m.w.n++
		return true
	})
}

// TestSMAckWaitsForDurability: h counts a stanza only once its handling is
// durable: an <r/> after a stanza whose handler submitted a synced write is
// answered once that write's fence is reported, and h covers only the
// prefix of complete stanzas, whatever completes in between.
func TestSMAckWaitsForDurability(t *testing.T) {
	const (
		durable = "<message to='durable@localhost' type='chat'><body>x</body></message>"
		other   = "<message to='nobody@localhost' type='chat'><body>x</body></message>"
		r       = "<r xmlns='urn:xmpp:sm:3'/>"
	)
	type step struct {
		in      string // fed to the stream, or "" to release the next fence
		wantA   string // the <a/> expected after the step, or ""
		pending int    // fences still held after the step
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"nothing-to-wait-for", []step{{in: other + r, wantA: "1"}}},
		{"one-write", []step{{in: durable + r, pending: 1}, {wantA: "1"}}},
		{"prefix-only", []step{
			{in: durable + other + durable + r, pending: 2},
			{pending: 1}, // the first is complete, the third is not: no answer yet
			{wantA: "3"},
		}},
		{"later-stanzas-wait-for-earlier", []step{
			{in: durable + other + r, pending: 1},
			{wantA: "2"},
			{in: other + r, wantA: "3"},
		}},
		{"two-r", []step{
			{in: durable + r + other + r, pending: 1},
			{wantA: "2"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &heldWrites{}
			cfg := testConfig(t)
			cfg.Router = route.New(route.Config{Domain: cfg.Domain}, mod.NewRegistry(storing{w}))
			cfg.Durable = w
			s, tr := login(t, cfg, true)
			feed(t, s, "<enable xmlns='urn:xmpp:sm:3'/>")
			tr.out.Reset()
			for i, st := range tc.steps {
				if st.in != "" {
					feed(t, s, st.in)
				} else {
					w.release(t)
					s.Wakeup()
				}
				out := tr.out.String()
				tr.out.Reset()
				a := ""
				if j := strings.Index(out, "<a xmlns='urn:xmpp:sm:3' h='"); j >= 0 {
					a, _, _ = strings.Cut(out[j+len("<a xmlns='urn:xmpp:sm:3' h='"):], "'")
				}
				if a != st.wantA {
					t.Fatalf("step %d: answered h=%q, want %q (output %q)", i, a, st.wantA, out)
				}
				if len(w.fences) != st.pending {
					t.Fatalf("step %d: %d fences held, want %d", i, len(w.fences), st.pending)
				}
			}
		})
	}
}

// TestSMFailedResumeKeepsDeadline: a resume that waits for a handover and
// fails gives the stream no more time: the wait ends by the negotiation
// deadline set at accept, the timer then runs to that deadline (not a fresh
// pre_auth_idle), and a stream whose deadline passed meanwhile ends with
// <connection-timeout/>.
func TestSMFailedResumeKeepsDeadline(t *testing.T) {
	cfg := testConfig(t)
	_, _, id := smBound(t, cfg) // attached: a resume waits for a handover
	for _, tc := range []struct {
		name string
		left time.Duration // of the deadline when the resume comes
	}{
		{"two-seconds-left", 2 * time.Second},
		{"passed-while-waiting", 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, tr := login(t, cfg, false)
			s.negBy = mono() + int64(tc.left) // as if accepted pre_auth_idle - left ago
			feed(t, s, "<resume xmlns='urn:xmpp:sm:3' previd='"+id+"' h='0'/>")
			if s.hand == nil || tr.timer > tc.left || tr.timer <= 0 {
				t.Fatalf("waiting: hand %v, timer %s; want at most the %s left", s.hand, tr.timer, tc.left)
			}
			if tc.left < time.Second {
				s.negBy = mono() - 1 // the deadline passed; the timer fired for it
			}
			s.Timer(time.Now()) // the wait is over: the old stream never let go
			if tc.left < time.Second {
				expectOut(t, tr, "<failed xmlns='urn:xmpp:sm:3'><item-not-found", "<connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>")
				if !tr.closed {
					t.Fatal("the stream past its deadline is still open")
				}
				return
			}
			expectOut(t, tr, "<failed xmlns='urn:xmpp:sm:3'><item-not-found")
			if tr.timer > tc.left || tr.timer <= 0 || tr.closed {
				t.Fatalf("after the failed resume: timer %s, closed %v; want the %s left at most", tr.timer, tr.closed, tc.left)
			}
		})
	}
}

// gatedResource is another resource of alice's whose deliveries wait for
// open once entered is signalled.
type gatedResource struct {
	otherResource
	entered chan struct{}
	open    chan struct{}
}

func (g *gatedResource) Deliver(st *stanza.Stanza) bool {
	g.entered <- struct{}{}
	<-g.open
	return g.otherResource.Deliver(st)
}
func (g *gatedResource) Offer(st *stanza.Stanza) bool { return g.Deliver(st) }

// TestShutdownEndsDetached: a stream detached waiting for a resume, ended
// (here by Close, as Shutdown does), routes its unacknowledged messages
// again on a goroutine that Shutdown's wait (Config.late) counts, so that
// they are routed before the store, where they would go, closes.
func TestShutdownEndsDetached(t *testing.T) {
	cfg := testConfig(t)
	other := &gatedResource{entered: make(chan struct{}, 1), open: make(chan struct{})}
	if err := cfg.Router.Bind(other); err != nil {
		t.Fatal(err)
	}
	s, _, _ := smBound(t, cfg)
	s.Deliver(stanza.MustParse([]byte("<message from='bob@localhost/x' to='alice@localhost/r' type='chat' id='u1'><body>one</body></message>")))
	s.Wakeup()
	s.Closed(nil) // detached, its message unacknowledged
	done := make(chan struct{})
	go func() {
		s.Close(errShuttingDown)
		cfg.late.Wait() // what Shutdown waits for
		close(done)
	}()
	<-other.entered // the expiry routes the message again
	select {
	case <-done:
		t.Fatal("the wait ended while the detached stream's message was being routed")
	default:
	}
	close(other.open)
	<-done
	if _, err := cfg.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := other.ids(); !slices.Equal(got, []string{"u1"}) {
		t.Fatalf("routed again: %v, want [u1]", got)
	}
}
