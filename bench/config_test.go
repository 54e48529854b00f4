package bench

import (
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{name: "defaults", args: "", check: func(t *testing.T, c *Config) {
			if c.Scenario != "idle" || c.Mix != (Mix{RoleIdle: 1}) || c.Mech != "SCRAM-SHA-1" || c.TLS != TLSNone || c.Sessions != 100 {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "chat", args: "--scenario chat --sessions 10 --rate 500 --msg-size 100 --tls starttls --duration 5s --server-pid 42 --json out.json",
			check: func(t *testing.T, c *Config) {
				if c.Mix != (Mix{RoleChat: 1}) || c.Rate != 500 || c.MsgSize != 100 || c.TLS != TLSStartTLS ||
					c.Duration != 5*time.Second || c.ServerPID != 42 || c.JSONFile != "out.json" {
					t.Errorf("chat: %+v", c)
				}
			}},
		{name: "direct tls, sha-256", args: "--tls direct --mech SCRAM-SHA-256", check: func(t *testing.T, c *Config) {
			if c.TLS != TLSDirect || c.Mech != "SCRAM-SHA-256" {
				t.Errorf("got %v %s", c.TLS, c.Mech)
			}
		}},
		{name: "mix default", args: "--scenario mix", check: func(t *testing.T, c *Config) {
			if c.Mix != (Mix{RoleIdle: 70, RoleChat: 20, RolePresence: 5, RoleLogin: 5}) {
				t.Errorf("mix: %v", c.Mix)
			}
		}},
		{name: "mix given", args: "--scenario mix --mix chat=3,idle=1", check: func(t *testing.T, c *Config) {
			if c.Mix != (Mix{RoleChat: 3, RoleIdle: 1}) || c.Mix.String() != "idle=1,chat=3" {
				t.Errorf("mix: %v", c.Mix)
			}
		}},
		{name: "source ips", args: "--source-ips 127.0.0.1-127.0.0.3,127.0.1.1", check: func(t *testing.T, c *Config) {
			if len(c.SourceIPs) != 4 || c.SourceIPs[3] != netip.MustParseAddr("127.0.1.1") {
				t.Errorf("source ips: %v", c.SourceIPs)
			}
		}},
		{name: "worker", args: "--worker 1/3 --sessions 10", check: func(t *testing.T, c *Config) {
			if c.WorkerIdx != 1 || c.WorkerOf != 3 {
				t.Errorf("worker %d/%d", c.WorkerIdx, c.WorkerOf)
			}
		}},
		{name: "unknown scenario", args: "--scenario flood", wantErr: "scenario"},
		{name: "mix without mix scenario", args: "--mix chat=1", wantErr: "--mix goes with"},
		{name: "bad mix role", args: "--scenario mix --mix chat=1,muc=2", wantErr: "unknown role"},
		{name: "zero mix", args: "--scenario mix --mix chat=0", wantErr: "no role"},
		{name: "negative join rate", args: "--scenario muc --join-rate -1", wantErr: "join-rate"},
		{name: "bad tls", args: "--tls ssl", wantErr: "tls"},
		{name: "bad mech", args: "--mech DIGEST-MD5", wantErr: "mech"},
		{name: "no sessions", args: "--sessions 0", wantErr: "sessions"},
		{name: "no duration", args: "--duration 0s", wantErr: "duration"},
		{name: "pattern without %d", args: "--users alice", wantErr: "users"},
		{name: "pattern with two verbs", args: "--users u%d%s", wantErr: "users"},
		{name: "small body", args: "--msg-size 10", wantErr: "msg-size"},
		{name: "more workers than sessions", args: "--workers 5 --sessions 4", wantErr: "workers"},
		{name: "bad worker", args: "--worker 3/3", wantErr: "worker"},
		{name: "stray argument", args: "idle", wantErr: "unexpected"},
		{name: "odd roster size", args: "--sessions 10 --roster-size 3", wantErr: "roster-size"},
		{name: "roster as large as the run", args: "--sessions 10 --roster-size 10", wantErr: "roster-size"},
		{name: "roster without the roster get", args: "--sessions 10 --roster-size 2 --no-roster", wantErr: "roster-size"},
		{name: "s2s", args: "--scenario s2s --sessions 10 --remote-addr 127.0.0.1:6222 --remote-domain b.test --remote-pid 9", check: func(t *testing.T, c *Config) {
			if c.Mix != (Mix{RoleChat: 1}) || !c.S2S() || c.RemoteAddr != "127.0.0.1:6222" || c.RemoteDomain != "b.test" || c.RemotePID != 9 {
				t.Errorf("s2s: %+v", c)
			}
			for i, want := range []bool{false, false, false, false, false, true, true, true, true, true} {
				if c.remote(i) != want {
					t.Errorf("session %d remote %v, want %v", i, c.remote(i), want)
				}
			}
		}},
		{name: "s2s without the other server", args: "--scenario s2s --sessions 10 --remote-domain b.test", wantErr: "--remote-addr"},
		{name: "s2s to the same domain", args: "--scenario s2s --sessions 10 --remote-addr x:1 --remote-domain localhost", wantErr: "no link"},
		{name: "s2s odd sessions", args: "--scenario s2s --sessions 9 --remote-addr x:1 --remote-domain b.test", wantErr: "even"},
		{name: "s2s with workers", args: "--scenario s2s --sessions 10 --workers 2 --remote-addr x:1 --remote-domain b.test", wantErr: "one process"},
		{name: "remote without s2s", args: "--scenario chat --remote-addr x:1", wantErr: "go with --scenario s2s"},
		{name: "pep without contacts", args: "--scenario pep --sessions 10", wantErr: "roster-size"},
		{name: "pep without nodes", args: "--scenario pep --sessions 10 --roster-size 2 --pep-nodes 0", wantErr: "pep-nodes"},
		{name: "pep", args: "--scenario pep --sessions 10 --roster-size 4 --pep-nodes 3 --pep-node urn:x", check: func(t *testing.T, c *Config) {
			if !c.PEP() || c.Mix != (Mix{RoleChat: 1}) || c.pepNode(0) != "urn:x-0" || c.pepNode(2) != "urn:x-2" || c.CapsWait != 5*time.Second {
				t.Errorf("pep: %+v", c)
			}
		}},
		{name: "run id out of range", args: "--run-id 4294967296", wantErr: "run-id"},
		{name: "roster size", args: "--sessions 10 --roster-size 8 --run-id 7", check: func(t *testing.T, c *Config) {
			if c.RosterSize != 8 || c.RunID != 7 {
				t.Errorf("roster size %d, run id %d", c.RosterSize, c.RunID)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseArgs(strings.Fields(tt.args), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestUserName(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		n       int
		want    string
	}{
		{"user%d", 1, "user1"},
		{"%d", 42, "42"},
		{"load-%d-x", 7, "load-7-x"},
	} {
		if got := UserName(tt.pattern, tt.n); got != tt.want {
			t.Errorf("UserName(%q, %d) = %q, want %q", tt.pattern, tt.n, got, tt.want)
		}
	}
	c := &Config{Users: "user%d", FirstUser: 1, UserOffset: 10}
	if got := c.User(0); got != "user11" {
		t.Errorf("User(0) with offset 10 = %q, want user11", got)
	}
}

func TestParseSourceIPs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "127.0.0.1", want: []string{"127.0.0.1"}},
		{in: "127.0.0.254-127.0.1.1", want: []string{"127.0.0.254", "127.0.0.255", "127.0.1.0", "127.0.1.1"}},
		{in: "127.0.0.1, 127.0.0.9", want: []string{"127.0.0.1", "127.0.0.9"}},
		{in: "127.0.0.5-127.0.0.1", wantErr: true},
		{in: "127.0.0.1-::1", wantErr: true},
		{in: "localhost", wantErr: true},
		{in: "10.0.0.0-10.2.0.0", wantErr: true}, // too many
	}
	for _, tt := range tests {
		got, err := ParseSourceIPs(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("%q: no error", tt.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("%q: got %v, want %v", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i].String() != tt.want[i] {
				t.Errorf("%q: got %v, want %v", tt.in, got, tt.want)
			}
		}
	}
}

func TestMixAssign(t *testing.T) {
	m := Mix{RoleIdle: 70, RoleChat: 20, RolePresence: 5, RoleLogin: 5}
	roles := m.Assign(1000)
	counts := roleCounts(roles)
	want := map[string]int{"idle": 700, "chat": 200, "presence": 50, "login": 50}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%s: %d sessions, want %d", k, counts[k], v)
		}
	}
	// interleaved: the first 20 sessions already hold idle and chat
	first := roleCounts(roles[:20])
	if first["idle"] == 0 || first["chat"] == 0 {
		t.Errorf("roles not interleaved: %v", first)
	}
}

func TestSlice(t *testing.T) {
	c := &Config{Sessions: 10, Rate: 90, Ramp: 30, PresRate: 3, Messages: 10, Inflight: 9}
	var sessions int
	var msgs int64
	for i := range 3 {
		w := c.slice(i, 3)
		if w.UserOffset != sessions {
			t.Errorf("worker %d: offset %d, want %d", i, w.UserOffset, sessions)
		}
		sessions += w.Sessions
		msgs += w.Messages
		if w.Rate != 30 || w.Ramp != 10 || w.PresRate != 1 || w.Inflight != 3 || w.allSessions() != 10 {
			t.Errorf("worker %d: %+v", i, w)
		}
	}
	// rosters span the whole run: the last worker's last session (user10)
	// has user1 and user2 among its contacts
	w := c.slice(2, 3)
	w.RosterSize, w.Users, w.FirstUser, w.Domain = 4, "user%d", 1, "localhost"
	r := &run{cfg: w}
	got := r.contactJIDs(&session{idx: int32(w.Sessions - 1)})
	if want := []string{"user1@localhost", "user9@localhost", "user2@localhost", "user8@localhost"}; !slices.Equal(got, want) {
		t.Errorf("contacts of user10 in worker 3/3: %v, want %v", got, want)
	}
	if sessions != 10 || msgs != 10 {
		t.Errorf("slices hold %d sessions and %d messages, want 10 and 10", sessions, msgs)
	}
}
