package e2e

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"

	"ignis/internal/server"
	"ignis/internal/servertest"
	"ignis/session"
	"ignis/xmlscan"
)

// wsPipe is an in-memory transport with RFC 7395 framing, standing in for a
// WebSocket: each Write is one message. The test goroutine is its event
// loop: it feeds input and runs Wakeup when the router wakes the stream.
type wsPipe struct {
	t      *testing.T
	h      session.Handler
	msgs   []string      // written, not yet read by the test
	sent   uint64        // bytes written, all handed over at once
	wake   chan struct{} // Wake from other loops
	closed bool
}

func (p *wsPipe) Framing() session.Framing { return session.WebSocketFraming{} }
func (p *wsPipe) Write(b []byte) error {
	if p.closed {
		return net.ErrClosed
	}
	p.msgs = append(p.msgs, string(b))
	p.sent += uint64(len(b))
	return nil
}
func (p *wsPipe) Close(final []byte) {
	if !p.closed {
		p.msgs = append(p.msgs, string(final))
		p.closed = true
	}
}
func (p *wsPipe) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}
func (p *wsPipe) StartTLS() error { return errors.New("no TLS under WebSocket framing") }
func (p *wsPipe) StartCompression() error {
	return errors.New("no compression under WebSocket framing")
}
func (p *wsPipe) TLS() *tls.ConnectionState { return nil }
func (p *wsPipe) SetTimer(time.Duration)    {}
func (p *wsPipe) RemoteAddr() net.Addr      { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (p *wsPipe) Pending() int              { return 0 }
func (p *wsPipe) Sent() (uint64, uint64)    { return p.sent, p.sent }
func (p *wsPipe) WakeWhenFlushed()          { p.Wake() }

func wsDial(t *testing.T, env *servertest.Env) *wsPipe {
	p := &wsPipe{t: t, wake: make(chan struct{}, 1)}
	p.h = env.Srv.Serve(p)
	t.Cleanup(func() { p.h.Closed(nil) })
	return p
}

// send is one message from the client.
func (p *wsPipe) send(xml string) {
	p.t.Helper()
	if err := p.h.Traffic([]byte(xml)); err != nil {
		p.closed = true
		p.h.Closed(nil)
	}
}

// next returns the next message from the server, running the stream's
// wakeups (deliveries from other sessions) meanwhile.
func (p *wsPipe) next() string {
	p.t.Helper()
	deadline := time.After(15 * time.Second)
	for len(p.msgs) == 0 {
		select {
		case <-p.wake:
			p.h.Wakeup()
		case <-deadline:
			p.t.Fatal("no message from the server")
		}
	}
	m := p.msgs[0]
	p.msgs = p.msgs[1:]
	if strings.Contains(m, "stream:stream") {
		p.t.Errorf("a stream root under RFC 7395 framing: %q", m)
	}
	return m
}

// expect reads the next message and checks it against the pattern re.
func (p *wsPipe) expect(re string) string {
	p.t.Helper()
	m := p.next()
	if !regexp.MustCompile("^(?:" + re + ")$").MatchString(m) {
		p.t.Fatalf("got %q, want %s", m, re)
	}
	return m
}

const (
	wsOpen     = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>"
	wsClose    = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"
	wsOpenResp = `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='[0-9a-f]{24}' from='localhost' version='1.0' xml:lang='en'/>`
	wsFeatures = `<stream:features xmlns:stream='http://etherx\.jabber\.org/streams'>`
)

func wsEnv(t *testing.T) *servertest.Env {
	env := servertest.Start(t, func(c *server.Config) {
		c.TLS.Required = false // the web transport's TLS is HTTPS's, not STARTTLS
		c.SASL.PlainWithoutTLS = true
		c.Compression.Enabled = true // yet not offered: the transport's layers are its own
	})
	env.AddUser("alice", "wonderland")
	env.AddUser("bob", "pw")
	return env
}

// msgClient is a client whose transport carries one element a message:
// the in-memory wsPipe, or a real WebSocket (web_test.go).
type msgClient interface {
	send(xml string)
	expect(re string) string
}

// wsLogin authenticates with mech and binds resource, checking every byte
// of framing on the way.
func wsLogin(t *testing.T, p msgClient, mech sasl.Mechanism, user, pass, resource string) {
	t.Helper()
	p.send(wsOpen)
	p.expect(wsOpenResp)
	f := p.expect(wsFeatures + `.*<mechanism>` + mech.Name + `</mechanism>.*</stream:features>`)
	if strings.Contains(f, "starttls") || strings.Contains(f, "compression") {
		t.Errorf("STARTTLS or XEP-0138 offered under RFC 7395 framing: %q", f)
	}
	c := sasl.NewClient(mech, sasl.Credentials(func() ([]byte, []byte, []byte) { return []byte(user), []byte(pass), nil }))
	_, resp, err := c.Step(nil)
	if err != nil {
		t.Fatal(err)
	}
	p.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" + mech.Name + "'>" + base64.StdEncoding.EncodeToString(resp) + "</auth>")
	for {
		m := p.expect(`<(challenge|success) xmlns='urn:ietf:params:xml:ns:xmpp-sasl'(/>|>[A-Za-z0-9+/=]*</(challenge|success)>)`)
		data := m[strings.IndexByte(m, '>')+1:]
		data = data[:max(strings.IndexByte(data, '<'), 0)]
		raw, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(m, "<success") {
			if len(raw) > 0 {
				if _, _, err := c.Step(raw); err != nil {
					t.Fatalf("the server's SCRAM signature: %v", err)
				}
			}
			break
		}
		if _, resp, err = c.Step(raw); err != nil {
			t.Fatal(err)
		}
		p.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString(resp) + "</response>")
	}
	// the restart after SASL success is <open/> again (RFC 7395 §3.5)
	p.send(wsOpen)
	p.expect(wsOpenResp)
	p.expect(wsFeatures + `.*<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>.*</stream:features>`)
	p.send("<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource + "</resource></bind></iq>")
	p.expect(`<iq xmlns='jabber:client' [^>]*id='b1'[^>]*><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>` + user + `@localhost/` + resource + `</jid></bind></iq>`)
}

// A stream over RFC 7395 framing opens with <open/>, authenticates (PLAIN
// and SCRAM), restarts with <open/>, binds, exchanges messages with a TCP
// client, and closes with <close/>: every element it is sent stands alone
// with its namespaces declared, and no stream root is ever written.
func TestWebSocketFraming(t *testing.T) {
	env := wsEnv(t)
	for _, mech := range []sasl.Mechanism{sasl.Plain, sasl.ScramSha256, sasl.ScramSha1} {
		t.Run(mech.Name, func(t *testing.T) {
			p := wsDial(t, env)
			wsLogin(t, p, mech, "alice", "wonderland", "web")
			bob := rawStream(t, env, "bob", "tcp")

			bob.send("<message to='alice@localhost/web' type='chat' id='m1'><body>hi web</body></message>")
			m := p.expect(`<message xmlns='jabber:client' [^>]*>.*<body>hi web</body>.*</message>`)
			e, err := xmlscan.ParseElem([]byte(m), "") // stands alone: nothing inherited
			if err != nil || string(e.NS()) != "jabber:client" {
				t.Fatalf("%q does not stand alone: %v, namespace %q", m, err, e.NS())
			}
			if from, _ := e.Attr("from"); string(from) != "bob@localhost/tcp" {
				t.Errorf("from = %q", from)
			}

			p.send("<message xmlns='jabber:client' to='bob@localhost/tcp' type='chat' id='m2'><body>hi tcp</body></message>")
			got := bob.expect("<body>hi tcp</body></message>")
			if !strings.Contains(got, "from='alice@localhost/web'") {
				t.Errorf("the TCP client got %q", got)
			}

			p.send(wsClose)
			p.expect(regexp.QuoteMeta(wsClose))
			if !p.closed || len(p.msgs) != 0 {
				t.Fatalf("after <close/>: closed %v, left %q", p.closed, p.msgs)
			}
			bob.c.Close()
		})
	}
}

// Bad input under RFC 7395 framing ends the stream with the RFC 6120
// condition, framed: our <open/> first if it was not sent, the error with
// its prefix declared, then <close/>.
func TestWebSocketFramingErrors(t *testing.T) {
	env := wsEnv(t)
	const open = wsOpenResp
	tests := []struct {
		name  string
		in    []string
		cond  string
		after string // what the server sent before the error, as a pattern
	}{
		{"a stanza before <open/>", []string{"<message xmlns='jabber:client'/>"}, "invalid-namespace", open},
		{"a stream root", []string{"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"}, "unsupported-stanza-type", open},
		{"an unbound prefix", []string{"<stream:stream to='localhost'>"}, "not-well-formed", open},
		{"text between elements", []string{wsOpen, "hello"}, "not-well-formed", ""},
		{"wrong version", []string{"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='2.0'/>"}, "unsupported-version", open},
		{"unknown host", []string{"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='elsewhere' version='1.0'/>"}, "host-unknown", open},
		{"<open/> again before SASL success", []string{wsOpen, wsOpen}, "unsupported-stanza-type", ""},
		{"<starttls/>, not offered", []string{wsOpen, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"}, "", ""},
		{"a stanza without its namespace", []string{wsOpen, "<message to='a@localhost'/>"}, "unsupported-stanza-type", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := wsDial(t, env)
			for _, in := range tc.in {
				p.send(in)
			}
			if tc.in[0] == wsOpen {
				p.expect(wsOpenResp)
				p.expect(wsFeatures + `.*`)
			}
			if tc.cond == "" { // RFC 6120 §5.4.2.2: <failure/>, then the stream ends
				p.expect(`<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>` + regexp.QuoteMeta(wsClose))
				return
			}
			want := `<stream:error xmlns:stream='http://etherx\.jabber\.org/streams'><` + tc.cond + ` xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>.*</stream:error>` + regexp.QuoteMeta(wsClose)
			p.expect(tc.after + want)
			if !p.closed {
				t.Fatal("the stream is still open")
			}
		})
	}
}
