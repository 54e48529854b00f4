//go:build interop

package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"ignis/internal/server"
)

// The mobile scenarios: XEP-0198 stream management, XEP-0280 carbons,
// XEP-0352 client state indication and XEP-0313 archive queries, each with
// slixmpp's own plugin. Some scripts are driven: they print a "waiting"
// line and read a line on stdin, which the test writes once the server's
// counters (env.Srv.Stats()) show what the client cannot see.

// mobileObs is an observation with the fields only the mobile scripts print.
type mobileObs struct {
	observation
	Status string `json:"status"` // presence
	Carbon string `json:"carbon"` // carbon: "received" or "sent"
	Dir    string `json:"dir"`    // archived: "in" or "out"
	Index  int    `json:"index"`  // archived: position in the results
	Pages  int    `json:"pages"`  // archive_done
	Outer  string `json:"outer"`  // carbon: the wrapper's from
}

// driven is a script running with its stdin open to the test.
type driven struct {
	t      *testing.T
	label  string
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stdin  io.WriteCloser
	lines  chan mobileObs // closed at the end of stdout
	stderr bytes.Buffer

	mu     sync.Mutex
	stdout bytes.Buffer
	obs    []mobileObs // read so far, in order
	bad    []string    // lines that are not observations
}

// start starts a script like run does, without waiting for it.
func (h *harness) start(t *testing.T, script string, args ...string) *driven {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	argv := append([]string{filepath.Join(h.dir, script), "--ca", h.ca, "--timeout", scriptBudget}, args...)
	cmd := exec.CommandContext(ctx, python, argv...)
	cmd.Dir = h.dir
	cmd.Env = pythonEnv()
	cmd.WaitDelay = 5 * time.Second
	d := &driven{t: t, label: script, cmd: cmd, cancel: cancel, lines: make(chan mobileObs, 1024)}
	cmd.Stderr = &d.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	d.stdin = stdin
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("%s: %v", script, err)
	}
	go d.read(stdout)
	t.Cleanup(func() {
		// a test that failed early: end the script, then show what it said
		d.stdin.Close()
		d.cancel()
		go func() {
			for range d.lines { // unblock the reader if await stopped early
			}
		}()
		_ = d.cmd.Wait()
		if t.Failed() || os.Getenv("IGNIS_INTEROP_LOG") != "" {
			d.mu.Lock()
			defer d.mu.Unlock()
			t.Logf("%s: printed:\n%s", d.label, d.stdout.String())
			t.Logf("%s: slixmpp log:\n%s", d.label, d.stderr.String())
		}
	})
	return d
}

func (d *driven) read(r io.Reader) {
	defer close(d.lines)
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		d.mu.Lock()
		d.stdout.Write(line)
		d.stdout.WriteByte('\n')
		d.mu.Unlock()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var o mobileObs
		if err := json.Unmarshal(line, &o); err != nil || o.Event == "" {
			d.mu.Lock()
			d.bad = append(d.bad, string(line))
			d.mu.Unlock()
			continue
		}
		d.lines <- o
	}
}

// await reads observations until one of event (by who, if set), and
// returns it; it fails the test if the script ends or reports an error
// first.
func (d *driven) await(event, who string) mobileObs {
	d.t.Helper()
	timeout := time.NewTimer(scriptTimeout)
	defer timeout.Stop()
	for {
		select {
		case o, ok := <-d.lines:
			if !ok {
				d.t.Fatalf("%s ended before printing %q (who=%q)", d.label, event, who)
			}
			d.obs = append(d.obs, o)
			if o.Event == "error" || o.Event == "mismatch" {
				d.t.Fatalf("%s: %s before %q: %s%s (got %q, want %q)", d.label, o.Event, event, o.Error, o.What, o.Got, o.Want)
			}
			if o.Event == event && (who == "" || o.Who == who) {
				return o
			}
		case <-timeout.C:
			d.t.Fatalf("%s printed no %q within %v", d.label, event, scriptTimeout)
		}
	}
}

// goAhead answers the script's "waiting" line.
func (d *driven) goAhead() {
	d.t.Helper()
	if _, err := io.WriteString(d.stdin, "go\n"); err != nil {
		d.t.Fatalf("%s: writing its go-ahead: %v", d.label, err)
	}
}

// finish waits for the script to end and checks that it succeeded.
func (d *driven) finish() *mobileRun {
	d.t.Helper()
	d.stdin.Close()
	for o := range d.lines {
		d.obs = append(d.obs, o)
	}
	err := d.cmd.Wait()
	d.cancel()
	r := &mobileRun{t: d.t, name: d.label, obs: d.obs}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		d.t.Fatalf("%s: %v", d.label, err)
	}
	d.mu.Lock()
	bad := d.bad
	d.mu.Unlock()
	for _, l := range bad {
		d.t.Errorf("%s: printed a line that is not an observation: %q", d.label, l)
	}
	for _, o := range r.obs {
		if o.Event == "mismatch" || o.Event == "error" {
			d.t.Errorf("%s: %s: %s%s (got %q, want %q)", d.label, o.Event, o.Error, o.What, o.Got, o.Want)
		}
	}
	if r.code != 0 {
		d.t.Fatalf("%s exited %d (its output is below)", d.label, r.code)
	}
	return r
}

