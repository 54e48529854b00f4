//go:build interop

package interop

import (
	"slices"
	"testing"

	"ignis/store"
)

// TestInteropPEP runs slixmpp's PEP plugins against the server (pep.py):
// an OMEMO-style device list published with publish-options reaches a
// contact; an avatar notification reaches the contact whose caps ask for
// it and not the one whose caps do not; a XEP-0402 bookmark is read back
// through private storage, and bookmarks stored there through the node.
func TestInteropPEP(t *testing.T) {
	h := newHarness(t)
	users := []string{"alice", "bob", "carol"}
	for _, u := range users {
		h.env.AddUser(u, u+"-secret")
	}
	for _, a := range users {
		for _, b := range users {
			if a != b {
				if _, err := h.env.Srv.DB().Roster().Put(a, store.RosterItem{JID: b + "@localhost", Sub: store.SubBoth}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	r := h.run(t, "pep.py", "--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost/laptop", "--alice-password", "alice-secret",
		"--bob", "bob@localhost/phone", "--bob-password", "bob-secret",
		"--carol", "carol@localhost/old", "--carol-password", "carol-secret")
	r.succeeded()
	seen := map[string]bool{}
	for _, e := range r.all("pep", "bob") {
		if e.From == "alice@localhost" {
			seen[e.Node] = true
		}
	}
	for _, n := range []string{"eu.siacs.conversations.axolotl.devicelist", "urn:xmpp:avatar:metadata"} {
		if !seen[n] {
			t.Errorf("bob saw no event of alice's %s", n)
		}
	}
	if got := r.all("pep", "carol"); len(got) != 0 {
		t.Errorf("carol, whose caps ask for nothing, got %d pubsub events", len(got))
	}
	if b := r.one("bookmarks", "alice"); !slices.Equal(b.Items, []string{"coven@chat.example"}) {
		t.Errorf("private storage has bookmarks %v, want the one published with XEP-0402", b.Items)
	}
	if b := r.one("bookmark_items", "alice"); !slices.Equal(b.Items, []string{"tea@chat.example"}) {
		t.Errorf("the XEP-0402 node has items %v, want the bookmark stored in private storage", b.Items)
	}
}
