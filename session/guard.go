package session

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// GuardConfig limits what strangers (clients not yet authenticated) may
// cost the whole server. Zero fields take defaults; see EnsureDefaults.
type GuardConfig struct {
	// MaxConnsPerIP caps the open connections from one address; default 50.
	MaxConnsPerIP int
	// ConnRatePerIP is how many new connections per second one address may
	// open on average, with bursts of ConnBurstPerIP; defaults 5 and 20.
	ConnRatePerIP  float64
	ConnBurstPerIP int
	// AuthFailures failed logins from one address within AuthBanTime ban the
	// address for AuthBanTime (as ejabberd's mod_fail2ban); defaults 20, 1 h.
	AuthFailures int
	AuthBanTime  time.Duration
	// MaxPreAuthBytes caps the input buffered (in unfinished elements) by all
	// unauthenticated streams together; default 32 MiB. A stream whose input
	// would go past it ends with <resource-constraint/>.
	MaxPreAuthBytes int64
	// RefusalLogInterval spaces the log lines about refused connections of
	// one address: its first refusal is logged, later ones are counted and
	// summed up at most once per interval; default 1 min.
	RefusalLogInterval time.Duration
	// ExemptLoopback lifts the per-address limits (not MaxPreAuthBytes) for
	// 127.0.0.0/8 and ::1, so that local load generators and tools work.
	ExemptLoopback bool
}

// EnsureDefaults fills zero fields with their defaults.
func (g *GuardConfig) EnsureDefaults() {
	if g.MaxConnsPerIP == 0 {
		g.MaxConnsPerIP = 50
	}
	if g.ConnRatePerIP == 0 {
		g.ConnRatePerIP = 5
	}
	if g.ConnBurstPerIP == 0 {
		g.ConnBurstPerIP = 20
	}
	if g.AuthFailures == 0 {
		g.AuthFailures = 20
	}
	if g.AuthBanTime == 0 {
		g.AuthBanTime = time.Hour
	}
	if g.MaxPreAuthBytes == 0 {
		g.MaxPreAuthBytes = 32 << 20
	}
	if g.RefusalLogInterval == 0 {
		g.RefusalLogInterval = time.Minute
	}
}

// Validate reports the first value out of its sane range.
func (g GuardConfig) Validate() error {
	switch {
	case g.MaxConnsPerIP < 1:
		return fmt.Errorf("max_conns_per_ip %d is below 1", g.MaxConnsPerIP)
	case g.ConnRatePerIP <= 0:
		return fmt.Errorf("conn_rate_per_ip %v is not positive", g.ConnRatePerIP)
	case g.ConnBurstPerIP < 1:
		return fmt.Errorf("conn_burst_per_ip %d is below 1", g.ConnBurstPerIP)
	case g.AuthFailures < 1:
		return fmt.Errorf("auth_failures_per_ip %d is below 1", g.AuthFailures)
	case g.AuthBanTime < time.Second:
		return fmt.Errorf("auth_ban_time %s is below 1s", g.AuthBanTime)
	case g.MaxPreAuthBytes < 1<<20:
		return fmt.Errorf("max_pre_auth_bytes %d is below 1 MiB", g.MaxPreAuthBytes)
	case g.RefusalLogInterval < time.Second || g.RefusalLogInterval > 24*time.Hour:
		return fmt.Errorf("refusal_log_interval %s is not within 1s..24h", g.RefusalLogInterval)
	}
	return nil
}

// Guard is what every stream of a server shares about strangers: open
// connections, connection rate and failed logins per address, and the input
// buffered by unauthenticated streams. Safe for concurrent use; one per
// server (all listeners), set in Config.Guard.
type Guard struct {
	cfg     GuardConfig
	preAuth atomic.Int64 // bytes held by unauthenticated streams' tokenizers
	now     func() time.Time
	log     *slog.Logger // refusals; set by Config.Prepare

	mu struct {
		sync.Mutex
		peers map[netip.Addr]*peer // guarded by mu
		swept time.Time            // guarded by mu: last sweep of idle entries
	}
}

