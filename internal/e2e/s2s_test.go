package e2e

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
	"ignis/internal/testkit"
)

// fedServer starts a server for domain with federation on, on loopback.
func fedServer(t *testing.T, domain string, logs io.Writer, edit ...func(*server.Config)) *servertest.Env {
	t.Helper()
	base := func(c *server.Config) {
		c.Domain = domain
		c.LogLevel = "info"
		c.S2S.Enabled = true
		c.S2S.Listen = "127.0.0.1:0"
	}
	var env *servertest.Env
	if logs != nil && os.Getenv("IGNIS_TEST_LOG") == "" {
		env = servertest.StartLogged(t, logs, append([]func(*server.Config){base}, edit...)...)
	} else {
		env = servertest.Start(t, append([]func(*server.Config){base}, edit...)...)
	}
	for _, u := range []string{"alice", "bob"} {
		env.AddUser(u, "pw")
	}
	return env
}

// fedPair starts a.test and b.test, each resolving the other to its s2s
// listener (the [s2s.hosts] map, set once both ports are known).
func fedPair(t *testing.T, edit ...func(*server.Config)) (a, b *servertest.Env, alog, blog *logSink) {
	t.Helper()
	alog, blog = newLogSink(), newLogSink()
	a = fedServer(t, "a.test", alog, edit...)
	b = fedServer(t, "b.test", blog, edit...)
	resolve(a, b)
	resolve(b, a)
	return a, b, alog, blog
}

// resolve points from's [s2s.hosts] entries for domains (to's own domain
// when none is given) at to's s2s listener.
func resolve(from, to *servertest.Env, domains ...string) {
	if len(domains) == 0 {
		domains = []string{to.Cfg.Domain}
	}
	for _, d := range domains {
		from.Srv.S2S().SetHost(d, to.Srv.S2SAddr().String())
	}
}

// chatBothWays: alice@a.test/r sends bob@b.test a message, bob answers,
// and each gets the other's message as sent.
func chatBothWays(alice, bob *stream) {
	deliver(alice, bob, "bob@b.test", "id='m1' type='chat'", "hi bob")
	deliver(bob, alice, "alice@a.test/r", "id='m2' type='chat'", "hi alice")
}

// deliver sends a message with attrs (id, type) from one stream to addr and
// waits for it on the other as the router stamps it: from the sender's
// full JID, the rest as sent.
func deliver(from, to *stream, addr, attrs, body string) {
	from.t.Helper()
	from.send("<message to='" + addr + "' " + attrs + "><body>" + body + "</body></message>")
	to.expect("<message from='" + from.name + "' to='" + addr + "' " + attrs + "><body>" + body + "</body></message>")
}

// sharedCA writes a CA and a certificate it signed for each domain, and
// returns the config edit that gives a server its domain's certificate
// and that CA to verify peers with.
func sharedCA(t *testing.T, domains ...string) func(*server.Config) {
	t.Helper()
	dir := t.TempDir()
	testkit.CA(t, dir, domains...)
	return func(c *server.Config) {
		c.TLS.Cert = filepath.Join(dir, c.Domain+".pem")
		c.TLS.Key = filepath.Join(dir, c.Domain+".key")
		c.S2S.CAFile = filepath.Join(dir, "ca.pem")
	}
}

// loopbackListener listens on a free loopback port until the test ends.
func loopbackListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// fedLogin logs user in on env's domain (self-signed certificate: not
// verified) and binds resource r (or the one given).
func fedLogin(t *testing.T, env *servertest.Env, user string, resource ...string) *stream {
	t.Helper()
	d := env.Cfg.Domain
	res := "r"
	if len(resource) > 0 {
		res = resource[0]
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", env.TLSAddr,
		&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a test server's self-signed certificate
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	hdr := "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" + d + "' version='1.0'>"
	s := &stream{t: t, name: user + "@" + d + "/" + res, c: c}
	s.send(hdr)
	s.expect("</stream:features>")
	s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00pw")) + "</auth>")
	s.expect("<success")
	s.send(hdr)
	s.expect("</stream:features>")
	s.send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + res + "</resource></bind></iq>")
	s.expect("</iq>")
	return s
}

// TestS2SMessages: messages both ways between two servers over dialback
// (self-signed certificates, TLS required), and errors back over the link,
// with a link each way (XEP-0288 bidi off on both: see TestS2SBidi).
func TestS2SMessages(t *testing.T) {
	a, b, alog, blog := fedPair(t, func(c *server.Config) { c.S2S.Bidi = false })
	alice, bob := fedLogin(t, a, "alice"), fedLogin(t, b, "bob")
	alice.online()
	bob.online()

	chatBothWays(alice, bob)

	// both links authenticated by dialback, over TLS
	blog.wait(t, "incoming link authenticated", "domain=a.test", "by=dialback")
	alog.wait(t, "incoming link authenticated", "domain=b.test", "by=dialback")
	alog.wait(t, "link up", "domain=b.test", "tls=true", "sasl=false")

	// an iq to a remote account without a resource: its server answers
	alice.send("<iq to='nobody@b.test' type='get' id='q1'><query xmlns='urn:x:unknown'/></iq>")
	alice.expect("id='q1'")
	alice.expect("<service-unavailable")
}

