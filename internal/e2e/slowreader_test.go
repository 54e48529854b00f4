package e2e

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// TestSlowReader: a client that stops reading while messages keep coming is
// not allowed to make the server queue without bound. Once its pending
// output passes max_pending_output the stream ends with a policy-violation
// stream error, which the client finds after the messages when it reads again.
func TestSlowReader(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Limits.MaxPendingOut = 64 << 10 })
	env.AddUser("slow", "pw")
	env.AddUser("fast", "pw")
	slow := rawLogin(t, env, "slow", "pw", "r")
	fast := rawLogin(t, env, "fast", "pw", "r")

	// keep sending until the server gives up on slow (its session leaves the
	// table); bounded in count so the test ends either way
	body := strings.Repeat("x", 4000)
	msg := []byte("<message to='slow@localhost/r' type='chat'><body>" + body + "</body></message>")
	gone := false
	for i := 0; i < 20000 && !gone; i++ {
		if _, err := fast.Write(msg); err != nil {
			t.Fatalf("sender: %v", err)
		}
		if i%50 == 49 {
			// a ping round trip paces the sender and gives the server time to route
			io.WriteString(fast, "<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
			readUntil(t, fast, "id='p'")
			gone = env.Srv.Router().Table().Count() == 1
		}
	}
	if !gone {
		t.Fatal("the slow reader's session is still bound after 80 MB were sent to it")
	}
	// now read everything the server had for slow: messages, then the error
	_ = slow.SetReadDeadline(time.Now().Add(15 * time.Second))
	got, err := io.ReadAll(slow)
	if err != nil {
		t.Fatalf("reading the backlog: %v", err)
	}
	if !bytes.Contains(got, []byte(streamErr("policy-violation"))) || !bytes.HasSuffix(got, []byte("</stream:stream>")) {
		tail := got[max(0, len(got)-300):]
		t.Fatalf("slow reader got %d bytes ending %q, want a policy-violation stream error at the end", len(got), tail)
	}
}
