package component

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/route"
)

// pipe is a session.Transport that records what the stream wrote.
type pipe struct {
	out    strings.Builder
	closed bool
	timer  time.Duration
}

func (p *pipe) Write(b []byte) error      { p.out.Write(b); return nil }
func (p *pipe) StartTLS() error           { return nil }
func (p *pipe) StartCompression() error   { return nil }
func (p *pipe) TLS() *tls.ConnectionState { return nil }
func (p *pipe) Close(final []byte)        { p.out.Write(final); p.closed = true }
func (p *pipe) Wake()                     {}
func (p *pipe) SetTimer(d time.Duration)  { p.timer = d }
func (p *pipe) RemoteAddr() net.Addr      { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (p *pipe) Pending() int              { return 0 }
func (p *pipe) Sent() (uint64, uint64)    { return 0, 0 }
func (p *pipe) WakeWhenFlushed()          {}

const header = "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='gw.localhost'>"

// TestStreamErrors: what the stream state machine answers to each kind of
// wrong input before and at the handshake (XEP-0114 §3, RFC 6120 §4.9.3).
func TestStreamErrors(t *testing.T) {
	domain := jid.MustParse("localhost")
	svc, err := New(Config{Domain: domain, Secrets: map[string]string{"gw": "s"}})
	if err != nil {
		t.Fatal(err)
	}
	svc.Attach(route.New(route.Config{Domain: domain}, mod.NewRegistry()))
	for _, tc := range []struct {
		name, in string
		timeout  bool
		want     string
	}{
		{name: "handshake-timeout", in: header, timeout: true, want: "<connection-timeout "},
		{name: "stanza-before-handshake", in: header + "<message from='gw.localhost' to='a@localhost'/>", want: "<not-authorized "},
		{name: "bad-handshake", in: header + "<handshake>00</handshake>", want: "<not-authorized "},
		{name: "big-element-before-handshake", in: header + "<handshake>" + strings.Repeat("a", 2000) + "</handshake>", want: "<policy-violation "},
		{name: "other-element", in: header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", want: "<unsupported-stanza-type "},
		{name: "no-to", in: "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>", want: "<host-unknown "},
		{name: "not-xml", in: "hello", want: "<not-well-formed "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pipe{}
			c := newConn(svc, p)
			if p.timer != 30*time.Second {
				t.Fatalf("handshake deadline %v, want the default 30s", p.timer)
			}
			_ = c.Traffic([]byte(tc.in))
			if tc.timeout {
				c.Timer(time.Now())
			}
			got := p.out.String()
			if !p.closed || !strings.Contains(got, tc.want) || !strings.HasSuffix(got, "</stream:stream>") {
				t.Fatalf("got %q (closed %v), want a %s stream error and the close", got, p.closed, tc.want)
			}
			if !strings.HasPrefix(got, "<?xml version='1.0'?><stream:stream ") {
				t.Fatalf("got %q, want our header first", got)
			}
			c.Closed(nil)
			if n := len(svc.Connected()); n != 0 {
				t.Fatalf("%d connected after a failed stream", n)
			}
		})
	}
}
