//go:build interop

package interop

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

//go:embed testdata/*.py
var scripts embed.FS

// python is Debian's interpreter, the one python3-slixmpp installs for; a
// python3 earlier on PATH (pyenv, a virtualenv) would not see the package.
const python = "/usr/bin/python3"

// scriptTimeout bounds one script run; the scripts give up a little earlier
// on their own (--timeout) so that they can still say why.
const (
	scriptTimeout = 60 * time.Second
	scriptBudget  = "45"
)

// observation is one JSON line a script printed. All scripts share this
// schema; each event fills the fields it needs (see testdata/slixhelper.py).
type observation struct {
	Event string `json:"event"`
	Who   string `json:"who"` // which client, when a script runs several

	// session, no_session
	JID       string   `json:"jid"`
	Mechanism string   `json:"mechanism"`
	TLS       string   `json:"tls"` // "TLSv1.3", or "" on a plain stream
	StartTLS  bool     `json:"starttls"`
	PeerNames []string `json:"peer_names"` // DNS names in the verified server certificate
	Outcome   string   `json:"outcome"`

	// failed_auth, stream_error, ping, disco_error
	Condition string `json:"condition"`
	Text      string `json:"text"`

	// message, presence, ping, disco_info
	From string `json:"from"`
	To   string `json:"to"`
	Type string `json:"type"`
	ID   string `json:"id"`
	Body string `json:"body"`

	// disco_info: identities are [category, type, name]
	Identities [][]string `json:"identities"`
	Features   []string   `json:"features"`

	// roster, roster_push (JID is the item's), vcard (im_test.go)
	Subscription string   `json:"subscription"`
	Ask          string   `json:"ask"`
	Name         string   `json:"name"`
	Groups       []string `json:"groups"`
	Ver          string   `json:"ver"`
	FN           string   `json:"fn"`
	Nickname     string   `json:"nickname"`
	Items        []string `json:"items"` // blocklist, bookmarks
	Node         string   `json:"node"`  // pep (pep_test.go)

	// message: XEP-0203 delay, if any; sent: the client's clock around a send
	Stamp     string `json:"stamp"`
	DelayFrom string `json:"delay_from"`
	Before    string `json:"before"`
	After     string `json:"after"`

	// mismatch (a script's own check), error, exit
	What  string `json:"what"`
	Got   string `json:"got"`
	Want  string `json:"want"`
	Error string `json:"error"`
	OK    bool   `json:"ok"`
}

// common is what every kind of observation has: the schema above (a
// script with fields of its own embeds it, as mobileObs does).
func (o observation) common() observation { return o }

// scriptRun is one finished script that printed observations of type O.
type scriptRun[O interface{ common() observation }] struct {
	t    *testing.T
	name string
	obs  []O
	code int // exit status
}

// run is a finished script of the common schema.
type run = scriptRun[observation]

// all returns the observations of one event, by one client if who is set.
func (r *scriptRun[O]) all(event, who string) []O {
	var out []O
	for _, o := range r.obs {
		if c := o.common(); c.Event == event && (who == "" || c.Who == who) {
			out = append(out, o)
		}
	}
	return out
}

// one returns the only observation of event by who, or fails the test.
func (r *scriptRun[O]) one(event, who string) O {
	r.t.Helper()
	got := r.all(event, who)
	if len(got) != 1 {
		r.t.Fatalf("%s: want one %q event (who=%q), got %d (the script's output is logged)", r.name, event, who, len(got))
	}
	return got[0]
}

// bodies returns the non-empty bodies of who's message events.
func (r *scriptRun[O]) bodies(who string) []string {
	var out []string
	for _, m := range r.all("message", who) {
		if b := m.common().Body; b != "" {
			out = append(out, b)
		}
	}
	return out
}

// none fails the test if the script reported event.
func (r *scriptRun[O]) none(event string) {
	r.t.Helper()
	if got := r.all(event, ""); len(got) > 0 {
		r.t.Errorf("%s: %d unexpected %q events (the script's output is above)", r.name, len(got), event)
	}
}