// mobileRun is a finished driven script.
type mobileRun = scriptRun[mobileObs]

// waitCounter waits until get reports at least want; the server has no
// event for it, so the counter is read every few milliseconds, within a bound.
func waitCounter(t *testing.T, what string, want int64, get func() int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for get() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d, want %d within 20s", what, get(), want)
		}
		<-tick.C
	}
}

// TestInteropMobileSMResume has slixmpp lose its connection with stream
// management enabled (XEP-0198) and come back: messages sent before, in
// flight and while it was away all arrive, once each and in order, whether
// the session is resumed (§5) or expired first (then from offline storage).
func TestInteropMobileSMResume(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		expire  bool
	}{
		{"resumed", 30 * time.Second, false},
		{"expired", 2 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *server.Config) {
				c.StreamManagement.ResumeTimeout = server.Duration{Duration: tc.timeout}
			})
			h.env.AddUser("alice", "alice-secret")
			h.env.AddUser("bob", "bob-secret")
			stats := h.env.Srv.Stats()
			detached, expired, resumed := stats.SMDetached.Load(), stats.SMExpired.Load(), stats.SMResumed.Load()

			args := []string{"--addr", byName(t, h.env.Addr),
				"--alice", "alice@localhost/phone", "--alice-password", "alice-secret",
				"--bob", "bob@localhost/desk", "--bob-password", "bob-secret"}
			if tc.expire {
				args = append(args, "--expire")
			}
			d := h.start(t, "mobile_sm.py", args...)
			if en := d.await("sm_enabled", "alice"); en.ID == "" || !en.OK {
				t.Fatalf("<enabled/> with id %q, resume %v: want an id and resume='true'", en.ID, en.OK)
			}
			if cut := d.await("cut", "alice"); !cut.OK {
				t.Fatal("slixmpp dropped its SM id when the connection was cut; it cannot resume")
			}
			d.await("waiting", "")
			waitCounter(t, "detached streams", detached+1, stats.SMDetached.Load)
			if tc.expire {
				waitCounter(t, "expired streams", expired+1, stats.SMExpired.Load)
			}
			d.goAhead()
			r := d.finish()

			if tc.expire {
				// XEP-0198 §5: <failed/> with item-not-found for an unknown id.
				if f := r.one("sm_failed", "alice"); f.Condition != "item-not-found" {
					t.Errorf("<failed/> with %q, want item-not-found", f.Condition)
				}
				if n := len(r.all("resumed", "")); n > 0 {
					t.Errorf("an expired session was resumed")
				}
			} else {
				r.one("resumed", "alice")
				if n := len(r.all("sm_failed", "")); n > 0 {
					t.Errorf("%d <failed/> answers", n)
				}
				if got := stats.SMResumed.Load(); got != resumed+1 {
					t.Errorf("the server counted %d resumptions, want 1", got-resumed)
				}
			}
			var sent []string
			for _, s := range r.all("sent", "bob") {
				sent = append(sent, s.Body)
			}
			if len(sent) != 9 {
				t.Fatalf("bob reported %d sent messages, want 9", len(sent))
			}
			if got := r.bodies("alice"); !slices.Equal(got, sent) {
				t.Errorf("alice received %q\nwant exactly once each, in order: %q", got, sent)
			}
			for _, m := range r.all("message", "alice") {
				if m.Body != "" && (bareOf(m.From) != "bob@localhost" || m.Type != "chat") {
					t.Errorf("alice received %q from %q type %q, want a chat from bob", m.Body, m.From, m.Type)
				}
			}
		})
	}
}

// TestInteropMobileCarbons has alice's two sessions enable carbons
// (XEP-0280): r2 gets a copy of what r1 receives and of what r1 sends.
func TestInteropMobileCarbons(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "alice-secret")
	h.env.AddUser("bob", "bob-secret")
	const toAlice, toBob = "Bob to r1: carbon this ✓", "r1 to Bob: and this <&>"
	d := h.start(t, "mobile_carbons.py", "--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost", "--alice-password", "alice-secret",
		"--bob", "bob@localhost/desk", "--bob-password", "bob-secret",
		"--to-alice", toAlice, "--to-bob", toBob)
	r := d.finish()
	const r1, r2, bob = "alice@localhost/r1", "alice@localhost/r2", "bob@localhost/desk"

	if got := r.bodies("r1"); !slices.Equal(got, []string{toAlice}) {
		t.Errorf("r1 received %q, want bob's message only", got)
	}
	if got := r.bodies("bob"); !slices.Equal(got, []string{toBob}) {
		t.Errorf("bob received %q, want r1's message only", got)
	}
	if got := r.bodies("r2"); len(got) != 0 {
		t.Errorf("r2 received %q outside carbons, want nothing", got)
	}
	if n := len(r.all("carbon", "r1")); n != 0 {
		t.Errorf("r1 received %d carbons of its own traffic, want none", n)
	}
	carbons := r.all("carbon", "r2")
	if len(carbons) != 2 {
		t.Fatalf("r2 received %d carbons, want 2", len(carbons))
	}
	for i, want := range []struct{ kind, from, to, body string }{
		{"received", bob, r1, toAlice},
		{"sent", r1, bob, toBob},
	} {
		c := carbons[i]
		if c.Carbon != want.kind || c.From != want.from || c.To != want.to || c.Body != want.body || c.Type != "chat" {
			t.Errorf("r2's carbon %d: %s of a %q message from %q to %q, body %q; want %s of a chat from %q to %q, body %q",
				i+1, c.Carbon, c.Type, c.From, c.To, c.Body, want.kind, want.from, want.to, want.body)
		}
		// XEP-0280 §6: a carbon comes from the user's bare JID.
		if c.Outer != "alice@localhost" {
			t.Errorf("r2's %s carbon is from %q, want alice@localhost", c.Carbon, c.Outer)
		}
	}
}

