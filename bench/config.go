package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Role is what one simulated session does once logged in.
type Role uint8

const (
	RoleIdle     Role = iota // log in, get the roster, send presence, stay
	RoleLogin                // log in, close, log in again, until the run ends
	RoleChat                 // send one-to-one messages to a partner at the paced rate
	RolePresence             // send presence updates at the paced rate
	numRoles
)

var roleNames = [numRoles]string{"idle", "login", "chat", "presence"}

func (r Role) String() string {
	if r < numRoles {
		return roleNames[r]
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// Mix gives each role a weight; sessions are given roles in proportion.
type Mix [numRoles]int

// DefaultMix is the mix used by --scenario mix without --mix.
const DefaultMix = "idle=70,chat=20,presence=5,login=5"

// ParseMix reads "idle=70,chat=20,presence=5,login=5" (weights, any scale).
func ParseMix(s string) (Mix, error) {
	var m Mix
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return m, fmt.Errorf("mix: %q is not role=weight", part)
		}
		r := roleByName(strings.TrimSpace(name))
		if r == numRoles {
			return m, fmt.Errorf("mix: unknown role %q (idle, login, chat, presence)", name)
		}
		w, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || w < 0 {
			return m, fmt.Errorf("mix: weight of %s: %q is not a non-negative integer", name, val)
		}
		m[r] += w
		total += w
	}
	if total == 0 {
		return m, errors.New("mix: no role has a weight")
	}
	return m, nil
}

func roleByName(s string) Role {
	for i, n := range roleNames {
		if n == s {
			return Role(i)
		}
	}
	return numRoles
}

// String writes the mix back in ParseMix's form.
func (m Mix) String() string {
	var b strings.Builder
	for r, w := range m {
		if w == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(roleNames[r])
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(w))
	}
	return b.String()
}

// Assign gives each of n sessions a role, interleaved in proportion to the
// weights (smooth weighted round robin), so that every role ramps up together.
func (m Mix) Assign(n int) []Role {
	total := 0
	for _, w := range m {
		total += w
	}
	roles := make([]Role, n)
	var cur [numRoles]int
	for i := range roles {
		best := -1
		for r, w := range m {
			if w == 0 {
				continue
			}
			cur[r] += w
			if best < 0 || cur[r] > cur[best] {
				best = r
			}
		}
		cur[best] -= total
		roles[i] = Role(best)
	}
	return roles
}

// TLSMode is how the client secures its stream.
type TLSMode uint8

const (
	TLSNone     TLSMode = iota // plain TCP (never upgrades, even if offered)
	TLSStartTLS                // STARTTLS (RFC 6120 §5)
	TLSDirect                  // TLS from the first byte (XEP-0368)
)

var tlsNames = [...]string{"none", "starttls", "direct"}

func (t TLSMode) String() string { return tlsNames[t] }

func parseTLS(s string) (TLSMode, error) {
	for i, n := range tlsNames {
		if n == s {
			return TLSMode(i), nil
		}
	}
	return 0, fmt.Errorf("tls: %q is not none, starttls or direct", s)
}

// Mechanisms the client can use.
var mechanisms = []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"}

