package e2e

import (
	"regexp"
	"strings"
	"testing"

	"ignis/internal/servertest"
)

// carbon is the copy of inner that XEP-0280 wraps for session to of user.
func carbon(dir, user, to, typ, inner string) string {
	t := ""
	if typ != "" {
		t = " type='" + typ + "'"
	}
	return "<message from='" + user + "' to='" + to + "'" + t + "><" + dir + " xmlns='urn:xmpp:carbons:2'>" +
		"<forwarded xmlns='urn:xmpp:forward:0'>" + inner + "</forwarded></" + dir + "></message>"
}

// mark sends a chat message from s to the session to and waits for it
// there; it returns what to read up to it. Copies made while routing an
// earlier stanza of s reach to before the mark, so nothing about them is
// left to timing. The mark itself asks not to be copied.
func mark(s, to *stream, id string) string {
	s.t.Helper()
	s.send("<message to='" + to.name + "' type='chat' id='" + id + "'><body>mark</body><no-copy xmlns='urn:xmpp:hints'/></message>")
	return to.expect("id='" + id + "'")
}

// TestCarbons: XEP-0280 over real sockets. alice has three sessions: a
// (priority 1) and b enable carbons, c never does; bob talks to alice.
func TestCarbons(t *testing.T) {
	env := servertest.Start(t)
	for _, u := range []string{"alice", "bob"} {
		env.AddUser(u, "pw")
	}
	a := rawStream(t, env, "alice", "a")
	b := rawStream(t, env, "alice", "b")
	c := rawStream(t, env, "alice", "c")
	bob := rawStream(t, env, "bob", "x")
	a.send("<presence><priority>1</priority></presence>")
	a.expect("<presence from='alice@localhost/a' to='alice@localhost/a'>")
	b.online()
	c.online()
	bob.online()

	a.send("<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if got := a.expect("</iq>"); !strings.Contains(got, "<feature var='urn:xmpp:carbons:2'/>") {
		t.Fatalf("disco#info lacks urn:xmpp:carbons:2: %s", got)
	}

	// enabling twice is no error (§10.1); another account's carbons are not ours to toggle
	for _, s := range []*stream{a, b, b} {
		s.send("<iq type='set' id='on'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
		s.expect("<iq type='result' id='on' to='" + s.name + "'/>")
	}
	c.send("<iq type='set' id='other' to='bob@localhost'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
	if got := c.expect("</iq>"); !strings.Contains(got, "type='error'") || !strings.Contains(got, "<not-allowed ") {
		t.Fatalf("enabling on another account: %s", got)
	}

	t.Run("received/full", func(t *testing.T) {
		bob.send("<message to='alice@localhost/a' type='chat' id='m1'><body>hello a</body></message>")
		orig := "<message xmlns='jabber:client' from='bob@localhost/x' to='alice@localhost/a' type='chat' id='m1'><body>hello a</body></message>"
		a.expect("<body>hello a</body>")
		if got := b.expect("</received></message>"); !strings.HasSuffix(stripStanzaID(got), carbon("received", "alice@localhost", "alice@localhost/b", "chat", orig)) {
			t.Fatalf("b got %s", got)
		}
	})

	t.Run("sent", func(t *testing.T) {
		a.send("<message to='bob@localhost/x' type='chat' id='m2'><body>hi bob</body></message>")
		orig := "<message xmlns='jabber:client' from='alice@localhost/a' to='bob@localhost/x' type='chat' id='m2'><body>hi bob</body></message>"
		if got := b.expect("</sent></message>"); !strings.HasSuffix(stripStanzaID(got), carbon("sent", "alice@localhost", "alice@localhost/b", "chat", orig)) {
			t.Fatalf("b got %s", got)
		}
		if got := mark(a, bob, "mk-bob"); strings.Count(got, "hi bob") != 1 || strings.Contains(got, "carbons") {
			t.Fatalf("bob got %s, want the original once", got)
		}
		// the sender gets no copy of its own message (§7)
		if got := mark(bob, a, "mk-a"); strings.Contains(got, "<sent ") {
			t.Fatalf("a got a copy of its own message: %s", got)
		}
	})

	t.Run("received/bare", func(t *testing.T) {
		// a alone has the highest priority: b gets a copy, c (not enabled) none
		bob.send("<message to='alice@localhost' type='chat' id='m3'><body>to bare</body></message>")
		a.expect("<body>to bare</body>")
		orig := "<message xmlns='jabber:client' from='bob@localhost/x' to='alice@localhost' type='chat' id='m3'><body>to bare</body></message>"
		if got := b.expect("</received></message>"); !strings.HasSuffix(stripStanzaID(got), carbon("received", "alice@localhost", "alice@localhost/b", "chat", orig)) {
			t.Fatalf("b got %s", got)
		}
	})

	t.Run("not-copied", func(t *testing.T) {
		for _, m := range []string{
			"<message to='bob@localhost/x' type='chat' id='n1'><body>private</body><private xmlns='urn:xmpp:carbons:2'/></message>",
			"<message to='bob@localhost/x' type='chat' id='n2'><body>no-copy</body><no-copy xmlns='urn:xmpp:hints'/></message>",
			"<message to='bob@localhost/x' id='n3'><subject>normal without a body</subject></message>",
		} {
			a.send(m)
		}
		bob.expect("id='n3'") // a's messages are routed, copies (if any) sent
		for _, m := range []string{
			"<message to='alice@localhost/a' type='chat' id='n4'><body>private</body><private xmlns='urn:xmpp:carbons:2'/></message>",
			"<message to='alice@localhost/a' type='chat' id='n5'><body>no-copy</body><no-copy xmlns='urn:xmpp:hints'/></message>",
			"<message to='alice@localhost/a' type='headline' id='n6'><body>headline</body></message>",
			"<message to='alice@localhost/a' type='groupchat' id='n7'><body>groupchat</body></message>",
			"<message to='alice@localhost/a' type='error' id='n8'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
			"<message to='alice@localhost/a' type='chat' id='n9'><body>forged</body><received xmlns='urn:xmpp:carbons:2'/></message>",
		} {
			bob.send(m)
		}
		a.expect("id='n9'")
		got := mark(bob, b, "mk-b")
		for _, id := range []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"} {
			if strings.Contains(got, "id='"+id+"'") {
				t.Errorf("b got a copy of %s: %s", id, got)
			}
		}
	})

	t.Run("not-enabled", func(t *testing.T) {
		// c saw all of the above (m1, m2, m3, …) without enabling: no copies
		if got := mark(bob, c, "mk-c"); strings.Contains(got, "urn:xmpp:carbons:2") {
			t.Fatalf("c got carbons without enabling them: %s", got)
		}
	})

	t.Run("disabled", func(t *testing.T) {
		b.send("<iq type='set' id='off'><disable xmlns='urn:xmpp:carbons:2'/></iq>")
		b.expect("<iq type='result' id='off' to='alice@localhost/b'/>")
		bob.send("<message to='alice@localhost/a' type='chat' id='m4'><body>after disable</body></message>")
		a.send("<message to='bob@localhost/x' type='chat' id='m5'><body>also after</body></message>")
		bob.expect("id='m5'")
		if got := mark(bob, b, "mk-b2"); strings.Contains(got, "urn:xmpp:carbons:2") {
			t.Fatalf("b got carbons after disabling them: %s", got)
		}
		// a still has them
		bob.send("<message to='alice@localhost/b' type='chat' id='m6'><body>to b</body></message>")
		if got := a.expect("</received></message>"); !strings.Contains(got, "id='m6'") {
			t.Fatalf("a got %s, want a copy of m6", got)
		}
	})
}

// TestCarbonsBlocked: a message the recipient's filters stop is not copied
// to the recipient's other sessions either (XEP-0191 with XEP-0280).
func TestCarbonsBlocked(t *testing.T) {
	env := servertest.Start(t)
	for _, u := range []string{"alice", "eve"} {
		env.AddUser(u, "pw")
	}
	a := rawStream(t, env, "alice", "a")
	b := rawStream(t, env, "alice", "b")
	eve := rawStream(t, env, "eve", "x")
	for _, s := range []*stream{a, b, eve} {
		s.online()
	}
	for _, s := range []*stream{a, b} {
		s.send("<iq type='set' id='on'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
		s.expect("<iq type='result' id='on' to='" + s.name + "'/>")
	}
	a.send("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='eve@localhost'/></block></iq>")
	a.expect("id='b1'")
	b.expect("<block xmlns='urn:xmpp:blocking'><item jid='eve@localhost'/></block></iq>") // the push: b's filter knows too

	// The error for e1 leaves during e1's delivery, before the delivered
	// hooks run; the error for e2 means e1 is done with.
	eve.send("<message to='alice@localhost/a' type='chat' id='e1'><body>blocked</body></message>")
	eve.send("<message to='alice@localhost/a' type='chat' id='e2'><body>blocked</body></message>")
	if got := eve.expect("id='e2'"); strings.Count(got, "type='error'") != 2 {
		t.Fatalf("eve got %s, want two errors", got)
	}
	if got := mark(a, b, "mk"); strings.Contains(got, "blocked") {
		t.Fatalf("b got a copy of a blocked message: %s", got)
	}
}

var stanzaIDElem = regexp.MustCompile(`<stanza-id xmlns='urn:xmpp:sid:0'[^>]*/>`)

// stripStanzaID removes the XEP-0359 ids the archive adds, which differ per run.
func stripStanzaID(s string) string { return stanzaIDElem.ReplaceAllString(s, "") }
