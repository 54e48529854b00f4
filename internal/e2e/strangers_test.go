package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// logSink collects the server's log lines; a test waits for the one it
// expects.
type logSink struct {
	mu    sync.Mutex
	lines []string
	part  []byte
	grew  chan struct{} // closed (and replaced) when a line arrives
}

func newLogSink() *logSink { return &logSink{grew: make(chan struct{})} }

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.part[:i]))
		l.part = l.part[i+1:]
	}
	close(l.grew)
	l.grew = make(chan struct{})
	return len(p), nil
}

// wait returns the first line containing every one of parts.
func (l *logSink) wait(t *testing.T, parts ...string) string {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		l.mu.Lock()
		for _, line := range l.lines {
			if containsAll([]string{line}, parts...) {
				l.mu.Unlock()
				return line
			}
		}
		grew := l.grew
		l.mu.Unlock()
		select {
		case <-grew:
		case <-timeout:
			t.Fatalf("no log line with %q; got:\n%s", parts, strings.Join(l.lines, "\n"))
		}
	}
}

// dialFrom connects to the STARTTLS listener from a given loopback address
// (all of 127.0.0.0/8 is local on Linux): a client on another address.
func dialFrom(t *testing.T, env *servertest.Env, local string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", env.Addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", local, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// opened sends the stream header and waits for the features.
func opened(t *testing.T, c net.Conn) net.Conn {
	t.Helper()
	io.WriteString(c, header)
	readUntil(t, c, "</stream:features>")
	return c
}

func plainAuth(user, pass string) string {
	return "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)) + "</auth>"
}

// refused checks what a client refused with a stream error sees: a header,
// the error with its condition and text, the end of the stream.
func refused(t *testing.T, got, cond, text string) {
	t.Helper()
	if !strings.HasPrefix(got, "<?xml version='1.0'?><stream:stream ") || !strings.Contains(got, streamErr(cond)) ||
		!strings.Contains(got, text) || !strings.HasSuffix(got, "</stream:stream>") {
		t.Fatalf("got %q\nwant a header, a <%s/> stream error saying %q, and the stream's end", got, cond, text)
	}
}

// TestNegotiationDeadline: the time from accept to binding is one deadline;
// a client trickling bytes (white space, or an element a byte at a time)
// does not extend it and gets <connection-timeout/> when it passes.
func TestNegotiationDeadline(t *testing.T) {
	const deadline = time.Second
	env := servertest.Start(t, func(c *server.Config) { c.Limits.PreAuthIdle = server.Duration{Duration: deadline} })
	for _, tc := range []struct{ name, first, drip string }{
		{"white-space-after-header", header, " "},
		{"element-a-byte-at-a-time", header + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>", "A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := env.Dial()
			start := time.Now()
			io.WriteString(c, tc.first)
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				tick := time.NewTicker(deadline / 5)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := io.WriteString(c, tc.drip); err != nil {
							return
						}
					}
				}
			}()
			got := readUntil(t, c, "</stream:stream>")
			if !strings.Contains(got, streamErr("connection-timeout")) {
				t.Fatalf("got %q, want <connection-timeout/>", got)
			}
			if took := time.Since(start); took > 3*deadline {
				t.Fatalf("closed after %v; the deadline is %v from accept", took, deadline)
			}
		})
	}
}

// TestPreAuthStanzaLimit: before authentication an element may be 10 KiB
// (default); larger ones, finished or not, end the stream with
// <policy-violation/>. After authentication the full limit applies.
func TestPreAuthStanzaLimit(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw")
	big := strings.Repeat("A", 11000)
	for _, tc := range []struct{ name, send string }{
		{"finished", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + big + "</auth>"},
		{"unfinished", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + big},
		{"registration", "<iq type='set' id='r1'><query xmlns='jabber:iq:register'><username>" + big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := opened(t, env.Dial())
			io.WriteString(c, tc.send)
			got := readUntil(t, c, "</stream:stream>")
			if !strings.Contains(got, streamErr("policy-violation")) {
				t.Fatalf("got %q, want <policy-violation/>", got)
			}
		})
	}
	t.Run("authenticated-full-limit", func(t *testing.T) {
		c := rawLogin(t, env, "alice", "pw", "r")
		body := strings.Repeat("b", 20000)
		io.WriteString(c, "<message to='alice@localhost/r' id='m1'><body>"+body+"</body></message>")
		readUntil(t, c, body+"</body></message>")
	})
}

