package server

import (
	"crypto/subtle"
	"embed"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"ignis/jid"
	"ignis/scram"
	"ignis/session"
	"ignis/store"
)

//go:embed web/console.tmpl
var webFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"yes": func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	},
	"kib": func(n uint64) uint64 { return n >> 10 },
}).ParseFS(webFS, "web/console.tmpl"))

// page is what every console template gets.
type page struct {
	Title    string
	User     string // the signed-in administrator ("" on the sign-in page)
	CSRF     string
	Flash    string
	FlashErr bool
	BenchDir string
	Data     any
}

func (c *console) routesWeb() {
	m := c.mux
	m.HandleFunc("GET /login", c.loginForm)
	m.HandleFunc("POST /login", c.login)
	m.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		c.log.Info("console sign-out", "by", who(r), "from", r.RemoteAddr)
		c.signOut(w, r)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	m.HandleFunc("GET /{$}", c.figures)
	m.HandleFunc("GET /sessions", c.sessionsPage)
	m.HandleFunc("POST /sessions/kick", c.action("/sessions", func(r *http.Request) AdminRequest {
		return AdminRequest{Op: "kick", User: r.PostFormValue("jid")}
	}))
	m.HandleFunc("POST /sessions/announce", c.action("/sessions", func(r *http.Request) AdminRequest {
		return AdminRequest{Op: "announce", Message: r.PostFormValue("message")}
	}))
	m.HandleFunc("GET /accounts", c.accountsPage)
	m.HandleFunc("POST /accounts/add", c.action("/accounts", func(r *http.Request) AdminRequest {
		return AdminRequest{Op: "user-add", User: c.localpart(r.PostFormValue("user")), Password: r.PostFormValue("password")}
	}))
	m.HandleFunc("POST /accounts/delete", c.action("/accounts", func(r *http.Request) AdminRequest {
		return AdminRequest{Op: "user-del", User: c.localpart(r.PostFormValue("user"))}
	}))
	m.HandleFunc("POST /accounts/password", c.action("/accounts", func(r *http.Request) AdminRequest {
		return AdminRequest{Op: "user-passwd", User: c.localpart(r.PostFormValue("user")), Password: r.PostFormValue("password")}
	}))
	m.HandleFunc("GET /groups", c.groupsPage)
	m.HandleFunc("POST /groups/add", c.action("/groups", func(r *http.Request) AdminRequest {
		return AdminRequest{Op: "group-add", Group: r.PostFormValue("group"), Display: r.PostFormValue("display")}
	}))
	m.HandleFunc("POST /groups/delete", c.action("/groups", func(r *http.Request) AdminRequest {
		return AdminRequest{Op: "group-del", Group: r.PostFormValue("group")}
	}))
	m.HandleFunc("POST /groups/member-add", c.action("/groups", func(r *http.Request) AdminRequest {
		return AdminRequest{Op: "group-member-add", Group: r.PostFormValue("group"), User: c.localpart(r.PostFormValue("user"))}
	}))
	m.HandleFunc("POST /groups/member-del", c.action("/groups", func(r *http.Request) AdminRequest {
		return AdminRequest{Op: "group-member-del", Group: r.PostFormValue("group"), User: c.localpart(r.PostFormValue("user"))}
	}))
	m.HandleFunc("GET /rooms", c.roomsPage)
	m.HandleFunc("POST /rooms/destroy", c.action("/rooms", func(r *http.Request) AdminRequest {
		return AdminRequest{Op: "room-destroy", Room: r.PostFormValue("room"), Message: r.PostFormValue("reason")}
	}))
	m.HandleFunc("GET /bench", c.benchList)
	m.HandleFunc("GET /bench/{name}", c.benchReport)
}

