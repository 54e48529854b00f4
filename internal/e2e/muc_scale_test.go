package e2e

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// mucLoadEnv is a server whose rooms pace by their occupants' backlogs at
// small figures, with the per-occupant rate limit out of the way, and a
// room owned by alice with the others in it.
func mucLoadEnv(t *testing.T, names ...string) map[string]*stream {
	env := servertest.Start(t, func(c *server.Config) {
		c.MUC.BusyOutput = 16 << 10
		c.MUC.BusyShare = 0.3
		c.MUC.MessageRate, c.MUC.MessageBurst = 1e6, 1e6
	})
	u := map[string]*stream{}
	for i, n := range names {
		env.AddUser(n, "pw")
		u[n] = rawStream(t, env, n, "r")
		u[n].online()
		mucJoin(u[n], mucRoom, n, "<history maxstanzas='0'/>")
		mucSubject(u[n])
		if i == 0 {
			iqTo(u[n], "cfg", "set", mucRoom, instant)
		}
	}
	return u
}

// TestMUCBackPressure: a room fed faster than its occupants read. One
// stalled occupant does not stop the room: it is cut as a slow reader and
// the others go on. When several are behind (over busy_share of the
// sessions), the sender gets <resource-constraint/> of type wait from the
// room instead of the room queueing without bound; once they have read
// their backlog, the room takes messages again.
func TestMUCBackPressure(t *testing.T) {
	body := strings.Repeat("b", 4000)
	// send has alice send one message and returns what she got back: her
	// own reflection or the room's error
	send := func(alice *stream, id string) string {
		alice.send("<message to='" + mucRoom + "' type='groupchat' id='" + id + "'><body>" + body + "</body></message>")
		return alice.expect("</message>")
	}
	const bound = 5000 // 20 MB into a stalled connection: past the kernel's buffers and the output cap

	t.Run("one-slow", func(t *testing.T) {
		u := mucLoadEnv(t, "alice", "bob", "slow")
		alice, bob := u["alice"], u["bob"]
		// slow reads nothing from now on
		cut := false
		for i := 0; i < bound && !cut; i++ {
			id := fmt.Sprintf("g%d", i)
			if got := send(alice, id); strings.Contains(got, "type='error'") {
				t.Fatalf("message %d with one slow occupant of three: %s", i, got)
			}
			got := bob.expect("id='" + id + "'")
			bob.expect("</message>")
			// slow's session ended: the room tells the others it left
			cut = strings.Contains(got, "from='"+mucRoom+"/slow' type='unavailable'")
		}
		if !cut {
			t.Fatalf("the stalled occupant is still in the room after %d messages", bound)
		}
		if got := send(alice, "after"); strings.Contains(got, "type='error'") {
			t.Fatalf("after the slow reader was cut: %s", got)
		}
	})

	t.Run("many-slow", func(t *testing.T) {
		u := mucLoadEnv(t, "alice", "bob", "slow1", "slow2")
		alice, bob, slow1, slow2 := u["alice"], u["bob"], u["slow1"], u["slow2"]
		// slow1 and slow2 read nothing until the room refuses
		last, refused := "", ""
		for i := 0; i < bound && refused == ""; i++ {
			id := fmt.Sprintf("g%d", i)
			got := send(alice, id)
			if strings.Contains(got, "type='error'") {
				refused = got
				break
			}
			last = id
			if got := bob.expect("id='" + id + "'"); strings.Contains(got, "type='unavailable'") {
				t.Fatalf("an occupant was cut before the room refused: %s", got)
			}
			bob.expect("</message>")
		}
		if refused == "" {
			t.Fatalf("no refusal after %d messages to two stalled occupants of four", bound)
		}
		for _, w := range []string{"from='" + mucRoom + "'", "type='error'", "<error type='wait'>", "<resource-constraint xmlns='" + nsStanzas + "'/>"} {
			if !strings.Contains(refused, w) {
				t.Fatalf("the refusal %s lacks %s", refused, w)
			}
		}
		// the stalled ones read their backlog: the room takes messages again
		for _, s := range []*stream{slow1, slow2} {
			s.expect("id='" + last + "'")
		}
		for j := 0; ; j++ {
			id := fmt.Sprintf("again%d", j)
			got := send(alice, id)
			if !strings.Contains(got, "type='error'") {
				break
			}
			if j == bound {
				t.Fatalf("still refused after the backlog was read: %s", got)
			}
		}
	})
}