// peer is what the Guard knows of one address.
type peer struct {
	conns    int       // open connections
	tokens   float64   // connection-rate bucket
	refilled time.Time // when tokens was last topped up
	fails    int       // failed logins since failStart
	failFrom time.Time
	banned   time.Time // banned until then
	// Refusals are logged sparingly (logRefusal): quiet counts those not
	// logged since quietEnd was set; last is the latest refused address
	// (the key of an IPv6 /64 is not one) and why.
	quiet    int
	quietEnd time.Time
	last     netip.Addr
	reason   Refusal
}

// refusalLine is one log line about refused connections: the first of an
// address (n 0), or a summary of n more.
type refusalLine struct {
	ip     netip.Addr
	reason Refusal
	n      int
}

func (g *Guard) logRefusals(lines []refusalLine) {
	if g.log == nil {
		return
	}
	for _, l := range lines {
		if l.n == 0 {
			g.log.Warn("connection refused", "ip", l.ip.String(), "reason", string(l.reason))
		} else {
			g.log.Warn("connections refused", "ip", l.ip.String(), "reason", string(l.reason), "count", l.n, "within", g.cfg.RefusalLogInterval.String())
		}
	}
}

// refuse notes a refusal of ip (p's address) and returns the line to log,
// if any: a refusal after a quiet interval is logged as it is, so the first
// refusal of an address is never hidden; while refusals keep coming they
// are summed up in one line an interval. mu is held.
func (g *Guard) refuse(p *peer, ip netip.Addr, r Refusal, now time.Time, lines []refusalLine) []refusalLine {
	p.last, p.reason = ip, r
	switch {
	case now.Before(p.quietEnd):
		p.quiet++
		return lines
	case p.quiet > 0:
		lines = append(lines, refusalLine{ip, r, p.quiet + 1})
	default:
		lines = append(lines, refusalLine{ip, r, 0})
	}
	p.quiet, p.quietEnd = 0, now.Add(g.cfg.RefusalLogInterval)
	return lines
}

// NewGuard returns a Guard; cfg's zero fields take defaults.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Guard{cfg: cfg, now: time.Now}
	g.mu.peers = map[netip.Addr]*peer{}
	return g, nil
}

// Refusal says why a connection was refused; "" admits it.
type Refusal string

const (
	refusedBanned Refusal = "too many failed logins from this address"
	refusedConns  Refusal = "too many connections from this address"
	refusedRate   Refusal = "connecting too fast from this address"
)

