//go:build interop

package interop

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
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

// tcpUser is a minimal XMPP client over TCP for the other side.
type tcpUser struct {
	t   *testing.T
	c   net.Conn
	buf []byte
}

func (u *tcpUser) send(s string) {
	if _, err := io.WriteString(u.c, s); err != nil {
		u.t.Fatal(err)
	}
}

// expect reads until want arrives and returns what came up to it.
func (u *tcpUser) expect(want string, d time.Duration) string {
	u.t.Helper()
	_ = u.c.SetReadDeadline(time.Now().Add(d))
	chunk := make([]byte, 4096)
	for {
		if i := strings.Index(string(u.buf), want); i >= 0 {
			got := string(u.buf[:i+len(want)])
			u.buf = u.buf[i+len(want):]
			return got
		}
		n, err := u.c.Read(chunk)
		u.buf = append(u.buf, chunk[:n]...)
		if err != nil {
			u.t.Fatalf("waiting for %q: %v (got %q)", want, err, u.buf)
		}
	}
}

func tcpLogin(t *testing.T, addr, user, pass, resource string) *tcpUser {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	u := &tcpUser{t: t, c: c}
	const hdr = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"
	u.send(hdr)
	u.expect("</stream:features>", 10*time.Second)
	u.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)) + "</auth>")
	u.expect("<success", 10*time.Second)
	u.send(hdr)
	u.expect("</stream:features>", 10*time.Second)
	u.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource + "</resource></bind></iq>")
	u.expect("</iq>", 10*time.Second)
	return u
}

// chromium finds Debian's headless browser; in CI it must be there.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "" {
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	t.Fatal("chromium not installed; .ci/run installs it")
	return ""
}

// TestInteropStrophe: a browser client we did not write, Strophe.js in
// headless Chromium, served from another origin (so CORS is exercised),
// logs in over WebSocket and over BOSH and exchanges messages with a TCP
// user: its hello arrives, and what the TCP user says comes back echoed.
func TestInteropStrophe(t *testing.T) {
	bin := chromium(t)
	if _, err := os.Stat(stropheJS); err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("libjs-strophe not installed (apt-get install libjs-strophe)")
		}
		t.Fatal("libjs-strophe not installed; .ci/run installs it")
	}
	env := servertest.Start(t, func(c *server.Config) {
		c.Web.Enabled = true
		c.Web.HTTP = "127.0.0.1:0"
		c.Web.HTTPS = "off"
		c.SASL.PlainWithoutTLS = true
	})
	env.AddUser("alice", "wonderland")
	env.AddUser("bob", "pw")
	web, _ := env.Srv.WebAddrs()

	for _, tc := range []struct{ kind, service string }{
		{"websocket", "ws://" + web.String() + "/xmpp-websocket"},
		{"bosh", "http://" + web.String() + "/http-bind"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			bob := tcpLogin(t, env.Addr, "bob", "pw", "tcp")
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

			got := bob.expect("hello from strophe over "+tc.kind+"</body>", 45*time.Second)
			if !strings.Contains(got, "from='alice@localhost/strophe-"+tc.kind+"'") {
				t.Fatalf("bob got %q", got)
			}
			bob.send("<message to='alice@localhost/strophe-" + tc.kind + "' type='chat' id='q1'><body>ping " + tc.kind + "</body></message>")
			bob.expect("echo: ping "+tc.kind+"</body>", 30*time.Second)
		})
	}
}