// Config describes one run. ParseArgs fills it from the command line.
type Config struct {
	Addr       string // server host:port
	Domain     string // the XMPP domain users log in to
	ServerName string // TLS server name (default Domain)
	TLS        TLSMode
	TLSVerify  bool   // verify the server's certificate
	TLSPQ      bool   // offer the post-quantum hybrid X25519MLKEM768 key exchange first
	Mech       string // SASL mechanism
	Resource   string // resource prefix; the session number is appended

	Scenario string // idle, login, chat, presence, muc or mix
	// RoomSize: --scenario muc puts every RoomSize sessions in one room
	// (XEP-0045) at MUCHost and sends the chat rate as groupchat messages.
	RoomSize int
	MUCHost  string
	JoinRate float64 // muc: joins a second in the join phase (0: all at once)
	// RemoteAddr and RemoteDomain: --scenario s2s logs the second half of
	// the sessions in to this other server, each the chat partner of one
	// on Addr, so that every message crosses the servers' s2s link;
	// RemotePID is that server's process, sampled as ServerPID is.
	RemoteAddr   string
	RemoteDomain string
	RemotePID    int
	Mix          Mix // roles of the sessions
	// --scenario pep (pep.go): the node every user publishes to (with
	// PEPNodes > 1: NAME-0 … NAME-k, in turn), and how long the publishing
	// waits for the server to have read a caps answer
	PEPNodeName string
	PEPNodes    int
	CapsWait    time.Duration

	Sessions    int    // concurrent sessions (for login: concurrent login loops)
	Users       string // user name pattern with one %d
	FirstUser   int    // number of the first user (default 1)
	Password    string // common password
	Register    bool   // provision accounts by in-band registration (XEP-0077) first
	NoRoster    bool   // skip the roster get after binding
	RosterSize  int    // contacts per user, subscribed both ways (roster.go); even
	AllSessions int    // sessions of the whole run, all workers (0: Sessions)
	SM          bool   // enable XEP-0198 stream management (resume allowed) after binding
	SourceIPs   []netip.Addr
	Ramp        float64       // session arrivals per second; 0: as fast as Inflight allows
	Inflight    int           // logins in progress at once
	Duration    time.Duration // the whole run, ramp included
	Drain       time.Duration // wait for outstanding messages after sending stops
	Timeout     time.Duration // one login (connect to presence)
	Keepalive   time.Duration // whitespace keepalive interval on idle streams; 0: none
	Rate        float64       // chat messages per second, all chat sessions together
	Messages    int64         // stop chat after this many messages; 0: until the end
	PresRate    float64       // presence updates per second, all presence sessions together
	MsgSize     int           // message body bytes
	ServerPID   int           // sample this process's RSS and CPU
	ServerData  string        // an Ignis data folder: ServerPID from its pid file
	MaxFailed   float64       // fraction of sessions that may fail before the run counts as failed
	Workers     int           // child processes
	JSONFile    string
	HTMLFile    string
	Progress    time.Duration // progress line interval; 0: none
	CPUProfile  string        // write the load generator's own CPU profile here
	NoLoops     bool          // keep online plain-TCP sessions on goroutines (no epoll loops)
	Transport   string        // "tcp" (default) or "websocket" (RFC 7395 at WSPath; goroutines, no loops)
	WSPath      string        // the WebSocket path; default "/xmpp-websocket"
	Tick        time.Duration // event loops: the shortest time between two send wakeups
	Split       bool          // event loops: split each message's latency (send, server, receive; evloop_linux.go)
	WorkerIdx   int           // set in a child process
	WorkerOf    int           // number of workers, set in a child process (0: not a child)
	UserOffset  int           // global index of this process's first session (set for children)
	RunID       uint32        // the id in every mark; 0: a random one (the parent gives its workers one)
}

// User returns the user name of this process's session n (from 0); names
// are numbered from FirstUser across all workers.
func (c *Config) User(n int) string {
	return UserName(c.Users, c.FirstUser+c.UserOffset+n)
}

// UserName fills pattern's %d with n ("user%d", 7 → "user7").
func UserName(pattern string, n int) string {
	pre, post, _ := strings.Cut(pattern, "%d")
	return pre + strconv.Itoa(n) + post
}

// checkPattern requires exactly one %d and no other verb.
func checkPattern(p string) error {
	if strings.Count(p, "%d") != 1 || strings.Count(p, "%") != 1 {
		return fmt.Errorf("users: pattern %q must hold exactly one %%d and no other %%", p)
	}
	return nil
}