// csrfOK checks the form's (or the X-CSRF-Token header's) token.
func csrfOK(r *http.Request, want string) bool {
	r.Body = http.MaxBytesReader(nil, r.Body, maxAPIBody)
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// render writes a page; the signed-in administrator's name and CSRF token
// come from the request's session.
func (c *console) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	if ws := c.session(r); ws != nil && p.CSRF == "" { // the sign-in form has its own
		p.User, p.CSRF = ws.user, ws.csrf
	}
	if f := r.URL.Query().Get("ok"); f != "" && p.Flash == "" {
		p.Flash = f
	} else if f := r.URL.Query().Get("err"); f != "" && p.Flash == "" {
		p.Flash, p.FlashErr = f, true
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	if err := pages.ExecuteTemplate(w, name, p); err != nil {
		c.log.Error("console: template", "page", name, "err", err)
	}
}

func (c *console) loginForm(w http.ResponseWriter, r *http.Request) {
	csrf := randomHex(16)
	http.SetCookie(w, c.cookie(r, loginCookie, csrf, 10*time.Minute))
	c.render(w, r, "login", page{Title: "Sign in", CSRF: csrf})
}

// login checks an administrator's password against the account's SCRAM
// keys. Failures count against the address like XMPP ones (the Guard bans
// it past limits.auth_failures_per_ip) and are logged in the same line.
func (c *console) login(w http.ResponseWriter, r *http.Request) {
	ip := remoteIP(r.RemoteAddr)
	ck, err := r.Cookie(loginCookie)
	if err != nil || !csrfOK(r, ck.Value) {
		c.log.Warn("console: bad CSRF token", "from", r.RemoteAddr, "path", r.URL.Path)
		http.Error(w, "bad or missing CSRF token: reload the sign-in page", http.StatusForbidden)
		return
	}
	g := c.s.stream.Guard
	if ip.IsValid() && g.Banned(ip) {
		http.Error(w, "too many failed sign-ins from your address: try later", http.StatusTooManyRequests)
		return
	}
	userIn := strings.TrimSpace(r.PostFormValue("user"))
	user, ok := c.checkAdmin(userIn, r.PostFormValue("password"))
	if !ok {
		// the server's own logger: README's fail2ban filter matches this line as for XMPP
		c.s.log.Warn("login failed", "ip", ip.String(), "user", userIn, "mech", "console")
		c.s.stream.Stats.LoginFailed[session.LoginIndex("console")].Add(1)
		if ip.IsValid() && g.Failed(ip) {
			c.s.log.Warn("address banned", "ip", ip.String(), "for", c.s.cfg.guardConfig().AuthBanTime.String())
		}
		csrf := randomHex(16)
		http.SetCookie(w, c.cookie(r, loginCookie, csrf, 10*time.Minute))
		w.WriteHeader(http.StatusUnauthorized)
		c.render(w, r, "login", page{Title: "Sign in", CSRF: csrf, Flash: errBadCredentials.Error(), FlashErr: true})
		return
	}
	c.s.stream.Stats.LoginOK[session.LoginIndex("console")].Add(1)
	c.log.Info("console sign-in", "by", user, "from", r.RemoteAddr)
	http.SetCookie(w, c.cookie(r, loginCookie, "", -1))
	c.signIn(w, r, user)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// checkAdmin verifies user (alice or alice@domain) and password: the
// account must be local, listed in admin.jids, and the password must match
// its SCRAM-SHA-256 keys. It returns the bare JID.
func (c *console) checkAdmin(user, password string) (string, bool) {
	domain := c.s.router.Domain().Domain()
	if !strings.Contains(user, "@") {
		user += "@" + domain
	}
	j, err := jid.Parse(user)
	if err != nil || j.Local() == "" || !j.IsBare() || !c.s.router.IsLocal(j) {
		return "", false
	}
	admins, _ := c.s.cfg.AdminJIDs()
	if !slices.ContainsFunc(admins, func(a jid.JID) bool { return a.Equal(j) }) {
		return "", false
	}
	pw, err := scram.Prepare(password)
	if err != nil {
		return "", false
	}
	keys, err := c.s.db.Accounts().Keys(store.UserKey(domain, j), scram.SHA256)
	if err != nil || !keys.VerifyPassword(scram.SHA256, pw) {
		return "", false
	}
	return j.String(), true
}

// action runs a form's operation and goes back to the page with what
// happened.
func (c *console) action(back string, build func(*http.Request) AdminRequest) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req := build(r)
		rep := c.s.AdminOp(req, who(r), r.RemoteAddr)
		q := "ok=" + template.URLQueryEscaper(req.Op+" done")
		if rep.Error != "" {
			q = "err=" + template.URLQueryEscaper(req.Op+": "+rep.Error)
		}
		http.Redirect(w, r, back+"?"+q, http.StatusSeeOther)
	}
}

// sessionRow is one line of the sessions page.
type sessionRow struct {
	JID, User, Resource, IP, Transport string
	TLS, SM                            bool
	Since                              string
	Queued                             int // bytes of output held for the client
}

// sessionsData is the sessions page: the rows, and the memory figure the
// server can give per session (the live heap's average: the fixed cost of
// one session is not measured per session).
type sessionsData struct {
	Rows          []sessionRow
	MemPerSession uint64
}

func (c *console) sessionsPage(w http.ResponseWriter, r *http.Request) {
	rep := c.s.AdminOp(AdminRequest{Op: "sessions"}, who(r), r.RemoteAddr)
	rows := make([]sessionRow, 0, len(rep.Sessions))
	for _, si := range rep.Sessions {
		j, _ := jid.Parse(si.JID)
		tr := si.Transport
		if tr == "" {
			tr = "tcp"
		}
		rows = append(rows, sessionRow{JID: si.JID, User: j.Bare().String(), Resource: j.Resource(), IP: si.Addr,
			Transport: tr, TLS: si.TLS, SM: si.SM, Since: si.Since.UTC().Format("2006-01-02 15:04:05"), Queued: si.QueuedBytes})
	}
	c.render(w, r, "sessions", page{Title: "Sessions", Data: sessionsData{Rows: rows, MemPerSession: c.s.Figures().MemPerSession}})
}

func (c *console) accountsPage(w http.ResponseWriter, r *http.Request) {
	rep := c.s.AdminOp(AdminRequest{Op: "user-list"}, who(r), r.RemoteAddr)
	c.render(w, r, "accounts", page{Title: "Accounts", Data: rep.Users, Flash: rep.Error, FlashErr: rep.Error != ""})
}

