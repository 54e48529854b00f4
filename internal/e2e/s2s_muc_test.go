package e2e

import (
	"strings"
	"testing"

	"ignis/internal/server"
)

// TestS2SRemoteOccupant: bob of b.test in room@conference.a.test. His join
// crosses to a.test's group chat service, which answers from its own domain
// over a link it authenticates as conference.a.test (b.test accepts from a
// link only the domains it authenticated); he gets the occupant list, the
// self-presence and the subject, sees a local occupant's message, and his
// groupchat message reaches the local occupant, who sees his presence.
func TestS2SRemoteOccupant(t *testing.T) {
	for _, bidi := range []bool{false, true} {
		t.Run(map[bool]string{false: "a link each way", true: "bidi"}[bidi], func(t *testing.T) {
			remoteOccupant(t, bidi)
		})
	}
}

// remoteOccupant is TestS2SRemoteOccupant with XEP-0288 on or off: with it,
// the room's answers go back over the stream bob's server opened.
func remoteOccupant(t *testing.T, bidi bool) {
	a, b, _, blog := fedPair(t, func(c *server.Config) { c.S2S.Bidi = bidi })
	b.Srv.S2S().SetHost("conference.a.test", a.Srv.S2SAddr().String())
	room := "lobby@conference.a.test"
	alice, bob := fedLogin(t, a, "alice"), fedLogin(t, b, "bob")
	alice.online()
	bob.online()

	mucJoin(alice, room, "Alice", "")
	mucSubject(alice)
	if ans := iqTo(alice, "cfg1", "set", room, instant); !strings.Contains(ans, "type='result'") {
		t.Fatalf("instant room: %s", ans)
	}

	got := mucJoin(bob, room, "Bob", "")
	for _, w := range []string{"from='" + room + "/Alice'", "affiliation='owner'", "from='" + room + "/Bob'", "<status code='110'/>"} {
		if !strings.Contains(got, w) {
			t.Fatalf("bob's join: %s\nwant %q", got, w)
		}
	}
	mucSubject(bob)
	if got := alice.expect("</presence>"); !strings.Contains(got, "from='"+room+"/Bob'") {
		t.Fatalf("alice got %q, want bob's arrival", got)
	}
	if !bidi {
		blog.wait(t, "incoming link authenticated", "domain=conference.a.test", "by=dialback")
	}

	alice.send("<message to='" + room + "' type='groupchat' id='g1'><body>welcome bob</body></message>")
	if got := bob.expect("</message>"); !strings.Contains(got, "from='"+room+"/Alice'") || !strings.Contains(got, "<body>welcome bob</body>") {
		t.Fatalf("bob got %q", got)
	}
	alice.expect("welcome bob</body>")
	alice.expect("</message>") // her own echo

	bob.send("<message to='" + room + "' type='groupchat' id='g2'><body>thanks</body></message>")
	if got := alice.expect("</message>"); !strings.Contains(got, "from='"+room+"/Bob'") || !strings.Contains(got, "<body>thanks</body>") {
		t.Fatalf("alice got %q", got)
	}
	if got := bob.expect("</message>"); !strings.Contains(got, "id='g2'") {
		t.Fatalf("bob's echo: %q", got)
	}

	// leaving: the local occupant sees it, the remote one gets his own
	bob.send("<presence to='" + room + "/Bob' type='unavailable'/>")
	if got := bob.expect("</presence>"); !strings.Contains(got, "type='unavailable'") || !strings.Contains(got, "<status code='110'/>") {
		t.Fatalf("bob's leave: %q", got)
	}
	if got := alice.expect("</presence>"); !strings.Contains(got, "from='"+room+"/Bob'") || !strings.Contains(got, "type='unavailable'") {
		t.Fatalf("alice got %q, want bob's departure", got)
	}
}