// ParseSourceIPs reads "127.0.0.1-127.0.0.50", a comma-separated list of
// addresses and ranges, or "" (none: the kernel chooses).
func ParseSourceIPs(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("source-ips: %q: %v", lo, err)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, err := netip.ParseAddr(strings.TrimSpace(hi))
		if err != nil {
			return nil, fmt.Errorf("source-ips: %q: %v", hi, err)
		}
		if a.Is4() != b.Is4() || b.Less(a) {
			return nil, fmt.Errorf("source-ips: %q is not an ascending range of one family", part)
		}
		for x := a; ; x = x.Next() {
			out = append(out, x)
			if len(out) > 1<<16 {
				return nil, errors.New("source-ips: more than 65536 addresses")
			}
			if x == b {
				break
			}
		}
	}
	return out, nil
}

// ParseArgs reads the command line of `ignis bench`. Usage and flag errors
// go to errOut.
func ParseArgs(args []string, errOut io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:5222", "server `host:port`")
	fs.StringVar(&c.Domain, "domain", "localhost", "XMPP `domain` of the accounts")
	fs.StringVar(&c.ServerName, "server-name", "", "TLS server `name` (default: the domain)")
	tlsMode := fs.String("tls", "none", "`mode`: none, starttls or direct")
	fs.BoolVar(&c.TLSVerify, "tls-verify", false, "verify the server certificate")
	fs.BoolVar(&c.TLSPQ, "tls-pq", false, "offer the post-quantum hybrid key exchange X25519MLKEM768 first (default: X25519 and P-256 only, which every peer server can take)")
	fs.StringVar(&c.Mech, "mech", "SCRAM-SHA-1", "SASL `mechanism`: "+strings.Join(mechanisms, ", "))
	fs.StringVar(&c.Resource, "resource", "bench", "resource `prefix` (the session number is appended)")
	fs.StringVar(&c.Scenario, "scenario", "idle", "`name`: idle, login, chat, presence, muc, s2s, pep or mix")
	fs.StringVar(&c.PEPNodeName, "pep-node", "urn:ignis:bench:pep", "pep: the PEP `node` each user publishes to (--rate publishes/s in all; each notifies the --roster-size contacts, whose caps ask for NODE+notify)")
	fs.IntVar(&c.PEPNodes, "pep-nodes", 1, "pep: `nodes` per user, NODE-0 … NODE-k published to in turn, one item each (for memory per stored item)")
	fs.DurationVar(&c.CapsWait, "caps-wait", 5*time.Second, "pep: wait at most this long before publishing for the server to have read a caps answer (a server that cached the caps asks nothing)")
	fs.IntVar(&c.RoomSize, "room-size", 10, "muc: occupants per `room` (the sessions in turn; --rate is groupchat messages, each delivered to every occupant)")
	fs.StringVar(&c.MUCHost, "muc-host", "", "muc: the group chat service's `domain` (default conference.DOMAIN)")
	fs.Float64Var(&c.JoinRate, "join-rate", 0, "muc: room joins per `second` once every session is logged in (0: all at once; a room's joins fan out n² presences, which a server buffers)")
	fs.StringVar(&c.RemoteAddr, "remote-addr", "", "s2s: the other server's c2s `host:port` (half the sessions log in there)")
	fs.StringVar(&c.RemoteDomain, "remote-domain", "", "s2s: the other server's XMPP `domain` (its accounts are named as --users)")
	fs.IntVar(&c.RemotePID, "remote-pid", 0, "s2s: sample the other server's process too (RSS and CPU, memory of the link)")
	mix := fs.String("mix", "", "role weights for --scenario mix (default \""+DefaultMix+"\")")
	fs.IntVar(&c.Sessions, "sessions", 100, "concurrent `sessions` (login: concurrent login loops)")
	fs.StringVar(&c.Users, "users", "user%d", "user name `pattern`, numbered from --first-user")
	fs.IntVar(&c.FirstUser, "first-user", 1, "`number` of the first user")
	fs.StringVar(&c.Password, "password", "secret", "common `password`")
	fs.BoolVar(&c.Register, "register", false, "create the accounts by in-band registration (XEP-0077) first")
	fs.BoolVar(&c.NoRoster, "no-roster", false, "do not ask for the roster after binding")
	fs.IntVar(&c.RosterSize, "roster-size", 0, "`contacts` per user, the neighbours by number, subscribed both ways through the protocol before the load starts (even; presence fans out to them)")
	fs.BoolVar(&c.SM, "sm", false, "enable stream management (XEP-0198 sm:3, resume allowed) after binding and answer the server's <r/>")
	srcIPs := fs.String("source-ips", "", "local `addresses` to spread sockets over, e.g. 127.0.0.1-127.0.0.50")
	fs.Float64Var(&c.Ramp, "ramp", 0, "session arrivals per `second` (0: as fast as --inflight allows)")
	fs.IntVar(&c.Inflight, "inflight", 200, "logins in progress at once")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "length of the run, ramp included (muc, pep, s2s: of the sending, after every login and join, roster and caps, or the link)")
	fs.DurationVar(&c.Drain, "drain", 5*time.Second, "after sending stops, wait this long at most for outstanding messages")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Second, "time allowed for one login")
	fs.DurationVar(&c.Keepalive, "keepalive", 0, "whitespace keepalive interval for online sessions (0: none)")
	fs.Float64Var(&c.Rate, "rate", 100, "chat messages per `second`, all sessions together")
	fs.Int64Var(&c.Messages, "messages", 0, "stop chat after this many `messages` (0: until the end)")
	fs.Float64Var(&c.PresRate, "presence-rate", 50, "presence updates per `second`, all sessions together")
	fs.IntVar(&c.MsgSize, "msg-size", 64, "message body `bytes` (at least 48)")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "sample this server process's RSS and CPU")
	fs.StringVar(&c.ServerData, "server-data", "", "an Ignis data `folder`: sample the server running on it (its pid file), instead of --server-pid")
	fs.Float64Var(&c.MaxFailed, "max-failed", 0.01, "the `fraction` of sessions that may fail; above it the run exits non-zero (1 allows any)")
	fs.IntVar(&c.Workers, "workers", 1, "worker processes, each with a slice of the sessions")
	fs.StringVar(&c.JSONFile, "json", "", "write the result as JSON to `file`")
	fs.StringVar(&c.HTMLFile, "html", "", "write an HTML report (charts, summary, configuration; self-contained) to `file`")
	fs.DurationVar(&c.Progress, "progress", time.Second, "progress line interval on stderr (0: none)")
	fs.DurationVar(&c.Tick, "tick", 100*time.Microsecond, "event loops: the shortest `time` between two send wakeups (a due message waits at most this long)")
	fs.BoolVar(&c.Split, "split", false, "event loops: split each message's latency into the load generator's send lag, the server's part (to the reply's kernel receive timestamp) and the load generator's receive lag")
	fs.BoolVar(&c.NoLoops, "no-loops", false, "keep online plain-TCP sessions on a goroutine each instead of moving them to epoll loops (for comparison)")
	fs.StringVar(&c.Transport, "transport", "tcp", "`name`: tcp, or websocket (RFC 7395 on --addr, the server's [web] http port; plain only)")
	fs.StringVar(&c.WSPath, "ws-path", "/xmpp-websocket", "the WebSocket `path` for --transport websocket")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write the load generator's own CPU profile (pprof) to `file`")
	worker := fs.String("worker", "", "internal: `i/n` runs as worker i of n and reports JSON lines on stdout")
	runID := fs.Uint("run-id", 0, "internal: the run `id` marked in every message (workers share their parent's)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	var err error
	if c.TLS, err = parseTLS(*tlsMode); err != nil {
		return nil, err
	}
	if c.SourceIPs, err = ParseSourceIPs(*srcIPs); err != nil {
		return nil, err
	}
	switch c.Scenario {
	case "idle", "login", "chat", "presence", "muc", "s2s", "pep":
		if *mix != "" {
			return nil, errors.New("mix: --mix goes with --scenario mix")
		}
		if c.Scenario == "s2s" {
			c.Mix[RoleChat] = 1
		} else if c.Scenario == "pep" {
			c.Mix[RoleChat] = 1 // the publishers: paced like chat
		} else if c.Scenario == "muc" {
			if c.RoomSize < 1 {
				return nil, errors.New("room-size: must be at least 1")
			}
			if c.MUCHost == "" {
				c.MUCHost = "conference." + c.Domain
			}
			c.Mix[RoleChat] = 1
		} else {
			c.Mix[roleByName(c.Scenario)] = 1
		}
	case "mix":
		if *mix == "" {
			*mix = DefaultMix
		}
		if c.Mix, err = ParseMix(*mix); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("scenario: %q is not idle, login, chat, presence, muc, s2s, pep or mix", c.Scenario)
	}
	if *runID > math.MaxUint32 {
		return nil, fmt.Errorf("run-id: %d is out of range", *runID)
	}
	c.RunID = uint32(*runID)
	if *worker != "" {
		i, n, ok := strings.Cut(*worker, "/")
		c.WorkerIdx, _ = strconv.Atoi(i)
		c.WorkerOf, _ = strconv.Atoi(n)
		if !ok || c.WorkerOf < 1 || c.WorkerIdx < 0 || c.WorkerIdx >= c.WorkerOf {
			return nil, fmt.Errorf("worker: %q is not i/n", *worker)
		}
	}
	return c, c.Validate()
}