// TestInteropMobileCSI has alice go inactive (XEP-0352): the server holds
// bob's presence updates until she is active again, then sends the newest.
func TestInteropMobileCSI(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "alice-secret")
	h.env.AddUser("bob", "bob-secret")
	stats := h.env.Srv.Stats()
	statuses := []string{"in a meeting", "driving 🚗", "back at my desk"}
	// Nothing is held before alice goes inactive: she is the only one
	// who does, and bob's presences are the only stanzas she gets then.
	held := stats.CSIHeld.Load()
	d := h.start(t, "mobile_csi.py", "--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost/phone", "--alice-password", "alice-secret",
		"--bob", "bob@localhost/desk", "--bob-password", "bob-secret",
		"--statuses", statuses[0], statuses[1], statuses[2])
	d.await("csi", "alice")
	d.await("waiting", "")
	waitCounter(t, "presences held for alice", held+3, stats.CSIHeld.Load)
	d.goAhead()
	r := d.finish()

	if got := stats.CSIHeld.Load(); got != held+3 {
		t.Errorf("the server held %d stanzas, want 3", got-held)
	}
	if b := r.one("before_active", "alice"); b.Got != "0" {
		t.Errorf("alice received %s of bob's presences while inactive, want 0", b.Got)
	}
	var got []string
	for _, p := range r.all("status", "alice") {
		if p.Type == "available" {
			got = append(got, p.Status)
		}
	}
	if want := statuses[2:]; !slices.Equal(got, want) {
		t.Errorf("alice received bob's statuses %q once active, want only the newest %q", got, want)
	}
}

// TestInteropMobileMAM has alice page through her archive (XEP-0313) two
// messages at a time (XEP-0059): every message she and bob exchanged, in
// order, in the right direction.
func TestInteropMobileMAM(t *testing.T) {
	h := newHarness(t, func(c *server.Config) { c.Archive.Enabled = true })
	h.env.AddUser("alice", "alice-secret")
	h.env.AddUser("bob", "bob-secret")
	bodies := []string{"one: alice → bob", "two: bob → alice", "three ✓ <&>", "four", "five: bye"}
	d := h.start(t, "mobile_mam.py", append([]string{"--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost/phone", "--alice-password", "alice-secret",
		"--bob", "bob@localhost/desk", "--bob-password", "bob-secret",
		"--max", "2", "--bodies"}, bodies...)...)
	r := d.finish()

	got := r.all("archived", "")
	if len(got) != len(bodies) {
		t.Fatalf("alice's archive returned %d messages, want %d", len(got), len(bodies))
	}
	ids := map[string]bool{}
	for i, a := range got {
		wantDir, from, to := "out", "alice@localhost/phone", "bob@localhost/desk"
		if i%2 == 1 {
			wantDir, from, to = "in", to, from
		}
		if a.Body != bodies[i] || a.Dir != wantDir || a.From != from || bareOf(a.To) != bareOf(to) || a.Type != "chat" {
			t.Errorf("archived message %d: %s %q from %q to %q body %q; want %s chat from %q to %q body %q",
				i+1, a.Dir, a.Type, a.From, a.To, a.Body, wantDir, from, to, bodies[i])
		}
		if a.Index != i {
			t.Errorf("archived message %d was reported at index %d", i+1, a.Index)
		}
		if a.ID == "" || ids[a.ID] {
			t.Errorf("archived message %d has archive id %q: want a unique one", i+1, a.ID)
		}
		ids[a.ID] = true
	}
	// max=2 over five results: pages of 2, 2 and 1.
	if p := r.one("archive_done", "").Pages; p != 3 {
		t.Errorf("the archive came in %d pages of at most 2, want 3", p)
	}
	// XEP-0313 §4.3: complete='true' on the page that holds the last result.
	for i, p := range r.all("page", "") {
		want := []string{"2", "2", "1"}
		if i < len(want) && (p.Got != want[i] || p.OK != (i == len(want)-1)) {
			t.Errorf("page %d: %s results, complete=%v; want %s, complete=%v", i+1, p.Got, p.OK, want[i], i == len(want)-1)
		}
	}
}
