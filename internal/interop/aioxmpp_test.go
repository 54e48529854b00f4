//go:build interop

package interop

import (
	"slices"
	"strings"
	"testing"
)

// TestInteropAioxmpp runs a second, independent client library, Debian's
// python3-aioxmpp (0.13.3 in bookworm, with aiosasl and pyOpenSSL): it
// registers an account in band after STARTTLS, logs alice and bob in over
// STARTTLS with its own SASL choice, binds, gets their rosters, exchanges
// chat messages, then logs the new account in. No SASL failure may be seen
// on the way: every login succeeds on its first attempt.
func TestInteropAioxmpp(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "alice-secret")
	h.env.AddUser("bob", "bob-secret")
	const body = "aioxmpp → Ignis: ünïcödé <&> ✓"
	r := h.run(t, "aiox.py", "--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost", "--alice-password", "alice-secret",
		"--bob", "bob@localhost", "--bob-password", "bob-secret",
		"--body", body, "--register-jid", "newbie@localhost", "--register-password", "newbie pässword")
	r.succeeded()
	r.none("failed_auth")

	form := r.one("register_form", "")
	if !slices.Contains(form.Features, "username") || !slices.Contains(form.Features, "password") {
		t.Errorf("registration form fields %q, want username and password among them", form.Features)
	}
	if reg := r.one("register", ""); reg.Type != "result" {
		t.Fatalf("registration answered %q %q, want a result", reg.Type, reg.Condition)
	}
	sessions := map[string]observation{}
	for _, who := range []string{"alice", "bob", "new"} {
		sessions[who] = r.one("session", who)
		r.one("roster", who)
	}
	for who, user := range map[string]string{"alice": "alice", "bob": "bob", "new": "newbie"} {
		if j := sessions[who].JID; !strings.HasPrefix(j, user+"@localhost/") {
			t.Errorf("%s bound %q, want %s@localhost/<resource>", who, j, user)
		}
		// aiosasl's strongest: it has SCRAM-SHA-1 and -256, no -PLUS in aioxmpp's default
		if m := sessions[who].Mechanism; m != "SCRAM-SHA-256" {
			t.Errorf("%s logged in with %q, want SCRAM-SHA-256", who, m)
		}
	}
	if m := r.one("message", "bob"); m.From != sessions["alice"].JID || m.Body != body || m.Type != "chat" {
		t.Errorf("bob got a %q message from %q with body %q, want a chat from %q with body %q", m.Type, m.From, m.Body, sessions["alice"].JID, body)
	}
	if m := r.one("message", "alice"); m.From != sessions["bob"].JID || m.Body != "reply: "+body {
		t.Errorf("alice got a message from %q with body %q, want one from %q with body %q", m.From, m.Body, sessions["bob"].JID, "reply: "+body)
	}
}
