package session

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"ignis/jid"
	"ignis/mod"
	"ignis/route"
	"ignis/store"
)

// memTransport is a Transport that records what the stream does, for
// driving a Stream without sockets.
type memTransport struct {
	out      bytes.Buffer
	closed   bool
	timer    time.Duration
	tlsOn    bool
	zlibOn   bool
	woken    int
	maxBytes int    // 0 = no cap
	sent     uint64 // bytes written, all taken at once unless lag
	lag      bool   // the kernel has taken only flushed bytes
	flushed  uint64
}

func (m *memTransport) Write(p []byte) error {
	if m.closed {
		return nil
	}
	if m.maxBytes > 0 && m.out.Len()+len(p) > m.maxBytes {
		return ErrOutputFull
	}
	m.out.Write(p)
	m.sent += uint64(len(p))
	return nil
}
func (m *memTransport) StartTLS() error           { m.tlsOn = true; return nil }
func (m *memTransport) StartCompression() error   { m.zlibOn = true; return nil }
func (m *memTransport) TLS() *tls.ConnectionState { return nil }
func (m *memTransport) Close(final []byte)        { m.out.Write(final); m.closed = true }
func (m *memTransport) Wake()                     { m.woken++ }
func (m *memTransport) SetTimer(d time.Duration)  { m.timer = d }
func (m *memTransport) RemoteAddr() net.Addr      { return &net.TCPAddr{} }
func (m *memTransport) Pending() int              { return 0 }
func (m *memTransport) Sent() (uint64, uint64) {
	if m.lag {
		return m.sent, m.flushed
	}
	return m.sent, m.sent
}
func (m *memTransport) WakeWhenFlushed() {}

func testConfig(t testing.TB) *Config {
	t.Helper()
	db, err := store.Open(&store.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Accounts().Create("alice", "wonderland"); err != nil {
		t.Fatal(err)
	}
	domain := jid.MustParse("localhost")
	cfg := &Config{
		Domain:      domain,
		Router:      route.New(route.Config{Domain: domain}, mod.NewRegistry()),
		Credentials: db.Accounts(),
		TLSOffered:  true,
		Compression: true,
	}
	cfg.SASL.AllowPlainWithoutTLS = true
	if err := cfg.Prepare(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

const header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"

func plainAuth(user, pass string) string {
	return "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)) + "</auth>"
}

// TestStates walks the state machine through a login and checks the state
// and the output after each input.
func TestStates(t *testing.T) {
	cfg := testConfig(t)
	tr := &memTransport{}
	s := New(cfg, tr)
	for _, step := range []struct {
		name  string
		in    string
		state state
		want  []string
	}{
		{name: "header", in: header, state: stNegotiating, want: []string{"<stream:features>", "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", "<mechanism>SCRAM-SHA-256</mechanism>", "<mechanism>PLAIN</mechanism>", "<method>zlib</method>"}},
		{name: "auth", in: plainAuth("alice", "wonderland"), state: stHeader, want: []string{"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"}},
		{name: "restart", in: header, state: stAuthed, want: []string{"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>", "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>"}},
		{name: "bind", in: "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>orchard</resource></bind></iq>", state: stBound, want: []string{"<jid>alice@localhost/orchard</jid>"}},
		{name: "session", in: "<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>", state: stBound, want: []string{"<iq type='result' id='s1' to='alice@localhost/orchard'/>"}},
		{name: "presence", in: "<presence><priority>5</priority></presence>", state: stBound},
		{name: "close", in: "</stream:stream>", state: stClosed, want: []string{"</stream:stream>"}},
	} {
		tr.out.Reset()
		if err := s.Traffic([]byte(step.in)); err != nil && step.state != stClosed {
			t.Fatalf("%s: Traffic: %v", step.name, err)
		}
		if s.state != step.state {
			t.Fatalf("%s: state %s, want %s (output %q)", step.name, s.state, step.state, tr.out.String())
		}
		for _, w := range step.want {
			if !strings.Contains(tr.out.String(), w) {
				t.Fatalf("%s: output %q lacks %q", step.name, tr.out.String(), w)
			}
		}
		if step.name == "presence" && (!s.Available() || s.Priority() != 5) {
			t.Fatalf("presence: available=%v priority=%d", s.Available(), s.Priority())
		}
	}
	if !tr.closed || cfg.Router.Table().Count() != 0 {
		t.Fatalf("closed=%v bound=%d after </stream:stream>", tr.closed, cfg.Router.Table().Count())
	}
}

// TestStartTLSDiscardsPipelined: bytes after <starttls/> in the same read are
// not processed as the new stream (RFC 6120 §5.3.3).
func TestStartTLSDiscardsPipelined(t *testing.T) {
	tr := &memTransport{}
	s := New(testConfig(t), tr)
	if err := s.Traffic([]byte(header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + plainAuth("alice", "wonderland"))); err != nil {
		t.Fatal(err)
	}
	if !tr.tlsOn || s.state != stHeader || strings.Contains(tr.out.String(), "success") {
		t.Fatalf("tls=%v state=%s out=%q", tr.tlsOn, s.state, tr.out.String())
	}
}

// TestSplitInput: the login works when the input arrives one byte at a time.
func TestSplitInput(t *testing.T) {
	tr := &memTransport{}
	s := New(testConfig(t), tr)
	in := header + plainAuth("alice", "wonderland")
	for i := range len(in) {
		if err := s.Traffic([]byte{in[i]}); err != nil {
			t.Fatalf("at byte %d: %v", i, err)
		}
	}
	if s.state != stHeader || !strings.Contains(tr.out.String(), "<success") {
		t.Fatalf("state %s, out %q", s.state, tr.out.String())
	}
}

// feedCut hands in to s in two reads, cut where the fuzzer says; a failed
// read must have closed the stream.
func feedCut(t *testing.T, s *Stream, tr *memTransport, in []byte, cut uint16) {
	t.Helper()
	c := int(cut) % (len(in) + 1)
	for _, part := range [][]byte{in[:c], in[c:]} {
		if err := s.Traffic(part); err != nil {
			if !tr.closed {
				t.Fatalf("Traffic failed (%v) without closing the stream", err)
			}
			return
		}
	}
}

// FuzzStream: whatever a client sends, the stream answers or ends with a
// stream error; it never panics, and never writes unboundedly.
func FuzzStream(f *testing.F) {
	for _, seed := range []string{
		header + plainAuth("alice", "wonderland") + header + "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq><presence/><message to='alice@localhost'><body>x</body></message>",
		header + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM</auth>",
		header + "<compress xmlns='http://jabber.org/protocol/compress'><method>zlib</method></compress>" + header,
		header + "<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:stream>",
		"<stream:stream xmlns='jabber:server'>",
	} {
		f.Add([]byte(seed), uint16(len(seed)/2))
	}
	cfg := testConfig(f)
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		tr := &memTransport{maxBytes: 1 << 20}
		s := New(cfg, tr)
		feedCut(t, s, tr, in, cut)
		if tr.closed && !bytes.HasSuffix(tr.out.Bytes(), []byte("</stream:stream>")) {
			t.Fatalf("closed without </stream:stream>: %q", tr.out.Bytes())
		}
		s.Closed(nil)
		cfg.ExpireDetached() // a resumable stream (XEP-0198) waits for a resume instead
		if n := cfg.Router.Table().Count(); n != 0 {
			t.Fatalf("%d endpoints left bound after close", n)
		}
	})
}
