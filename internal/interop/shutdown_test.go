//go:build interop

package interop

import (
	"context"
	"testing"
	"time"
)

// TestInteropShutdown: a server that stops (SIGINT, SIGTERM) ends a stock
// slixmpp client's session with a <system-shutdown/> stream error, which
// the client reports as such, and closes the connection, instead of the
// bare end of file a client would take for a network failure.
func TestInteropShutdown(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "alice-secret")
	d := h.start(t, "shutdown.py", "--addr", byName(t, h.env.Addr),
		"--jid", "alice@localhost/desk", "--password", "alice-secret")
	d.await("session", "")
	d.await("waiting", "")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.env.Srv.Stop(ctx); err != nil {
		t.Fatalf("stopping the server: %v", err)
	}
	if se := d.await("stream_error", ""); se.Condition != "system-shutdown" {
		t.Errorf("stream error %q (%q), want system-shutdown", se.Condition, se.Text)
	}
	d.await("ended", "")
	d.finish()
}
