package session

import (
	"log/slog"
	"testing"

	"ignis/jid"
	"ignis/stanza"
	"ignis/xmlscan"
)

// WebSocketFraming.Element declares what an element built for a stream
// root lacks, and leaves an element that declares it alone; the result
// parses with nothing inherited.
func TestWebSocketElement(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<message to='a@b'><body>x</body></message>", "<message xmlns='jabber:client' to='a@b'><body>x</body></message>"},
		{"<iq type='result' id='1'/>", "<iq xmlns='jabber:client' type='result' id='1'/>"},
		{"<presence/>", "<presence xmlns='jabber:client'/>"},
		{"<message xmlns='jabber:client' to='a@b'/>", "<message xmlns='jabber:client' to='a@b'/>"},
		{"<message id='x xmlns=\"y\"&gt;' xmlns=\"jabber:client\"/>", "<message id='x xmlns=\"y\"&gt;' xmlns=\"jabber:client\"/>"},
		{"<message id='xmlns'/>", "<message xmlns='jabber:client' id='xmlns'/>"},
		{"<r xmlns='urn:xmpp:sm:3'/>", "<r xmlns='urn:xmpp:sm:3'/>"},
		{"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
			"<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"},
		{"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
			"<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"},
	}
	for _, tc := range tests {
		got := string(WebSocketFraming{}.Element([]byte(tc.in)))
		if got != tc.want {
			t.Errorf("Element(%q) = %q, want %q", tc.in, got, tc.want)
			continue
		}
		if _, err := xmlscan.ParseElem([]byte(got), ""); err != nil {
			t.Errorf("%q does not stand alone: %v", got, err)
		}
	}
}

// The TCP framing writes what the stream wrote before it existed, and
// allocates nothing: a TCP stream costs what it did.
func TestTCPFraming(t *testing.T) {
	var fr Framing = TCPFraming{}
	id := StreamID{0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xff}
	se := stanza.StreamErr(stanza.ConnectionTimeout, "")
	to := jid.MustParse("a@localhost/r")
	buf := make([]byte, 0, 1024)
	var out []byte
	allocs := testing.AllocsPerRun(100, func() {
		out = fr.AppendOpen(buf[:0], id, "localhost", jid.JID{})
		out = fr.AppendClose(fr.AppendError(out, se))
		_ = fr.Element(out)
	})
	if allocs != 0 {
		t.Errorf("%v allocations", allocs)
	}
	const want = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='ab0102030405060708090aff' from='localhost' version='1.0' xml:lang='en'>" +
		"<stream:error><connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"
	if string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
	const withTo = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='ab0102030405060708090aff' from='localhost' to='a@localhost/r' version='1.0' xml:lang='en'>"
	if got := string(fr.AppendOpen(nil, id, "localhost", to)); got != withTo {
		t.Errorf("with to: %q", got)
	}
}

// BenchmarkLogin is one TCP stream from its header through SASL PLAIN and
// bind to its close, over an in-memory transport: the session's cost per
// connection.
func BenchmarkLogin(b *testing.B) {
	cfg := testConfig(b)
	cfg.Logger = slog.New(slog.DiscardHandler)
	steps := [][]byte{[]byte(header), []byte(plainAuth("alice", "wonderland")), []byte(header),
		[]byte("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>"),
		[]byte("</stream:stream>")}
	b.ReportAllocs()
	for b.Loop() {
		tr := &memTransport{}
		s := New(cfg, tr)
		for _, p := range steps {
			_ = s.Traffic(p)
		}
		s.Closed(nil)
		if !tr.closed {
			b.Fatal("not closed")
		}
	}
}
