package s2s

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"ignis/jid"
	"ignis/session"
	"ignis/stanza"
	"ignis/xmlscan"
)

// fuzzTransport records a link's writes, one per call, and whether it was
// woken or closed; the test runs Wakeup itself, as the loop would.
type fuzzTransport struct {
	writes [][]byte
	closed bool
	woken  bool
	max    int // bytes written before Write refuses (0: no cap)
	n      int
}

func (f *fuzzTransport) Write(p []byte) error {
	if f.max > 0 && f.n+len(p) > f.max {
		return errors.New("output full")
	}
	f.n += len(p)
	f.writes = append(f.writes, bytes.Clone(p))
	return nil
}
func (f *fuzzTransport) StartTLS() error                  { return nil }
func (f *fuzzTransport) StartClientTLS(*tls.Config) error { return nil }
func (f *fuzzTransport) StartCompression() error          { return nil }
func (f *fuzzTransport) TLS() *tls.ConnectionState        { return nil }
func (f *fuzzTransport) Wake()                            { f.woken = true }
func (f *fuzzTransport) SetTimer(time.Duration)           {}
func (f *fuzzTransport) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5269}
}
func (f *fuzzTransport) Pending() int           { return 0 }
func (f *fuzzTransport) Sent() (uint64, uint64) { return 0, 0 }
func (f *fuzzTransport) WakeWhenFlushed()       {}
func (f *fuzzTransport) Close(final []byte) {
	f.writes = append(f.writes, bytes.Clone(final))
	f.closed = true
}
func (f *fuzzTransport) out() []byte { return bytes.Join(f.writes, nil) }
func (f *fuzzTransport) wake(h interface{ Wakeup() }) {
	if f.woken {
		f.woken = false
		h.Wakeup()
	}
}

// feed hands in to h in two reads, cut where the input says, running the
// Wakeup a read asked for; a failed read must have closed the stream.
func (f *fuzzTransport) feed(t *testing.T, h session.Handler, in []byte, cut uint16) {
	t.Helper()
	c := int(cut) % (len(in) + 1)
	for _, part := range [][]byte{in[:c], in[c:]} {
		err := h.Traffic(part)
		f.wake(h)
		if err != nil {
			if !f.closed {
				t.Fatalf("Traffic failed (%v) without closing the stream", err)
			}
			return
		}
	}
}

// checkWellFormed: what a link wrote is XML a peer's parser takes: each
// header starts a stream of its own (after a restart), every write in
// between is whole elements, and a close ends the stream.
func (f *fuzzTransport) checkWellFormed(t *testing.T) {
	t.Helper()
	var sc xmlscan.Scanner
	var sink countSink
	for i, w := range f.writes {
		if bytes.HasPrefix(w, []byte("<?xml")) {
			sc.Reset()
			sink = countSink{}
		}
		if err := sc.Feed(w, &sink); err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("write %d is not well-formed (%v): %q\nall: %q", i, err, w, f.writes)
		}
		if sc.Buffered() != 0 && !(i == len(f.writes)-1 && len(w) == 0) {
			t.Fatalf("write %d leaves a partial element: %q", i, w)
		}
	}
}

type countSink struct{ elems int }

func (c *countSink) StreamOpen(*xmlscan.Frame) error { return nil }
func (c *countSink) Element(*xmlscan.Frame) error    { c.elems++; return nil }
func (c *countSink) StreamClose() error              { return io.EOF }

// fuzzRouter counts what the links hand on.
type fuzzRouter struct{ sent, received []*stanza.Stanza }

