package e2e

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strconv"
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

// TestOfflineFlushPacedByReader: 100 stored messages of 60 KB, six times the
// output cap, go to a client without Stream Management that reads through a
// small socket buffer: the delivery waits for the client to read what the
// connection holds, so the client is never cut off as a slow reader and gets
// every message once, in order, and the queue ends empty. It moves 6 MB
// through a 16 KB window (~40 s), so it runs in make soak (IGNIS_SOAK=1).
func TestOfflineFlushPacedByReader(t *testing.T) {
	if os.Getenv("IGNIS_SOAK") == "" {
		t.Skip("slow: runs with IGNIS_SOAK=1 (make soak)")
	}
	env := offlineEnv(t)
	o := env.Srv.DB().Offline()
	body := strings.Repeat("w", 60<<10)
	const n = 100
	for i := range n {
		raw := fmt.Sprintf("<message from='bob@localhost/b' to='alice@localhost' type='chat' id='p%d'><body>%s</body></message>", i, body)
		if _, err := o.Store("alice", []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	alice := offLogin(t, env, "alice", "a")
	if tc, ok := alice.Conn.(*tls.Conn); ok {
		if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
			_ = tcp.SetReadBuffer(16 << 10)
		}
	}
	alice.available(t)
	for i := range n {
		m := alice.next(t)
		if want := "p" + strconv.Itoa(i); m.ID != want || len(m.Body) != len(body) {
			t.Fatalf("message %d: got %s (%s, %d bytes), want %s", i, m.XMLName.Local, m.ID, len(m.Body), want)
		}
	}
	// a retrieval runs after the delivery, deletes included
	if got := alice.iq(t, "get", "f1", "<offline xmlns='http://jabber.org/protocol/offline'><fetch/></offline>"); len(got) != 1 || got[0].Type != "result" {
		t.Fatalf("fetch after delivery got %d stanzas, want only the result", len(got))
	}
}