// Validate checks the values' ranges.
func (c *Config) Validate() error {
	switch {
	case c.Addr == "":
		return errors.New("addr: must not be empty")
	case c.Domain == "":
		return errors.New("domain: must not be empty")
	case c.Sessions < 1:
		return fmt.Errorf("sessions: %d is less than 1", c.Sessions)
	case c.Transport != "" && c.Transport != "tcp" && c.Transport != "websocket":
		return fmt.Errorf("transport: %q is not tcp or websocket", c.Transport)
	case c.Transport == "websocket" && c.TLS != TLSNone:
		return errors.New("transport: websocket runs over plain HTTP only (--tls none)")
	case c.RosterSize < 0 || c.RosterSize%2 != 0 || c.RosterSize > 0 && c.RosterSize >= c.allSessions():
		return fmt.Errorf("roster-size: %d must be even and less than the sessions (%d)", c.RosterSize, c.allSessions())
	case c.RosterSize > 0 && c.NoRoster:
		return errors.New("roster-size: needs the roster get (no --no-roster)")
	case c.Duration <= 0 || c.Duration > 24*time.Hour:
		return fmt.Errorf("duration: %v is outside (0, 24h]", c.Duration)
	case c.Timeout <= 0:
		return errors.New("timeout: must be positive")
	case c.MaxFailed < 0 || c.MaxFailed > 1:
		return fmt.Errorf("max-failed: %v is outside 0..1", c.MaxFailed)
	case c.ServerData != "" && c.ServerPID != 0:
		return errors.New("server-data, server-pid: give one")
	case c.Drain < 0:
		return errors.New("drain: must not be negative")
	case c.Ramp < 0 || c.Rate < 0 || c.PresRate < 0 || c.JoinRate < 0:
		return errors.New("ramp, rate, presence-rate, join-rate: must not be negative")
	case c.Inflight < 1:
		return errors.New("inflight: must be at least 1")
	case c.MsgSize < minBody || c.MsgSize > 1<<20:
		return fmt.Errorf("msg-size: %d is outside %d..1048576", c.MsgSize, minBody)
	case c.Messages < 0:
		return errors.New("messages: must not be negative")
	case c.Workers < 1 || c.Workers > 64:
		return fmt.Errorf("workers: %d is outside 1..64", c.Workers)
	case c.Workers > c.Sessions:
		return fmt.Errorf("workers: %d is more than the %d sessions", c.Workers, c.Sessions)
	case c.Password == "":
		return errors.New("password: must not be empty")
	case c.PEP() && c.RosterSize < 2:
		return errors.New("roster-size: pep needs contacts to notify (at least 2)")
	case c.PEP() && (c.PEPNodes < 1 || c.PEPNodes > 1000 || c.PEPNodeName == ""):
		return fmt.Errorf("pep-node, pep-nodes: a node name and 1..1000 nodes (%d)", c.PEPNodes)
	case c.CapsWait < 0:
		return errors.New("caps-wait: must not be negative")
	}
	if err := checkPattern(c.Users); err != nil {
		return err
	}
	if err := c.validateS2S(); err != nil {
		return err
	}
	if c.FirstUser < 0 {
		return errors.New("first-user: must not be negative")
	}
	ok := false
	for _, m := range mechanisms {
		ok = ok || m == c.Mech
	}
	if !ok {
		return fmt.Errorf("mech: %q is not one of %s", c.Mech, strings.Join(mechanisms, ", "))
	}
	return nil
}

