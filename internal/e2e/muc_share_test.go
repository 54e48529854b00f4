package e2e

import (
	"strings"
	"testing"
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