// TestMUCJoinPaced: in a room whose occupant list is many times the join
// window, a newcomer still gets every occupant's presence once, with its
// status, before its own presence (110), then the subject, although the
// list went out in parts as its connection drained.
func TestMUCJoinPaced(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.MUC.JoinWindow = 1024 })
	const n = 24
	status := strings.Repeat("s", 150)
	var last *stream
	for i := range n + 1 {
		name := fmt.Sprintf("u%02d", i)
		env.AddUser(name, "pw")
		s := rawStream(t, env, name, "r")
		s.online()
		if i == n {
			last = s
			break
		}
		s.send("<presence to='" + mucRoom + "/" + name + "'><x xmlns='" + nsMUC + "'/><status>" + name + status + "</status></presence>")
		s.expect("<status code='110'/></x>")
		mucSubject(s)
		if i == 0 {
			iqTo(s, "cfg", "set", mucRoom, instant)
		}
	}
	got := mucJoin(last, mucRoom, "late", "")
	for i := range n {
		name := fmt.Sprintf("u%02d", i)
		from := "from='" + mucRoom + "/" + name + "'"
		if c := strings.Count(got, from); c != 1 {
			t.Fatalf("%s listed %d times before the newcomer's own presence", name, c)
		}
		if !strings.Contains(got, "<status>"+name+status+"</status>") {
			t.Fatalf("%s listed without its status", name)
		}
	}
	if len(got) < 8*1024 {
		t.Fatalf("the list is %d bytes, want several join windows", len(got))
	}
	if s := mucSubject(last); !strings.Contains(s, "<subject") {
		t.Fatalf("after the self-presence: %s", s)
	}
}

// TestMUCPresenceStorm: an occupant changes its status thousands of times
// while another has stopped reading. The stalled one is not cut as a slow
// reader (the room's presences to it are coalesced, not queued), the one
// reading keeps getting the room's traffic, and once the stalled one reads
// it gets the sender's latest status, having been spared most of the others.
func TestMUCPresenceStorm(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) {
		c.MUC.PresenceBacklog = 4096
		c.MUC.MessageRate, c.MUC.MessageBurst = 1e6, 1e6
		c.Limits.MaxPendingOut = 256 << 10
	})
	u := map[string]*stream{}
	for i, n := range []string{"alice", "bob", "slow"} {
		env.AddUser(n, "pw")
		u[n] = rawStream(t, env, n, "r")
		u[n].online()
		mucJoin(u[n], mucRoom, n, "<history maxstanzas='0'/>")
		mucSubject(u[n])
		if i == 0 {
			iqTo(u[n], "cfg", "set", mucRoom, instant)
		}
	}
	alice, bob, slow := u["alice"], u["bob"], u["slow"]
	// slow reads nothing from now on; 8 MB of presences: past the kernel's
	// buffers and many times the output cap
	const storm = 8000
	pad := strings.Repeat("p", 1000)
	status := func(i int) string { return fmt.Sprintf("<status>s%d-%s</status>", i, pad) }
	go func() { _, _ = io.Copy(io.Discard, alice.c) }() // alice reads her own presences
	go func() {
		for i := range storm {
			if _, err := io.WriteString(alice.c, "<presence to='"+mucRoom+"/alice'>"+status(i)+"</presence>"); err != nil {
				return
			}
		}
		_, _ = io.WriteString(alice.c, "<message to='"+mucRoom+"' type='groupchat' id='after'><body>still here</body></message>")
	}()
	// bob reads along: the storm's end and the message after it reach him
	got := bob.expect("id='after'")
	if i := strings.Index(got, "type='unavailable'"); i >= 0 {
		t.Fatalf("an occupant left during the storm: %s", got[max(0, i-150):i+20])
	}
	if !strings.Contains(got, status(storm-1)) {
		// a presence owed while bob was behind may follow the message
		got += bob.expect(status(storm - 1))
	}
	t.Logf("the reading occupant got %d of alice's %d presences", strings.Count(got, "<presence from='"+mucRoom+"/alice'"), storm)
	// slow reads now: not cut, and it gets alice's latest status
	got = slow.expect(status(storm - 1))
	if !strings.Contains(got, "id='after'") {
		got += slow.expect("id='after'")
	}
	if strings.Contains(got, "<stream:error>") || strings.Contains(got, "from='"+mucRoom+"/slow' type='unavailable'") {
		t.Fatalf("the stalled occupant was cut: %s", got[len(got)-min(len(got), 300):])
	}
	n := strings.Count(got, "<presence from='"+mucRoom+"/alice'")
	if n >= storm/2 {
		t.Fatalf("the stalled occupant got %d of %d presences, want them coalesced", n, storm)
	}
	t.Logf("the stalled occupant got %d of alice's %d presences, %d bytes", n, storm, len(got))
}

// TestMUCReleaseAfterJoins: once a wave of release_after_joins joins has
// been quiet for a second, the server returns the freed heap to the OS once
// and says so in its log (smaller waves: TestReleaseWave in mod/muc).
func TestMUCReleaseAfterJoins(t *testing.T) {
	logs := newLogSink()
	env := servertest.StartLogged(t, logs, func(c *server.Config) {
		c.LogLevel = "info"
		c.MUC.ReleaseAfterJoins = 3
	})
	for i := range 3 {
		name := fmt.Sprintf("u%d", i)
		env.AddUser(name, "pw")
		s := rawStream(t, env, name, "r")
		s.online()
		mucJoin(s, mucRoom, name, "")
		mucSubject(s)
		if i == 0 {
			iqTo(s, "cfg", "set", mucRoom, instant)
		}
	}
	line := logs.wait(t, "join wave over", "joins=3", "mod=muc")
	for _, k := range []string{"took=", "released=", "heap_in_use="} {
		if !strings.Contains(line, k) {
			t.Fatalf("release log line without %s: %s", k, line)
		}
	}
}
