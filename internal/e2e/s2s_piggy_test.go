package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	"ignis/internal/server"
)

// TestS2SPiggyback: dialback piggybacking (XEP-0220 §4) between two Ignis
// servers. a.test (with the virtual host v.test and its group chat service
// conference.a.test) links with b.test once: its primary user's message
// opens the link, the vhost user's and the room's stanzas authenticate
// their domains on it by further db:result, and b.test's answers to all
// three come back over it (XEP-0288). b.test checks each key with the
// domain's authoritative server over a verification link that closes; when
// the traffic has settled a.test has one outgoing link carrying three
// domain pairs and b.test one incoming stream and no link of its own.
func TestS2SPiggyback(t *testing.T) {
	alog, blog := newLogSink(), newLogSink()
	a := fedServer(t, "a.test", alog, func(c *server.Config) { c.VHosts = []server.VHost{{Domain: "v.test"}} })
	b := fedServer(t, "b.test", blog)
	resolve(a, b)
	resolve(b, a, "a.test", "v.test", "conference.a.test")
	addAccount(t, a, "carol@v.test", "pw")
	alice, carol, bob := fedLogin(t, a, "alice"), hostStream(t, a, "carol@v.test/r", "pw"), fedLogin(t, b, "bob")
	for _, s := range []*stream{alice, carol, bob} {
		s.online()
	}

	deliver(alice, bob, "bob@b.test", "id='p1' type='chat'", "from the primary domain")
	deliver(carol, bob, "bob@b.test", "id='p2' type='chat'", "from the vhost")
	alog.wait(t, "piggybacked domain up", "domain=b.test", "local=v.test")

	// the room invites bob: its stanza authenticates conference.a.test
	room := "lobby@conference.a.test"
	mucJoin(alice, room, "Alice", "")
	mucSubject(alice)
	wantResult(t, iqTo(alice, "cfg1", "set", room, instant))
	alice.send("<message to='" + room + "' id='inv1'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='bob@b.test'/></x></message>")
	if got := bob.expect("</message>"); !strings.Contains(got, "from='"+room+"'") || !strings.Contains(got, "<invite from='alice@a.test'") {
		t.Fatalf("bob got %q, want the room's invitation", got)
	}
	alog.wait(t, "piggybacked domain up", "domain=b.test", "local=conference.a.test")
	mucJoin(bob, room, "Bob", "")
	mucSubject(bob)
	if got := alice.expect("</presence>"); !strings.Contains(got, "from='"+room+"/Bob'") {
		t.Fatalf("alice got %q, want bob's arrival", got)
	}

	// answers to each domain, over the one link
	deliver(bob, carol, "carol@v.test/r", "id='p3' type='chat'", "to the vhost")
	deliver(bob, alice, "alice@a.test/r", "id='p4' type='chat'", "to the primary")
	bob.send("<message to='" + room + "' type='groupchat' id='g1'><body>hello room</body></message>")
	if got := alice.expect("</message>"); !strings.Contains(got, "from='"+room+"/Bob'") || !strings.Contains(got, "hello room") {
		t.Fatalf("alice got %q", got)
	}
	bob.expect("id='g1'")

	for _, d := range []string{"a.test", "v.test", "conference.a.test"} {
		blog.wait(t, "incoming link authenticated", "domain="+d, "by=dialback")
		blog.wait(t, "link closed", "domain="+d) // the verification link
	}
	if out, in := a.Srv.S2S().Links(); out != 1 || in != 0 || a.Srv.S2S().Pairs() != 3 {
		t.Errorf("a.test: %d outgoing links carrying %d pairs, %d incoming; want 1 carrying 3, 0", out, a.Srv.S2S().Pairs(), in)
	}
	if out, in := b.Srv.S2S().Links(); out != 0 || in != 1 || b.Srv.S2S().BidiRoutes() != 3 {
		t.Errorf("b.test: %d outgoing, %d incoming links, %d bidi routes; want 0, 1, 3", out, in, b.Srv.S2S().BidiRoutes())
	}
}

