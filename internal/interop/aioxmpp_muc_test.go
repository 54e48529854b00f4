//go:build interop

package interop

import (
	"slices"
	"strings"
	"testing"
)

// TestInteropAioxmppMUC runs group chat with a second client stack,
// Debian's aioxmpp.muc (testdata/aiox_muc.py checks each step and prints a
// mismatch for anything unexpected): create and configure a room, subject,
// two users chatting, history on join ended by the subject, nick change,
// kick, mediated invitation, ban by real JID and the banned user's refused join, leave.
func TestInteropAioxmppMUC(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "secret")
	h.env.AddUser("bob", "secret")
	const room = "den@conference.localhost"
	bodies := []string{"one", "two ✓ <&>", "three"}
	r := h.run(t, "aiox_muc.py", append([]string{"--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost/desk", "--bob", "bob@localhost/phone", "--password", "secret",
		"--room", room, "--name", "The Den", "--subject", "tea at five", "--bodies"}, bodies...)...)
	r.succeeded()

	if got := r.one("room_name", "alice").Name; got != "The Den" {
		t.Errorf("room name in disco#info %q, want the configured one", got)
	}
	var history []string
	for _, m := range r.all("history", "bob") {
		if m.Stamp == "" {
			t.Errorf("history message %q without a delay stamp", m.Body)
		}
		history = append(history, m.Body)
	}
	if want := []string{bodies[2], "reply from bob"}; !slices.Equal(history, want) {
		t.Errorf("bob's history on join %q, want the last two messages %q", history, want)
	}
	if got := r.one("refused", "bob").Condition; got != "forbidden" {
		t.Errorf("a banned user's join was refused with %q, want forbidden", got)
	}
	if inv := r.one("invite", "bob"); inv.From != "alice@localhost" || inv.To != room || inv.Type != "MEDIATED" {
		t.Errorf("bob's invitation %+v, want a mediated one from alice@localhost to %s", inv, room)
	}
	modes := map[string]string{}
	for _, e := range r.all("left", "bob") {
		modes[e.Type] = e.Body
	}
	if !strings.Contains(modes["KICKED"], "307") || !strings.Contains(modes["BANNED"], "301") {
		t.Errorf("bob's exits by mode and status codes %v, want a kick with 307 and a ban with 301", modes)
	}
}
