package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// consoleEnv is a test server with the admin HTTP server on loopback ports.
type consoleEnv struct {
	*servertest.Env
	plain, tls string // base URLs
}

func startConsole(t *testing.T, edit ...func(*server.Config)) *consoleEnv {
	t.Helper()
	return startConsoleLogged(t, nil, edit...)
}

// startConsoleLogged is startConsole with the server's log written to w.
func startConsoleLogged(t *testing.T, w io.Writer, edit ...func(*server.Config)) *consoleEnv {
	t.Helper()
	env := servertest.StartLogged(t, w, append([]func(*server.Config){func(c *server.Config) {
		c.Console.Enabled = true
		c.Console.Address = "127.0.0.1:0"
		c.Console.TLSAddress = "127.0.0.1:0"
		c.Admin.JIDs = []string{"root@localhost"}
	}}, edit...)...)
	addrs := env.Srv.ConsoleAddrs()
	if len(addrs) != 2 {
		t.Fatalf("console addresses %v, want a plain and a TLS one", addrs)
	}
	return &consoleEnv{Env: env, plain: "http://" + addrs[0].String(), tls: "https://" + addrs[1].String()}
}

// httpClient trusts the server's certificate, keeps cookies and does not
// follow redirects (the tests look at them).
func (e *consoleEnv) httpClient(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	tc := e.ClientTLS()
	tc.ServerName = "localhost"
	return &http.Client{Jar: jar, Timeout: 20 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: tc},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, method, u, token string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric reads one sample's value from a Prometheus text exposition.
func metric(t *testing.T, text, name string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no sample %s in the scrape", name)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMetricsScrape: /metrics scraped before and after two logins, a failed
// one and a message shows the counters and gauges moving.
func TestMetricsScrape(t *testing.T) {
	env := startConsole(t, func(c *server.Config) {
		c.TLS.Required = false // ws:// and BOSH over http:// below
		c.SASL.PlainWithoutTLS = true
		c.Web.Enabled = true
		c.Web.HTTP = "127.0.0.1:0"
	})
	env.AddUser("alice", "wonderland")
	env.AddUser("bob", "builder")
	hc := env.httpClient(t)
	code, before := do(t, hc, "GET", env.plain+"/metrics", "", nil)
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, before)
	}
	for _, want := range []string{"go_goroutines", "process_resident_memory_bytes", "ignis_route_duration_seconds_bucket", "ignis_store_commit_duration_seconds_count", "ignis_offline_messages 0"} {
		if !strings.Contains(before, want) {
			t.Errorf("first scrape has no %s", want)
		}
	}
	a := login(t, env.Env, "alice", "wonderland", "", sasl.ScramSha256Plus)
	b := login(t, env.Env, "bob", "builder", "", sasl.ScramSha256)
	if _, err := dialSession(t, env.Env, "bob", "wrong", "", false, sasl.ScramSha256); err == nil {
		t.Fatal("a wrong password logged in")
	}
	a.send(t, message{ID: "m1", To: b.LocalAddr().String(), Type: "chat", Body: "hi"})
	b.expect(t)
	_, after := do(t, hc, "GET", env.plain+"/metrics", "", nil)
	for _, tc := range []struct {
		name string
		diff float64
	}{
		{`ignis_logins_total{mechanism="SCRAM-SHA-256-PLUS",result="ok"}`, 1},
		{`ignis_logins_total{mechanism="SCRAM-SHA-256",result="ok"}`, 1},
		{`ignis_logins_total{mechanism="SCRAM-SHA-256",result="failed"}`, 1},
		{`ignis_stanzas_total{direction="in",kind="message"}`, 1},
		{`ignis_stanzas_total{direction="out",kind="message"}`, 1},
		{`ignis_connections{state="bound",transport="tcp"}`, 2},
		{`ignis_connections{state="bound",transport="websocket"}`, 0},
	} {
		if d := metric(t, after, tc.name) - metric(t, before, tc.name); d != tc.diff {
			t.Errorf("%s moved by %v, want %v", tc.name, d, tc.diff)
		}
	}

	// a WebSocket connection or a BOSH session is counted as one connection
	// of its transport, negotiating and then bound, and no longer once closed
	h, _ := env.Srv.WebAddrs()
	ws := dialWS(t, "ws://"+h.String()+"/xmpp-websocket", nil)
	wsLogin(t, ws, sasl.ScramSha256, "bob", "builder", "web")
	neg := dialWS(t, "ws://"+h.String()+"/xmpp-websocket", nil)
	neg.send(wsOpen)
	neg.expect(wsOpenResp)
	neg.expect(wsFeatures + `.*</stream:features>`)
	bosh := boshLogin(t, h.String(), "alice", "wonderland", "bosh", 1)
	_, mid := do(t, hc, "GET", env.plain+"/metrics", "", nil)
	for name, want := range map[string]float64{
		`ignis_connections{state="bound",transport="websocket"}`:       1,
		`ignis_connections{state="negotiating",transport="websocket"}`: 1,
		`ignis_connections{state="bound",transport="tcp"}`:             2,
		`ignis_connections{state="bound",transport="bosh"}`:            1,
		`ignis_connections{state="negotiating",transport="bosh"}`:      0,
	} {
		if v := metric(t, mid, name); v != want {
			t.Errorf("%s is %v with two TCP sessions, one WebSocket session and one negotiating, want %v", name, v, want)
		}
	}
	neg.c.CloseNow()
	bosh.post(bosh.wrap(" type='terminate'", "<presence xmlns='jabber:client' type='unavailable'/>"))
	ws.send(wsClose)
	ws.expect(regexp.QuoteMeta(wsClose))
	ws.read() // the WebSocket close
	// the server uncounts the connection when its socket is gone, which the
	// client cannot see: wait (bounded) for the scrape to show it
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, text := do(t, hc, "GET", env.plain+"/metrics", "", nil)
		if metric(t, text, `ignis_connections{state="bound",transport="websocket"}`) == 0 &&
			metric(t, text, `ignis_connections{state="negotiating",transport="websocket"}`) == 0 &&
			metric(t, text, `ignis_connections{state="bound",transport="bosh"}`) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the closed WebSocket connections or the terminated BOSH session are still counted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if metric(t, after, "ignis_store_commit_duration_seconds_count") < 1 || metric(t, after, "ignis_memory_per_session_bytes") <= 0 {
		t.Errorf("no commit timed or no memory per session:\n%s", after)
	}
}

