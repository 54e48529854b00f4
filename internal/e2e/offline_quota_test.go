package e2e

import (
	"strings"
	"testing"

	"ignis/internal/server"
)

// TestOfflineByteQuota: [offline] max_bytes_per_user bounds the size of an
// account's stored messages: the message that would take it past gets a
// <resource-constraint/> error; alice then receives exactly those stored.
func TestOfflineByteQuota(t *testing.T) {
	env := offlineEnv(t, func(c *server.Config) { c.Offline.MaxBytesPerUser = 10000 })
	bob := offLogin(t, env, "bob", "b")
	big := strings.Repeat("z", 4000)
	for _, id := range []string{"k1", "k2", "q1"} {
		bob.send(t, chat("alice@localhost", id, big))
	}
	m := bob.next(t)
	if m.XMLName.Local != "message" || m.Type != "error" || m.ID != "q1" || !strings.Contains(m.cond(), "wait <resource-constraint") {
		t.Fatalf("bob got %+v (%s), want a resource-constraint error for q1", m, m.cond())
	}
	if n, b, err := env.Srv.DB().Offline().Usage("alice"); err != nil || n != 2 || b > 10000 {
		t.Fatalf("alice's queue: %d messages, %d bytes, %v; want 2 within 10000 bytes", n, b, err)
	}
	alice := offLogin(t, env, "alice", "a")
	alice.available(t)
	for _, id := range []string{"k1", "k2"} {
		if m := alice.next(t); m.ID != id || m.Delay == nil {
			t.Fatalf("alice got %+v, want %s with a delay", m, id)
		}
	}
}
