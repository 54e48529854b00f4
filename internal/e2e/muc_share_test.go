package e2e

import (
	"strings"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// TestMUCSharedFilters: a room's broadcast is one stanza without 'to'
// shared by every occupant session, and the receiver's rules still apply
// to each: carol's active privacy list (bound to her session, so it is
// found by the receiver's full JID, not by the stanza) denies the room's
// presence, and erin, who blocks Dave's occupant JID (XEP-0191), gets
// neither his presence nor his messages; both still get the room's other
// traffic, and bob, who has no list, gets everything.
func TestMUCSharedFilters(t *testing.T) {
	_, u := mucUsers(t, "alice", "bob", "carol", "dave", "erin")
	alice, bob, carol, dave, erin := u["alice"], u["bob"], u["carol"], u["dave"], u["erin"]
	mucJoin(alice, mucRoom, "Alice", "")
	mucSubject(alice)
	if ans := iqTo(alice, "cfg1", "set", mucRoom, instant); !strings.Contains(ans, "type='result'") {
		t.Fatalf("instant room: %s", ans)
	}
	for _, s := range []*stream{bob, carol, erin} {
		mucJoin(s, mucRoom, strings.ToUpper(s.name[:1])+s.name[1:strings.Index(s.name, "@")], "")
		mucSubject(s)
	}

	carol.send("<iq type='set' id='p1'><query xmlns='jabber:iq:privacy'><list name='quiet'>" +
		"<item type='jid' value='" + mucRoom + "' action='deny' order='1'><presence-in/></item>" +
		"</list></query></iq>")
	carol.expect("id='p1'")
	carol.expect("<list name='quiet'/></query></iq>") // the push
	carol.send("<iq type='set' id='p2'><query xmlns='jabber:iq:privacy'><active name='quiet'/></query></iq>")
	carol.expect("<iq type='result' id='p2' to='carol@localhost/r'/>")
	erin.send("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='" + mucRoom + "/Dave'/></block></iq>")
	erin.expect("id='b1'")

	mucJoin(dave, mucRoom, "Dave", "")
	mucSubject(dave)
	davePresence := "<presence from='" + mucRoom + "/Dave'>"
	bob.expect(davePresence)
	dave.send("<message to='" + mucRoom + "' type='groupchat' id='d1'><body>hi all</body></message>")
	if got := bob.expect("</message>"); !strings.Contains(got, "<message from='"+mucRoom+"/Dave' type='groupchat' id='d1'>") {
		t.Fatalf("bob got %q, want the shared message", got)
	}
	alice.send("<message to='" + mucRoom + "' type='groupchat' id='a1'><body>marker</body></message>")
	// carol: no presence from the room, Dave's message, then the marker
	if got := carol.expect("marker</body>"); strings.Contains(got, davePresence) || !strings.Contains(got, "hi all") {
		t.Fatalf("carol got %q, want Dave's message and the marker only", got)
	}
	// erin: nothing of Dave's, the marker first
	if got := erin.expect("marker</body>"); strings.Contains(got, davePresence) || strings.Contains(got, "hi all") {
		t.Fatalf("erin got %q, want nothing from Dave before the marker", got)
	}
}

// TestMUCUnackedShared: bob's session in a room, with XEP-0198, takes a
// groupchat message and a private message from the room (both shared
// stanzas without 'to') and never acknowledges them; his connection
// drops. The private message is routed again for him as the session knows
// its own address: it reaches his other resource, addressed to his bare
// JID (RFC 6121 §8.5.3.2.1); the groupchat message is not (it stays in the
// room's history), and the log counts both.
func TestMUCUnackedShared(t *testing.T) {
	logs := newLogSink()
	env := servertest.StartLogged(t, logs, func(c *server.Config) {
		c.LogLevel = "info"
		c.Limits.CloseTimeout.Duration = 200 * time.Millisecond
	})
	for _, n := range []string{"alice", "bob"} {
		env.AddUser(n, "pw")
	}
	alice := rawStream(t, env, "alice", "r")
	alice.online()
	mucJoin(alice, mucRoom, "Alice", "")
	mucSubject(alice)
	if ans := iqTo(alice, "cfg1", "set", mucRoom, instant); !strings.Contains(ans, "type='result'") {
		t.Fatalf("instant room: %s", ans)
	}

	bob, _ := smLogin(t, env, "bob", "r", "urn:xmpp:sm:3", false)
	bob.send("<presence/>")
	bob.send("<presence to='" + mucRoom + "/Bob'><x xmlns='" + nsMUC + "'/></presence>")
	for e := bob.next("presence"); !strings.Contains(e.Inner, "<status code='110'/>"); e = bob.next("presence") {
	}
	if e := bob.next("message"); e.attr("id") != "subject" {
		t.Fatalf("bob's join ended with %+v, want the subject", e)
	}
	other := rawStream(t, env, "bob", "other")
	other.online()

	alice.send("<message to='" + mucRoom + "' type='groupchat' id='g1'><body>to the room</body></message>")
	alice.send("<message to='" + mucRoom + "/Bob' type='chat' id='p1'><body>just for bob</body></message>")
	for _, id := range []string{"g1", "p1"} {
		if e := bob.next("message"); e.attr("id") != id || e.attr("to") != "" {
			t.Fatalf("bob got %+v, want %s shared (no 'to')", e, id)
		}
	}
	bob.c.Close() // nothing acknowledged

	logs.wait(t, "undelivered output routed again", "jid=bob@localhost/r")
	got := other.expect("just for bob</body>")
	if !strings.Contains(got, "<message from='"+mucRoom+"/Alice' to='bob@localhost' type='chat' id='p1'>") || strings.Contains(got, "to the room") {
		t.Fatalf("bob's other resource got %q, want the private message only, addressed to bob", got)
	}
}
