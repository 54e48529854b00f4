//go:build interop

package interop

import (
	"slices"
	"testing"

	"ignis/store"
)

// TestInteropAioxmppPEP runs PEP with a second client stack, Debian's
// aioxmpp (testdata/aiox_pep.py): alice publishes a XEP-0172 nickname
// with aioxmpp.pep and an avatar with aioxmpp.avatar; bob, whose caps ask
// for both with +notify, sees both, reads the nickname node back with
// aioxmpp.pubsub and fetches the avatar bytes from her data node; on
// pubsub.localhost bob subscribes to a node alice created and gets her item.
func TestInteropAioxmppPEP(t *testing.T) {
	h := newHarness(t)
	for _, u := range []string{"alice", "bob"} {
		h.env.AddUser(u, u+"-secret")
	}
	for a, b := range map[string]string{"alice": "bob", "bob": "alice"} {
		if _, err := h.env.Srv.DB().Roster().Put(a, store.RosterItem{JID: b + "@localhost", Sub: store.SubBoth}); err != nil {
			t.Fatal(err)
		}
	}
	const nick = "Alice Ä. <&>"
	r := h.run(t, "aiox_pep.py", "--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost/laptop", "--alice-password", "alice-secret",
		"--bob", "bob@localhost/phone", "--bob-password", "bob-secret", "--nick", nick,
		"--service", "pubsub.localhost", "--node", "aiox-news")
	r.succeeded()
	if !r.one("pep_available", "alice").OK {
		t.Errorf("aioxmpp does not see a PEP identity on alice's account")
	}
	var got []string
	for _, e := range r.all("pep", "bob") {
		if e.From == "alice@localhost" && e.Node == "http://jabber.org/protocol/nick" {
			got = append(got, e.Body)
		}
	}
	if len(got) == 0 || got[0] != nick {
		t.Errorf("bob's nickname events from alice %q, want %q", got, nick)
	}
	if len(r.all("avatar", "bob")) == 0 {
		t.Errorf("bob saw no avatar metadata of alice's")
	}
	if items := r.one("nick_items", "bob").Items; !slices.Equal(items, []string{nick}) {
		t.Errorf("alice's nickname node read by bob: %q, want %q", items, nick)
	}
	if b := r.one("avatar_bytes", "bob").Body; b != "match" {
		t.Errorf("alice's avatar fetched by bob: %s", b)
	}
	if n := r.one("pubsub", "bob"); n.From != "pubsub.localhost" || n.Node != "aiox-news" || n.ID == "" || n.Body != nick {
		t.Errorf("bob's notification from the service: %+v", n)
	}
}