// TestS2SBounces: a domain nobody answers for, a refused connection and a
// peer that never speaks bounce what waited for them.
func TestS2SBounces(t *testing.T) {
	a := fedServer(t, "a.test", nil, func(c *server.Config) { c.S2S.AuthTimeout.Duration = 300 * time.Millisecond })
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := closed.Addr().String()
	closed.Close()
	mute := loopbackListener(t)
	go func() { // accepts, never answers
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	a.Srv.S2S().SetHost("dead.test", deadAddr)
	a.Srv.S2S().SetHost("mute.test", mute.Addr().String())
	alice := fedLogin(t, a, "alice")

	for _, tc := range []struct{ to, cond string }{
		{"x@nxdomain.invalid", "remote-server-not-found"},
		{"x@dead.test", "remote-server-not-found"},
		{"x@mute.test", "remote-server-timeout"},
	} {
		alice.send("<message to='" + tc.to + "' id='b1'><body>x</body></message>")
		got := alice.expect("</message>")
		if !strings.Contains(got, "type='error'") || !strings.Contains(got, "<"+tc.cond+" ") {
			t.Errorf("to %s: got %q, want %s", tc.to, got, tc.cond)
		}
	}
}

// dialbackPeer listens on loopback as a server-to-server peer: each
// incoming stream gets a header (id) whose features offer dialback, then
// serve runs on it. It returns the address.
func dialbackPeer(t *testing.T, name, id string, serve func(s *stream)) string {
	t.Helper()
	ln := loopbackListener(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s := &stream{t: t, name: name, c: c}
				if s.expectQuiet("version='1.0'>") == "" {
					return
				}
				s.send("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' id='" + id + "' version='1.0'>" +
					"<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>")
				serve(s)
			}()
		}
	}()
	return ln.Addr().String()
}

// fakeAuthority answers, as the authoritative server of its domains, the
// db:verify requests b.test sends it: valid for evil.test, invalid for any
// other (a peer that lies about its domain).
func fakeAuthority(t *testing.T) string {
	t.Helper()
	return dialbackPeer(t, "authority", "fake", func(s *stream) {
		for {
			v := s.expectQuiet("</db:verify>")
			if v == "" {
				return
			}
			id := between(v, "id='", "'")
			to := between(v, "to='", "'")
			typ := "invalid"
			if to == "evil.test" {
				typ = "valid"
			}
			s.send("<db:verify from='" + to + "' to='b.test' id='" + id + "' type='" + typ + "'/>")
		}
	})
}

func between(s, start, end string) string {
	_, rest, _ := strings.Cut(s[strings.LastIndex(s, "<db:verify"):], start)
	v, _, _ := strings.Cut(rest, end)
	return v
}

// expectQuiet is expect that returns "" when the peer hangs up.
func (s *stream) expectQuiet(want string) string {
	_ = s.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	chunk := make([]byte, 4096)
	for {
		if i := strings.Index(string(s.buf), want); i >= 0 {
			got := string(s.buf[:i+len(want)])
			s.buf = s.buf[i+len(want):]
			return got
		}
		n, err := s.c.Read(chunk)
		s.buf = append(s.buf, chunk[:n]...)
		if err != nil {
			return ""
		}
	}
}

// peerStream opens a raw server-to-server stream to env as domain from.
func peerStream(t *testing.T, env *servertest.Env, from string) *stream {
	t.Helper()
	s, _ := peerStreamFeatures(t, env, from)
	return s
}

// s2sConn is a raw connection to env's s2s port, closed when the test ends.
func s2sConn(t *testing.T, env *servertest.Env, name string) *stream {
	t.Helper()
	c, err := net.DialTimeout("tcp", env.Srv.S2SAddr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &stream{t: t, name: name, c: c}
}

// peerStreamFeatures is peerStream that also returns what env sent up to
// the end of its stream features.
func peerStreamFeatures(t *testing.T, env *servertest.Env, from string) (*stream, string) {
	t.Helper()
	s := s2sConn(t, env, "peer "+from)
	s.send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='" +
		from + "' to='" + env.Cfg.Domain + "' version='1.0'>")
	return s, s.expect("</stream:features>")
}

