package e2e

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"ignis/internal/servertest"
)

// stream is a raw client connection that keeps what it read past the last
// expectation, so consecutive expectations never lose bytes.
type stream struct {
	t    *testing.T
	name string
	c    net.Conn
	buf  []byte
}

func rawStream(t *testing.T, env *servertest.Env, user, resource string) *stream {
	t.Helper()
	return &stream{t: t, name: user + "@localhost/" + resource, c: rawLogin(t, env, user, "pw", resource)}
}

func (s *stream) send(xml string) {
	s.t.Helper()
	if _, err := io.WriteString(s.c, xml); err != nil {
		s.t.Fatalf("%s: send: %v", s.name, err)
	}
}

// expect reads until want arrives and returns everything before and
// including it; the rest stays buffered.
func (s *stream) expect(want string) string {
	s.t.Helper()
	_ = s.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	chunk := make([]byte, 4096)
	for {
		if i := bytes.Index(s.buf, []byte(want)); i >= 0 {
			got := string(s.buf[:i+len(want)])
			s.buf = s.buf[i+len(want):]
			return got
		}
		n, err := s.c.Read(chunk)
		s.buf = append(s.buf, chunk[:n]...)
		if err != nil {
			s.t.Fatalf("%s: waiting for %q: %v (got %q)", s.name, want, err, s.buf)
		}
	}
}

// online sends initial presence and waits for its echo.
func (s *stream) online() {
	s.t.Helper()
	s.send("<presence/>")
	s.expect("<presence from='" + s.name + "' to='" + s.name + "'/>")
}

// TestBlocking: XEP-0191 over real sockets. alice blocks eve: both of
// alice's resources learn it, eve sees alice go offline, eve's messages do
// not reach alice (eve gets service-unavailable), alice's messages to eve are
// refused with <blocked/>; unblocking restores delivery.
func TestBlocking(t *testing.T) {
	env := servertest.Start(t)
	for _, u := range []string{"alice", "eve"} {
		env.AddUser(u, "pw")
	}
	// mutual subscription: eve receives alice's presence
	subscribedBoth(t, env, [2]string{"alice", "eve"})
	a1 := rawStream(t, env, "alice", "one")
	a2 := rawStream(t, env, "alice", "two")
	eve := rawStream(t, env, "eve", "x")
	for _, s := range []*stream{a1, a2, eve} {
		s.send("<presence/>")
	}
	// each of alice's resources sees its own presence and the other's
	a1.expect("from='alice@localhost/one'")
	a2.expect("from='alice@localhost/two'")
	eve.expect("from='eve@localhost/x'")

	a1.send("<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if got := a1.expect("</iq>"); !strings.Contains(got, "<feature var='urn:xmpp:blocking'/>") {
		t.Fatalf("disco#info lacks the blocking feature: %s", got)
	}

	a1.send("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='eve@localhost'/></block></iq>")
	a1.expect("id='b1'")
	push := "<block xmlns='urn:xmpp:blocking'><item jid='eve@localhost'/></block></iq>"
	a1.expect(push)
	a2.expect(push)
	// eve sees both of alice's resources go offline
	eve.expect("type='unavailable'")
	eve.expect("type='unavailable'")

	a1.send("<iq type='get' id='g1'><blocklist xmlns='urn:xmpp:blocking'/></iq>")
	if got := a1.expect("</iq>"); !strings.Contains(got, "<item jid='eve@localhost'/>") {
		t.Fatalf("blocklist: %s", got)
	}

	eve.send("<message to='alice@localhost' id='e1' type='chat'><body>hidden</body></message>")
	if got := eve.expect("</message>"); !strings.Contains(got, "type='error'") || !strings.Contains(got, "<service-unavailable") || strings.Count(got, "<message") != 1 {
		t.Fatalf("eve got %s, want one service-unavailable error", got)
	}
	a1.send("<message to='eve@localhost/x' id='a1' type='chat'><body>to eve</body></message>")
	if got := a1.expect("</message>"); !strings.Contains(got, "<not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><blocked xmlns='urn:xmpp:blocking:errors'/>") {
		t.Fatalf("alice got %s, want not-acceptable with <blocked/>", got)
	}

	a2.send("<iq type='set' id='u1'><unblock xmlns='urn:xmpp:blocking'/></iq>")
	a2.expect("id='u1'")
	a1.expect("<unblock xmlns='urn:xmpp:blocking'/>")
	// eve sees alice again
	eve.expect("<presence from='alice@localhost/one' to='eve@localhost'/>")
	eve.send("<message to='alice@localhost/one' id='e2' type='chat'><body>visible</body></message>")
	if got := a1.expect("</message>"); !strings.Contains(got, "visible") || strings.Contains(got, "hidden") {
		t.Fatalf("alice got %s, want only the message sent after unblocking", got)
	}
}