// TestMetricsToken: with metrics_open off, /metrics wants a token even
// from this machine.
func TestMetricsToken(t *testing.T) {
	env := startConsole(t, func(c *server.Config) { c.Console.MetricsOpen = false })
	secret, _, err := server.CreateToken(env.Cfg.Data, "prometheus")
	if err != nil {
		t.Fatal(err)
	}
	hc := env.httpClient(t)
	if code, _ := do(t, hc, "GET", env.plain+"/metrics", "", nil); code != 401 {
		t.Errorf("/metrics without a token: %d, want 401", code)
	}
	if code, _ := do(t, hc, "GET", env.tls+"/metrics", secret, nil); code != 200 {
		t.Errorf("/metrics with a token over TLS: %d, want 200", code)
	}
}

// TestRESTAPI: every operation with a token, none without; deleting an
// account ends its session, and an announcement reaches everyone online.
func TestRESTAPI(t *testing.T) {
	env := startConsole(t)
	secret, line, err := server.CreateToken(env.Cfg.Data, "ops")
	if err != nil {
		t.Fatal(err)
	}
	// a token in the config works too
	cfgEnv := startConsole(t, func(c *server.Config) { c.Console.Tokens = []string{strings.Replace(line, "ops", "cfg", 1)} })
	hc := env.httpClient(t)
	for _, tok := range []string{"", "ignis_wrong", secret + "x"} {
		if code, body := do(t, hc, "GET", env.tls+"/api/sessions", tok, nil); code != 401 || strings.Contains(body, "sessions") {
			t.Errorf("token %q: %d %q, want 401", tok, code, body)
		}
	}
	if code, _ := do(t, cfgEnv.httpClient(t), "GET", cfgEnv.tls+"/api/stats", secret, nil); code != 200 {
		t.Errorf("config token: %d, want 200", code)
	}
	steps := []struct {
		method, path string
		body         any
		code         int
		want         string
	}{
		{"POST", "/api/accounts", map[string]string{"user": "carol", "password": "pw1"}, 200, `"done":1`},
		{"POST", "/api/accounts", map[string]string{"user": "carol@localhost", "password": "pw1"}, 409, "already exists"},
		{"POST", "/api/accounts", map[string]string{"user": "dave", "password": "pw2"}, 200, `"done":1`},
		{"POST", "/api/accounts", map[string]string{"nope": "x"}, 400, "not the JSON object"},
		{"GET", "/api/accounts", nil, 200, `"users":["carol","dave"]`},
		{"PUT", "/api/accounts/dave/password", map[string]string{"password": "pw3"}, 200, "{}"},
		{"PUT", "/api/accounts/erin/password", map[string]string{"password": "pw3"}, 404, "does not exist"},
		{"POST", "/api/groups", map[string]string{"group": "staff", "display": "Staff"}, 200, "{}"},
		{"PUT", "/api/groups/staff/members/carol", nil, 200, "{}"},
		{"PUT", "/api/groups/staff/members/erin", nil, 404, "no account"},
		{"GET", "/api/groups", nil, 200, `"Members":["carol"]`},
		{"DELETE", "/api/groups/staff/members/carol", nil, 200, "{}"},
		{"DELETE", "/api/groups/staff", nil, 200, "{}"},
		{"GET", "/api/stats", nil, 200, `"sessions":0`},
	}
	for _, s := range steps {
		code, body := do(t, hc, s.method, env.tls+s.path, secret, s.body)
		if code != s.code || !strings.Contains(body, s.want) {
			t.Errorf("%s %s: %d %s, want %d with %s", s.method, s.path, code, body, s.code, s.want)
		}
	}

	carol := rawLogin(t, env.Env, "carol", "pw1", "phone")
	dave := rawLogin(t, env.Env, "dave", "pw3", "desk")
	if code, body := do(t, hc, "GET", env.tls+"/api/sessions", secret, nil); code != 200 || !strings.Contains(body, `"jid":"carol@localhost/phone"`) || !strings.Contains(body, `"transport":"tcp"`) {
		t.Errorf("sessions: %d %s", code, body)
	}
	if code, body := do(t, hc, "POST", env.tls+"/api/announce", secret, map[string]string{"message": "maintenance at 22:00"}); code != 200 || !strings.Contains(body, `"done":2`) {
		t.Errorf("announce: %d %s", code, body)
	}
	if got := readUntil(t, carol, "</message>"); !strings.Contains(got, "type='headline'") && !strings.Contains(got, `type="headline"`) || !strings.Contains(got, "maintenance at 22:00") {
		t.Errorf("carol got %q, want the headline", got)
	}
	if code, body := do(t, hc, "DELETE", env.tls+"/api/sessions/dave@localhost/desk", secret, nil); code != 200 || !strings.Contains(body, `"done":1`) {
		t.Errorf("kick dave: %d %s", code, body)
	}
	if got := readAll(t, dave); !strings.Contains(got, "<policy-violation") {
		t.Errorf("dave's stream got %q, want <policy-violation/>", got)
	}
	if code, body := do(t, hc, "DELETE", env.tls+"/api/accounts/carol", secret, nil); code != 200 {
		t.Errorf("delete carol: %d %s", code, body)
	}
	if got := readAll(t, carol); !strings.Contains(got, "</stream:stream>") {
		t.Errorf("carol's stream after her account was deleted: %q, want its end", got)
	}
}

