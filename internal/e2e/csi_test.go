package e2e

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ignis/internal/servertest"
)

// waitCount waits (bounded) until the counter reaches n: server-side state
// the test cannot see on the wire.
func waitCount(t *testing.T, c *atomic.Int64, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("counter at %d, want %d", c.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestClientStateIndication (XEP-0352): while alice is inactive, presence
// updates wait and a newer one from the same contact replaces the older;
// <active/> releases what is left, and a message with a body goes out at
// once, after what was held.
func TestClientStateIndication(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	alice := rawStream(t, env, "alice", "phone")
	bob := rawStream(t, env, "bob", "desk")
	st := env.Srv.Stats()

	alice.send("<inactive xmlns='urn:xmpp:csi:0'/><iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	alice.expect("id='p1'") // the inactive state is set
	for _, status := range []string{"one", "two", "three"} {
		bob.send("<presence to='alice@localhost/phone'><status>" + status + "</status></presence>")
	}
	waitCount(t, &st.CSIHeld, 3)
	alice.send("<active xmlns='urn:xmpp:csi:0'/><iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	got := alice.expect("id='p2'")
	if !strings.Contains(got, "<status>three</status>") || strings.Contains(got, "<status>one</status>") || strings.Contains(got, "<status>two</status>") {
		t.Fatalf("after <active/>: %s, want only the newest presence", got)
	}
	if st.CSIReplaced.Load() != 2 {
		t.Fatalf("replaced %d, want 2", st.CSIReplaced.Load())
	}

	// inactive again: a message with a body cannot wait; it goes out at
	// once, after the presence held before it
	alice.send("<inactive xmlns='urn:xmpp:csi:0'/><iq type='get' id='p3' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	alice.expect("id='p3'")
	bob.send("<presence to='alice@localhost/phone'><status>four</status></presence>")
	waitCount(t, &st.CSIHeld, 4)
	bob.send("<message to='alice@localhost/phone' type='chat'><body>wake up</body></message>")
	got = alice.expect("</message>")
	if p, m := strings.Index(got, "<status>four</status>"), strings.Index(got, "<body>wake up</body>"); p < 0 || m < 0 || p > m {
		t.Fatalf("got %s, want the held presence and then the message", got)
	}
}
