//go:build interop

package interop

import "testing"

// TestInteropMUC runs slixmpp's xep_0045 against the group chat service:
// create and configure a room, join, chat, history on join, the room
// archive, a ping and a vCard request to an occupant, a nick registered
// with the room, a voice request approved, kick, mediated invitation, ban,
// destroy (testdata/muc.py checks
// each step and prints a mismatch for anything unexpected).
func TestInteropMUC(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "secret")
	h.env.AddUser("bob", "secret")
	bodies := []string{"one", "two ✓ <&>", "three"}
	r := h.run(t, "muc.py", append([]string{"--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost/desk", "--bob", "bob@localhost/phone", "--password", "secret",
		"--room", "lounge@conference.localhost", "--fn", "Bob Builder", "--reserve", "Bobby", "--bodies"}, bodies...)...)
	r.none("mismatch")
	r.succeeded()
	if got := r.all("archived", "alice"); len(got) != len(bodies) {
		t.Errorf("the room archive returned %d messages, want %d", len(got), len(bodies))
	}
	if v := r.one("vcard", "alice"); v.FN != "Bob Builder" || v.From != "lounge@conference.localhost/Bob" {
		t.Errorf("bob's vCard through the room: %+v", v)
	}
	if got := r.one("registered", "bob").Body; got != "Bobby" {
		t.Errorf("bob's reserved nick: %q, want Bobby", got)
	}
	if got := r.one("voice", "bob").Body; got != "participant" {
		t.Errorf("bob's role after the approved voice request: %q, want participant", got)
	}
	if c := r.one("refused", "bob").Condition; c != "forbidden" {
		t.Errorf("a banned user's join was refused with %q, want forbidden", c)
	}
}