// rawHTTP sends request as written (no client cleans the path) and returns
// the status code.
func rawHTTP(t *testing.T, addr, request string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, request)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", request, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestConsolePathTricks: paths that are not clean as sent, or hide dots
// and slashes in escapes (CVE-2023-32315's /setup/setup-s/%u002e%u002e/),
// are refused before the sign-in check, never served.
func TestConsolePathTricks(t *testing.T) {
	env := startConsole(t, func(c *server.Config) { c.Console.BenchReports = t.TempDir() })
	addr := strings.TrimPrefix(env.plain, "http://")
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/setup/setup-s/%u002e%u002e/%u002e%u002e/sessions", 400},
		{"/login/%2e%2e/sessions", 400},
		{"/login/%2E%2E/api/stats", 400},
		{"/login/..%2fsessions", 400},
		{"/login/../sessions", 400},
		{"/./sessions", 400},
		{"//sessions", 400},
		{"/login%5c..%5csessions", 400},
		{"/bench/..%2f..%2fcert.pem", 400},
		{"/sessions", 303},     // to the sign-in page
		{"/api/sessions", 401}, // a token is needed
		{"/login", 200},
	} {
		if code := rawHTTP(t, addr, "GET "+tc.path+" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); code != tc.code {
			t.Errorf("GET %s: %d, want %d", tc.path, code, tc.code)
		}
	}
}

