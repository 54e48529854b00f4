//go:build interop

package interop

import (
	"context"
	"os/exec"
	"strings"
	"testing"
)

// goSendxmpp is Debian's go-sendxmpp (0.5.6 in bookworm), a third client
// stack: Go, on the go-xmpp library, with its own STARTTLS and SCRAM.
const goSendxmpp = "/usr/bin/go-sendxmpp"

// TestInteropGoSendxmpp sends a message with go-sendxmpp's command line, as
// a cron job or a monitoring script would, to bob while he is offline; bob
// then logs in with slixmpp and receives it. go-sendxmpp fails (non-zero
// exit) if it cannot log in.
func TestInteropGoSendxmpp(t *testing.T) {
	h := newHarness(t)
	if _, err := exec.LookPath(goSendxmpp); err != nil {
		t.Fatalf("%s is missing (install Debian's go-sendxmpp): %v", goSendxmpp, err)
	}
	h.env.AddUser("alice", "alice-secret")
	h.env.AddUser("bob", "bob-secret")
	const body = "go-sendxmpp → Ignis: ünïcödé <&> ✓"

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"starttls", []string{"-j", byName(t, h.env.Addr)}},
		{"direct-tls", []string{"-j", byName(t, h.env.TLSAddr), "--tls"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
			defer cancel()
			// -n: the test server's certificate is self-signed
			args := append([]string{"-u", "alice@localhost", "-p", "alice-secret", "-n", "--tls-version", "12"}, tc.args...)
			cmd := exec.CommandContext(ctx, goSendxmpp, append(args, "bob@localhost")...)
			cmd.Dir = h.dir
			cmd.Stdin = strings.NewReader(body + " " + tc.name)
			out, err := cmd.CombinedOutput()
			t.Logf("go-sendxmpp %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			if err != nil {
				t.Fatalf("go-sendxmpp failed: %v", err)
			}
			r := h.run(t, "receive.py", "--addr", byName(t, h.env.Addr), "--jid", "bob@localhost", "--password", "bob-secret")
			r.succeeded()
			m := r.one("message", "")
			if !strings.HasPrefix(m.From, "alice@localhost") || m.Body != body+" "+tc.name {
				t.Errorf("bob received %q from %q, want %q from alice", m.Body, m.From, body+" "+tc.name)
			}
		})
	}
}