// succeeded fails the test unless the script exited 0 without mismatches.
func (r *scriptRun[O]) succeeded() {
	r.t.Helper()
	r.none("mismatch")
	r.none("error")
	if r.code != 0 {
		r.t.Fatalf("%s exited %d (the script's output is above)", r.name, r.code)
	}
}

// harness is one server and the scripts, ready to run.
type harness struct {
	env *servertest.Env
	dir string // the scripts
	ca  string // the server's self-signed certificate
}

// newHarness starts a server, edit changing its configuration first (see
// servertest.Start).
func newHarness(t *testing.T, edit ...func(*server.Config)) *harness {
	t.Helper()
	requireSlixmpp(t)
	env := servertest.Start(t, edit...)
	h := &harness{env: env, dir: t.TempDir(), ca: filepath.Join(env.Cfg.Data, "cert.pem")}
	if _, err := os.Stat(h.ca); err != nil {
		t.Fatalf("the server certificate: %v", err)
	}
	err := fs.WalkDir(scripts, "testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := scripts.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(h.dir, path.Base(p)), b, 0o644)
	})
	if err != nil {
		t.Fatalf("writing the scripts: %v", err)
	}
	return h
}

// byName turns a listener address (127.0.0.1:port) into localhost:port: the
// scripts connect to that host and check the certificate for that name.
func byName(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listener address %q: %v", addr, err)
	}
	return net.JoinHostPort("localhost", port)
}

// pythonEnv is the environment for /usr/bin/python3: no variables that
// would point it at another installation's modules, no bytecode files.
func pythonEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PYTHONDONTWRITEBYTECODE=1", "PYTHONNOUSERSITE=1", "PYTHONIOENCODING=utf-8")
}

var slixmpp struct {
	once    sync.Once
	version string
	err     error
}

// requireSlixmpp fails the test when slixmpp cannot be imported: the
// interop build tag says that CI installed it.
func requireSlixmpp(t *testing.T) {
	t.Helper()
	slixmpp.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, python, "-c", "import slixmpp; print(slixmpp.__version__)")
		cmd.Dir = os.TempDir() // not a folder whose files could shadow modules
		cmd.Env = pythonEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			slixmpp.err = errors.New(strings.TrimSpace(err.Error() + "\n" + string(out)))
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		slixmpp.version = lines[len(lines)-1]
	})
	if slixmpp.err != nil {
		t.Fatalf("slixmpp is not importable by %s (install Debian's python3-slixmpp): %v", python, slixmpp.err)
	}
	t.Logf("slixmpp %s", slixmpp.version)
}

// run runs a script with the CA option and a time budget, then args, and
// parses what it printed. slixmpp's log is shown if the test fails, or
// always with IGNIS_INTEROP_LOG set.
func (h *harness) run(t *testing.T, script string, args ...string) *run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	argv := append([]string{filepath.Join(h.dir, script), "--ca", h.ca, "--timeout", scriptBudget}, args...)
	cmd := exec.CommandContext(ctx, python, argv...)
	cmd.Dir = h.dir
	cmd.Env = pythonEnv()
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)

	label := script + " " + strings.Join(args, " ")
	log := stderr.String()
	if os.Getenv("IGNIS_INTEROP_LOG") != "" {
		t.Logf("%s: slixmpp log:\n%s", label, log)
	} else {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s: slixmpp log:\n%s", label, log)
			}
		})
	}
	t.Logf("%s: ran %v; printed:\n%s", label, elapsed.Round(time.Millisecond), stdout.String())

	r := &run{t: t, name: script}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s: killed after %v", label, scriptTimeout)
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", label, err)
	}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var o observation
		if err := json.Unmarshal(line, &o); err != nil || o.Event == "" {
			t.Errorf("%s: printed a line that is not an observation: %q", label, line)
			continue
		}
		r.obs = append(r.obs, o)
	}
	return r
}