// incomingServer starts b.test for raw peers (TLS not required; edit adds
// to its config) with evil.test and liar.test resolving to fakeAuthority,
// and bob online there.
func incomingServer(t *testing.T, edit ...func(*server.Config)) (b *servertest.Env, bob *stream) {
	t.Helper()
	noTLS := func(c *server.Config) { c.S2S.RequireTLS = false }
	b = fedServer(t, "b.test", nil, append([]func(*server.Config){noTLS}, edit...)...)
	auth := fakeAuthority(t)
	b.Srv.S2S().SetHost("evil.test", auth)
	b.Srv.S2S().SetHost("liar.test", auth)
	bob = fedLogin(t, b, "bob")
	bob.online()
	return b, bob
}

// dialback sends a db:result asking for the pair (from, to) and waits for
// the receiving server's verdict (valid or invalid).
func (s *stream) dialback(from, to, verdict string) {
	s.t.Helper()
	s.send("<db:result from='" + from + "' to='" + to + "'>0123abcd</db:result>")
	s.expect("<db:result from='" + to + "' to='" + from + "' type='" + verdict + "'/>")
}

// authedPeer opens a stream from evil.test to b.test and authenticates it
// by dialback.
func authedPeer(t *testing.T, b *servertest.Env) *stream {
	t.Helper()
	p := peerStream(t, b, "evil.test")
	p.dialback("evil.test", "b.test", "valid")
	return p
}

// TestS2SIncomingChecks: what an incoming stream may send. Dialback
// authenticates a domain whose authoritative server vouches for the key
// and refuses one whose server does not; an authenticated stream may only
// send from its domains (<invalid-from/>) to domains served here
// (<host-unknown/>); nothing goes before authentication (<not-authorized/>).
func TestS2SIncomingChecks(t *testing.T) {
	b, bob := incomingServer(t)
	t.Run("dialback vouched: stanzas delivered", func(t *testing.T) {
		p := authedPeer(t, b)
		p.send("<message from='eve@evil.test/x' to='bob@b.test' id='e1'><body>hello</body></message>")
		bob.expect("<message from='eve@evil.test/x' to='bob@b.test' id='e1'><body>hello</body></message>")
	})
	t.Run("dialback refused", func(t *testing.T) {
		peerStream(t, b, "liar.test").dialback("liar.test", "b.test", "invalid")
	})
	for _, tc := range []struct{ name, send, cond string }{
		{"spoofed from", "<message from='mallory@a.test' to='bob@b.test'><body>x</body></message>", "invalid-from"},
		{"to not served here", "<message from='eve@evil.test' to='x@c.test'><body>x</body></message>", "host-unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := authedPeer(t, b)
			p.send(tc.send)
			p.expect("<" + tc.cond + " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>")
			p.expect("</stream:stream>")
		})
	}
	t.Run("stanza before authentication", func(t *testing.T) {
		p := peerStream(t, b, "evil.test")
		p.send("<message from='eve@evil.test' to='bob@b.test'><body>x</body></message>")
		p.expect("<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>")
	})
	// found by FuzzIncoming: a refused header is answered after a header
	// of ours (RFC 6120 §4.9.1.2), then the stream error and the end
	for _, tc := range []struct{ name, ns, to, cond string }{
		{"stream to a domain not served here", "jabber:server", "c.test", "host-unknown"},
		{"client namespace on the s2s port", "jabber:client", "b.test", "invalid-namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s2sConn(t, b, "peer")
			s.send("<?xml version='1.0'?><stream:stream xmlns='" + tc.ns + "' xmlns:stream='http://etherx.jabber.org/streams' from='evil.test' to='" + tc.to + "' version='1.0'>")
			s.expect("<stream:stream xmlns='jabber:server'")
			s.expect("<" + tc.cond + " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>")
			s.expect("</stream:stream>")
		})
	}
}

// TestS2SExternal: with certificates a shared CA issued for each domain,
// the links authenticate with SASL EXTERNAL (XEP-0178), not dialback.
func TestS2SExternal(t *testing.T) {
	a, b, alog, blog := fedPair(t, func(c *server.Config) {}, sharedCA(t, "a.test", "b.test"))
	alice, bob := fedLogin(t, a, "alice"), fedLogin(t, b, "bob")
	bob.online()
	deliver(alice, bob, "bob@b.test", "id='x1'", "signed")
	blog.wait(t, "incoming link authenticated", "domain=a.test", "by=sasl-external")
	alog.wait(t, "link up", "domain=b.test", "tls=true", "sasl=true")
}

