package e2e

import (
	"strings"
	"testing"

	"ignis/internal/servertest"
)

// TestSharedGroupQuery: Openfire's shared-group iq lists the display names
// of the groups the asking user belongs to, as administered in the store.
func TestSharedGroupQuery(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	g := env.Srv.DB().Groups()
	for _, err := range []error{g.Create("dev", "Developers"), g.Create("all", "Everyone <3"), g.Create("hr", ""),
		g.AddMember("dev", "alice"), g.AddMember("all", "alice"), g.AddMember("all", "bob")} {
		if err != nil {
			t.Fatal(err)
		}
	}
	const q = "<sharedgroup xmlns='http://www.jivesoftware.org/protocol/sharedgroup'/>"
	alice := rawStream(t, env, "alice", "r")
	alice.send("<iq type='get' id='s1'>" + q + "</iq>")
	got := alice.expect("</iq>")
	want := "<sharedgroup xmlns='http://www.jivesoftware.org/protocol/sharedgroup'><group>Everyone &lt;3</group><group>Developers</group></sharedgroup>"
	if !strings.Contains(got, "type='result'") || !strings.Contains(got, want) {
		t.Fatalf("alice got %s, want %s", got, want)
	}
	bob := rawStream(t, env, "bob", "r")
	bob.send("<iq type='get' id='s2' to='localhost'>" + q + "</iq>")
	if got := bob.expect("</iq>"); !strings.Contains(got, "<sharedgroup xmlns='http://www.jivesoftware.org/protocol/sharedgroup'><group>Everyone &lt;3</group></sharedgroup>") {
		t.Fatalf("bob got %s", got)
	}
}
