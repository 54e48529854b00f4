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
// through the router.
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

	t.Run("chat across domains", func(t *testing.T) {
		// both clients dial localhost (TLS name and certificate localhost's,
		// the stream header's 'to' each one's own domain); one CA file
		// serves both runs of the script
		var both []byte
		for _, f := range []string{h.ca, vhostCA} {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			both = append(both, b...)
		}
		ca := filepath.Join(h.dir, "both.pem")
		bodies := filepath.Join(h.dir, "vhost-bodies.json")
		b, _ := json.Marshal(map[string]string{"full": "to bob from the vhost", "bare": "again, bare", "reply": "back to example.net"})
		for f, data := range map[string][]byte{ca: both, bodies: b} {
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
}
