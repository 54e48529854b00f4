package e2e

import (
	"strings"
	"testing"

	"ignis/internal/server"
	"ignis/store"
)

// TestS2SRemoteOccupant: bob of b.test in room@conference.a.test. His join
// crosses to a.test's group chat service, which answers from its own domain
// over a link it authenticates as conference.a.test (b.test accepts from a
// link only the domains it authenticated); he gets the occupant list, the
// self-presence and the subject, sees a local occupant's message, and his
// groupchat message reaches the local occupant, who sees his presence. The
// room's broadcasts are one stanza without 'to' shared by every occupant:
// what crosses the link is bob's own copy, addressed to him (RFC 6120
// §8.1.1.1: a server-to-server stanza must have a 'to'), where a local
// occupant gets the shared bytes.
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
	resolve(b, a, "conference.a.test")
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
	for _, w := range []string{"from='" + room + "/Alice' to='bob@b.test/r'", "affiliation='owner'", "from='" + room + "/Bob'", "<status code='110'/>"} {
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
	if got := bob.expect("</message>"); !strings.Contains(got, "from='"+room+"/Alice' to='bob@b.test/r'") || !strings.Contains(got, "<body>welcome bob</body>") {
		t.Fatalf("bob got %q", got)
	}
	if got := alice.expect("welcome bob</body>"); !strings.Contains(got, "<message from='"+room+"/Alice' type='groupchat'") {
		t.Fatalf("alice's echo: %q, want the shared message (no 'to')", got)
	}
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

// TestS2SRemotePEP: alice@a.test publishes to her PEP node; bob@b.test, a
// contact whose caps ask for +notify, is notified across the link. His
// caps come to a.test with his presence; a.test's pubsub service asks him
// what they mean (so does his own server) and his answer goes back to it.
func TestS2SRemotePEP(t *testing.T) {
	a, b, _, _ := fedPair(t)
	resolve(b, a, "pubsub.a.test")
	if _, err := a.Srv.DB().Roster().Put("alice", store.RosterItem{JID: "bob@b.test", Sub: store.SubBoth}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Srv.DB().Roster().Put("bob", store.RosterItem{JID: "alice@a.test", Sub: store.SubBoth}); err != nil {
		t.Fatal(err)
	}
	alice, bob := fedLogin(t, a, "alice"), fedLogin(t, b, "bob")
	alice.online()

	features := []string{"http://jabber.org/protocol/caps", devicelist + "+notify"}
	ver := capsVer(features)
	asked := map[string]bool{}
	// answerCaps answers the caps query that ends got
	answerCaps := func(got string) {
		m := capsQueryID.FindStringSubmatch(got)
		if m == nil || !strings.Contains(got, "node='https://ignis.test#"+ver+"'") {
			t.Fatalf("bob got %s, want a caps query", got)
		}
		iq := got[strings.LastIndex(got, "<iq "):]
		_, from, _ := strings.Cut(iq[:strings.Index(iq, ">")], "from='")
		from, _, _ = strings.Cut(from, "'")
		asked[from] = true
		var ans strings.Builder
		ans.WriteString("<iq type='result' to='" + from + "' id='" + m[1] + "'><query xmlns='http://jabber.org/protocol/disco#info' node='https://ignis.test#" + ver + "'>")
		ans.WriteString("<identity category='client' type='pc' name='Test'/>")
		for _, f := range features {
			ans.WriteString("<feature var='" + f + "'/>")
		}
		bob.send(ans.String() + "</query></iq>")
	}
	bob.send("<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://ignis.test' ver='" + ver + "'/></presence>")
	// both servers ask: b.test for its own PEP, a.test for alice's
	answerCaps(bob.expect("</iq>"))
	answerCaps(bob.expect("</iq>"))
	if !asked["pubsub.a.test"] || !asked["pubsub.b.test"] {
		t.Fatalf("caps queries from %v, want pubsub.a.test and pubsub.b.test", asked)
	}
	// a round trip through a.test's pubsub service: bob's answer is in
	bob.iq("d1", "<iq type='get' id='d1' to='pubsub.a.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")

	devices := "<list xmlns='eu.siacs.conversations.axolotl'><device id='7'/></list>"
	wantResult(t, alice.iq("pub1", publishIQ("pub1", devicelist, "current", devices, nil)))
	ev := bob.expect("</message>")
	if !strings.Contains(ev, "from='alice@a.test'") || !strings.Contains(ev, "<item id='current'>"+devices+"</item>") {
		t.Fatalf("bob's notification: %s", ev)
	}
}
