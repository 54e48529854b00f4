package session

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestGuard drives a Guard on a fake clock through the per-address limits:
// each step is an action at an offset from the start and what it reports.
func TestGuard(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	lo := netip.MustParseAddr("127.0.0.1")
	type step struct {
		at   time.Duration
		do   string // admit, leave, fail, banned
		ip   netip.Addr
		want any // Refusal for admit, bool for fail and banned
	}
	for _, tc := range []struct {
		name  string
		cfg   GuardConfig
		steps []step
	}{
		{"concurrent", GuardConfig{MaxConnsPerIP: 2, ConnBurstPerIP: 100}, []step{
			{0, "admit", a, Refusal("")}, {0, "admit", a, Refusal("")}, {0, "admit", a, refusedConns},
			{0, "admit", b, Refusal("")}, {0, "leave", a, nil}, {0, "admit", a, Refusal("")},
		}},
		{"rate", GuardConfig{ConnRatePerIP: 1, ConnBurstPerIP: 2}, []step{
			{0, "admit", a, Refusal("")}, {0, "admit", a, Refusal("")}, {0, "admit", a, refusedRate},
			{time.Second, "admit", a, Refusal("")}, {time.Second, "admit", a, refusedRate},
		}},
		{"ban", GuardConfig{AuthFailures: 3, AuthBanTime: time.Minute}, []step{
			{0, "fail", a, false}, {0, "fail", a, false}, {0, "banned", a, false}, {0, "fail", a, true},
			{0, "banned", a, true}, {0, "admit", a, refusedBanned}, {0, "banned", b, false},
			{time.Minute, "banned", a, false}, {time.Minute, "admit", a, Refusal("")},
		}},
		{"failures-expire", GuardConfig{AuthFailures: 2, AuthBanTime: time.Minute}, []step{
			{0, "fail", a, false}, {2 * time.Minute, "fail", a, false}, {2 * time.Minute, "fail", a, true},
		}},
		{"loopback-exempt", GuardConfig{MaxConnsPerIP: 1, AuthFailures: 1, ExemptLoopback: true}, []step{
			{0, "admit", lo, Refusal("")}, {0, "admit", lo, Refusal("")}, {0, "fail", lo, false}, {0, "banned", lo, false},
		}},
		{"ipv6-per-64", GuardConfig{MaxConnsPerIP: 1}, []step{
			{0, "admit", netip.MustParseAddr("2001:db8:1:2::1"), Refusal("")},
			{0, "admit", netip.MustParseAddr("2001:db8:1:2:ffff::9"), refusedConns},
			{0, "admit", netip.MustParseAddr("2001:db8:1:3::1"), Refusal("")},
		}},
		{"loopback-not-exempt", GuardConfig{MaxConnsPerIP: 1}, []step{
			{0, "admit", lo, Refusal("")}, {0, "admit", lo, refusedConns},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewGuard(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Unix(1e9, 0)
			var now time.Time
			g.now = func() time.Time { return now }
			for i, s := range tc.steps {
				now = start.Add(s.at)
				var got any
				switch s.do {
				case "admit":
					got = g.Admit(s.ip)
				case "leave":
					g.Leave(s.ip)
				case "fail":
					got = g.Failed(s.ip)
				case "banned":
					got = g.Banned(s.ip)
				}
				if got != s.want {
					t.Fatalf("step %d (%s %s at %v): got %v, want %v", i, s.do, s.ip, s.at, got, s.want)
				}
			}
		})
	}
}

// TestGuardSweep: addresses that hold nothing are forgotten, so the table
// grows only with what an attack still holds.
func TestGuardSweep(t *testing.T) {
	g, _ := NewGuard(GuardConfig{})
	now := time.Unix(1e9, 0)
	g.now = func() time.Time { return now }
	for i := range 1000 {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		g.Admit(ip)
		if i%2 == 0 {
			g.Leave(ip)
		}
	}
	now = now.Add(time.Hour)
	g.Admit(netip.MustParseAddr("192.0.2.9"))
	if n := len(g.mu.peers); n != 501 {
		t.Fatalf("%d addresses kept, want the 500 with a connection and the new one", n)
	}
}

// TestGuardHold: the pre-authentication count follows each stream's buffer
// and refuses growth past the cap, never a release.
func TestGuardHold(t *testing.T) {
	g, _ := NewGuard(GuardConfig{MaxPreAuthBytes: 1 << 20})
	var x, y int
	if !g.hold(&x, 800<<10) || g.hold(&y, 300<<10) {
		t.Fatal("the cap was not enforced")
	}
	if !g.hold(&y, 0) || !g.hold(&x, 0) || g.PreAuthBytes() != 0 {
		t.Fatalf("released: %d left", g.PreAuthBytes())
	}
}

// TestGuardRefusalLog: on a fake clock, an address's first refusal is logged
// as it is; further ones within refusal_log_interval are summed up in one
// line an interval (at the next refusal or, if the flood stopped, the next
// sweep); after a quiet interval a refusal is logged as a first one again.
func TestGuardRefusalLog(t *testing.T) {
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	g, err := NewGuard(GuardConfig{MaxConnsPerIP: 1, RefusalLogInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	g.log = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{ReplaceAttr: func(_ []string, at slog.Attr) slog.Attr {
		if at.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return at
	}}))
	start := time.Unix(1e9, 0)
	var now time.Time
	g.now = func() time.Time { return now }
	const first = `level=WARN msg="connection refused" ip=%s reason="too many connections from this address"`
	const summary = `level=WARN msg="connections refused" ip=%s reason="too many connections from this address" count=%d within=1m0s`
	for i, s := range []struct {
		at   time.Duration
		ip   netip.Addr
		want string // the line logged, "" for none
	}{
		{0, a, ""}, {0, b, ""}, // admitted: each now has its one connection
		{time.Second, a, fmt.Sprintf(first, a)},
		{2 * time.Second, a, ""}, {3 * time.Second, a, ""}, {4 * time.Second, a, ""},
		{5 * time.Second, b, fmt.Sprintf(first, b)}, // another address is never hidden
		{6 * time.Second, b, ""},
		// the sweep (every 10 s at most) sums up a's interval; this refusal
		// counts in the next one
		{61 * time.Second, a, fmt.Sprintf(summary, a, 3)},
		{65 * time.Second, b, fmt.Sprintf(summary, b, 2)},    // no sweep: the refusal sums up b's
		{70 * time.Second, a, ""}, {71 * time.Second, a, ""}, // then the flood stops
		{200 * time.Second, c, fmt.Sprintf(summary, a, 3)}, // c admitted; the sweep sums up a
		{400 * time.Second, a, fmt.Sprintf(first, a)},      // quiet for an interval: a first refusal again
	} {
		now = start.Add(s.at)
		out.Reset()
		g.Admit(s.ip)
		if got := strings.TrimSuffix(out.String(), "\n"); got != s.want {
			t.Fatalf("step %d (%s at %v): logged %q, want %q", i, s.ip, s.at, got, s.want)
		}
	}
}
