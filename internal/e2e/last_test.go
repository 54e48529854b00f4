package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"ignis/internal/servertest"
	"ignis/store"
)

var lastSeconds = regexp.MustCompile(`<query xmlns='jabber:iq:last' seconds='(\d+)'(?:/>|>([^<]*)</query>)`)

// lastQuery asks to about last activity and returns the answer.
func lastQuery(s *stream, id, to string) string {
	s.t.Helper()
	s.send("<iq type='get' id='" + id + "' to='" + to + "'><query xmlns='jabber:iq:last'/></iq>")
	got := s.expect("</iq>")
	if i := strings.LastIndex(got, "<iq "); i >= 0 {
		got = got[i:]
	}
	if !strings.Contains(got, "id='"+id+"'") {
		s.t.Fatalf("%s: answer to %s: %s", s.name, id, got)
	}
	return got
}

// lastResult parses a last activity result: seconds and text.
func lastResult(t *testing.T, got string) (int, string) {
	t.Helper()
	m := lastSeconds.FindStringSubmatch(got)
	if !strings.Contains(got, "type='result'") || m == nil {
		t.Fatalf("want a last activity result, got %s", got)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return n, m[2]
}

// TestLastActivity: XEP-0012 over real sockets. The server answers its
// uptime; a subscribed contact learns 0 while the user is online, then the
// logout's status; a stranger gets <forbidden/>; a user who never logged
// out has no record.
func TestLastActivity(t *testing.T) {
	env := servertest.Start(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		env.AddUser(u, "pw")
	}
	// alice and bob are subscribed to each other; carol to nobody
	subscribedBoth(t, env, [2]string{"alice", "bob"})
	alice := rawStream(t, env, "alice", "r")
	carol := rawStream(t, env, "carol", "r")

	t.Run("disco", func(t *testing.T) {
		alice.send("<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
		if got := alice.expect("</iq>"); !strings.Contains(got, "<feature var='jabber:iq:last'/>") {
			t.Fatalf("disco#info lacks jabber:iq:last: %s", got)
		}
	})
	t.Run("uptime", func(t *testing.T) {
		got := lastQuery(alice, "u1", "localhost")
		if _, text := lastResult(t, got); text != "" || !strings.Contains(got, "from='localhost'") {
			t.Fatalf("uptime: %s", got)
		}
	})
	t.Run("never-logged-out", func(t *testing.T) {
		// alice asks about herself: allowed, not available, no record yet
		if got := lastQuery(alice, "n1", "alice@localhost"); !strings.Contains(got, "<item-not-found ") {
			t.Fatalf("want item-not-found, got %s", got)
		}
	})

	bob := rawStream(t, env, "bob", "r")
	bob.online()
	t.Run("online", func(t *testing.T) {
		if n, text := lastResult(t, lastQuery(alice, "o1", "bob@localhost")); n != 0 || text != "" {
			t.Fatalf("online user: seconds %d, text %q; want 0 and none", n, text)
		}
	})
	t.Run("stranger-online", func(t *testing.T) {
		if got := lastQuery(carol, "s1", "bob@localhost"); !strings.Contains(got, "type='error'") || !strings.Contains(got, "<forbidden ") {
			t.Fatalf("want forbidden, got %s", got)
		}
	})

	// bob logs out with a status; the server's </stream:stream> comes after
	// the presence was processed, logout record included
	bob.send("<presence type='unavailable'><status>Heading &lt;home&gt;</status></presence></stream:stream>")
	bob.expect("</stream:stream>")

	t.Run("after-logout", func(t *testing.T) {
		n, text := lastResult(t, lastQuery(alice, "l1", "bob@localhost"))
		if n < 0 || n > 60 || text != "Heading &lt;home&gt;" {
			t.Fatalf("after logout: seconds %d, text %q", n, text)
		}
	})
	t.Run("stranger-offline", func(t *testing.T) {
		if got := lastQuery(carol, "s2", "bob@localhost"); !strings.Contains(got, "<forbidden ") || strings.Contains(got, "Heading") {
			t.Fatalf("want forbidden, got %s", got)
		}
	})
	t.Run("no-such-user", func(t *testing.T) {
		// the same answer as for an existing stranger: nothing is revealed
		if got := lastQuery(carol, "s3", "nobody@localhost"); !strings.Contains(got, "<forbidden ") {
			t.Fatalf("want forbidden, got %s", got)
		}
	})
	t.Run("stored", func(t *testing.T) {
		// the record reaches the store (the write is asynchronous: Put
		// after it in the writer's queue returns once it is committed)
		if err := env.Srv.DB().LastActivities().Put("carol", store.LastActivity{}); err != nil {
			t.Fatal(err)
		}
		a, err := env.Srv.DB().LastActivities().Get("bob")
		if err != nil || a.Status != "Heading <home>" {
			t.Fatalf("stored record: %+v, %v", a, err)
		}
	})
}