func (r *fuzzRouter) Send(st *stanza.Stanza)    { r.sent = append(r.sent, st) }
func (r *fuzzRouter) Receive(st *stanza.Stanza) { r.received = append(r.received, st) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fuzzManager is a Manager that dials nobody (closed: a verification
// fails at once with remote-server-not-found), with flags choosing TLS
// (bit 0), RequireTLS (bit 1) and NoBidi (bit 2).
func fuzzManager(flags uint8, r *fuzzRouter) *Manager {
	cfg := Config{
		Domain: jid.MustParse("a.test"), Secret: []byte("s3cr3t"), Router: r, Logger: quiet,
		Local:          func(d string) bool { return d == "a.test" || d == "b.a.test" },
		MaxStanzaBytes: 4096, MaxDomainsPerLink: 3, MaxLinksPerDomain: 2,
		RequireTLS: flags&2 != 0, NoBidi: flags&4 != 0,
	}
	if flags&1 != 0 {
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	m := New(cfg)
	m.Close()
	return m
}

func s2sSeeds(f *testing.F, seeds ...string) {
	for i, s := range seeds {
		for _, flags := range []uint8{0, 1, 3, 4} {
			f.Add([]byte(s), uint16(len(s)/(i+2)), flags)
		}
	}
}

const peerHeader = "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='b.test' to='a.test' version='1.0'>"

// FuzzIncoming: whatever a stranger sends an s2s listener before it has
// authenticated (headers, STARTTLS, SASL, db:result, db:verify, bidi,
// stanzas), the stream answers with well-formed XML or ends with a stream
// error; nothing it sends is routed, and closing it leaves no count behind.
func FuzzIncoming(f *testing.F) {
	key := New(Config{Domain: jid.MustParse("a.test"), Secret: []byte("s3cr3t")}).dialbackKey("c.test", "a.test", "sid")
	s2sSeeds(f,
		peerHeader+"<db:result from='b.test' to='a.test'>abcd</db:result><message from='x@b.test' to='y@a.test'/>",
		peerHeader+"<db:verify from='c.test' to='a.test' id='sid'>"+key+"</db:verify><db:verify from='c.test' to='a.test' id='sid'>00</db:verify>",
		peerHeader+"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"+peerHeader+"<bidi xmlns='urn:xmpp:bidi'/><db:result from='b.test' to='b.a.test'>k</db:result>",
		peerHeader+"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>Yi50ZXN0</auth><db:result type='valid' from='b.test' to='a.test'/>",
		peerHeader+"<db:result from='a.test' to='a.test'>k</db:result><db:result from='b.test' to='z.test'>k</db:result><db:result from='c.test' to='a.test'>k</db:result><db:result from='d.test' to='a.test'>k</db:result><db:result from='e.test' to='a.test'>k</db:result>",
		peerHeader+"<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
		"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='x.test'>",
		peerHeader+"<iq type='get' id='1' from='b.test' to='a.test'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>",
	)
	f.Fuzz(func(t *testing.T, in []byte, cut uint16, flags uint8) {
		r := &fuzzRouter{}
		m := fuzzManager(flags, r)
		tr := &fuzzTransport{max: 1 << 16}
		h := m.Incoming(tr)
		s := h.(*inStream)
		tr.feed(t, h, in, cut)
		if tr.closed && !bytes.HasSuffix(tr.out(), []byte("</stream:stream>")) {
			t.Fatalf("closed without </stream:stream>: %q", tr.out())
		}
		tr.checkWellFormed(t)
		if len(r.received) != 0 {
			t.Fatalf("an unauthenticated stream routed %q", r.received[0].Bytes())
		}
		for _, w := range tr.writes {
			if bytes.Contains(w, []byte("type='valid'")) && bytes.HasPrefix(w, []byte("<db:result")) {
				t.Fatalf("dialback valid with no verification possible: %q", tr.out())
			}
		}
		if tr.closed && !strings.Contains(string(tr.out()), "</stream:") {
			t.Fatalf("closed without ending the stream: %q", tr.out())
		}
		h.Closed(nil)
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.inN != 0 || len(m.in) != 0 || len(m.bidi) != 0 || len(s.authed) != 0 {
			t.Fatalf("left behind: %d streams, %v, %d bidi routes", m.inN, m.in, len(m.bidi))
		}
	})
}

// FuzzOutgoing: whatever the server we dialed answers (features, STARTTLS,
// SASL, dialback verdicts, db:verify answers, stanzas), the link writes
// well-formed XML or ends with a stream error, routes nothing before it is
// up, and once closed every stanza queued on it was written or bounced
// and every verification asked through it was answered once.
func FuzzOutgoing(f *testing.F) {
	features := "<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback><bidi xmlns='urn:xmpp:features:bidi'/></stream:features>"
	s2sSeeds(f,
		peerHeader+features+"<db:result from='b.test' to='a.test' type='valid'/><db:verify from='b.test' to='a.test' id='i' type='valid'/>",
		peerHeader+"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features><proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"+peerHeader+features,
		peerHeader+features+"<db:result from='b.test' to='a.test' type='valid'/><message from='u@b.test' to='v@a.test' type='chat' id='x'><body>hi</body></message>",
		peerHeader+features+"<db:result from='b.test' to='a.test' type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>",
		peerHeader+features+"<db:result from='b.test' to='a.test' type='invalid'/>",
		peerHeader+"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms></stream:features><success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"+peerHeader+features,
		peerHeader+"<message/>",
	)
	f.Fuzz(func(t *testing.T, in []byte, cut uint16, flags uint8) {
		r := &fuzzRouter{}
		m := fuzzManager(flags, r)
		l := newOutLink(m, "a.test", "b.test")
		queued := stanza.MustParse([]byte("<message from='alice@a.test/r' to='bob@b.test' type='chat' id='q1'><body>x</body></message>"))
		l.enqueue(linkKey{"a.test", "b.test"}, queued)
		answers := 0
		l.addVerify(verifyReq{from: "a.test", to: "b.test", id: "i", key: "k", done: func(verifyResult) { answers++ }})
		tr := &fuzzTransport{max: 1 << 16}
		h := l.start(tr, false)
		tr.feed(t, h, in, cut)
		tr.checkWellFormed(t)
		if !l.up && len(r.received) != 0 {
			t.Fatalf("a link not up routed %q", r.received[0].Bytes())
		}
		h.Closed(nil)
		written := bytes.Count(tr.out(), []byte("id='q1'"))
		bounced := 0
		for _, st := range r.sent {
			if st.ID == "q1" && st.Type == stanza.TypeError {
				bounced++
			}
		}
		if written+bounced != 1 {
			t.Fatalf("queued stanza written %d times, bounced %d: %q", written, bounced, tr.out())
		}
		if answers != 1 {
			t.Fatalf("the verification was answered %d times", answers)
		}
	})
}
