package mod

import "testing"

// TestLookupNode: a node is found by its name, or by the longest registered
// prefix ending in '#', in its own scope only.
func TestLookupNode(t *testing.T) {
	r := NewRegistry()
	r.Node(ToServer, "urn:cmds", DiscoNode{})
	r.Node(ToServer, "urn:admin#", DiscoNode{Items: func(*Ctx) ([]NodeItem, error) { return nil, nil }})
	for _, tc := range []struct {
		scope Scope
		node  string
		found bool
	}{
		{ToServer, "urn:cmds", true},
		{ToServer, "urn:admin#add-user", true},
		{ToServer, "urn:admin#", true},
		{ToServer, "urn:adminx", false},
		{ToAccount, "urn:cmds", false},
	} {
		if _, ok := r.LookupNode(tc.scope, tc.node); ok != tc.found {
			t.Errorf("LookupNode(%v, %q) found = %v, want %v", tc.scope, tc.node, ok, tc.found)
		}
	}
}