// TestPreAuthMemoryCap: the input all unauthenticated streams buffer is
// capped server-wide; the streams that would pass it get
// <resource-constraint/>, the others keep negotiating, and everything held
// is released when they end.
func TestPreAuthMemoryCap(t *testing.T) {
	const conns = 40 // each buffers ~9 KB in a 32 KiB slab: 40 of them pass 1 MiB
	env := servertest.Start(t, func(c *server.Config) {
		c.Limits.MaxPreAuthBytes = 1 << 20
		c.Limits.PreAuthIdle = server.Duration{Duration: 2 * time.Second}
	})
	env.AddUser("alice", "pw")
	partial := header + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + strings.Repeat("A", 9000)
	cs := make([]net.Conn, conns)
	for i := range cs {
		cs[i] = env.Dial()
		io.WriteString(cs[i], partial)
	}
	var constrained, timedOut int
	for _, c := range cs {
		got := readUntil(t, c, "</stream:stream>")
		switch {
		case strings.Contains(got, streamErr("resource-constraint")):
			constrained++
		case strings.Contains(got, streamErr("connection-timeout")):
			timedOut++
		default:
			t.Fatalf("got %q, want <resource-constraint/> or <connection-timeout/>", got)
		}
	}
	if constrained == 0 || timedOut > 32 {
		t.Fatalf("%d streams refused, %d held their input to the deadline: 1 MiB holds 32 at most", constrained, timedOut)
	}
	if n := env.Srv.Guard().PreAuthBytes(); n != 0 {
		t.Fatalf("%d bytes still counted after every stranger left", n)
	}
	rawLogin(t, env, "alice", "pw", "after") // the server serves again
}

// TestPerIPLimits: connections from one address past the concurrent cap or
// the rate are refused at accept with <policy-violation/> and logged; other
// addresses are not affected; loopback is exempt by default.
func TestPerIPLimits(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		edit         func(*server.Config)
	}{
		{"concurrent", "too many connections from this address", func(c *server.Config) {
			c.Limits.MaxConnsPerIP = 2
			c.Limits.ConnBurstPerIP = 100
		}},
		{"rate", "connecting too fast from this address", func(c *server.Config) {
			c.Limits.ConnBurstPerIP = 2
			c.Limits.ConnRatePerIP = 0.01
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogSink()
			env := servertest.StartLogged(t, logs, tc.edit, func(c *server.Config) { c.Limits.ExemptLoopback = false })
			opened(t, env.Dial())
			opened(t, env.Dial())
			c := env.Dial()
			io.WriteString(c, header)
			refused(t, readUntil(t, c, "</stream:stream>"), "policy-violation", tc.reason)
			logs.wait(t, `level=WARN msg="connection refused" ip=127.0.0.1 reason="`+tc.reason+`"`)
			opened(t, dialFrom(t, env, "127.0.0.2"))
			// on the direct TLS port a refusal is a close before the
			// handshake: no plaintext where the client expects TLS
			if _, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", env.TLSAddr, env.ClientTLS()); err == nil || strings.Contains(err.Error(), "first record") {
				t.Fatalf("direct TLS past the limit: %v, want the connection closed", err)
			}
		})
	}
	t.Run("loopback-exempt", func(t *testing.T) {
		env := servertest.Start(t, func(c *server.Config) {
			c.Limits.MaxConnsPerIP = 1
			c.Limits.ConnBurstPerIP = 1
		})
		for range 5 {
			opened(t, env.Dial())
		}
	})
}

