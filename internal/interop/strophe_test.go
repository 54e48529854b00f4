//go:build interop

package interop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"ignis/internal/server"
	"ignis/internal/testkit"
)

// stropheJS is Debian's libjs-strophe (Strophe.js 1.2.14), which .ci/run installs.
const stropheJS = "/usr/share/javascript/strophe/strophe.js"

// stropheClient is the page Chromium runs: Strophe.js logs in as alice
// (SCRAM-SHA-1, its first choice), says hello to bob over TCP, and echoes
// what bob says back. Whatever goes wrong is posted to /log.
const stropheClient = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>strophe</title>
<script src="/strophe.js"></script>
<script>
function log(s) { fetch('/log', {method: 'POST', body: String(s)}); }
window.onerror = function (m) { log('error: ' + m); };
var kind = %q, service = %q;
var conn = new Strophe.Connection(service);
conn.connect('alice@localhost/strophe-' + kind, 'wonderland', function (status, cond) {
	log('status ' + status + (cond ? ' ' + cond : ''));
	if (status !== Strophe.Status.CONNECTED) { return; }
	conn.addHandler(function (msg) {
		var body = msg.getElementsByTagName('body')[0];
		if (body) {
			conn.send($msg({to: msg.getAttribute('from'), type: 'chat'}).c('body').t('echo: ' + Strophe.getText(body)));
		}
		return true;
	}, null, 'message', 'chat');
	conn.send($pres());
	conn.send($msg({to: 'bob@localhost/tcp', type: 'chat'}).c('body').t('hello from strophe over ' + kind));
});
</script></head><body>strophe</body></html>`

// TestInteropStrophe: a browser client we did not write, Strophe.js in
// headless Chromium, served from another origin (so CORS is exercised),
// logs in over WebSocket and over BOSH and exchanges messages with a
// slixmpp user over TCP: its hello reaches the slixmpp user, whose answer
// comes back echoed.
func TestInteropStrophe(t *testing.T) {
	bin := testkit.Chromium(t)
	if _, err := os.Stat(stropheJS); err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("libjs-strophe not installed (apt-get install libjs-strophe)")
		}
		t.Fatal("libjs-strophe not installed; .ci/run installs it")
	}
	h := newHarness(t, func(c *server.Config) {
		c.Web.Enabled = true
		c.Web.HTTP = "127.0.0.1:0"
		c.Web.HTTPS = "off"
		c.SASL.PlainWithoutTLS = true
	})
	env := h.env
	env.AddUser("alice", "wonderland")
	env.AddUser("bob", "pw")
	web, _ := env.Srv.WebAddrs()

	for _, tc := range []struct{ kind, service string }{
		{"websocket", "ws://" + web.String() + "/xmpp-websocket"},
		{"bosh", "http://" + web.String() + "/http-bind"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			// bob, online before the page starts: the hello is delivered live
			bob := h.start(t, "strophe_peer.py", "--addr", byName(t, env.Addr), "--jid", "bob@localhost/tcp",
				"--password", "pw", "--kind", tc.kind)
			bob.await("online", "")
			page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/strophe.js":
					http.ServeFile(w, r, stropheJS)
				case "/log":
					b, _ := io.ReadAll(r.Body)
					t.Logf("page: %s", b)
				default:
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					fmt.Fprintf(w, stropheClient, tc.kind, tc.service)
				}
			}))
			defer page.Close()

			// not t.TempDir: Chromium's helpers may still write there as they exit
			dir, err := os.MkdirTemp("", "ignis-strophe-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			ctx, cancel := context.WithCancel(context.Background())
			cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
				"--remote-debugging-port=0", "--user-data-dir="+filepath.Join(dir, "profile"), page.URL+"/")
			cmd.Env = append(os.Environ(), "HOME="+dir)
			// its own process group, so that the browser's helpers end with it
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { // drain, so that Chromium never blocks on a full pipe
				s := bufio.NewScanner(stderr)
				for s.Scan() {
				}
			}()
			defer func() {
				cancel()
				_ = cmd.Wait()
			}()

			alice := "alice@localhost/strophe-" + tc.kind
			hello := bob.await("message", "")
			if hello.From != alice || hello.Body != "hello from strophe over "+tc.kind {
				t.Fatalf("bob got %q from %s, want Strophe's hello from %s", hello.Body, hello.From, alice)
			}
			echo := bob.await("message", "")
			if echo.From != alice || echo.Body != "echo: ping "+tc.kind {
				t.Fatalf("bob got %q from %s, want the echo of his ping from %s", echo.Body, echo.From, alice)
			}
			bob.finish()
		})
	}
}
