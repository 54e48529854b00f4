package bench

import (
	"bytes"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// syntheticResult is a 30-second mixed run against a sampled server: a
// ramp to 2,000 sessions, chat and presence with a latency spike at 20 s,
// server memory growing with the sessions.
func syntheticResult() (*Result, *Config) {
	cfg, err := ParseArgs(strings.Fields("--addr 127.0.0.1:35222 --domain example.net --scenario mix --sessions 2000 "+
		"--duration 30s --rate 4000 --presence-rate 200 --server-pid 4242 --progress 0"), io.Discard)
	if err != nil {
		panic(err)
	}
	r := &Result{
		Scenario: "mix", Mix: cfg.Mix.String(), Addr: cfg.Addr, Domain: cfg.Domain, TLS: "starttls", Mech: "SCRAM-SHA-1",
		Sessions: 2000, Workers: 2, DurationS: 31.2, LoadS: 30, SendS: 22,
		SessionsEstablished: 1990, SessionsFailed: 10, SessionsDropped: 1, PeakOnline: 1990,
		Failures:     map[string]int64{"sasl: not-authorized": 10},
		RosterErrors: 3,
		Logins:       2100, LoginsPerS: 70,
		LoginMs:      Percentiles{Count: 2100, Mean: 9, P50: 8, P90: 14, P99: 30, P999: 55, Max: 61},
		MessagesSent: 88000, MessagesDelivered: 87990, MessagesLost: 10, MessagesPerS: 3999.5,
		LatencyMs:    Percentiles{Count: 87990, Mean: 0.7, P50: 0.6, P90: 1.1, P99: 2.4, P999: 9.5, Max: 41},
		PresenceSent: 4400, PresenceReceived: 21000,
		PresenceLatencyMs: Percentiles{Count: 21000, Mean: 0.9, P50: 0.8, P90: 1.3, P99: 3.1, P999: 7, Max: 12},
		Server:            &ServerStats{PID: 4242, RSSBefore: 20 << 20, RSSPlateau: 40 << 20, RSSPeak: 44 << 20, OnlineAtSample: 1990, CPUSeconds: 14, CPUAvgPct: 45},
		Client:            ClientStats{Processes: 2, RSSPeak: 60 << 20, RSSPerSession: 30000, CPUSeconds: 12, CPUAvgPct: 40, SendLagMs: 0.3, SendLagMaxMs: 2},
	}
	r.ServerRSSPerSessionBytes = float64(r.Server.RSSPlateau-r.Server.RSSBefore) / float64(r.Server.OnlineAtSample)
	for s := 1; s <= 30; s++ {
		p := Point{T: float64(s)}
		ramp := min(1.0, float64(s)/8)
		p.Online = int64(1990 * ramp)
		p.EstablishedTotal = p.Online
		if s <= 8 {
			p.Logins = 250
			p.FailedTotal = int64(s + 2)
		} else {
			p.Logins = 4
			p.FailedTotal = 10
		}
		if s > 8 && s <= 30 {
			p.MessagesSent, p.MessagesDelivered = 4000, 3999
			p.PresenceSent, p.PresenceReceived = 200, 950
			spike := 1.0
			if s == 20 {
				spike = 12
			}
			p.LatencyP50, p.LatencyP90, p.LatencyP99, p.LatencyP999, p.LatencyMax = 0.55*spike, 1.0*spike, 2.2*spike, 8*spike, 14*spike
		}
		p.ServerRSS = int64(20<<20) + int64(float64(20<<20)*ramp) + int64(s)<<14
		p.ServerCPU = 10 + 50*ramp
		p.ClientRSS = int64(30<<20) + int64(float64(30<<20)*ramp)
		p.ClientCPU = 35 + 5*math.Sin(float64(s))
		r.Series = append(r.Series, p)
	}
	return r, cfg
}

func renderReport(t *testing.T, r *Result, cfg *Config) string {
	t.Helper()
	var b bytes.Buffer
	err := r.WriteHTML(&b, ReportInfo{Config: cfg, Args: []string{"--scenario", "mix", "--mix", "idle=1,chat=1", "--users", "it's%d"},
		Generated: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Host: "testhost"})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var (
	reSVG    = regexp.MustCompile(`(?s)<svg class="chart" data-chart="([a-z]+)".*?</svg>`)
	reSeries = regexp.MustCompile(`<path class="series[^"]*" data-series="([^"]+)" data-points="(\d+)" stroke="[^"]+" d="([^"]*)"`)
)

// chartsIn maps each chart of a report (or of Chromium's DOM of it) to its
// series and their paths.
func chartsIn(doc string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, m := range reSVG.FindAllStringSubmatch(doc, -1) {
		series := map[string]string{}
		for _, s := range reSeries.FindAllStringSubmatch(m[0], -1) {
			series[html.UnescapeString(s[1])] = s[3]
		}
		out[m[1]] = series
	}
	return out
}

// checkCharts requires the four charts the issue asks for, titled, each
// with lines drawn through at least min points.
func checkCharts(t *testing.T, doc string) {
	t.Helper()
	charts := chartsIn(doc)
	want := map[string][]string{
		"sessions":   {"online", "established (total)", "failed (total)"},
		"throughput": {"messages sent", "messages delivered", "presence sent", "presence received", "logins"},
		"latency":    {"p50", "p90", "p99", "p99.9", "max"},
		"memory":     {"server", "load generator"},
	}
	titles := map[string]string{"sessions": "Sessions", "throughput": "Throughput", "latency": "Latency percentiles", "memory": "Memory"}
	for id, names := range want {
		got, ok := charts[id]
		if !ok {
			t.Errorf("chart %q missing (have %d charts)", id, len(charts))
			continue
		}
		for _, n := range names {
			d := got[n]
			if !strings.HasPrefix(d, "M") || strings.Count(d, "L") < 5 {
				t.Errorf("chart %s: series %q has path %.60q", id, n, d)
			}
		}
		if !regexp.MustCompile(`data-chart="` + id + `"[^>]*>\s*<title[^>]*>` + titles[id]).MatchString(doc) {
			t.Errorf("chart %s: no title %q", id, titles[id])
		}
	}
}

func TestHTMLReport(t *testing.T) {
	r, cfg := syntheticResult()
	doc := renderReport(t, r, cfg)

	// self-contained: nothing to fetch, nothing to run
	for _, bad := range []string{"<script", "http://", "https://", "url(", "@import", " src=", " href=", "@font-face"} {
		if strings.Contains(doc, bad) {
			t.Errorf("report holds %q", bad)
		}
	}
	checkCharts(t, doc)
	if n := len(chartsIn(doc)); n != 5 {
		t.Errorf("%d charts, want 5 (with CPU)", n)
	}
	for _, s := range []string{"time since start (s)", "sessions", "events per second", "latency (ms, log scale)", "RSS (MiB)", "CPU (% of one core)"} {
		if !strings.Contains(doc, ">"+html.EscapeString(s)+"<") {
			t.Errorf("no axis label %q", s)
		}
	}

	// the summary table states what WriteSummary states
	var sum bytes.Buffer
	if err := r.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	for _, row := range summaryRows(sum.String()) {
		if !strings.Contains(doc, "<td>"+html.EscapeString(row.Value)+"</td>") || row.Value == "" {
			t.Errorf("summary value %q not in the report", row.Value)
		}
		if !strings.Contains(sum.String(), strings.TrimLeft(row.Key, "\u00a0")+"  ") {
			t.Errorf("summary key %q", row.Key)
		}
	}
	for _, s := range []string{
		"10 × sasl: not-authorized", "roster errors", "server RSS/session", "10538 B (10.29 KiB)",
		"ignis bench --scenario mix --mix idle=1,chat=1 --users &#39;it&#39;\\&#39;&#39;s%d&#39;",
		"4000/s, until the end, body 64 B", "200 updates/s", "4242 (sampled each second from /proc)",
		"2025-01-02T03:04:05Z", "testhost",
	} {
		if !strings.Contains(doc, s) {
			t.Errorf("report lacks %q", s)
		}
	}
	// headline cards
	for _, s := range []string{"1,990 / 2,000", "70.0", "4,000", "2.40 ms", "10.29 KiB"} {
		if !strings.Contains(doc, `<div class="value">`+s+`</div>`) {
			t.Errorf("no card %q", s)
		}
	}
}

// An idle run without --server-pid: the charts with nothing to draw say so
// instead of drawing empty axes silently.
func TestHTMLReportIdle(t *testing.T) {
	r := &Result{Scenario: "idle", Mix: "idle=1", Addr: "127.0.0.1:5222", Domain: "localhost", TLS: "none", Mech: "SCRAM-SHA-1",
		Sessions: 10, Workers: 1, SessionsEstablished: 10, PeakOnline: 10, Logins: 10, LoginsPerS: 5}
	for s := 1; s <= 3; s++ {
		r.Series = append(r.Series, Point{T: float64(s), Online: 10, EstablishedTotal: 10, ClientRSS: 8 << 20, ClientCPU: 3})
	}
	r.Series[0].Logins = 10
	doc := renderReport(t, r, nil)
	charts := chartsIn(doc)
	if len(charts) != 5 {
		t.Fatalf("%d charts", len(charts))
	}
	if d := charts["latency"]["p99"]; d != "" {
		t.Errorf("latency drawn with no messages: %q", d)
	}
	for _, s := range []string{"no message or presence latency was measured in this run", "server not sampled (no --server-pid)"} {
		if !strings.Contains(doc, s) {
			t.Errorf("report lacks %q", s)
		}
	}
	if _, ok := charts["throughput"]["logins"]; !ok || len(charts["throughput"]) != 1 {
		t.Errorf("throughput series %v, want logins only", charts["throughput"])
	}
	if strings.Contains(doc, "server RSS") {
		t.Error("a server card without a server sample")
	}
}

func TestHTMLReportFile(t *testing.T) {
	r, cfg := syntheticResult()
	path := filepath.Join(t.TempDir(), "r.html")
	if err := r.WriteHTMLFile(path, ReportInfo{Config: cfg}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) || !bytes.HasSuffix(b, []byte("</html>\n")) {
		t.Fatalf("%v: %.40q", err, b)
	}
}

func TestLinePath(t *testing.T) {
	id := func(v float64) float64 { return v }
	nan := math.NaN()
	for _, c := range []struct {
		y    []float64
		want string
		n    int
	}{
		{[]float64{1, 2, 3}, "M0.0 1.0L1.0 2.0L2.0 3.0", 3},
		{[]float64{1, nan, 3, 4}, "M0.0 1.0h0M2.0 3.0L3.0 4.0", 3},
		{[]float64{nan, nan}, "", 0},
		{[]float64{nan, 5}, "M1.0 5.0h0", 1},
	} {
		d, n := linePath([]float64{0, 1, 2, 3}, c.y, id, id)
		if d != c.want || n != c.n {
			t.Errorf("%v: %q %d, want %q %d", c.y, d, n, c.want, c.n)
		}
	}
}

func TestTicks(t *testing.T) {
	for _, c := range []struct {
		hi   float64
		n    int
		top  float64
		want int
	}{
		{30, 8, 30, 7}, // 0,5,..,30
		{1990, 5, 2000, 5},
		{4000, 5, 4000, 5},
		{0, 5, 1, 6},
		{0.37, 5, 0.4, 5},
	} {
		ticks, top := linearTicks(c.hi, c.n)
		if math.Abs(top-c.top) > 1e-9 || len(ticks) != c.want || ticks[0] != 0 || math.Abs(ticks[len(ticks)-1]-top) > 1e-9 {
			t.Errorf("linearTicks(%v, %d) = %v %v, want top %v and %d ticks", c.hi, c.n, ticks, top, c.top, c.want)
		}
	}
	ticks, a, b := logTicks(0.55, 168)
	if a != 0.1 || b != 1000 || ticks[0] != 0.1 || ticks[len(ticks)-1] != 1000 {
		t.Errorf("logTicks: %v %v %v", ticks, a, b)
	}
	if _, a, b := logTicks(3, 3); a != 1 || b != 10 {
		t.Errorf("logTicks(3,3): %v %v", a, b)
	}
	for v, want := range map[float64]string{0.1: "0.1", 2: "2", 1000: "1,000", 0.05: "0.05"} {
		if got := fmtMs(v); got != want {
			t.Errorf("fmtMs(%v) = %q", v, got)
		}
	}
	for v, want := range map[float64]string{500: "500", 1500: "1.5k", 20000: "20k", 1.2e6: "1.2M"} {
		if got := fmtCount(v); got != want {
			t.Errorf("fmtCount(%v) = %q", v, got)
		}
	}
	if g := groupInt(-1234567); g != "-1,234,567" {
		t.Errorf("groupInt: %q", g)
	}
}
