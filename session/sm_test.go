package session

import (
	"math"
	"strings"
	"testing"

	"ignis/jid"
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
func login(t *testing.T, cfg *Config, bind bool) (*Stream, *memTransport) {
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

func feed(t *testing.T, s *Stream, in string) {
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
	// resuming again fails: the id was used
	s3, tr3 := login(t, cfg, false)
	feed(t, s3, "<resume xmlns='urn:xmpp:sm:3' previd='"+id+"' h='0'/>")
	expectOut(t, tr3, "<item-not-found")
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
