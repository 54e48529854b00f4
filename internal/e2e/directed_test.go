package e2e

import (
	"strings"
	"testing"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// TestDirectedPresence: RFC 6121 §4.6. Directed presence to entities that
// are no subscribers (a user, two rooms) is undone by the sender's
// unavailable presence, each once, also after a directed unavailable took
// one of them off; one past presence.max_directed is refused with
// <resource-constraint/> and not delivered.
func TestDirectedPresence(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Presence.MaxDirected = 3 })
	addUsers(env, "romeo", "juliet", "nurse", "tybalt")
	romeo := rosterLogin(t, env, "romeo", "orchard")
	juliet := rosterLogin(t, env, "juliet", "balcony")
	nurse := rosterLogin(t, env, "nurse", "kitchen")
	tybalt := rosterLogin(t, env, "tybalt", "street")
	for _, c := range []*rosterConn{romeo, juliet, nurse, tybalt} {
		c.send("<presence/>")
		c.sync()
	}
	// the nurse is in both rooms first: she sees juliet come and go
	for _, room := range []string{"verona", "mantua"} {
		nurse.send("<presence to='" + room + "@conference.localhost/nurse'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
		nurse.until("<presence", "from='"+room+"@conference.localhost/nurse'", "status code='110'")
		// a new room is locked until configured: accept the defaults
		_, ans := nurse.iq("set", room+"@conference.localhost", "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query>")
		if !strings.Contains(ans, "type='result'") {
			t.Fatalf("configuring %s: %s", room, ans)
		}
	}
	// juliet: presence to romeo, and to two rooms
	juliet.send("<presence to='romeo@localhost/orchard'><status>hi</status></presence>")
	romeo.until("<presence", "from='juliet@localhost/balcony'", "<status>hi</status>")
	for _, room := range []string{"verona", "mantua"} {
		juliet.send("<presence to='" + room + "@conference.localhost/juliet'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
		juliet.until("<presence", "from='"+room+"@conference.localhost/juliet'", "status code='110'")
	}
	// the fourth target is past the cap: refused, never delivered
	juliet.send("<presence to='nurse@localhost/kitchen' id='d4'/>")
	_, e := juliet.until("<presence", "id='d4'")
	if !containsAll([]string{e}, "type='error'", "<resource-constraint", "from='nurse@localhost/kitchen'") {
		t.Fatalf("fourth directed presence: %s", e)
	}
	// taking one back frees a place
	juliet.send("<presence to='romeo@localhost/orchard' type='unavailable'/>")
	romeo.until("<presence", "from='juliet@localhost/balcony'", "type='unavailable'")
	juliet.send("<presence to='tybalt@localhost/street'/>")
	tybalt.until("<presence", "from='juliet@localhost/balcony'")
	juliet.sync()
	if got := nurse.sync(); presenceFrom(got, "juliet@localhost/balcony", "") {
		t.Fatalf("the nurse got the refused presence: %q", got)
	}

	// juliet goes unavailable: tybalt and both rooms learn it, romeo (who
	// had it already) gets nothing more
	juliet.send("<presence type='unavailable'/>")
	tybalt.until("<presence", "from='juliet@localhost/balcony'", "type='unavailable'")
	juliet.sync()
	left := nurse.sync() // the rooms answered juliet's unavailable before her ping
	for _, room := range []string{"verona", "mantua"} {
		if !presenceFrom(left, room+"@conference.localhost/juliet", "unavailable") {
			t.Fatalf("the nurse did not see juliet leave %s: %q", room, left)
		}
	}
	for _, c := range []*rosterConn{romeo} {
		for _, el := range c.sync() {
			if strings.Contains(el, "from='juliet@localhost/balcony'") {
				t.Fatalf("%s got after juliet left: %s", c.name, el)
			}
		}
	}
}
