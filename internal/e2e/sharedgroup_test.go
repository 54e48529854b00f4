package e2e

import (
	"strings"
	"testing"

	"ignis/internal/servertest"
	"ignis/store"
)

// TestSharedGroupQuery: Openfire's shared-group iq lists the display names
// of the groups the asking user belongs to, as administered in the store.
func TestSharedGroupQuery(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	g := env.Srv.DB().Groups()
	for _, err := range []error{g.Create("dev", "Developers"), g.Create("all", "Everyone <3"), g.Create("hr", ""),
		g.AddMember("dev", "alice"), g.AddMember("all", "alice"), g.AddMember("all", "bob")} {
		if err != nil {
			t.Fatal(err)
		}
	}
	const q = "<sharedgroup xmlns='http://www.jivesoftware.org/protocol/sharedgroup'/>"
	alice := rawStream(t, env, "alice", "r")
	alice.send("<iq type='get' id='s1'>" + q + "</iq>")
	got := alice.expect("</iq>")
	want := "<sharedgroup xmlns='http://www.jivesoftware.org/protocol/sharedgroup'><group>Everyone &lt;3</group><group>Developers</group></sharedgroup>"
	if !strings.Contains(got, "type='result'") || !strings.Contains(got, want) {
		t.Fatalf("alice got %s, want %s", got, want)
	}
	bob := rawStream(t, env, "bob", "r")
	bob.send("<iq type='get' id='s2' to='localhost'>" + q + "</iq>")
	if got := bob.expect("</iq>"); !strings.Contains(got, "<sharedgroup xmlns='http://www.jivesoftware.org/protocol/sharedgroup'><group>Everyone &lt;3</group></sharedgroup>") {
		t.Fatalf("bob got %s", got)
	}
}

// teamServer starts a server with alice, bob and carol, and the shared
// group team ("Team") of alice and bob.
func teamServer(t *testing.T) (*servertest.Env, *store.Groups) {
	t.Helper()
	env := servertest.Start(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		env.AddUser(u, "pw")
	}
	g := env.Srv.DB().Groups()
	for _, err := range []error{g.Create("team", "Team"), g.AddMember("team", "alice"), g.AddMember("team", "bob")} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return env, g
}

// TestSharedGroupRoster: members of a shared group see each other in their
// rosters with subscription both under the group's display name, merged
// with their own items, as in Openfire; the roster version follows changes
// of the group.
func TestSharedGroupRoster(t *testing.T) {
	env, g := teamServer(t)
	alice := rawStream(t, env, "alice", "r")
	alice.send("<iq type='set' id='add'><query xmlns='jabber:iq:roster'><item jid='carol@localhost' name='Carol'/></query></iq>")
	alice.expect("id='add'")
	alice.send("<iq type='get' id='g1'><query xmlns='jabber:iq:roster' ver=''/></iq>")
	alice.expect("id='g1'")
	got := alice.expect("</iq>")
	for _, want := range []string{"jid='bob@localhost'", "subscription='both'", "<group>Team</group>", "jid='carol@localhost'"} {
		if !strings.Contains(got, want) {
			t.Fatalf("alice's roster %s lacks %s", got, want)
		}
	}
	if strings.Contains(got, "jid='alice@localhost'") {
		t.Fatalf("alice sees herself: %s", got)
	}
	ver := got[strings.Index(got, "ver='")+5:]
	ver = ver[:strings.IndexByte(ver, '\'')]
	alice.send("<iq type='get' id='g2'><query xmlns='jabber:iq:roster' ver='" + ver + "'/></iq>")
	alice.expect("id='g2'")
	if got := alice.expect("/>"); strings.Contains(got, "<item") {
		t.Fatalf("unchanged roster sent again: %s", got)
	}
	if err := g.AddMember("team", "carol"); err != nil {
		t.Fatal(err)
	}
	alice.send("<iq type='get' id='g3'><query xmlns='jabber:iq:roster' ver='" + ver + "'/></iq>")
	alice.expect("id='g3'")
	if got := alice.expect("</iq>"); !strings.Contains(got, "jid='carol@localhost'") || !strings.Contains(got, "<group>Team</group></item>") {
		t.Fatalf("after carol joined the group: %s", got)
	}
	bob := rawStream(t, env, "bob", "r")
	bob.send("<iq type='get' id='b1'><query xmlns='jabber:iq:roster'/></iq>")
	bob.expect("id='b1'")
	if got := bob.expect("</iq>"); !strings.Contains(got, "jid='alice@localhost'") || !strings.Contains(got, "jid='carol@localhost'") {
		t.Fatalf("bob's roster: %s", got)
	}
}

// TestSharedGroupPresence: members of a shared group see each other come
// and go as if subscribed both ways (Openfire), with no subscription of
// their own; a non-member sees nothing.
func TestSharedGroupPresence(t *testing.T) {
	env, _ := teamServer(t)
	alice := rawStream(t, env, "alice", "a")
	alice.send("<presence><status>alice here</status></presence>")
	alice.expect("alice here") // her own presence, reflected
	carol := rawStream(t, env, "carol", "c")
	carol.send("<presence/>")
	carol.expect("<presence")

	bob := rawStream(t, env, "bob", "b")
	bob.send("<presence><status>bob here</status></presence>")
	// bob's initial presence probes alice: he learns she is online
	if got := bob.expect("alice here"); !strings.Contains(got, "from='alice@localhost/a'") {
		t.Fatalf("bob got %s", got)
	}
	// and alice hears of bob
	if got := alice.expect("bob here"); !strings.Contains(got, "from='bob@localhost/b'") {
		t.Fatalf("alice got %s", got)
	}
	bob.send("</stream:stream>")
	if got := alice.expect("type='unavailable'"); !strings.Contains(got, "from='bob@localhost/b'") {
		t.Fatalf("alice got %s, want bob's unavailable presence", got)
	}
	// carol, not in the group, heard nothing of either
	carol.send("<iq type='get' id='c1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	if got := carol.expect("id='c1'"); strings.Contains(got, "alice@localhost") || strings.Contains(got, "bob@localhost") {
		t.Fatalf("carol got %s", got)
	}
}
