package e2e

import (
	"strings"
	"testing"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// broadcastEnv: admin is the server's admin; team is a shared group of
// alice, bob and carol; dave is in no group.
func broadcastEnv(t *testing.T, edit func(*server.Config)) *servertest.Env {
	env := servertest.Start(t, func(c *server.Config) {
		c.Admin.JIDs = []string{"admin@localhost"}
		if edit != nil {
			edit(c)
		}
	})
	for _, u := range []string{"admin", "alice", "bob", "carol", "dave"} {
		env.AddUser(u, "pw")
	}
	g := env.Srv.DB().Groups()
	if err := g.Create("team", "The Team"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := g.AddMember("team", u); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

func addressed(to string) string {
	return "<addresses xmlns='http://jabber.org/protocol/address'><address type='to' jid='" + to + "' delivered='true'/></addresses>"
}

func stanzaErr(cond string) string { return "<" + cond + " xmlns='" + nsStanzas + "'/>" }

// TestBroadcast: Openfire's broadcast service with senders = "members".
// all@ reaches the online users from the admin's address, stamped with the
// broadcast address; a member's message to the group reaches the online
// members and, from offline storage, the offline one, while all@ was never
// stored for her; refusals; what disco shows each asker. A live delivery
// is the one message shared by every recipient, without 'to' (RFC 6120
// §8.1.1.1); the stored copy carries its recipient.
func TestBroadcast(t *testing.T) {
	env := broadcastEnv(t, func(c *server.Config) { c.Broadcast.Senders = "members" })
	admin := rawStream(t, env, "admin", "r")
	alice := rawStream(t, env, "alice", "r")
	bob := rawStream(t, env, "bob", "r")
	dave := rawStream(t, env, "dave", "r")
	for _, s := range []*stream{admin, alice, bob, dave} {
		s.online()
	}

	t.Run("all", func(t *testing.T) {
		admin.send("<message to='all@broadcast.localhost' id='b1' type='headline'><body>maintenance at five</body></message>")
		for _, s := range []*stream{alice, bob, dave} {
			got := s.expect("maintenance at five</body>" + addressed("all@broadcast.localhost") + "</message>")
			want := "<message from='admin@localhost/r' id='b1' type='headline'>"
			if !strings.Contains(got, want) {
				t.Fatalf("%s got %q, want %s", s.name, got, want)
			}
		}
	})
	t.Run("group-by-member", func(t *testing.T) {
		alice.send("<message to='team@broadcast.localhost' id='g1' type='chat'><body>team lunch</body></message>")
		got := bob.expect("team lunch</body>" + addressed("team@broadcast.localhost") + "</message>")
		if !strings.Contains(got, "<message from='alice@localhost/r' id='g1' type='chat'>") {
			t.Fatalf("bob got %q", got)
		}
		// carol was offline: the group's copy waited in offline storage, the
		// earlier all@ one was never stored (it would have come first)
		carol := rawStream(t, env, "carol", "r")
		carol.send("<presence/>")
		got = carol.expect("team lunch</body>")
		if !strings.Contains(got, "from='alice@localhost/r' to='carol@localhost/r' id='g1'") || strings.Contains(got, "maintenance") {
			t.Fatalf("carol got %q, want the group message only", got)
		}
		carol.expect(addressed("team@broadcast.localhost"))
		carol.expect("<delay xmlns='urn:xmpp:delay'")
	})
	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			who     *stream
			to, err string
		}{
			{dave, "team@broadcast.localhost", "forbidden"}, // not a member
			{alice, "all@broadcast.localhost", "forbidden"}, // all@ is the admins'
			{admin, "nobody@broadcast.localhost", "item-not-found"},
			{admin, "broadcast.localhost", "item-not-found"},
		} {
			tc.who.send("<message to='" + tc.to + "' id='x1'><body>hello?</body></message>")
			got := tc.who.expect(stanzaErr(tc.err))
			if !strings.Contains(got, "<message type='error' id='x1' from='"+tc.to+"' to='"+tc.who.name+"'>") {
				t.Fatalf("%s → %s: got %q", tc.who.name, tc.to, got)
			}
			// nobody got a copy of their own broadcast, nor dave the team's
			if strings.Contains(got, "maintenance at five") || strings.Contains(got, "team lunch") {
				t.Fatalf("%s got %q", tc.who.name, got)
			}
		}
		// dave's refused message reached nobody: the next thing bob gets is
		// what admin sends him now
		admin.send("<message to='bob@localhost' id='mark'><body>marker</body></message>")
		if got := bob.expect("marker</body>"); strings.Contains(got, "hello?") {
			t.Fatalf("bob got a refused broadcast: %q", got)
		}
	})
	t.Run("disco", func(t *testing.T) {
		const items = "<query xmlns='http://jabber.org/protocol/disco#items'/>"
		alice.send("<iq type='get' id='i1' to='broadcast.localhost'>" + items + "</iq>")
		got := alice.expect("</iq>")
		if !strings.Contains(got, "<item jid='team@broadcast.localhost' name='The Team'/>") || strings.Contains(got, "all@") {
			t.Fatalf("alice's items: %q", got)
		}
		dave.send("<iq type='get' id='i2' to='broadcast.localhost'>" + items + "</iq>")
		if got := dave.expect("</iq>"); strings.Contains(got, "<item ") {
			t.Fatalf("dave's items: %q, want none", got)
		}
		admin.send("<iq type='get' id='i3' to='broadcast.localhost'>" + items + "</iq>")
		got = admin.expect("</iq>")
		if !strings.Contains(got, "<item jid='all@broadcast.localhost' name='All online users'/><item jid='team@broadcast.localhost' name='The Team'/>") {
			t.Fatalf("admin's items: %q", got)
		}
		admin.send("<iq type='get' id='i4' to='broadcast.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
		admin.expect("<identity category='component' type='generic' name='Broadcast service'/>")
		admin.send("<iq type='get' id='i5' to='localhost'>" + items + "</iq>")
		admin.expect("<item jid='broadcast.localhost' name='Broadcast service'/>")
	})
}

// TestBroadcastLimits: with the default senders only the admin may send;
// a message over max_bytes and one past per_minute are refused.
func TestBroadcastLimits(t *testing.T) {
	env := broadcastEnv(t, func(c *server.Config) {
		c.Broadcast.MaxBytes = 1024
		c.Broadcast.PerMinute = 1
	})
	admin := rawStream(t, env, "admin", "r")
	alice := rawStream(t, env, "alice", "r")
	admin.online()
	alice.online()

	alice.send("<message to='team@broadcast.localhost' id='a1'><body>members may not</body></message>")
	alice.expect(stanzaErr("forbidden"))
	admin.send("<message to='team@broadcast.localhost' id='a2'><body>" + strings.Repeat("x", 1100) + "</body></message>")
	admin.expect(stanzaErr("policy-violation"))
	admin.send("<message to='all@broadcast.localhost' id='a3'><body>first</body></message>")
	alice.expect("first</body>")
	admin.send("<message to='all@broadcast.localhost' id='a4'><body>second</body></message>")
	got := admin.expect(stanzaErr("resource-constraint"))
	if !strings.Contains(got, "id='a4'") {
		t.Fatalf("admin got %q, want a4 refused", got)
	}
}
