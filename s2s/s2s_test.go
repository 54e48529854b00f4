package s2s

import (
	"context"
	"testing"

	"ignis/jid"
)

// TestDialbackKey: XEP-0185 keys bind the receiving and originating
// domains and the stream id, and the secret: change any and the key changes.
func TestDialbackKey(t *testing.T) {
	m := New(Config{Domain: jid.MustParse("a.test"), Secret: []byte("s3cr3t")})
	base := m.dialbackKey("b.test", "a.test", "id1")
	if base != m.dialbackKey("b.test", "a.test", "id1") || len(base) != 64 {
		t.Fatalf("key %q is not a stable hex SHA-256", base)
	}
	other := New(Config{Domain: jid.MustParse("a.test"), Secret: []byte("other")})
	for name, k := range map[string]string{
		"receiving":   m.dialbackKey("c.test", "a.test", "id1"),
		"originating": m.dialbackKey("b.test", "c.test", "id1"),
		"stream id":   m.dialbackKey("b.test", "a.test", "id2"),
		"secret":      other.dialbackKey("b.test", "a.test", "id1"),
		"separator":   m.dialbackKey("b.test a.test", "", "id1"),
	} {
		if k == base {
			t.Errorf("changing the %s leaves the key unchanged", name)
		}
	}
}

// TestResolveHosts: the static map wins over DNS, and SetHost changes it.
func TestResolveHosts(t *testing.T) {
	m := New(Config{Domain: jid.MustParse("a.test"), Hosts: map[string]string{"b.test": "127.0.0.1:5999"}})
	ctx := context.Background()
	got, err := m.resolve(ctx, "b.test")
	if err != nil || len(got) != 1 || got[0] != (target{addr: "127.0.0.1:5999"}) {
		t.Fatalf("resolve(b.test) = %v, %v", got, err)
	}
	m.SetHost("b.test", "127.0.0.1:6000")
	if got, _ := m.resolve(ctx, "b.test"); got[0].addr != "127.0.0.1:6000" {
		t.Fatalf("after SetHost: %v", got)
	}
	if _, err := m.resolve(ctx, "nothing.invalid"); err == nil {
		t.Fatal("an unresolvable domain resolved")
	}
}
