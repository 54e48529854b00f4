//go:build interop

package interop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ignis/internal/server"
	"ignis/jid"
	"ignis/store"
)

// TestInteropVHost: slixmpp logs in to a virtual host (example.net beside
// localhost): it verifies the vhost's own certificate, chosen by SNI, for
// example.net; the same localpart's primary-domain password does not open
// the vhost's account; and a vhost user chats with a primary-domain user
// through the router and in a room of the vhost's own conference service
// (conference.example.net).
func TestInteropVHost(t *testing.T) {
	const vhost = "example.net"
	h := newHarness(t, func(c *server.Config) { c.VHosts = []server.VHost{{Domain: vhost}} })
	add := func(bare, pass string) {
		t.Helper()
		if err := h.env.Srv.DB().Accounts().Create(store.UserKey("localhost", jid.MustParse(bare)), pass); err != nil {
			t.Fatal(err)
		}
	}
	add("alice@"+vhost, "vhost secret")
	add("alice@localhost", "primary secret")
	add("bob@localhost", "bob secret")
	vhostCA := filepath.Join(h.env.Cfg.Data, "vhosts", vhost, "cert.pem")
	addr := byName(t, h.env.Addr)

	t.Run("login", func(t *testing.T) {
		r := h.run(t, "login.py", "--addr", addr, "--jid", "alice@"+vhost, "--password", "vhost secret",
			"--mech", "SCRAM-SHA-256", "--ping", vhost, "--ca", vhostCA, "--tls-name", vhost)
		r.succeeded()
		s := r.one("session", "")
		if bare, _, _ := strings.Cut(s.JID, "/"); bare != "alice@"+vhost {
			t.Errorf("bound JID %q, want alice@%s/<resource>", s.JID, vhost)
		}
		if !slices.Contains(s.PeerNames, vhost) || slices.Contains(s.PeerNames, "*.localhost") {
			t.Errorf("the verified certificate names %q, want the vhost's", s.PeerNames)
		}
		if p := r.one("ping", ""); p.Type != "result" || p.From != vhost {
			t.Errorf("ping of %s: %+v", vhost, p)
		}
	})

	t.Run("other domain's password", func(t *testing.T) {
		r := h.run(t, "login.py", "--addr", addr, "--jid", "alice@"+vhost, "--password", "primary secret",
			"--mech", "SCRAM-SHA-256", "--expect", "auth-failure", "--ca", vhostCA, "--tls-name", vhost)
		r.succeeded()
		if f := r.all("failed_auth", ""); len(f) == 0 || f[0].Condition != "not-authorized" {
			t.Errorf("failed_auth = %+v, want not-authorized", f)
		}
	})

	// both clients of a script dial localhost (TLS name and certificate
	// localhost's, the stream header's 'to' each one's own domain); one CA
	// file serves both
	var both []byte
	for _, f := range []string{h.ca, vhostCA} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		both = append(both, b...)
	}
	ca := filepath.Join(h.dir, "both.pem")
	if err := os.WriteFile(ca, both, 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("chat across domains", func(t *testing.T) {
		bodies := filepath.Join(h.dir, "vhost-bodies.json")
		b, _ := json.Marshal(map[string]string{"full": "to bob from the vhost", "bare": "again, bare", "reply": "back to example.net"})
		for f, data := range map[string][]byte{bodies: b} {
			if err := os.WriteFile(f, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r := h.run(t, "chat.py", "--addr", addr, "--ca", ca,
			"--alice", "alice@"+vhost+"/laptop", "--alice-password", "vhost secret",
			"--bob", "bob@localhost/phone", "--bob-password", "bob secret",
			"--bodies", bodies)
		r.succeeded()
		if got := r.all("message", "bob"); len(got) != 2 || got[0].From != "alice@"+vhost+"/laptop" {
			t.Fatalf("bob received %+v, want 2 messages from alice@%s/laptop", got, vhost)
		}
		if got := r.all("message", "alice"); len(got) != 1 || got[0].From != "bob@localhost/phone" || got[0].To != "alice@"+vhost+"/laptop" {
			t.Fatalf("alice received %+v", got)
		}
	})

	t.Run("room on the vhost's conference service", func(t *testing.T) {
		room := "dev@conference." + vhost
		r := h.run(t, "vhost_muc.py", "--addr", addr, "--ca", ca,
			"--alice", "alice@"+vhost+"/laptop", "--alice-password", "vhost secret",
			"--bob", "bob@localhost/phone", "--bob-password", "bob secret",
			"--room", room, "--body", "hello from the vhost's room")
		r.none("mismatch")
		r.succeeded()
		if items := r.one("items", "alice").Body; !strings.Contains(items, "conference."+vhost) || strings.Contains(items, "conference.localhost") {
			t.Errorf("disco#items of %s: %q, want its own conference service only", vhost, items)
		}
		if got := r.all("message", "bob"); len(got) == 0 || got[len(got)-1].From != room+"/Alice" {
			t.Errorf("bob received %+v, want alice's message from %s/Alice", got, room)
		}
	})
}

// TestInteropS2SProsodyVHost: Debian's Prosody (p.test) federates with an
// Ignis virtual host (v.test beside a.test): Ignis's link to Prosody
// authenticates v.test by dialback (Prosody checks back with v.test),
// Prosody's link to v.test is accepted, and messages and a subscription
// handshake go both ways under the vhost's addresses.
func TestInteropS2SProsodyVHost(t *testing.T) {
	ig, pc2s := federated(t, "", "v.test", func(c *server.Config) { c.VHosts = []server.VHost{{Domain: "v.test"}} })
	if err := ig.Srv.DB().Accounts().Create(store.UserKey("a.test", jid.MustParse("carol@v.test")), "pw"); err != nil {
		t.Fatal(err)
	}

	carol := plainLogin(t, ig.Addr, "carol", "v.test")
	paul := plainLogin(t, pc2s, "paul", "p.test")

	chat(carol, "paul@p.test", paul, "v1", "hello from the vhost")
	chat(paul, "carol@v.test/r", carol, "v2", "hello vhost")

	subscribe(carol, paul)
}

// TestInteropS2SProsodyPiggyback: Prosody (p.test) and an Ignis serving
// a.test and the virtual host v.test. alice@a.test's message opens Ignis's
// link; carol@v.test's then authenticates v.test on that same link by a
// further db:result (dialback piggybacking, XEP-0220 §4), which Prosody
// verifies with v.test and accepts. Both get Prosody's answers (over links
// Prosody opens per domain), and Ignis never dialed a second link.
func TestInteropS2SProsodyPiggyback(t *testing.T) {
	ig, pc2s := federated(t, "", "a.test,v.test", func(c *server.Config) {
		c.VHosts = []server.VHost{{Domain: "v.test"}}
	})
	ig.AddUser("alice", "pw")
	if err := ig.Srv.DB().Accounts().Create(store.UserKey("a.test", jid.MustParse("carol@v.test")), "pw"); err != nil {
		t.Fatal(err)
	}

	alice := plainLogin(t, ig.Addr, "alice", "a.test")
	carol := plainLogin(t, ig.Addr, "carol", "v.test")
	paul := plainLogin(t, pc2s, "paul", "p.test")

	chat(alice, "paul@p.test", paul, "a1", "from the primary")
	chat(carol, "paul@p.test", paul, "v1", "piggybacked")
	if out, _ := ig.Srv.S2S().Links(); out != 1 || ig.Srv.S2S().Pairs() != 2 {
		t.Errorf("Ignis has %d outgoing links carrying %d pairs; want v.test piggybacked on the one link", out, ig.Srv.S2S().Pairs())
	}

	chat(paul, "carol@v.test/r", carol, "v2", "to the vhost")
	chat(paul, "alice@a.test/r", alice, "a2", "to the primary")
	if out, _ := ig.Srv.S2S().Links(); out != 1 || ig.Srv.S2S().Pairs() != 2 {
		t.Errorf("Ignis has %d outgoing links carrying %d pairs; want 1 carrying 2", out, ig.Srv.S2S().Pairs())
	}
}
