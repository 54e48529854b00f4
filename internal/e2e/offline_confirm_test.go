package e2e

import (
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// Offline messages leave storage only once the session confirms them: their
// bytes reached the kernel (no XEP-0198), or the client acknowledged them.

// dialSmallRcv opens a direct TLS connection whose receive buffer is tiny,
// so that a client that stops reading soon leaves the server's output queued
// in the server, not in the kernel.
func dialSmallRcv(t *testing.T, env *servertest.Env) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	raw, err := d.Dial("tcp", env.TLSAddr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := tls.Client(raw, env.ClientTLS())
	t.Cleanup(func() { c.Close() })
	return c
}

// slowAvailable logs alice in as alice@localhost/a over a connection with a
// small receive buffer (dialSmallRcv), sends available presence and reads
// up to its echo. It returns the decoder to read the rest with, for up to
// readFor.
func slowAvailable(t *testing.T, env *servertest.Env, readFor time.Duration) *xml.Decoder {
	t.Helper()
	old := rawLoginOn(t, dialSmallRcv(t, env), "alice", "pw", "a")
	_ = old.SetReadDeadline(time.Now().Add(readFor))
	if _, err := io.WriteString(old, "<presence/>"); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(old)
	for {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("reading the presence echo: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			_ = d.Skip()
			if se.Name.Local == "presence" {
				return d
			}
		}
	}
}

// storeOffline has bob send n chat messages to alice, who is offline, and
// returns once they are stored.
func storeOffline(t *testing.T, env *servertest.Env, n, size int) {
	t.Helper()
	bob := offLogin(t, env, "bob", "b")
	body := strings.Repeat("x", size)
	for i := range n {
		bob.send(t, chat("alice@localhost", fmt.Sprintf("m%d", i), body))
	}
	bob.barrier(t)
}

// TestOfflineCutKeepsUnflushed: alice's client stops reading while her
// offline messages are flushed to it; the server cuts the connection (a new
// login replaces the session, and the old one's output never drains within
// close_timeout). What the kernel had taken, the old connection still reads;
// what was still in the server's output buffer is not lost: it stays stored
// and reaches the new session. Every message arrives.
func TestOfflineCutKeepsUnflushed(t *testing.T) {
	logs := newLogSink()
	env := servertest.StartLogged(t, logs, func(c *server.Config) {
		c.LogLevel = "info"
		c.Limits.CloseTimeout.Duration = 200 * time.Millisecond
	})
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	const n = 500
	storeOffline(t, env, n, 16000)

	// old reads its presence echo, which comes before the flush, and then
	// nothing more: the flush fills the kernel's buffers, then the
	// server's. Meanwhile a new login takes the resource over (a conflict).
	d := slowAvailable(t, env, 15*time.Second)
	freshConn := rawAuth(t, env, "alice")
	if _, err := io.WriteString(freshConn, "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>a</resource></bind></iq>"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, freshConn, "</iq>")
	_ = freshConn.SetReadDeadline(time.Time{})
	fresh := offClientOn(freshConn, "alice@localhost/a")
	// the old session ends once its connection is closed, its output not
	// drained: from then on reading it cannot drain the server's buffer
	logs.wait(t, "logout", "jid=alice@localhost/a")

	// the old connection gets what the kernel took, then the end
	got := map[string]bool{}
	for {
		s, err := nextElem[offStanza](d)
		if err != nil {
			break // EOF, or a stanza cut short by the close
		}
		if s.XMLName.Local == "message" {
			got[s.ID] = true
		}
	}
	if len(got) == n {
		t.Fatalf("the old connection read all %d messages: nothing was left in the server's output", n)
	}
	t.Logf("the old connection read %d of %d", len(got), n)
	fresh.available(t)
	for missing := n - len(got); missing > 0; {
		s := fresh.next(t)
		if s.XMLName.Local != "message" || s.Delay == nil {
			t.Fatalf("new session got %+v, want a stored message", s)
		}
		if !got[s.ID] {
			got[s.ID] = true
			missing--
		}
	}
}

// TestOfflineUnackedStayStored: with XEP-0198, offline messages a client
// received but never acknowledged stay stored (and counted) while it is
// connected, and reach the next session when it goes away without an ack,
// each once and in order.
func TestOfflineUnackedStayStored(t *testing.T) {
	env := offlineEnv(t)
	const n = 5
	storeOffline(t, env, n, 10)

	alice, _ := smLogin(t, env, "alice", "phone", "urn:xmpp:sm:3", false)
	alice.send("<presence/>")
	for i := range n {
		if m := alice.next("message"); m.attr("id") != fmt.Sprintf("m%d", i) {
			t.Fatalf("got %s, want m%d", m.attr("id"), i)
		}
	}
	if c, err := env.Srv.DB().Offline().Count("alice"); err != nil || c != n {
		t.Fatalf("%d messages stored (%v) while none is acknowledged, want %d", c, err, n)
	}
	alice.c.Close() // no <a/>

	next := offLogin(t, env, "alice", "laptop")
	next.available(t)
	for i := range n {
		if m := next.next(t); m.ID != fmt.Sprintf("m%d", i) || m.Delay == nil {
			t.Fatalf("got %+v, want m%d with a delay", m, i)
		}
	}
	if got := next.iq(t, "get", "p1", "<ping xmlns='urn:xmpp:ping'/>"); len(got) != 1 {
		t.Fatalf("got %+v after the stored messages, want only the ping's answer", got)
	}
}