// rawPeer is a listener standing for r.test's server, driven by the test
// itself: each accepted connection a stream it reads and writes in turn.
type rawPeer struct {
	t  *testing.T
	ln net.Listener
}

func newRawPeer(t *testing.T) *rawPeer {
	t.Helper()
	return &rawPeer{t: t, ln: loopbackListener(t)}
}

// accept takes the next link a.test dials, answers its header with
// features offering dialback with errors, and returns it with the header
// a.test sent.
func (p *rawPeer) accept() (*stream, string) {
	p.t.Helper()
	_ = p.ln.(*net.TCPListener).SetDeadline(time.Now().Add(15 * time.Second))
	c, err := p.ln.Accept()
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { c.Close() })
	s := &stream{t: p.t, name: "peer r.test", c: c}
	hdr := s.expect("version='1.0'>")
	s.send("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='r.test' id='raw1' version='1.0'>" +
		"<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback></stream:features>")
	return s, hdr
}

// linkUp has alice@a.test send r.test a message, accepts the link that
// opens, checks a.test's db:result on it, answers it valid, and returns
// the link once the message came over it.
func (p *rawPeer) linkUp(alice *stream) *stream {
	p.t.Helper()
	alice.send("<message to='x@r.test' id='m1'><body>one</body></message>")
	s, _ := p.accept()
	if got := s.expect("</db:result>"); !strings.Contains(got, "from='a.test' to='r.test'") {
		p.t.Fatalf("peer got %q, want a.test's db:result", got)
	}
	s.send("<db:result from='r.test' to='a.test' type='valid'/>")
	s.expect("id='m1'><body>one</body></message>")
	return s
}

// acceptValid accepts the next link, checks that its header holds hdrHas,
// and answers its db:result with verdict (type='valid').
func (p *rawPeer) acceptValid(hdrHas, verdict string) *stream {
	p.t.Helper()
	s, hdr := p.accept()
	if !strings.Contains(hdr, hdrHas) {
		p.t.Fatalf("second link's header %q, want %s", hdr, hdrHas)
	}
	s.expect("</db:result>")
	s.send(verdict)
	return s
}

// TestS2SPiggybackRefused: a peer's verdicts on a piggybacked domain. The
// link is up for a.test; v.test's db:result answered invalid bounces only
// v.test's stanzas (<remote-server-not-found/>), a dialback error with
// <remote-server-timeout/> (XEP-0220 §2.4), and the link keeps carrying
// a.test's, as does no verdict within auth_timeout; answered with
// policy-violation (the peer takes no more domains on that link), v.test's
// stanzas go over a link of its own.
func TestS2SPiggybackRefused(t *testing.T) {
	dbErr := func(cond string) string {
		return "<db:result from='r.test' to='v.test' type='error'><error type='cancel'><" + cond + " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>"
	}
	for _, tc := range []struct{ name, verdict, bounce string }{
		{"invalid", "<db:result from='r.test' to='v.test' type='invalid'/>", "remote-server-not-found"},
		{"error", dbErr("remote-connection-failed"), "remote-server-timeout"},
		{"policy-violation", dbErr("policy-violation"), ""},
		{"no verdict within auth_timeout", "", "remote-server-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := fedServer(t, "a.test", nil, func(c *server.Config) {
				c.VHosts = []server.VHost{{Domain: "v.test"}}
				c.S2S.RequireTLS = false // the raw peer offers no TLS
				c.S2S.AuthTimeout.Duration = time.Second
			})
			peer := newRawPeer(t)
			a.Srv.S2S().SetHost("r.test", peer.ln.Addr().String())
			addAccount(t, a, "carol@v.test", "pw")
			alice, carol := fedLogin(t, a, "alice"), hostStream(t, a, "carol@v.test/r", "pw")

			p := peer.linkUp(alice)

			carol.send("<message to='x@r.test' id='c1'><body>piggybacked</body></message>")
			if got := p.expect("</db:result>"); !strings.Contains(got, "from='v.test' to='r.test'") {
				t.Fatalf("peer got %q, want v.test's db:result on the same link", got)
			}
			if tc.verdict != "" {
				p.send(tc.verdict)
			}
			if tc.bounce != "" {
				got := carol.expect("</message>")
				if !strings.Contains(got, "type='error'") || !strings.Contains(got, "<"+tc.bounce+" ") {
					t.Fatalf("carol got %q, want her message bounced with %s", got, tc.bounce)
				}
			} else {
				q := peer.acceptValid("from='v.test'", "<db:result from='r.test' to='v.test' type='valid'/>")
				q.expect("id='c1'><body>piggybacked</body></message>")
			}
			// the link still carries a.test
			alice.send("<message to='x@r.test' id='m2'><body>two</body></message>")
			p.expect("id='m2'><body>two</body></message>")
		})
	}
}