// validateS2S checks what --scenario s2s needs: the other server, pairs
// that split evenly, one process (the link's memory is sampled around the
// first message of the run, which only a single process can time).
func (c *Config) validateS2S() error {
	if !c.S2S() {
		if c.RemoteAddr != "" || c.RemoteDomain != "" || c.RemotePID != 0 {
			return errors.New("remote-addr, remote-domain, remote-pid: go with --scenario s2s")
		}
		return nil
	}
	switch {
	case c.RemoteAddr == "" || c.RemoteDomain == "":
		return errors.New("s2s: needs --remote-addr and --remote-domain (the other server)")
	case c.RemoteDomain == c.Domain:
		return fmt.Errorf("s2s: --remote-domain %q is --domain: no link would be crossed", c.RemoteDomain)
	case c.Sessions%2 != 0 || c.Sessions < 2:
		return fmt.Errorf("s2s: sessions: %d is not an even number of at least 2 (one half on each server)", c.Sessions)
	case c.Workers > 1 || c.WorkerOf > 0:
		return errors.New("s2s: runs in one process (--workers 1)")
	case c.RosterSize > 0 || c.Transport == "websocket":
		return errors.New("s2s: --roster-size and --transport websocket are not supported")
	}
	return nil
}

// S2S reports whether the run chats across two servers (--scenario s2s).
func (c *Config) S2S() bool { return c.Scenario == "s2s" }

