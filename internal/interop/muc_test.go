//go:build interop

package interop

import "testing"

// TestInteropMUC runs slixmpp's xep_0045 against the group chat service:
// create and configure a room, join, chat, history on join, the room
// archive, kick, mediated invitation, ban, destroy (testdata/muc.py checks
// each step and prints a mismatch for anything unexpected).
func TestInteropMUC(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "secret")
	h.env.AddUser("bob", "secret")
	bodies := []string{"one", "two ✓ <&>", "three"}
	r := h.run(t, "muc.py", append([]string{"--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost/desk", "--bob", "bob@localhost/phone", "--password", "secret",
		"--room", "lounge@conference.localhost", "--bodies"}, bodies...)...)
	r.none("mismatch")
	r.succeeded()
	if got := r.all("archived", "alice"); len(got) != len(bodies) {
		t.Errorf("the room archive returned %d messages, want %d", len(got), len(bodies))
	}
	if c := r.one("refused", "bob").Condition; c != "forbidden" {
		t.Errorf("a banned user's join was refused with %q, want forbidden", c)
	}
}