// checkSession checks what a user sees of a session established by user
// over TLS.
func checkSession(t *testing.T, s observation, user, mech string, startTLS bool) {
	t.Helper()
	bare, resource, found := strings.Cut(s.JID, "/")
	if bare != user+"@localhost" || !found || resource == "" {
		t.Errorf("bound JID %q, want %s@localhost/<resource>", s.JID, user)
	}
	if mech != "" && s.Mechanism != mech {
		t.Errorf("SASL mechanism %q, want %q", s.Mechanism, mech)
	}
	if s.TLS != "TLSv1.2" && s.TLS != "TLSv1.3" {
		t.Errorf("TLS version %q, want TLS 1.2 or 1.3", s.TLS)
	}
	if s.StartTLS != startTLS {
		t.Errorf("STARTTLS used: %v, want %v", s.StartTLS, startTLS)
	}
	if !slices.Contains(s.PeerNames, "localhost") {
		t.Errorf("the verified certificate names %q, want localhost among them", s.PeerNames)
	}
}

// TestInteropLoginSCRAMSHA256 logs in over STARTTLS with SCRAM-SHA-256,
// verifying the server's certificate, and checks the bound JID.
func TestInteropLoginSCRAMSHA256(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "correct horse battery staple")
	addr := byName(t, h.env.Addr)

	t.Run("verified", func(t *testing.T) {
		r := h.run(t, "login.py", "--addr", addr, "--jid", "alice@localhost",
			"--password", "correct horse battery staple", "--mech", "SCRAM-SHA-256")
		r.succeeded()
		r.none("failed_auth")
		checkSession(t, r.one("session", ""), "alice", "SCRAM-SHA-256", true)
	})

	// The same login with the system trust store must fail: slixmpp really
	// checks the certificate, so the subtest above did verify it.
	t.Run("untrusted certificate", func(t *testing.T) {
		r := h.run(t, "login.py", "--addr", addr, "--jid", "alice@localhost",
			"--password", "correct horse battery staple", "--mech", "SCRAM-SHA-256",
			"--ca", "", "--expect", "tls-failure")
		r.succeeded()
		r.none("session")
		r.none("failed_auth")
		if o := r.one("no_session", ""); o.Outcome != "tls-failure" {
			t.Errorf("outcome %q, want tls-failure", o.Outcome)
		}
	})
}

// TestInteropChat has alice message bob's full and bare JIDs and bob answer.
func TestInteropChat(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "alice-secret")
	h.env.AddUser("bob", "bob-secret")
	bodies := map[string]string{
		"full":  "To your full JID: héllo Bøb, ünïcödé ✓ 😀 中文 <&> \"quoted\" 'apos' ]]> &amp;",
		"bare":  "To your bare JID:\n\ttabs, newlines, <b>not markup</b> & ∑ 𝄞 — ok?",
		"reply": "Réponse de Bob : reçu ✔ <&> ☃",
	}
	b, err := json.Marshal(bodies)
	if err != nil {
		t.Fatal(err)
	}
	bodiesFile := filepath.Join(h.dir, "bodies.json")
	if err := os.WriteFile(bodiesFile, b, 0o644); err != nil {
		t.Fatal(err)
	}

	r := h.run(t, "chat.py", "--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost/laptop", "--alice-password", "alice-secret",
		"--bob", "bob@localhost/phone", "--bob-password", "bob-secret",
		"--bodies", bodiesFile)
	r.succeeded()
	r.none("failed_auth")
	alice, bob := r.one("session", "alice"), r.one("session", "bob")
	checkSession(t, alice, "alice", "", true)
	checkSession(t, bob, "bob", "", true)

	toBob := r.all("message", "bob")
	if len(toBob) != 2 {
		t.Fatalf("bob received %d messages, want 2 (the script's output is above)", len(toBob))
	}
	for i, want := range []struct {
		to   []string
		body string
	}{
		{[]string{bob.JID}, bodies["full"]},
		// A message to the bare JID reaches bob's one available resource
		// (RFC 6121 §8.5.2.1.1), addressed as alice wrote it or, at most, to
		// the resource that got it.
		{[]string{"bob@localhost", bob.JID}, bodies["bare"]},
	} {
		m := toBob[i]
		if m.From != alice.JID {
			t.Errorf("bob's message %d is from %q, want alice's full JID %q", i+1, m.From, alice.JID)
		}
		if !slices.Contains(want.to, m.To) {
			t.Errorf("bob's message %d is to %q, want one of %q", i+1, m.To, want.to)
		}
		if m.Type != "chat" {
			t.Errorf("bob's message %d has type %q, want chat", i+1, m.Type)
		}
		if m.Body != want.body {
			t.Errorf("bob's message %d body:\n got %q\nwant %q", i+1, m.Body, want.body)
		}
	}

	toAlice := r.all("message", "alice")
	if len(toAlice) != 1 {
		t.Fatalf("alice received %d messages, want 1 (the script's output is above)", len(toAlice))
	}
	if m := toAlice[0]; m.From != bob.JID || m.To != alice.JID || m.Type != "chat" || m.Body != bodies["reply"] {
		t.Errorf("alice received a %q message from %q to %q with body %q, want a chat from %q to %q with body %q", m.Type, m.From, m.To, m.Body, bob.JID, alice.JID, bodies["reply"])
	}
}