// TestS2SPiggybackIncoming: several domain pairs on one incoming stream.
// evil.test authenticates by dialback to b.test, then asks for
// conference.b.test (valid at once: the sender proved itself on this
// stream) and again for b.test (the verdict repeated); liar.test's
// db:result is refused by its authority. A stanza from liar.test, or from
// evil.test to a local domain no db:result named, ends the stream; past
// max_domains_per_link a db:result is answered with policy-violation and
// the pairs already there keep working.
func TestS2SPiggybackIncoming(t *testing.T) {
	b, bob := incomingServer(t, func(c *server.Config) { c.S2S.MaxDomainsPerLink = 2 })
	t.Run("pairs and the bound", func(t *testing.T) {
		p := authedPeer(t, b)
		p.dialback("evil.test", "conference.b.test", "valid")
		p.dialback("evil.test", "b.test", "valid")
		p.send("<db:result from='evil.test' to='pubsub.b.test'>0123abcd</db:result>")
		p.expect("<db:result from='pubsub.b.test' to='evil.test' type='error'><error type='modify'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>")
		p.send("<message from='eve@evil.test/x' to='bob@b.test' id='e1'><body>still here</body></message>")
		bob.expect("<message from='eve@evil.test/x' to='bob@b.test' id='e1'><body>still here</body></message>")
	})
	t.Run("refused domain sends", func(t *testing.T) {
		p := authedPeer(t, b)
		p.dialback("liar.test", "b.test", "invalid")
		p.send("<message from='mallory@liar.test' to='bob@b.test'><body>x</body></message>")
		p.expect("<invalid-from xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>")
		p.expect("</stream:stream>")
	})
	t.Run("to a domain not authenticated", func(t *testing.T) {
		p := authedPeer(t, b)
		p.send("<message from='eve@evil.test' to='room@conference.b.test'><body>x</body></message>")
		p.expect("<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>")
		p.expect("</stream:stream>")
	})
}

// TestS2SPiggybackExternal: SASL EXTERNAL authenticates one domain (the
// certificate's, a.test); the peer still offers dialback with errors after
// it (XEP-0344), so the vhost v.test, whose certificate no shared CA
// signed, is piggybacked on that link by dialback instead of dialing
// another.
func TestS2SPiggybackExternal(t *testing.T) {
	certs := sharedCA(t, "a.test", "b.test")
	alog, blog := newLogSink(), newLogSink()
	a := fedServer(t, "a.test", alog, certs, func(c *server.Config) { c.VHosts = []server.VHost{{Domain: "v.test"}} })
	b := fedServer(t, "b.test", blog, certs)
	resolve(a, b)
	resolve(b, a, "a.test", "v.test")
	addAccount(t, a, "carol@v.test", "pw")
	alice, carol, bob := fedLogin(t, a, "alice"), hostStream(t, a, "carol@v.test/r", "pw"), fedLogin(t, b, "bob")
	carol.online()
	bob.online()

	deliver(alice, bob, "bob@b.test", "id='x1'", "signed")
	blog.wait(t, "incoming link authenticated", "domain=a.test", "by=sasl-external")
	deliver(carol, bob, "bob@b.test", "id='x2'", "piggybacked after EXTERNAL")
	blog.wait(t, "incoming link authenticated", "domain=v.test", "by=dialback")
	alog.wait(t, "piggybacked domain up", "domain=b.test", "local=v.test")
	deliver(bob, carol, "carol@v.test/r", "id='x3'", "back")
	if out, _ := a.Srv.S2S().Links(); out != 1 || a.Srv.S2S().Pairs() != 2 {
		t.Errorf("a.test: %d outgoing links carrying %d pairs; want 1 carrying 2", out, a.Srv.S2S().Pairs())
	}
}