// csrfField finds a form's CSRF token in a page.
var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// consoleSignIn signs in through the form and returns the session's CSRF token.
func consoleSignIn(t *testing.T, hc *http.Client, base, user, pass string) (status int, csrf string) {
	t.Helper()
	_, page := do(t, hc, "GET", base+"/login", "", nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the sign-in page: %s", page)
	}
	resp, err := hc.PostForm(base+"/login", url.Values{"csrf": {m[1]}, "user": {user}, "password": {pass}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return resp.StatusCode, ""
	}
	_, page = do(t, hc, "GET", base+"/sessions", "", nil)
	if m = csrfField.FindStringSubmatch(page); m == nil {
		t.Fatalf("signed in, but no CSRF token in the sessions page: %s", page)
	}
	return resp.StatusCode, m[1]
}

// TestConsoleForms: sign-in needs an admin's right password (failures are
// counted), forms need the session's CSRF token, and the cookie is
// HttpOnly, SameSite=Strict and Secure over TLS.
func TestConsoleForms(t *testing.T) {
	reports := t.TempDir()
	for name, body := range map[string]string{"chat.json": `{"scenario":"chat"}`, "chat.html": "<h1>chat</h1><script>x()</script>", ".hidden.json": "{}", "notes.txt": "x"} {
		if err := os.WriteFile(filepath.Join(reports, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := startConsole(t, func(c *server.Config) { c.Console.BenchReports = reports })
	env.AddUser("root", "rootpw")
	env.AddUser("alice", "wonderland")
	hc := env.httpClient(t)
	if code, _ := consoleSignIn(t, hc, env.tls, "alice", "wonderland"); code != 401 {
		t.Errorf("a non-admin signed in: %d", code)
	}
	if code, _ := consoleSignIn(t, hc, env.tls, "root", "wrong"); code != 401 {
		t.Errorf("a wrong password signed in: %d", code)
	}
	_, m := do(t, hc, "GET", env.plain+"/metrics", "", nil)
	if v := metric(t, m, `ignis_logins_total{mechanism="console",result="failed"}`); v != 2 {
		t.Errorf("console sign-in failures counted %v, want 2", v)
	}
	// a forged sign-in form (no CSRF cookie) is refused
	if resp, err := (&http.Client{Transport: hc.Transport}).PostForm(env.tls+"/login", url.Values{"csrf": {"00"}, "user": {"root"}, "password": {"rootpw"}}); err != nil || resp.StatusCode != 403 {
		t.Errorf("sign-in without the form's CSRF cookie: %v %v, want 403", resp.StatusCode, err)
	}
	if code, _ := consoleSignIn(t, hc, env.tls, "root@localhost", "rootpw"); code != http.StatusSeeOther {
		t.Fatalf("root's sign-in: %d", code)
	}
	// the jar hides the cookie's attributes: read a sign-in's Set-Cookie
	_, page := do(t, hc, "GET", env.tls+"/login", "", nil)
	lm := csrfField.FindStringSubmatch(page)
	resp, err := hc.PostForm(env.tls+"/login", url.Values{"csrf": {lm[1]}, "user": {"root"}, "password": {"rootpw"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
	for _, want := range []string{"ignis_console=", "HttpOnly", "Secure", "SameSite=Strict", "Max-Age=1800"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %s", sc, want)
		}
	}
	_, csrf := consoleSignIn(t, hc, env.tls, "root", "rootpw")

	post := func(path string, v url.Values) int {
		resp, err := hc.PostForm(env.tls+path, v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// bench reports: listed and served from the folder only, HTML sandboxed
	if _, page := do(t, hc, "GET", env.tls+"/bench", "", nil); !strings.Contains(page, `href="/bench/chat.json"`) || !strings.Contains(page, `href="/bench/chat.html"`) || strings.Contains(page, ".hidden.json") || strings.Contains(page, "notes.txt") {
		t.Errorf("bench list:\n%s", page)
	}
	if code, body := do(t, hc, "GET", env.tls+"/bench/chat.json", "", nil); code != 200 || body != `{"scenario":"chat"}` {
		t.Errorf("bench report: %d %q", code, body)
	}
	if resp, err := hc.Get(env.tls + "/bench/chat.html"); err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("HTML report not served sandboxed: %v %+v", err, resp)
	} else {
		resp.Body.Close()
	}
	for _, name := range []string{".hidden.json", "notes.txt", "missing.json"} {
		if code, _ := do(t, hc, "GET", env.tls+"/bench/"+name, "", nil); code != 404 {
			t.Errorf("bench %s: %d, want 404", name, code)
		}
	}
	if code := post("/accounts/add", url.Values{"csrf": {"bad"}, "user": {"mallory"}, "password": {"x"}}); code != 403 {
		t.Errorf("add with a bad CSRF token: %d, want 403", code)
	}
	if code := post("/accounts/add", url.Values{"user": {"mallory"}, "password": {"x"}}); code != 403 {
		t.Errorf("add without a CSRF token: %d, want 403", code)
	}
	if _, err := env.Srv.DB().Accounts().Get("mallory"); err == nil {
		t.Fatal("an account was added without a valid CSRF token")
	}
	if code := post("/accounts/add", url.Values{"csrf": {csrf}, "user": {"frank"}, "password": {"fpw"}}); code != 303 {
		t.Errorf("add frank: %d", code)
	}
	if _, err := env.Srv.DB().Accounts().Get("frank"); err != nil {
		t.Errorf("frank was not added: %v", err)
	}
	phone := rawLogin(t, env.Env, "alice", "wonderland", "phone")
	if _, page := do(t, hc, "GET", env.tls+"/sessions", "", nil); !strings.Contains(page, "alice@localhost") || !strings.Contains(page, ">phone<") {
		t.Errorf("sessions page does not show alice/phone:\n%s", page)
	}
	if code := post("/sessions/announce", url.Values{"csrf": {csrf}, "message": {"console says hi"}}); code != 303 {
		t.Errorf("announce: %d", code)
	}
	if got := readUntil(t, phone, "</message>"); !strings.Contains(got, "console says hi") {
		t.Errorf("alice got %q, want the announcement", got)
	}
	if code := post("/sessions/kick", url.Values{"csrf": {csrf}, "jid": {"alice@localhost/phone"}}); code != 303 {
		t.Errorf("kick: %d", code)
	}
	if got := readAll(t, phone); !strings.Contains(got, "<policy-violation") {
		t.Errorf("alice's stream got %q", got)
	}
	if code := post("/logout", url.Values{"csrf": {csrf}}); code != 303 {
		t.Errorf("logout: %d", code)
	}
	if resp, _ := hc.Get(env.tls + "/accounts"); resp.StatusCode != 303 {
		t.Errorf("after sign-out /accounts: %d, want a redirect to sign in", resp.StatusCode)
	}
}

// TestRESTTokenBan: wrong tokens count against the address like failed
// logins; past the limit even the right token is refused for a while.
func TestRESTTokenBan(t *testing.T) {
	logs := newLogSink()
	env := startConsoleLogged(t, logs, func(c *server.Config) {
		c.Limits.ExemptLoopback = false
		c.Limits.AuthFailuresPerIP = 3
	})
	secret, _, err := server.CreateToken(env.Cfg.Data, "ops")
	if err != nil {
		t.Fatal(err)
	}
	hc := env.httpClient(t)
	if code, _ := do(t, hc, "GET", env.tls+"/api/stats", secret, nil); code != 200 {
		t.Fatalf("the right token: %d", code)
	}
	for range 3 {
		do(t, hc, "GET", env.tls+"/api/stats", "ignis_guess", nil)
	}
	if code, _ := do(t, hc, "GET", env.tls+"/api/stats", secret, nil); code != 401 {
		t.Errorf("the right token from a banned address: %d, want 401", code)
	}
	// the lines README's fail2ban filter matches
	logs.wait(t, `level=WARN msg="login failed" ip=127.0.0.1 user="" mech=bearer`)
	logs.wait(t, `level=WARN msg="address banned" ip=127.0.0.1 for=`)
}
