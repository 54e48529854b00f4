package e2e

import (
	"strings"
	"testing"

	"ignis/internal/server"
)

// TestS2SBidi: XEP-0288 between two Ignis servers and with a raw peer.
// Between servers, one TCP link carries both directions: a.test dials,
// asks for bidi and authenticates by dialback; b.test's answers go back
// over that stream, and the link it dialed only to ask a.test's db:verify
// closes once answered. A peer that asked for bidi gets our stanzas on its
// own stream once authenticated. A peer without bidi (b.test with it off)
// gets a link each way, as before.
func TestS2SBidi(t *testing.T) {
	t.Run("two servers, one link", func(t *testing.T) {
		a, b, alog, blog := fedPair(t)
		alice, bob := fedLogin(t, a, "alice"), fedLogin(t, b, "bob")
		alice.online()
		bob.online()
		chatBothWays(alice, bob)

		blog.wait(t, "incoming link authenticated", "domain=a.test", "by=dialback")
		blog.wait(t, "verification link closed", "domain=a.test")
		alog.wait(t, "link up", "domain=b.test")
		if out, in := a.Srv.S2S().Links(); out != 1 || in != 0 {
			t.Errorf("a.test: %d outgoing, %d incoming links; want 1, 0", out, in)
		}
		if out, in := b.Srv.S2S().Links(); out != 0 || in != 1 || b.Srv.S2S().BidiRoutes() != 1 {
			t.Errorf("b.test: %d outgoing, %d incoming links, %d bidi routes; want 0, 1, 1", out, in, b.Srv.S2S().BidiRoutes())
		}
		// more traffic both ways: still that one link
		for i := range 3 {
			bob.send("<message to='alice@a.test/r' type='chat'><body>again</body></message>")
			alice.expect("<body>again</body></message>")
			alice.send("<message to='bob@b.test' type='chat'><body>" + string(rune('x'+i)) + "</body></message>")
			bob.expect("</body></message>")
		}
		if out, _ := b.Srv.S2S().Links(); out != 0 {
			t.Errorf("b.test opened %d links of its own", out)
		}
	})

	t.Run("raw peer asks for bidi", func(t *testing.T) {
		b, bob := incomingServer(t)
		p, features := peerStreamFeatures(t, b, "evil.test")
		if !strings.Contains(features, "<bidi xmlns='urn:xmpp:features:bidi'/>") {
			t.Fatalf("features %q lack bidi", features)
		}
		p.send("<bidi xmlns='urn:xmpp:bidi'/><db:result from='evil.test' to='b.test'>0123abcd</db:result>")
		p.expect("<db:result from='b.test' to='evil.test' type='valid'/>")
		bob.send("<message to='eve@evil.test' id='back1'><body>over your stream</body></message>")
		p.expect("<message from='bob@b.test/r' to='eve@evil.test' id='back1'><body>over your stream</body></message>")
		p.send("<message from='eve@evil.test/x' to='bob@b.test' id='e1'><body>and back</body></message>")
		bob.expect("<body>and back</body>")
	})

	t.Run("peer without bidi", func(t *testing.T) {
		alog, blog := newLogSink(), newLogSink()
		a := fedServer(t, "a.test", alog)
		b := fedServer(t, "b.test", blog, func(c *server.Config) { c.S2S.Bidi = false })
		resolve(a, b)
		resolve(b, a)
		alice, bob := fedLogin(t, a, "alice"), fedLogin(t, b, "bob")
		alice.online()
		bob.online()
		deliver(alice, bob, "bob@b.test", "id='f1'", "one")
		deliver(bob, alice, "alice@a.test/r", "id='f2'", "two")
		// b.test answered over a link of its own
		alog.wait(t, "incoming link authenticated", "domain=b.test", "by=dialback")
		blog.wait(t, "link up", "domain=a.test")
		if a.Srv.S2S().BidiRoutes() != 0 || b.Srv.S2S().BidiRoutes() != 0 {
			t.Errorf("bidi routes %d, %d; want none", a.Srv.S2S().BidiRoutes(), b.Srv.S2S().BidiRoutes())
		}
	})
}