// remote reports whether this process's session i logs in to the remote
// server (--scenario s2s: the second half).
func (c *Config) remote(i int) bool { return c.S2S() && i >= c.Sessions/2 }

// MUC reports whether chat goes to rooms (--scenario muc).
func (c *Config) MUC() bool { return c.Scenario == "muc" }

// roomOf is the room of the session with global index g, and its size.
func (c *Config) roomOf(g int) (room, size int) {
	room = g / c.RoomSize
	return room, min(c.RoomSize, c.allSessions()-room*c.RoomSize)
}

// slice returns the configuration of worker i of n: its share of the
// sessions, rates and message budget, numbered after the workers before it.
func (c *Config) slice(i, n int) *Config {
	w := *c
	lo, hi := c.Sessions*i/n, c.Sessions*(i+1)/n
	w.Sessions = hi - lo
	w.AllSessions = c.allSessions()
	w.UserOffset = c.UserOffset + lo
	f := float64(n)
	w.Ramp, w.Rate, w.PresRate = c.Ramp/f, c.Rate/f, c.PresRate/f
	w.Messages = c.Messages*int64(i+1)/int64(n) - c.Messages*int64(i)/int64(n)
	w.Inflight = max(1, c.Inflight/n)
	w.WorkerIdx, w.WorkerOf = i, n
	return &w
}

// allSessions counts the sessions of the whole run, all workers.
func (c *Config) allSessions() int {
	if c.AllSessions > 0 {
		return c.AllSessions
	}
	return c.Sessions
}

// defaultProcs is the GOMAXPROCS a worker process should use.
func defaultProcs(workers int) int { return max(1, runtime.NumCPU()/workers) }

// roleCounts counts the roles of the mix over n sessions.
func roleCounts(roles []Role) map[string]int {
	m := map[string]int{}
	for _, r := range roles {
		m[r.String()]++
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