// TestInteropDirectTLS logs in over direct TLS (XEP-0368) and pings the
// server (XEP-0199).
func TestInteropDirectTLS(t *testing.T) {
	h := newHarness(t)
	if h.env.TLSAddr == "" {
		t.Fatal("the server has no direct TLS listener")
	}
	h.env.AddUser("alice", "alice-secret")
	addr := byName(t, h.env.TLSAddr)

	t.Run("login and ping", func(t *testing.T) {
		r := h.run(t, "login.py", "--addr", addr, "--direct-tls", "--jid", "alice@localhost",
			"--password", "alice-secret", "--ping", "localhost")
		r.succeeded()
		r.none("failed_auth")
		checkSession(t, r.one("session", ""), "alice", "", false)
		if p := r.one("ping", ""); p.Type != "result" || p.From != "localhost" {
			t.Errorf("ping answered with type %q from %q, want a result from localhost", p.Type, p.From)
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		r := h.run(t, "login.py", "--addr", addr, "--direct-tls", "--jid", "alice@localhost",
			"--password", "alice-secret", "--ca", "", "--expect", "connection-failure")
		r.succeeded()
		r.none("session")
	})
}

// TestInteropSASL logs in with SCRAM-SHA-1 and PLAIN, and checks that wrong
// credentials end in a SASL failure the client reports, with no session.
func TestInteropSASL(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "alice-secret")
	h.env.AddUser("carol", "pässwörd ☃ Ωmega")
	addr := byName(t, h.env.Addr)

	for _, tc := range []struct {
		name, user, pass, mech string
		refused                bool // wrong credentials: a SASL failure, no session
	}{
		{"SCRAM-SHA-1", "alice", "alice-secret", "SCRAM-SHA-1", false},
		{"PLAIN", "alice", "alice-secret", "PLAIN", false},
		{"SCRAM-SHA-256 non-ASCII password", "carol", "pässwörd ☃ Ωmega", "SCRAM-SHA-256", false},
		{"SCRAM-SHA-1 non-ASCII password", "carol", "pässwörd ☃ Ωmega", "SCRAM-SHA-1", false},
		{"PLAIN non-ASCII password", "carol", "pässwörd ☃ Ωmega", "PLAIN", false},
		{"SCRAM-SHA-256 wrong password", "alice", "wrong-secret", "SCRAM-SHA-256", true},
		{"SCRAM-SHA-1 wrong password", "alice", "wrong-secret", "SCRAM-SHA-1", true},
		{"PLAIN wrong password", "alice", "wrong-secret", "PLAIN", true},
		{"SCRAM-SHA-256 unknown user", "nobody", "alice-secret", "SCRAM-SHA-256", true},
		{"PLAIN unknown user", "nobody", "alice-secret", "PLAIN", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--addr", addr, "--jid", tc.user + "@localhost", "--password", tc.pass, "--mech", tc.mech}
			if tc.refused {
				args = append(args, "--expect", "auth-failure")
			}
			r := h.run(t, "login.py", args...)
			r.succeeded()
			if !tc.refused {
				r.none("failed_auth")
				checkSession(t, r.one("session", ""), tc.user, tc.mech, true)
				return
			}
			r.none("session")
			f := r.one("failed_auth", "")
			// RFC 6120 §6.5.10: wrong credentials are <not-authorized/>.
			if f.Mechanism != tc.mech || f.Condition != "not-authorized" {
				t.Errorf("SASL failure %q with %s, want not-authorized with %s", f.Condition, f.Mechanism, tc.mech)
			}
			if o := r.one("no_session", ""); o.Outcome != "auth-failure" {
				t.Errorf("outcome %q, want auth-failure", o.Outcome)
			}
		})
	}
}

