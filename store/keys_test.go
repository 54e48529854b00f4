package store

import (
	"bytes"
	"testing"
)

func TestKeys(t *testing.T) {
	t.Run("AccountRoundTrip", func(t *testing.T) {
		for _, u := range []string{"a", "alice", "zoë", "with space", "\x01\xff"} {
			got, ok := parseAccountKey(accountKey(u))
			if !ok || got != u {
				t.Errorf("parseAccountKey(accountKey(%q)) = %q, %v", u, got, ok)
			}
		}
	})
	t.Run("ParseRejects", func(t *testing.T) {
		for _, k := range [][]byte{nil, {tableAccount}, {tableAccount, 0}, {tableRoster, 'a', 0}, {tableAccount, 'a'}, {tableAccount, 'a', 0, 'b', 0}} {
			if u, ok := parseAccountKey(k); ok {
				t.Errorf("parseAccountKey(%q) = %q, true", k, u)
			}
		}
	})
	t.Run("UserSpanHoldsOnlyThatUser", func(t *testing.T) {
		lo, hi := userSpan(tableOffline, "al")
		in := func(k []byte) bool { return bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) < 0 }
		for _, k := range [][]byte{userPrefix(tableOffline, "al", 0), append(userPrefix(tableOffline, "al", 1), 0xff)} {
			if !in(k) {
				t.Errorf("%q not in al's span", k)
			}
		}
		for _, k := range [][]byte{userPrefix(tableOffline, "alice", 0), userPrefix(tableOffline, "a", 0), userPrefix(tableRoster, "al", 0), accountKey("al")} {
			if in(k) {
				t.Errorf("%q in al's offline span", k)
			}
		}
	})
	t.Run("UsersSortInByteOrder", func(t *testing.T) {
		if bytes.Compare(accountKey("al"), accountKey("alice")) >= 0 {
			t.Errorf("al does not sort before alice")
		}
	})
	t.Run("ScratchKeysSortNumerically", func(t *testing.T) {
		if bytes.Compare(scratchKey(255), scratchKey(256)) >= 0 {
			t.Errorf("scratch keys are not big-endian")
		}
	})
}
