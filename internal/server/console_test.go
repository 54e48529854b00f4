package server

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// TestCleanRequestPath: only paths clean as sent pass the console's gate.
func TestCleanRequestPath(t *testing.T) {
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"/", true},
		{"/sessions", true},
		{"/api/accounts/j%C3%BCrgen", true}, // an escaped letter is fine
		{"/api/sessions/alice@localhost/phone", true},
		{"/metrics?x=%2e%2e", true}, // the query is not the path
		{"/setup/setup-s/%u002e%u002e/", false},
		{"/login/%2e%2e/sessions", false},
		{"/login/%2E%2E/sessions", false},
		{"/login/..%2fsessions", false},
		{"/login%5csessions", false},
		{"/login/%00", false},
		{"/login/../sessions", false},
		{"/./sessions", false},
		{"//sessions", false},
		{"/sessions/.", false},
	} {
		u, err := url.ParseRequestURI(tc.uri)
		if err != nil {
			if tc.ok {
				t.Errorf("%s: %v", tc.uri, err)
			}
			continue
		}
		r := &http.Request{Method: "GET", URL: u, RequestURI: tc.uri}
		if got := cleanRequestPath(r); got != tc.ok {
			t.Errorf("%s: clean = %v, want %v", tc.uri, got, tc.ok)
		}
	}
}

// TestTokens: a config token is name:sha256-hex, and only its secret matches.
func TestTokens(t *testing.T) {
	dir := t.TempDir()
	secret, line, err := CreateToken(dir, "ci")
	if err != nil {
		t.Fatal(err)
	}
	fromCfg, err := parseTokens([]string{line})
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := readTokens(dir)
	if err != nil || len(fromFile) != 1 {
		t.Fatalf("token file: %v %d", err, len(fromFile))
	}
	for _, list := range [][]apiToken{fromCfg, fromFile} {
		if name, ok := matchToken(list, secret); !ok || name != "ci" {
			t.Errorf("the secret matched %q %v", name, ok)
		}
		if _, ok := matchToken(list, secret[:len(secret)-1]); ok {
			t.Error("a prefix of the secret matched")
		}
	}
	for _, bad := range []string{"ci", "ci:zz", "a b:" + line[3:], ":" + line[3:]} {
		if _, err := parseTokens([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestPlainPortLoopbackOnly: the plain port answers other machines with
// 403 before anything else; over TLS they reach the sign-in check.
func TestPlainPortLoopbackOnly(t *testing.T) {
	c := &console{}
	for _, tc := range []struct {
		remote, host string
		tls          bool
		code         int
	}{
		{"192.0.2.7:40000", "localhost", false, http.StatusForbidden},
		{"[2001:db8::1]:40000", "localhost", false, http.StatusForbidden},
		{"192.0.2.7:40000", "xmpp.example.org", true, http.StatusSeeOther},
		{"127.0.0.1:40000", "localhost:9090", false, http.StatusSeeOther},
		{"127.0.0.1:40000", "127.0.0.1:9090", false, http.StatusSeeOther},
		{"[::1]:40000", "[::1]:9090", false, http.StatusSeeOther},
		{"127.0.0.1:40000", "evil.example:9090", false, http.StatusForbidden}, // DNS rebinding
	} {
		r := httptest.NewRequest("GET", "/sessions", nil)
		r.RemoteAddr, r.Host = tc.remote, tc.host
		if !tc.tls {
			r.TLS = nil
		} else if r.TLS == nil {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		if w.Code != tc.code {
			t.Errorf("%s (tls %v): %d, want %d", tc.remote, tc.tls, w.Code, tc.code)
		}
	}
}

// TestConsoleSessionExpiry: a sign-in unused for session_ttl is gone, and
// its cookie no longer opens anything.
func TestConsoleSessionExpiry(t *testing.T) {
	s := &Server{cfg: DefaultConfig()}
	c := &console{s: s, sessions: map[string]*webSession{
		"fresh": {user: "root@localhost", csrf: "x", expires: time.Now().Add(time.Minute)},
		"stale": {user: "root@localhost", csrf: "y", expires: time.Now().Add(-time.Second)},
	}}
	for id, want := range map[string]bool{"fresh": true, "stale": false, "unknown": false} {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: id})
		if got := c.session(r) != nil; got != want {
			t.Errorf("session %q live = %v, want %v", id, got, want)
		}
	}
	if _, ok := c.sessions["stale"]; ok {
		t.Error("the expired sign-in was kept")
	}
	if ws := c.sessions["fresh"]; time.Until(ws.expires) < 29*time.Minute {
		t.Errorf("a used sign-in was not extended to session_ttl: %v left", time.Until(ws.expires))
	}
}