// TestInteropDiscoInfo asks the server for its disco#info (XEP-0030).
func TestInteropDiscoInfo(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "alice-secret")
	r := h.run(t, "disco.py", "--addr", byName(t, h.env.Addr), "--jid", "alice@localhost",
		"--password", "alice-secret", "--target", "localhost")
	r.succeeded()
	r.none("failed_auth")
	info := r.one("disco_info", "")
	if info.Type != "result" || info.From != "localhost" {
		t.Errorf("disco#info answered with type %q from %q, want a result from localhost", info.Type, info.From)
	}
	for _, f := range []string{"http://jabber.org/protocol/disco#info", "urn:xmpp:ping"} {
		if !slices.Contains(info.Features, f) {
			t.Errorf("features %q lack %s", info.Features, f)
		}
	}
	if len(slices.Compact(slices.Clone(info.Features))) != len(info.Features) {
		t.Errorf("features %q are listed more than once (XEP-0030 §3.1)", info.Features)
	}
	if !slices.ContainsFunc(info.Identities, func(id []string) bool {
		return len(id) >= 2 && id[0] == "server" && id[1] == "im"
	}) {
		t.Errorf("identities %q lack server/im", info.Identities)
	}
}

// TestInteropStockMechanisms logs stock slixmpp in on its first attempt,
// with its own mechanism choice and with each SCRAM variant forced, over
// STARTTLS and direct TLS: no failed_auth event may fire, as a client that
// takes that event as final (many bots do) would never log in. slixmpp
// 1.8.3 binds with tls-unique only, on TLS 1.3 too, computed as OpenSSL does
// (the client's Finished); Ignis accepts that value (README, "Channel
// binding"), and the "y" flag it sends with a forced non-PLUS mechanism.
func TestInteropStockMechanisms(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "alice-secret")
	for _, direct := range []bool{false, true} {
		addr, kind := byName(t, h.env.Addr), "starttls"
		if direct {
			addr, kind = byName(t, h.env.TLSAddr), "direct"
		}
		for _, mech := range []string{"", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512",
			"SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-512-PLUS"} {
			name := mech
			if name == "" {
				name = "own-choice"
			}
			t.Run(kind+"/"+name, func(t *testing.T) {
				args := []string{"--addr", addr, "--jid", "alice@localhost", "--password", "alice-secret", "--mech", mech}
				if direct {
					args = append(args, "--direct-tls")
				}
				r := h.run(t, "login.py", args...)
				r.succeeded()
				r.none("failed_auth")
				s := r.one("session", "")
				want := mech
				if mech == "" && slixmppBefore(1, 8, 5) {
					want = "SCRAM-SHA-512-PLUS" // the strongest offered, bound with tls-unique
				}
				checkSession(t, s, "alice", want, !direct)
			})
		}
	}
}

// slixmppBefore reports whether the slixmpp found is older than
// major.minor.patch.
func slixmppBefore(major, minor, patch int) bool {
	var v [3]int
	for i, f := range strings.SplitN(slixmpp.version, ".", 3) {
		n, _ := strconv.Atoi(strings.TrimFunc(f, func(r rune) bool { return r < '0' || r > '9' }))
		v[i] = n
	}
	return slices.Compare(v[:], []int{major, minor, patch}) < 0
}