// TestS2SPresence: RFC 6121 across two servers, each running its half. A
// subscription handshake (both rosters on both servers updated), the
// contact's presence after approval, broadcast to the remote subscriber,
// probes at login answered by the remote server, directed presence, and a
// message from a remote sender stored offline.
func TestS2SPresence(t *testing.T) {
	a, b, _, _ := fedPair(t)
	b.AddUser("carol", "pw")
	b.AddUser("dave", "pw")
	alice, bob := fedLogin(t, a, "alice"), fedLogin(t, b, "bob")
	for _, s := range []*stream{alice, bob} {
		s.send("<iq type='get' id='roster1'><query xmlns='jabber:iq:roster'/></iq>") // roster pushes from now on
		s.expect("id='roster1'")
		s.online()
	}

	alice.send("<presence to='bob@b.test' type='subscribe'/>")
	alice.expect("<item jid='bob@b.test' subscription='none' ask='subscribe'/>") // roster push
	got := bob.expect("type='subscribe'/>")
	if !strings.Contains(got, "from='alice@a.test'") {
		t.Fatalf("bob got %q, want a request from alice@a.test", got)
	}
	bob.send("<presence to='alice@a.test' type='subscribed'/>")
	bob.expect("<item jid='alice@a.test' subscription='from'/>")
	alice.expect("<item jid='bob@b.test' subscription='to'/>")
	if got := alice.expect("type='subscribed'/>"); !strings.Contains(got, "from='bob@b.test'") {
		t.Fatalf("alice got %q, want bob's approval", got)
	}
	alice.expect("<presence from='bob@b.test/r' to='alice@a.test'/>") // §3.1.5

	bob.send("<presence><show>away</show></presence>")
	alice.expect("<presence from='bob@b.test/r' to='alice@a.test'><show>away</show></presence>")

	// a second resource of alice logs in: her server probes bob's
	alice2 := fedLogin(t, a, "alice", "r2")
	alice2.send("<presence/>")
	alice2.expect("<presence from='bob@b.test/r' to='alice@a.test'><show>away</show></presence>")

	// directed presence to someone not subscribed
	carol := fedLogin(t, b, "carol")
	carol.online()
	alice.send("<presence to='carol@b.test/r'><status>hi</status></presence>")
	carol.expect("<presence from='alice@a.test/r' to='carol@b.test/r'><status>hi</status></presence>")

	// a message for an account that is offline waits for it
	alice.send("<message to='dave@b.test' id='off1'><body>while you were out</body></message>")
	dave := fedLogin(t, b, "dave")
	dave.send("<presence/>")
	dave.expect("<body>while you were out</body>")

	// bob goes offline: his subscriber learns it
	bob.send("<presence type='unavailable'/>")
	alice.expect("<presence from='bob@b.test/r' to='alice@a.test' type='unavailable'/>")
}

// TestS2SLimits: the [s2s] limits, each answered as the RFC wants: a full
// queue bounces with <resource-constraint/>, an oversized element ends the
// stream with <policy-violation/>, so does a link past max_links_per_domain,
// and an idle link is closed.
func TestS2SLimits(t *testing.T) {
	b, bob := incomingServer(t, func(c *server.Config) {
		c.S2S.MaxQueue = 2
		c.S2S.MaxStanzaBytes = 4096
		c.S2S.MaxLinksPerDomain = 1
	})
	b.Srv.S2S().SetHost("mute.test", loopbackListener(t).Addr().String())

	t.Run("queue full", func(t *testing.T) {
		for i := range 3 {
			bob.send(fmt.Sprintf("<message to='x@mute.test' id='q%d'><body>x</body></message>", i))
		}
		got := bob.expect("</message>")
		if !strings.Contains(got, "id='q2'") || !strings.Contains(got, "<resource-constraint ") {
			t.Fatalf("got %q, want q2 bounced with resource-constraint", got)
		}
	})
	t.Run("element too large", func(t *testing.T) {
		p := peerStream(t, b, "evil.test")
		p.send("<message from='eve@evil.test' to='bob@b.test'><body>" + strings.Repeat("x", 5000) + "</body></message>")
		p.expect("<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>")
	})
	t.Run("links per domain", func(t *testing.T) {
		authedPeer(t, b)
		q := peerStream(t, b, "evil.test")
		q.send("<db:result from='evil.test' to='b.test'>0123abcd</db:result>")
		q.expect("<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>")
	})
}

// TestS2SIdle: a link without traffic for idle_timeout is closed, and the
// next stanza opens a new one.
func TestS2SIdle(t *testing.T) {
	a, b, alog, _ := fedPair(t, func(c *server.Config) { c.S2S.IdleTimeout.Duration = time.Second })
	alice, bob := fedLogin(t, a, "alice"), fedLogin(t, b, "bob")
	bob.online()
	alice.send("<message to='bob@b.test' id='i1'><body>one</body></message>")
	bob.expect("<body>one</body>")
	alog.wait(t, "link closed", "domain=b.test", "state=closed") // idle here, or the peer's idle incoming side
	alice.send("<message to='bob@b.test' id='i2'><body>two</body></message>")
	bob.expect("<body>two</body>")
}