// TestS2SPiggybackTarget: target domains multiplexed (XEP-0220 §4). With
// conference.b.test resolving to the server a.test already has a link to
// (and that peer answering dialback errors), alice's stanzas to a room
// there take that link, authenticated for the pair (a.test,
// conference.b.test) by a further db:result, and the room's answers come
// back over it. A peer that answers item-not-found for a target domain
// (not served there) gets a link of its own to that domain.
func TestS2SPiggybackTarget(t *testing.T) {
	t.Run("room on the peer's server", func(t *testing.T) {
		a, b, alog, _ := fedPair(t)
		resolve(a, b, "conference.b.test")
		alice, bob := fedLogin(t, a, "alice"), fedLogin(t, b, "bob")
		alice.online()
		bob.online()
		deliver(alice, bob, "bob@b.test", "id='t1'", "hi")

		room := "lobby@conference.b.test"
		mucJoin(bob, room, "Bob", "") // only local users create rooms
		mucSubject(bob)
		wantResult(t, iqTo(bob, "cfg1", "set", room, instant))
		if got := mucJoin(alice, room, "Alice", ""); !strings.Contains(got, "from='"+room+"/Bob'") {
			t.Fatalf("alice's join: %s", got)
		}
		mucSubject(alice)
		alog.wait(t, "piggybacking target domain", "domain=conference.b.test", "link=b.test")
		alog.wait(t, "piggybacked domain up", "domain=conference.b.test", "local=a.test")
		alice.send("<message to='" + room + "' type='groupchat' id='g1'><body>over one link</body></message>")
		if got := alice.expect("</message>"); !strings.Contains(got, "from='"+room+"/Alice'") || !strings.Contains(got, "over one link") {
			t.Fatalf("alice got %q, want her echo", got)
		}
		if out, _ := a.Srv.S2S().Links(); out != 1 || a.Srv.S2S().Pairs() != 2 {
			t.Errorf("a.test: %d outgoing links carrying %d pairs; want 1 carrying 2", out, a.Srv.S2S().Pairs())
		}
	})
	t.Run("target refused", func(t *testing.T) {
		a := fedServer(t, "a.test", nil, func(c *server.Config) { c.S2S.RequireTLS = false })
		peer := newRawPeer(t)
		for _, d := range []string{"r.test", "sub.r.test"} {
			a.Srv.S2S().SetHost(d, peer.ln.Addr().String())
		}
		alice := fedLogin(t, a, "alice")
		p := peer.linkUp(alice)

		alice.send("<message to='x@sub.r.test' id='s1'><body>sub</body></message>")
		if got := p.expect("</db:result>"); !strings.Contains(got, "from='a.test' to='sub.r.test'") {
			t.Fatalf("peer got %q, want a db:result for the target sub.r.test", got)
		}
		p.send("<db:result from='sub.r.test' to='a.test' type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>")
		q := peer.acceptValid("to='sub.r.test'", "<db:result from='sub.r.test' to='a.test' type='valid'/>")
		q.expect("id='s1'><body>sub</body></message>")
		alice.send("<message to='x@r.test' id='m2'><body>two</body></message>")
		p.expect("id='m2'><body>two</body></message>")
	})
}