// TestFailedLogins: each failed login is logged at WARN with the address and
// the name tried, in the line README's fail2ban filter matches; past the
// per-address limit the address is banned (its stream ends, its new
// connections are refused), while the account still logs in from elsewhere.
// Logins and logouts are logged at INFO.
func TestFailedLogins(t *testing.T) {
	logs := newLogSink()
	env := servertest.StartLogged(t, logs, func(c *server.Config) {
		c.LogLevel = "info"
		c.SASL.PlainWithoutTLS = true
		c.Limits.ExemptLoopback = false
		c.Limits.AuthFailuresPerIP = 3
		c.Limits.AuthAttempts = 10
	})
	env.AddUser("alice", "pw")
	c := opened(t, env.Dial())
	for range 2 {
		io.WriteString(c, plainAuth("alice", "guess"))
		readUntil(t, c, "<not-authorized/></failure>")
	}
	line := logs.wait(t, `level=WARN msg="login failed" ip=127.0.0.1 user=alice mech=PLAIN`)
	if ip := fail2banHost(t, line); ip != "127.0.0.1" {
		t.Fatalf("README's fail2ban filter found %q in %q", ip, line)
	}
	io.WriteString(c, plainAuth("alice", "guess"))
	got := readUntil(t, c, "</stream:stream>")
	if !strings.Contains(got, "<not-authorized/></failure>"+streamErr("policy-violation")) || !strings.Contains(got, "too many failed logins from this address") {
		t.Fatalf("the failure that reaches the limit: got %q, want <not-authorized/> then a <policy-violation/> stream error", got)
	}
	logs.wait(t, `level=WARN msg="address banned" ip=127.0.0.1`)

	c = env.Dial()
	io.WriteString(c, header)
	refused(t, readUntil(t, c, "</stream:stream>"), "policy-violation", "too many failed logins from this address")

	// the account is not locked: alice logs in from another address
	c = opened(t, dialFrom(t, env, "127.0.0.2"))
	io.WriteString(c, plainAuth("alice", "pw"))
	readUntil(t, c, "<success")
	opened(t, c)
	io.WriteString(c, "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>")
	readUntil(t, c, "</iq>")
	logs.wait(t, `level=INFO msg=login ip=127.0.0.2 jid=alice@localhost/r`)
	io.WriteString(c, "</stream:stream>")
	readUntil(t, c, "</stream:stream>")
	logs.wait(t, `level=INFO msg=logout ip=127.0.0.2 jid=alice@localhost/r`)
}

// TestFailedLoginJSON: with log_format json the same line is one JSON
// object with the same fields, and README's filter matches it too.
func TestFailedLoginJSON(t *testing.T) {
	logs := newLogSink()
	env := servertest.StartLogged(t, logs, func(c *server.Config) {
		c.LogFormat = "json"
		c.SASL.PlainWithoutTLS = true
	})
	c := opened(t, env.Dial())
	io.WriteString(c, plainAuth("mallory", "x"))
	readUntil(t, c, "<not-authorized/></failure>")
	line := logs.wait(t, `"msg":"login failed"`)
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("not JSON: %q: %v", line, err)
	}
	if rec["level"] != "WARN" || rec["ip"] != "127.0.0.1" || rec["user"] != "mallory" || rec["mech"] != "PLAIN" {
		t.Fatalf("fields: %v", rec)
	}
	if ip := fail2banHost(t, line); ip != "127.0.0.1" {
		t.Fatalf("README's fail2ban filter found %q in %q", ip, line)
	}
}

// fail2banHost applies README's fail2ban failregex lines to a log line, as
// fail2ban would with <HOST> standing for an address, and returns the host.
func fail2banHost(t *testing.T, line string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "failregex =")
	if !ok {
		t.Fatal("README.md has no fail2ban failregex")
	}
	block, _, _ := strings.Cut(rest, "```")
	for _, l := range strings.Split(block, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "[") || strings.Contains(l, "=") && !strings.Contains(l, "<HOST>") {
			continue
		}
		re, err := regexp.Compile(strings.ReplaceAll(l, "<HOST>", `([0-9A-Fa-f.:]+)`))
		if err != nil {
			t.Fatalf("README's failregex %q: %v", l, err)
		}
		if m := re.FindStringSubmatch(line); m != nil {
			return m[1]
		}
	}
	return ""
}

// TestSessionCap: an account binds at most [session] max_per_user resources;
// the bind past it gets <resource-constraint/> (RFC 6120 §7.6.2.2), and
// taking over a bound resource does not count as one more.
func TestSessionCap(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Session.MaxPerUser = 2 })
	env.AddUser("alice", "pw")
	rawLogin(t, env, "alice", "pw", "a")
	rawLogin(t, env, "alice", "pw", "b")
	bind := func(res string) string {
		c := env.DialTLS()
		io.WriteString(c, header)
		readUntil(t, c, "</stream:features>")
		io.WriteString(c, plainAuth("alice", "pw"))
		readUntil(t, c, "<success")
		io.WriteString(c, header)
		readUntil(t, c, "</stream:features>")
		io.WriteString(c, "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>"+res+"</resource></bind></iq>")
		return readUntil(t, c, "</iq>")
	}
	if got := bind("c"); !strings.Contains(got, "type='error'") || !strings.Contains(got, "<resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>") {
		t.Fatalf("third bind: got %q, want a <resource-constraint/> error", got)
	}
	if got := bind("a"); !strings.Contains(got, "<jid>alice@localhost/a</jid>") {
		t.Fatalf("taking over a bound resource: got %q", got)
	}
}
