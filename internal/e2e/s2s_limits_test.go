package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/testkit"
)

// stallingPeer accepts s2s streams, answers the header with features that
// offer dialback, then reads whatever comes and never answers it: a peer
// that never finishes dialback. It returns its address.
func stallingPeer(t *testing.T) string {
	t.Helper()
	return dialbackPeer(t, "stalling peer", "stall", func(s *stream) {
		s.expectQuiet("never sent") // reads until the link gives up
	})
}

// TestS2SStalledDialback: a peer that never finishes dialback, both ways.
// Outgoing: the peer answers our header but never our db:result; what
// waited for it bounces with <remote-server-timeout/> after auth_timeout
// and the link is closed with <connection-timeout/>. Incoming: a peer
// that opens a stream and never authenticates gets <connection-timeout/>.
func TestS2SStalledDialback(t *testing.T) {
	a := fedServer(t, "a.test", nil, func(c *server.Config) {
		c.S2S.RequireTLS = false
		c.S2S.AuthTimeout.Duration = 300 * time.Millisecond
	})
	a.Srv.S2S().SetHost("stall.test", stallingPeer(t))
	alice := fedLogin(t, a, "alice")

	t.Run("outgoing", func(t *testing.T) {
		alice.send("<message to='x@stall.test' id='s1'><body>x</body></message>")
		got := alice.expect("</message>")
		if !strings.Contains(got, "id='s1'") || !strings.Contains(got, "type='error'") || !strings.Contains(got, "<remote-server-timeout ") {
			t.Fatalf("got %q, want s1 bounced with remote-server-timeout", got)
		}
	})
	t.Run("incoming", func(t *testing.T) {
		p := peerStream(t, a, "slow.test")
		p.expect("<connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>")
		p.expect("</stream:stream>")
	})
}

// TestS2SCertificateForAnotherName: b.test presents a certificate the
// shared CA issued for another name. Neither side takes it for b.test: no
// SASL EXTERNAL either way (XEP-0178 needs the certificate to match the
// domain), the links fall back to dialback, and messages still flow.
func TestS2SCertificateForAnotherName(t *testing.T) {
	dir := t.TempDir()
	testkit.CA(t, dir, "a.test", "other.test")
	certs := func(c *server.Config) {
		name := c.Domain
		if name == "b.test" {
			name = "other.test"
		}
		c.TLS.Cert = filepath.Join(dir, name+".pem")
		c.TLS.Key = filepath.Join(dir, name+".key")
		c.S2S.CAFile = filepath.Join(dir, "ca.pem")
		c.S2S.Bidi = false // a link each way: both sides' checks of the certificate
	}
	a, b, alog, blog := fedPair(t, certs)
	alice, bob := fedLogin(t, a, "alice"), fedLogin(t, b, "bob")
	alice.online()
	bob.online()
	alice.send("<message to='bob@b.test' id='c1'><body>one</body></message>")
	bob.expect("<body>one</body>")
	bob.send("<message to='alice@a.test' id='c2'><body>two</body></message>")
	alice.expect("<body>two</body>")
	alog.wait(t, "link up", "domain=b.test", "tls=true", "sasl=false") // b.test's certificate does not name it
	blog.wait(t, "incoming link authenticated", "domain=a.test", "by=dialback")
	alog.wait(t, "incoming link authenticated", "domain=b.test", "by=dialback") // nor does its client certificate
	blog.wait(t, "link up", "domain=a.test", "tls=true", "sasl=false")          // EXTERNAL not offered to it
}
