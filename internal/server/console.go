package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// console is the admin HTTP server (net/http: a handful of administrators
// need no event loop): the web console, the REST API and /metrics, on a
// plain port for this machine only and a TLS port with the server's
// certificate.
type console struct {
	s       *Server
	log     *slog.Logger
	tokens  []apiToken // from the config; the data folder's file is read per request
	mux     *http.ServeMux
	servers []*http.Server
	lns     []net.Listener
	wg      sync.WaitGroup

	mu       sync.Mutex
	sessions map[string]*webSession // by cookie value

	samples sampler
	stop    chan struct{}
}

// webSession is one administrator signed in to the console.
type webSession struct {
	user    string // bare JID
	csrf    string // the token every form of this sign-in carries
	expires time.Time
}

const (
	sessionCookie = "ignis_console"
	loginCookie   = "ignis_login" // the sign-in form's CSRF token, before there is a session
)

func newConsole(s *Server) (*console, error) {
	tokens, err := parseTokens(s.cfg.Console.Tokens)
	if err != nil {
		return nil, err
	}
	c := &console{s: s, log: s.log.With("component", "console"), tokens: tokens,
		sessions: map[string]*webSession{}, stop: make(chan struct{})}
	c.mux = http.NewServeMux()
	c.mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry(), promhttp.HandlerOpts{}))
	c.routesAPI()
	c.routesWeb()
	return c, nil
}

// listen binds the configured ports and serves them.
func (c *console) listen(cert tls.Certificate) error {
	cfg := c.s.cfg.Console
	for _, a := range []struct {
		addr string
		tls  bool
	}{{cfg.Address, false}, {cfg.TLSAddress, true}} {
		if a.addr == "" || a.addr == "off" {
			continue
		}
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			c.close(context.Background())
			return fmt.Errorf("console: %w", err)
		}
		if a.tls {
			ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		}
		srv := &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
			ErrorLog: slog.NewLogLogger(c.log.Handler(), slog.LevelDebug)}
		c.servers = append(c.servers, srv)
		c.lns = append(c.lns, ln)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			_ = srv.Serve(ln)
		}()
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.samples.run(c.s, c.stop)
	}()
	return nil
}

// addrs returns the bound addresses: plain first, then TLS (those on).
func (c *console) addrs() []net.Addr {
	out := make([]net.Addr, len(c.lns))
	for i, ln := range c.lns {
		out[i] = ln.Addr()
	}
	return out
}

func (c *console) close(ctx context.Context) {
	for _, srv := range c.servers {
		_ = srv.Shutdown(ctx)
	}
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.wg.Wait()
}