func (c *console) groupsPage(w http.ResponseWriter, r *http.Request) {
	rep := c.s.AdminOp(AdminRequest{Op: "group-list"}, who(r), r.RemoteAddr)
	c.render(w, r, "groups", page{Title: "Shared groups", Data: rep.Groups, Flash: rep.Error, FlashErr: rep.Error != ""})
}

// roomsPage lists the group chat service's rooms, each with a form that
// destroys it.
func (c *console) roomsPage(w http.ResponseWriter, r *http.Request) {
	rep := c.s.AdminOp(AdminRequest{Op: "room-list"}, who(r), r.RemoteAddr)
	p := page{Title: "Rooms", Data: rep.Rooms}
	if rep.Error != "" && r.URL.Query().Get("ok")+r.URL.Query().Get("err") == "" {
		p.Flash, p.FlashErr = rep.Error, true
	}
	c.render(w, r, "rooms", p)
}

// benchFile: a report's name is a plain file name with a report's suffix.
func benchFile(name string) bool {
	return name != "" && filepath.Base(name) == name && !strings.HasPrefix(name, ".") &&
		(strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".html"))
}

func (c *console) benchList(w http.ResponseWriter, r *http.Request) {
	dir := c.s.cfg.Console.BenchReports
	var names []string
	if dir != "" {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Type().IsRegular() && benchFile(e.Name()) {
				names = append(names, e.Name())
			}
		}
	}
	c.render(w, r, "bench", page{Title: "Bench reports", Data: names, BenchDir: dir})
}

// benchReport serves one report from the folder, opened through os.Root so
// no name can leave it; HTML reports run sandboxed (no script, no cookies).
func (c *console) benchReport(w http.ResponseWriter, r *http.Request) {
	dir, name := c.s.cfg.Console.BenchReports, r.PathValue("name")
	if dir == "" || !benchFile(name) {
		http.NotFound(w, r)
		return
	}
	f, err := os.OpenInRoot(dir, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	if strings.HasSuffix(name, ".html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	_, _ = io.Copy(w, io.LimitReader(f, 64<<20))
}

// sampler keeps the figures of the last half hour, one every sampleEvery,
// for the console's charts.
type sampler struct {
	mu   sync.Mutex
	ring []Figures // oldest first, at most maxSamples
}

const (
	sampleEvery = 5 * time.Second
	maxSamples  = 360
)

func (sm *sampler) add(f Figures) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if len(sm.ring) == maxSamples {
		copy(sm.ring, sm.ring[1:])
		sm.ring = sm.ring[:maxSamples-1]
	}
	sm.ring = append(sm.ring, f)
}

func (sm *sampler) all() []Figures {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return slices.Clone(sm.ring)
}

func (sm *sampler) run(s *Server, stop <-chan struct{}) {
	sm.add(s.Figures())
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			sm.add(s.Figures())
		}
	}
}

// chart is one inline SVG line chart.
type chart struct {
	Name   string
	W, H   int
	Max    float64
	Points string
}

func lineChart(name string, vals []float64) chart {
	ch := chart{Name: name, W: 360, H: 120}
	for _, v := range vals {
		ch.Max = max(ch.Max, v)
	}
	top := max(ch.Max, 1)
	var b strings.Builder
	for i, v := range vals {
		x := float64(ch.W) * float64(i) / float64(max(len(vals)-1, 1))
		y := float64(ch.H-4) - (float64(ch.H-8) * v / top)
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
	}
	ch.Points = strings.TrimSpace(b.String())
	return ch
}

type figuresData struct {
	Now                   Figures
	StanzaRate, LoginRate float64
	Span                  string
	Charts                []chart
}

func (c *console) figures(w http.ResponseWriter, r *http.Request) {
	now := c.s.Figures()
	hist := append(c.samples.all(), now)
	d := figuresData{Now: now, Span: time.Duration(0).String()}
	if len(hist) > 1 {
		d.Span = hist[len(hist)-1].Time.Sub(hist[0].Time).Round(time.Second).String()
	}
	var sessions, stanzas, logins, mem, disk []float64
	for i, f := range hist {
		sessions = append(sessions, float64(f.Sessions))
		mem = append(mem, float64(f.MemPerSession))
		disk = append(disk, float64(f.StoreBytes>>10))
		if i == 0 {
			continue
		}
		p := hist[i-1]
		dt := f.Time.Sub(p.Time).Seconds()
		if dt <= 0 {
			continue
		}
		sr := float64(f.StanzasIn+f.StanzasOut-p.StanzasIn-p.StanzasOut) / dt
		lr := float64(f.Logins-p.Logins) / dt
		stanzas, logins = append(stanzas, sr), append(logins, lr)
		d.StanzaRate, d.LoginRate = sr, lr
	}
	d.Charts = []chart{lineChart("sessions", sessions), lineChart("stanzas/s", stanzas),
		lineChart("logins/s", logins), lineChart("memory per session (B)", mem), lineChart("store on disk (KiB)", disk)}
	c.render(w, r, "figures", page{Title: "Live figures", Data: d})
}

// remoteIP is the address part of a request's RemoteAddr (zero if none).
func remoteIP(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
