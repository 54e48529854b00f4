package store

import (
	"bytes"
	"testing"
)

// TestUserKeys: per-user item keys sort by user first, stay inside the
// user's span, and give back their parts.
func TestUserKeys(t *testing.T) {
	lo, hi := userSpan(tableRoster, "al")
	for _, k := range [][]byte{userKey(tableRoster, "al", "bob@localhost"), userKey(tableRoster, "al", ""), userSeqKey(tableRoster, "al", 1<<40)} {
		if bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
			t.Fatalf("key %q outside the user's span", k)
		}
	}
	if other := userKey(tableRoster, "alice", ""); bytes.Compare(other, lo) >= 0 && bytes.Compare(other, hi) < 0 {
		t.Fatal("another user's key inside the span")
	}
	if p, ok := splitUserKey(tableRoster, "al", userKey(tableRoster, "al", "x@y")); !ok || string(p) != "x@y" {
		t.Fatalf("split: %q %v", p, ok)
	}
	if _, ok := splitUserKey(tableRoster, "al", userKey(tableOffline, "al", "x")); ok {
		t.Fatal("split accepted another table's key")
	}
	a, b := userSeqKey(tableOffline, "u", 2), userSeqKey(tableOffline, "u", 10)
	if bytes.Compare(a, b) >= 0 {
		t.Fatal("sequence keys out of numeric order")
	}
	if n, ok := seqOfKey(b); !ok || n != 10 {
		t.Fatalf("seqOfKey: %d %v", n, ok)
	}
}