// ServeHTTP is the gate every request passes first: the path is judged as
// the router will see it, and who may see it is decided on that cleaned
// path. A path that is not already clean, or hides a dot or a slash in an
// escape (Openfire's CVE-2023-32315: /setup/setup-s/%u002e%u002e/), is
// refused rather than cleaned, so no two spellings reach different checks.
func (c *console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !cleanRequestPath(r) {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	loopback := isLoopback(r.RemoteAddr)
	if r.TLS == nil && (!loopback || !loopbackHost(r.Host)) {
		// a loopback Host too: a web page whose name was re-bound to
		// 127.0.0.1 (DNS rebinding) gets nothing from the plain port
		http.Error(w, "this port serves this machine only: use the console's TLS port", http.StatusForbidden)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	p := r.URL.Path
	switch {
	case p == "/metrics":
		if !(c.s.cfg.Console.MetricsOpen && loopback) {
			if _, ok := c.bearer(r); !ok {
				unauthorized(w)
				return
			}
		}
	case strings.HasPrefix(p, "/api/"):
		name, ok := c.bearer(r)
		if !ok {
			unauthorized(w)
			return
		}
		r = withWho(r, "token:"+name)
	case p == "/login":
	default:
		ws := c.session(r)
		if ws == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
			} else {
				http.Error(w, "sign in first", http.StatusForbidden)
			}
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !csrfOK(r, ws.csrf) {
			c.log.Warn("console: bad CSRF token", "by", ws.user, "from", r.RemoteAddr, "path", p)
			http.Error(w, "bad or missing CSRF token", http.StatusForbidden)
			return
		}
		r = withWho(r, "console:"+ws.user)
	}
	c.mux.ServeHTTP(w, r)
}

// cleanRequestPath reports whether the request's path is clean as sent:
// no "." or ".." segments, no doubled slashes, and no escaped '.', '/',
// '\' or NUL, nor the non-standard %u escapes.
func cleanRequestPath(r *http.Request) bool {
	raw := r.URL.EscapedPath()
	if uri := r.RequestURI; uri != "" && uri != "*" {
		raw, _, _ = strings.Cut(uri, "?")
	}
	low := strings.ToLower(raw)
	for _, bad := range []string{"%2e", "%2f", "%5c", "%00", "%u", "\\"} {
		if strings.Contains(low, bad) {
			return false
		}
	}
	p := r.URL.Path
	if p == "" || p[0] != '/' {
		return false
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean == p
}

// loopbackHost reports whether a Host header names this machine.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

func isLoopback(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="ignis"`)
	http.Error(w, "a valid bearer token is required", http.StatusUnauthorized)
}

// bearer checks the Authorization header against the config's tokens and
// the data folder's. A wrong token counts against the address as a failed
// login does (the Guard bans it past limits.auth_failures_per_ip).
func (c *console) bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		return "", false
	}
	ip := remoteIP(r.RemoteAddr)
	g := c.s.stream.Guard
	if ip.IsValid() && g.Banned(ip) {
		return "", false
	}
	tokens, err := readTokens(c.s.cfg.Data)
	if err != nil {
		c.log.Warn("console: token file", "err", err)
	}
	name, ok := matchToken(append(tokens, c.tokens...), secret)
	if !ok {
		c.s.log.Warn("login failed", "ip", ip.String(), "user", "", "mech", "bearer", "path", r.URL.Path)
		if ip.IsValid() && g.Failed(ip) {
			c.s.log.Warn("address banned", "ip", ip.String(), "for", c.s.cfg.guardConfig().AuthBanTime.String())
		}
	}
	return name, ok
}

// session returns the request's live console sign-in and extends it.
func (c *console) session(r *http.Request) *webSession {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ws := c.sessions[ck.Value]
	now := time.Now()
	if ws == nil || now.After(ws.expires) {
		delete(c.sessions, ck.Value)
		return nil
	}
	ws.expires = now.Add(c.s.cfg.Console.SessionTTL.Duration)
	return ws
}

// signIn starts a console session for user and sets its cookie.
func (c *console) signIn(w http.ResponseWriter, r *http.Request, user string) {
	id, csrf := randomHex(32), randomHex(32)
	ttl := c.s.cfg.Console.SessionTTL.Duration
	c.mu.Lock()
	now := time.Now()
	for k, ws := range c.sessions { // sign-ins are few: sweep the expired ones here
		if now.After(ws.expires) {
			delete(c.sessions, k)
		}
	}
	c.sessions[id] = &webSession{user: user, csrf: csrf, expires: now.Add(ttl)}
	c.mu.Unlock()
	http.SetCookie(w, c.cookie(r, sessionCookie, id, ttl))
}

func (c *console) signOut(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		c.mu.Lock()
		delete(c.sessions, ck.Value)
		c.mu.Unlock()
	}
	http.SetCookie(w, c.cookie(r, sessionCookie, "", -1))
}

// cookie is HttpOnly, SameSite=Strict, and Secure whenever the request came
// over TLS (the plain port serves loopback clients only).
func (c *console) cookie(r *http.Request, name, value string, ttl time.Duration) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode}
	if ttl < 0 {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = int(ttl / time.Second)
		ck.Expires = time.Now().Add(ttl)
	}
	return ck
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type whoKey struct{}

func withWho(r *http.Request, by string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), whoKey{}, by))
}

// who is the administrator the gate let in, for the action log.
func who(r *http.Request) string { by, _ := r.Context().Value(whoKey{}).(string); return by }

// errBadCredentials is the one answer to a failed sign-in, whatever failed.
var errBadCredentials = errors.New("wrong account or password, or not an administrator")