// TestPrivacyListDeniesMessages: XEP-0016 over real sockets. alice's default
// list denies messages from eve: eve gets service-unavailable, bob still
// gets through; removing the default restores delivery.
func TestPrivacyListDeniesMessages(t *testing.T) {
	env := servertest.Start(t)
	for _, u := range []string{"alice", "bob", "eve"} {
		env.AddUser(u, "pw")
	}
	alice := rawStream(t, env, "alice", "r")
	bob := rawStream(t, env, "bob", "r")
	eve := rawStream(t, env, "eve", "r")
	alice.online()

	alice.send("<iq type='set' id='p1'><query xmlns='jabber:iq:privacy'><list name='no-eve'>" +
		"<item type='jid' value='eve@localhost' action='deny' order='1'><message/></item>" +
		"<item action='allow' order='2'/></list></query></iq>")
	alice.expect("id='p1'")
	alice.expect("<list name='no-eve'/></query></iq>") // the push
	alice.send("<iq type='set' id='p2'><query xmlns='jabber:iq:privacy'><default name='no-eve'/></query></iq>")
	alice.expect("<iq type='result' id='p2' to='alice@localhost/r'/>")

	eve.send("<message to='alice@localhost' id='e1' type='chat'><body>denied</body></message>")
	if got := eve.expect("</message>"); !strings.Contains(got, "type='error'") || !strings.Contains(got, "<service-unavailable") {
		t.Fatalf("eve got %s, want service-unavailable", got)
	}
	bob.send("<message to='alice@localhost' id='b1' type='chat'><body>from bob</body></message>")
	if got := alice.expect("</message>"); !strings.Contains(got, "from bob") || strings.Contains(got, "denied") {
		t.Fatalf("alice got %s, want only bob's message", got)
	}

	alice.send("<iq type='set' id='p3'><query xmlns='jabber:iq:privacy'><default/></query></iq>")
	alice.expect("id='p3'")
	eve.send("<message to='alice@localhost' id='e2' type='chat'><body>allowed now</body></message>")
	if got := alice.expect("</message>"); !strings.Contains(got, "allowed now") {
		t.Fatalf("alice got %s", got)
	}
}

// TestBlocklistAfterRestart: a server that starts with blocklists and
// privacy lists on disk enforces them (it caches lists only for the users
// it finds with one), and a user who blocks for the first time after the
// start is enforced too.
func TestBlocklistAfterRestart(t *testing.T) {
	dir := t.TempDir()
	env, stop := startAt(t, dir)
	for _, u := range []string{"alice", "bob", "carol", "eve"} {
		env.AddUser(u, "pw")
	}
	a := rawStream(t, env, "alice", "one")
	a.send("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='eve@localhost'/></block></iq>")
	a.expect("id='b1'")
	b := rawStream(t, env, "bob", "one")
	b.send("<iq type='set' id='p1'><query xmlns='jabber:iq:privacy'><list name='no-eve'><item type='jid' value='eve@localhost' action='deny' order='1'><message/></item></list></query></iq>")
	b.expect("id='p1'")
	b.send("<iq type='set' id='p2'><query xmlns='jabber:iq:privacy'><default name='no-eve'/></query></iq>")
	b.expect("id='p2'")
	a.c.Close()
	b.c.Close()
	stop()

	env, _ = startAt(t, dir)
	a, b = rawStream(t, env, "alice", "one"), rawStream(t, env, "bob", "one")
	c, eve := rawStream(t, env, "carol", "one"), rawStream(t, env, "eve", "x")
	for _, s := range []*stream{a, b, c, eve} {
		s.online()
	}
	for _, to := range []string{"alice", "bob"} {
		eve.send("<message to='" + to + "@localhost/one' id='to-" + to + "' type='chat'><body>hidden</body></message>")
		if got := eve.expect("</message>"); !strings.Contains(got, "id='to-"+to+"'") || !strings.Contains(got, "<service-unavailable") {
			t.Fatalf("eve to %s after the restart: %s, want service-unavailable", to, got)
		}
	}
	// carol had no list at the start
	eve.send("<message to='carol@localhost/one' id='c1' type='chat'><body>first</body></message>")
	c.expect("first")
	c.send("<iq type='set' id='b2'><block xmlns='urn:xmpp:blocking'><item jid='eve@localhost'/></block></iq>")
	c.expect("id='b2'")
	eve.send("<message to='carol@localhost/one' id='c2' type='chat'><body>second</body></message>")
	if got := eve.expect("</message>"); !strings.Contains(got, "id='c2'") || !strings.Contains(got, "<service-unavailable") {
		t.Fatalf("eve to carol after carol blocked her: %s, want service-unavailable", got)
	}
	// alice and bob got none of it
	for _, s := range []*stream{a, b} {
		s.send("<iq type='get' id='ping' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
		if got := s.expect("id='ping'"); strings.Contains(got, "hidden") {
			t.Fatalf("%s got %s", s.name, got)
		}
	}
}
