package mod

import (
	"testing"

	"ignis/jid"
	"ignis/stanza"
)

func TestUserCache(t *testing.T) {
	var c UserCache[int]
	loads := 0
	load := func(v int, ok bool) func() (int, bool) {
		return func() (int, bool) { loads++; return v, ok }
	}
	if got := c.Get("a", load(-1, false)); got != -1 {
		t.Fatalf("failed load: got %d", got)
	}
	if got := c.Get("a", load(1, true)); got != 1 || loads != 2 {
		t.Fatalf("a failed load was cached: got %d after %d loads", got, loads)
	}
	if got := c.Get("a", load(9, true)); got != 1 || loads != 2 {
		t.Fatalf("cached value not used: got %d after %d loads", got, loads)
	}
	c.Change("a", func(cur int) int { return cur + 1 })
	if got := c.Get("a", load(9, true)); got != 2 {
		t.Fatalf("after change: got %d", got)
	}
	// a load that a change overtook is returned but not cached
	got := c.Get("b", func() (int, bool) {
		c.Change("b", func(int) int { t.Fatal("edit of an uncached user"); return 0 })
		return 5, true
	})
	if got != 5 || c.Get("b", load(6, true)) != 6 {
		t.Fatal("a load older than a change was cached")
	}
	c.Forget("a")
	if got := c.Get("a", load(7, true)); got != 7 {
		t.Fatalf("after forget: got %d", got)
	}
}

// TestUserCacheOnlyFor: users not among the holders get the empty value
// without a load or an entry; a change makes its user a holder, whose
// next Get loads what is on disk.
func TestUserCacheOnlyFor(t *testing.T) {
	var c UserCache[int]
	c.OnlyFor(0, []string{"h"})
	loads := 0
	load := func(v int) func() (int, bool) { return func() (int, bool) { loads++; return v, true } }
	if got := c.Get("a", load(9)); got != 0 || loads != 0 || len(c.vals) != 0 {
		t.Fatalf("a user without a list: got %d after %d loads, %d cached", got, loads, len(c.vals))
	}
	if got := c.Get("h", load(3)); got != 3 || loads != 1 || len(c.vals) != 1 {
		t.Fatalf("a holder: got %d after %d loads, %d cached", got, loads, len(c.vals))
	}
	c.Change("a", func(cur int) int { t.Fatal("edit of an uncached user"); return cur })
	if got := c.Get("a", load(4)); got != 4 || loads != 2 {
		t.Fatalf("after a's change: got %d after %d loads", got, loads)
	}
	c.Forget("a")
	if got := c.Get("a", load(5)); got != 5 || loads != 3 {
		t.Fatalf("a holder stays one after forget: got %d after %d loads", got, loads)
	}
}

func TestDenier(t *testing.T) {
	bounce := stanza.Err(stanza.ServiceUnavailable)
	msg := stanza.MustParse([]byte(`<message to='a@x' from='b@y'/>`))
	a, c := jid.MustParse("a@x"), jid.MustParse("c@x")
	var d Denier
	for _, tc := range []struct {
		name string
		st   *stanza.Stanza
		user jid.JID
		want Verdict
	}{
		{"presence", stanza.MustParse([]byte(`<presence from='b@y'/>`)), a, Drop},
		{"iq result", stanza.MustParse([]byte(`<iq type='result' id='1' from='b@y'/>`)), a, Drop},
		{"message error", stanza.MustParse([]byte(`<message type='error' from='b@y'/>`)), a, Drop},
		{"iq request", stanza.MustParse([]byte(`<iq type='get' id='1' from='b@y'><q xmlns='q'/></iq>`)), a, Bounce},
		{"message", msg, a, Bounce},
		{"same message, next resource", msg, a, Drop},
		{"same message shared with another user", msg, c, Bounce},
	} {
		v, e := d.Deny(tc.st, tc.user, bounce)
		if v != tc.want || (v == Bounce) != (e == bounce) {
			t.Errorf("%s: got %v %v, want %v", tc.name, v, e, tc.want)
		}
	}
}