// peerAddr is the address limits are kept for: IPv4-mapped IPv6 addresses
// count as their IPv4 address. The zero Addr (not TCP) is never limited.
func peerAddr(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

func (g *Guard) exempt(ip netip.Addr) bool {
	return !ip.IsValid() || (g.cfg.ExemptLoopback && ip.IsLoopback())
}

// limitKey is what an address is counted as: an IPv6 address as its /64,
// the block one subscriber gets, so that an attacker cannot step around the
// limits by changing the low bits.
func limitKey(ip netip.Addr) netip.Addr {
	if ip.Is6() && !ip.IsLoopback() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// Admit counts a new connection from ip, or says why it is refused (and
// logs that, sparingly: see refuse). An admitted connection must be let go
// with Leave.
func (g *Guard) Admit(ip netip.Addr) Refusal {
	if g.exempt(ip) {
		return ""
	}
	now := g.now()
	g.mu.Lock()
	var lines [2]refusalLine // on the stack: nothing to log is the usual case
	log := g.sweep(now, lines[:0])
	p := g.peer(limitKey(ip), now)
	r := g.admit(p, now)
	if r != "" {
		log = g.refuse(p, ip, r, now, log)
	}
	g.mu.Unlock()
	g.logRefusals(log)
	return r
}

// admit applies the limits to a connection from p. mu is held.
func (g *Guard) admit(p *peer, now time.Time) Refusal {
	if now.Before(p.banned) {
		return refusedBanned
	}
	p.tokens = min(float64(g.cfg.ConnBurstPerIP), p.tokens+now.Sub(p.refilled).Seconds()*g.cfg.ConnRatePerIP)
	p.refilled = now
	if p.conns >= g.cfg.MaxConnsPerIP {
		return refusedConns
	}
	if p.tokens < 1 {
		return refusedRate
	}
	p.tokens--
	p.conns++
	return ""
}

// peer returns ip's entry, made with a full rate bucket. mu is held.
func (g *Guard) peer(ip netip.Addr, now time.Time) *peer {
	p := g.mu.peers[ip]
	if p == nil {
		p = &peer{tokens: float64(g.cfg.ConnBurstPerIP), refilled: now}
		g.mu.peers[ip] = p
	}
	return p
}

// Leave lets go of a connection Admit counted.
func (g *Guard) Leave(ip netip.Addr) {
	if g.exempt(ip) {
		return
	}
	ip = limitKey(ip)
	g.mu.Lock()
	if p := g.mu.peers[ip]; p != nil && p.conns > 0 {
		p.conns--
	}
	g.mu.Unlock()
}

// Failed counts a failed login from ip and reports whether the address is
// banned now (the failure that reached the limit included).
func (g *Guard) Failed(ip netip.Addr) bool {
	if g.exempt(ip) {
		return false
	}
	ip = limitKey(ip)
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.peer(ip, now)
	if now.Sub(p.failFrom) > g.cfg.AuthBanTime {
		p.fails, p.failFrom = 0, now
	}
	p.fails++
	if p.fails >= g.cfg.AuthFailures {
		p.banned = now.Add(g.cfg.AuthBanTime)
		p.fails, p.failFrom = 0, now
		return true
	}
	return now.Before(p.banned)
}

// Banned reports whether ip is banned for failed logins.
func (g *Guard) Banned(ip netip.Addr) bool {
	if g.exempt(ip) {
		return false
	}
	ip = limitKey(ip)
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.mu.peers[ip]
	return p != nil && now.Before(p.banned)
}

// sweepEvery bounds how often Admit walks the table to forget idle addresses:
// the table holds only addresses with connections, a ban, recent failures or
// a recent connection, so it stays as small as the attack.
const sweepEvery = 10 * time.Second

// sweep drops entries that hold nothing any more, and sums up refusals
// not logged whose interval has passed (so a flood that stopped still gets
// its summary). mu is held.
func (g *Guard) sweep(now time.Time, lines []refusalLine) []refusalLine {
	if now.Sub(g.mu.swept) < sweepEvery {
		return lines
	}
	g.mu.swept = now
	full := time.Duration(float64(g.cfg.ConnBurstPerIP)/g.cfg.ConnRatePerIP*float64(time.Second)) + time.Second
	for ip, p := range g.mu.peers {
		if p.quiet > 0 && !now.Before(p.quietEnd) {
			lines = append(lines, refusalLine{p.last, p.reason, p.quiet})
			p.quiet, p.quietEnd = 0, now.Add(g.cfg.RefusalLogInterval)
		}
		if p.conns == 0 && p.quiet == 0 && !now.Before(p.banned) && now.Sub(p.failFrom) > g.cfg.AuthBanTime && now.Sub(p.refilled) > full {
			delete(g.mu.peers, ip)
		}
	}
	return lines
}

// hold moves a stream's count of pre-authentication bytes from *held to n,
// and reports false if that takes the total over MaxPreAuthBytes (the count
// is then left at n: the caller ends the stream, which releases it).
func (g *Guard) hold(held *int, n int) bool {
	d := n - *held
	if d == 0 {
		return true
	}
	*held = n
	total := g.preAuth.Add(int64(d))
	return d < 0 || total <= g.cfg.MaxPreAuthBytes
}

// PreAuthBytes returns the input buffered by unauthenticated streams now.
func (g *Guard) PreAuthBytes() int64 { return g.preAuth.Load() }
