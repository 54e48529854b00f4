package bench

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The HTML report is one self-contained file: inline CSS and SVG charts
// drawn here, no script, font or address outside the file, so that it opens
// in a browser with no network access.

// ReportInfo is what the report says about how the run was made. Every field
// is optional.
type ReportInfo struct {
	Config    *Config   // the run's configuration (the parent's, for worker runs)
	Args      []string  // the command line after "ignis bench"
	Generated time.Time // when the report was written (default: now)
	Host      string    // machine name (default: os.Hostname)
}

// WriteHTMLFile writes the report to path.
func (r *Result) WriteHTMLFile(path string, info ReportInfo) error {
	var b bytes.Buffer
	if err := r.WriteHTML(&b, info); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// WriteHTML writes the report: headline figures, charts of the per-second
// series (sessions, throughput, latency percentiles, memory, CPU), the
// summary table of WriteSummary and the configuration.
func (r *Result) WriteHTML(w io.Writer, info ReportInfo) error {
	if info.Generated.IsZero() {
		info.Generated = time.Now()
	}
	if info.Host == "" {
		info.Host, _ = os.Hostname()
	}
	var sum bytes.Buffer
	if err := r.WriteSummary(&sum); err != nil {
		return err
	}
	v := reportView{
		Title:     fmt.Sprintf("ignis bench: %s, %s sessions, tls=%s", r.Scenario, groupInt(int64(r.Sessions)), r.TLS),
		Subtitle:  fmt.Sprintf("%s (domain %s), %s, %.1f s", r.Addr, r.Domain, r.Mech, r.DurationS),
		Generated: info.Generated.UTC().Format("2006-01-02 15:04:05 UTC"),
		Cards:     r.cards(),
		Summary:   summaryRows(sum.String()),
		Config:    configRows(r, info),
	}
	for _, c := range r.charts() {
		v.Charts = append(v.Charts, c.layout())
	}
	return reportTmpl.Execute(w, v)
}

type reportView struct {
	Title, Subtitle, Generated string
	Cards                      []card
	Charts                     []svgChart
	Summary, Config            []kv
}

type card struct{ Label, Value, Detail string }

type kv struct{ Key, Value string }

// cards are the headline figures of the run.
func (r *Result) cards() []card {
	cs := []card{{
		Label:  "sessions established",
		Value:  groupInt(r.SessionsEstablished) + " / " + groupInt(int64(r.Sessions)),
		Detail: fmt.Sprintf("peak online %s, %s failed, %s dropped", groupInt(r.PeakOnline), groupInt(r.SessionsFailed), groupInt(r.SessionsDropped)),
	}, {
		Label:  "logins per second",
		Value:  fmt.Sprintf("%.1f", r.LoginsPerS),
		Detail: fmt.Sprintf("over %.1f s of logins, peak %.0f/s; login %s", r.LoginPhaseS, r.LoginsPeakPerS, shortPctl(r.LoginMs)),
	}}
	if r.MessagesSent > 0 {
		what, sent := "message", "sent"
		if r.PEP != nil {
			what, sent = "notification", "publishes"
		}
		cs = append(cs, card{
			Label:  what + "s delivered per second",
			Value:  groupInt(int64(math.Round(r.MessagesPerS))),
			Detail: fmt.Sprintf("%s %s, %s lost, %s bounced", groupInt(r.MessagesSent), sent, groupInt(r.MessagesLost), groupInt(r.MessagesBounced)),
		}, card{
			Label:  what + " latency p99",
			Value:  fmt.Sprintf("%.2f ms", r.LatencyMs.P99),
			Detail: fmt.Sprintf("p50 %.2f ms, p99.9 %.2f ms, max %.2f ms", r.LatencyMs.P50, r.LatencyMs.P999, r.LatencyMs.Max),
		})
	}
	if r.PresenceSent > 0 {
		cs = append(cs, card{
			Label:  "presence latency p99",
			Value:  fmt.Sprintf("%.2f ms", r.PresenceLatencyMs.P99),
			Detail: fmt.Sprintf("%s sent, %s received", groupInt(r.PresenceSent), groupInt(r.PresenceReceived)),
		})
	}
	if s := r.Server; s != nil {
		c := card{
			Label:  "server RSS",
			Value:  mib(s.RSSPlateau),
			Detail: fmt.Sprintf("%s before, %s peak, CPU %.0f%% avg", mib(s.RSSBefore), mib(s.RSSPeak), s.CPUAvgPct),
		}
		if r.ServerRSSPerSessionBytes > 0 {
			c.Label = "server RSS per session"
			c.Value = fmt.Sprintf("%.2f KiB", r.ServerRSSPerSessionBytes/1024)
			c.Detail = fmt.Sprintf("%s at plateau (%s online), %s before", mib(s.RSSPlateau), groupInt(s.OnlineAtSample), mib(s.RSSBefore))
		}
		cs = append(cs, c)
	}
	return cs
}

func shortPctl(p Percentiles) string {
	if p.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %.2f ms, p99 %.2f ms", p.P50, p.P99)
}

// summaryRows splits WriteSummary's text (one "key<two or more spaces>value"
// line per fact) into rows, so that the report states exactly what the
// terminal summary states.
func summaryRows(text string) []kv {
	var rows []kv
	for line := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
		body := strings.TrimLeft(line, " ")
		indent := len(line) - len(body)
		k, v, ok := strings.Cut(body, "  ")
		if !ok {
			k, v = body, ""
		}
		rows = append(rows, kv{Key: strings.Repeat("\u00a0", indent) + k, Value: strings.TrimSpace(v)})
	}
	return rows
}

// configRows lists the run's settings.
func configRows(r *Result, info ReportInfo) []kv {
	var rows []kv
	add := func(k, f string, a ...any) { rows = append(rows, kv{k, fmt.Sprintf(f, a...)}) }
	if len(info.Args) > 0 {
		add("command", "ignis bench %s", shellJoin(info.Args))
	}
	add("server", "%s, domain %s", r.Addr, r.Domain)
	add("scenario", "%s (mix %s)", r.Scenario, r.Mix)
	add("sessions", "%d in %d worker process(es)", r.Sessions, r.Workers)
	add("transport", "tls=%s, SASL %s", r.TLS, r.Mech)
	if c := info.Config; c != nil {
		add("duration", "%v, drain %v, login timeout %v", c.Duration, c.Drain, c.Timeout)
		ramp := "as fast as the in-flight limit allows"
		if c.Ramp > 0 {
			ramp = fmt.Sprintf("%g sessions/s", c.Ramp)
		}
		add("ramp", "%s, %d logins in flight", ramp, c.Inflight)
		if c.Mix[RoleChat] > 0 {
			limit := "until the end"
			if c.Messages > 0 {
				limit = "at most " + groupInt(c.Messages)
			}
			rate := fmt.Sprintf("%g/s", c.Rate)
			if c.Rate <= 0 {
				rate = "unpaced (as fast as the server takes them)"
			}
			if c.PEP() {
				add("pep", "%s publishes, %s, to %d node(s) %s, item %d B, to %d contacts each, caps wait %v",
					rate, limit, c.PEPNodes, c.PEPNodeName, c.MsgSize, c.RosterSize, c.CapsWait)
			} else {
				add("chat", "%s, %s, body %d B", rate, limit, c.MsgSize)
			}
		}
		if c.Mix[RolePresence] > 0 {
			add("presence", "%g updates/s", c.PresRate)
		}
		add("users", "%s from %d, password of %d characters, roster get %v, register %v",
			c.Users, c.FirstUser, len(c.Password), !c.NoRoster, c.Register)
		if c.Keepalive > 0 {
			add("keepalive", "%v", c.Keepalive)
		}
		if len(c.SourceIPs) > 0 {
			add("source addresses", "%d (%s … %s)", len(c.SourceIPs), c.SourceIPs[0], c.SourceIPs[len(c.SourceIPs)-1])
		}
		if c.ServerPID > 0 {
			add("server pid", "%d (sampled each second from /proc)", c.ServerPID)
		}
	}
	add("load generator", "%s, %s/%s, %d CPUs, on %s", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), info.Host)
	add("report written", "%s", info.Generated.UTC().Format(time.RFC3339))
	return rows
}

// shellJoin quotes args for a POSIX shell where needed.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=.,:/%@+") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
const (
	colBlue   = "#0072b2"
	colOrange = "#e69f00"
	colGreen  = "#009e73"
	colRed    = "#d55e00"
	colPurple = "#cc79a7"
	colSky    = "#56b4e9"
	colGrey   = "#7f7f7f"
)

// chartSpec is one chart before layout. A NaN value is a second with
// nothing to show (the line breaks there).
type chartSpec struct {
	ID, Title, YLabel string
	Log               bool                 // logarithmic y axis
	Fmt               func(float64) string // y tick labels
	Empty             string               // said in place of the lines when none has data
	X                 []float64
	Series            []chartSeries
}

type chartSeries struct {
	Name, Color string
	Dash        bool
	Y           []float64
}

// charts builds the charts of the per-second series.
func (r *Result) charts() []chartSpec {
	pts := r.Series
	x := make([]float64, len(pts))
	for i, p := range pts {
		x[i] = p.T
	}
	col := func(f func(*Point) float64) []float64 {
		y := make([]float64, len(pts))
		for i := range pts {
			y[i] = f(&pts[i])
		}
		return y
	}
	positive := func(f func(*Point) float64) []float64 { // 0 = no sample that second
		y := col(f)
		for i, v := range y {
			if v <= 0 {
				y[i] = math.NaN()
			}
		}
		return y
	}
	var out []chartSpec

	ses := chartSpec{ID: "sessions", Title: "Sessions", YLabel: "sessions", Fmt: fmtCount, X: x,
		Empty: "no samples",
		Series: []chartSeries{
			{Name: "online", Color: colBlue, Y: col(func(p *Point) float64 { return float64(p.Online) })},
			{Name: "established (total)", Color: colGreen, Dash: true, Y: col(func(p *Point) float64 { return float64(p.EstablishedTotal) })},
		}}
	if r.SessionsFailed > 0 {
		ses.Series = append(ses.Series, chartSeries{Name: "failed (total)", Color: colRed, Y: col(func(p *Point) float64 { return float64(p.FailedTotal) })})
	}
	out = append(out, ses)

	thr := chartSpec{ID: "throughput", Title: "Throughput", YLabel: "events per second", Fmt: fmtCount, X: x,
		Empty: "no logins, messages or presence in this run"}
	for _, s := range []chartSeries{
		{Name: "messages sent", Color: colOrange, Y: col(func(p *Point) float64 { return float64(p.MessagesSent) })},
		{Name: "messages delivered", Color: colBlue, Y: col(func(p *Point) float64 { return float64(p.MessagesDelivered) })},
		{Name: "presence sent", Color: colPurple, Y: col(func(p *Point) float64 { return float64(p.PresenceSent) })},
		{Name: "presence received", Color: colSky, Dash: true, Y: col(func(p *Point) float64 { return float64(p.PresenceReceived) })},
		{Name: "logins", Color: colGreen, Y: col(func(p *Point) float64 { return float64(p.Logins) })},
	} {
		if hasPositive(s.Y) {
			thr.Series = append(thr.Series, s)
		}
	}
	out = append(out, thr)

	lat := chartSpec{ID: "latency", Title: "Latency percentiles, per second", YLabel: "latency (ms, log scale)", Log: true, Fmt: fmtMs, X: x,
		Empty: "no message or presence latency was measured in this run",
		Series: []chartSeries{
			{Name: "p50", Color: colBlue, Y: positive(func(p *Point) float64 { return p.LatencyP50 })},
			{Name: "p90", Color: colGreen, Y: positive(func(p *Point) float64 { return p.LatencyP90 })},
			{Name: "p99", Color: colOrange, Y: positive(func(p *Point) float64 { return p.LatencyP99 })},
			{Name: "p99.9", Color: colRed, Y: positive(func(p *Point) float64 { return p.LatencyP999 })},
			{Name: "max", Color: colGrey, Dash: true, Y: positive(func(p *Point) float64 { return p.LatencyMax })},
		}}
	out = append(out, lat)

	toMiB := func(b int64) float64 { return float64(b) / (1 << 20) }
	mem := chartSpec{ID: "memory", Title: "Memory (resident set size)", YLabel: "RSS (MiB)", Fmt: fmtPlain, X: x,
		Empty: "no memory samples"}
	if r.Server != nil || hasPositive(col(func(p *Point) float64 { return float64(p.ServerRSS) })) {
		mem.Series = append(mem.Series, chartSeries{Name: "server", Color: colRed, Y: positive(func(p *Point) float64 { return toMiB(p.ServerRSS) })})
	} else {
		mem.Title += " — server not sampled (no --server-pid)"
	}
	mem.Series = append(mem.Series, chartSeries{Name: "load generator", Color: colGrey, Dash: true, Y: positive(func(p *Point) float64 { return toMiB(p.ClientRSS) })})
	out = append(out, mem)

	cpu := chartSpec{ID: "cpu", Title: "CPU", YLabel: "CPU (% of one core)", Fmt: fmtPlain, X: x, Empty: "no CPU samples"}
	if r.Server != nil {
		cpu.Series = append(cpu.Series, chartSeries{Name: "server", Color: colRed, Y: col(func(p *Point) float64 { return p.ServerCPU })})
	}
	cpu.Series = append(cpu.Series, chartSeries{Name: "load generator", Color: colGrey, Dash: true, Y: col(func(p *Point) float64 { return p.ClientCPU })})
	out = append(out, cpu)
	return out
}

func hasPositive(y []float64) bool {
	for _, v := range y {
		if v > 0 {
			return true
		}
	}
	return false
}

// svgChart is a laid-out chart, in the SVG's user units.
type svgChart struct {
	ID, Title, XLabel, YLabel string
	W, H                      int
	L, T, R, B                float64 // plot area: left, top, right, bottom
	MidY                      float64 // middle of the plot area (y label, empty note)
	MidX                      float64
	XTicks, YTicks            []svgTick
	Lines                     []svgLine
	Legend                    []svgLegend
	Empty                     string
}

type svgTick struct {
	Pos   float64
	Label string
}

type svgLine struct {
	Name, Color, D string
	Dash           bool
	Points         int
}

type svgLegend struct {
	X, Y        float64
	Name, Color string
	Dash        bool
}

const (
	chartW     = 560
	chartH     = 310
	legendRowH = 16
)

// layout places axes, ticks, legend and lines.
func (c *chartSpec) layout() svgChart {
	s := svgChart{ID: c.ID, Title: c.Title, XLabel: "time since start (s)", YLabel: c.YLabel, W: chartW}

	// the legend: rows of entries under the title
	x0, x, rows := 64.0, 64.0, 1
	for _, se := range c.Series {
		w := 30 + 6.6*float64(len(se.Name)) + 14
		if x+w > chartW-10 && x > x0 {
			x, rows = x0, rows+1
		}
		s.Legend = append(s.Legend, svgLegend{X: x, Y: 30 + float64(rows)*legendRowH, Name: se.Name, Color: se.Color, Dash: se.Dash})
		x += w
	}
	s.L, s.R = 64, chartW-16
	s.T = 40 + float64(rows)*legendRowH
	s.B = s.T + 210
	s.H = int(s.B) + 46
	s.MidX, s.MidY = (s.L+s.R)/2, (s.T+s.B)/2

	// x: seconds from 0
	xmax := 1.0
	for _, v := range c.X {
		xmax = max(xmax, v)
	}
	xt, xhi := linearTicks(xmax, 8)
	xpos := func(v float64) float64 { return s.L + (s.R-s.L)*v/xhi }
	for _, t := range xt {
		s.XTicks = append(s.XTicks, svgTick{Pos: xpos(t), Label: fmtPlain(t)})
	}

	// y: from 0 (linear) or the decade below the least value (log)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, se := range c.Series {
		for _, v := range se.Y {
			if !math.IsNaN(v) && !math.IsInf(v, 0) && (!c.Log || v > 0) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		s.Empty = c.Empty
		lo, hi = 1, 10
		if !c.Log {
			lo = 0
		}
	}
	var ypos func(float64) float64
	if c.Log {
		ticks, a, b := logTicks(lo, hi)
		la, lb := math.Log10(a), math.Log10(b)
		ypos = func(v float64) float64 { return s.B - (s.B-s.T)*(math.Log10(v)-la)/(lb-la) }
		for _, t := range ticks {
			s.YTicks = append(s.YTicks, svgTick{Pos: ypos(t), Label: c.Fmt(t)})
		}
	} else {
		ticks, top := linearTicks(hi, 5)
		ypos = func(v float64) float64 { return s.B - (s.B-s.T)*v/top }
		for _, t := range ticks {
			s.YTicks = append(s.YTicks, svgTick{Pos: ypos(t), Label: c.Fmt(t)})
		}
	}

	// dashed lines first, so that a solid one on the same values shows
	// through their gaps
	order := make([]chartSeries, 0, len(c.Series))
	for pass := range 2 {
		for _, se := range c.Series {
			if se.Dash == (pass == 0) {
				order = append(order, se)
			}
		}
	}
	for _, se := range order {
		d, n := linePath(c.X, se.Y, xpos, ypos)
		s.Lines = append(s.Lines, svgLine{Name: se.Name, Color: se.Color, Dash: se.Dash, D: d, Points: n})
	}
	return s
}

// linePath draws y over x; a NaN breaks the line. It returns the path and
// the number of points drawn. A point standing alone is drawn as a dot (a
// zero-length segment with round caps).
func linePath(x, y []float64, xpos, ypos func(float64) float64) (string, int) {
	var b strings.Builder
	n, run := 0, 0
	for i := range min(len(x), len(y)) {
		if math.IsNaN(y[i]) {
			if run == 1 {
				b.WriteString("h0")
			}
			run = 0
			continue
		}
		cmd := 'L'
		if run == 0 {
			cmd = 'M'
		}
		fmt.Fprintf(&b, "%c%.1f %.1f", cmd, xpos(x[i]), ypos(y[i]))
		run++
		n++
	}
	if run == 1 {
		b.WriteString("h0")
	}
	return b.String(), n
}

// linearTicks returns ticks from 0 to at least hi, about n of them, at a
// step of 1, 2 or 5 times a power of ten; and the top tick.
func linearTicks(hi float64, n int) ([]float64, float64) {
	if !(hi > 0) {
		hi = 1
	}
	step := niceStep(hi / float64(n))
	top := math.Ceil(hi/step-1e-9) * step
	var t []float64
	for i := 0; float64(i)*step <= top+step/2; i++ {
		t = append(t, float64(i)*step)
	}
	return t, top
}

func niceStep(raw float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if m*p >= raw*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// logTicks returns the ticks of a log axis covering [lo, hi] (both > 0) and
// its ends, which are powers of ten: every decade, plus 2× and 5× when the
// axis spans few decades.
func logTicks(lo, hi float64) (ticks []float64, a, b float64) {
	ea, eb := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if eb <= ea {
		eb = ea + 1
	}
	a, b = math.Pow(10, ea), math.Pow(10, eb)
	for e := ea; e <= eb; e++ {
		d := math.Pow(10, e)
		ticks = append(ticks, d)
		if eb-ea <= 3 && e < eb {
			ticks = append(ticks, 2*d, 5*d)
		}
	}
	return ticks, a, b
}

// fmtPlain writes v with no more digits than it needs.
func fmtPlain(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// fmtMs writes a latency tick: 0.01, 0.5, 20, 1,000.
func fmtMs(v float64) string {
	if v >= 1000 {
		return groupInt(int64(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// fmtCount writes a count tick: 500, 1.5k, 20k, 1.2M.
func fmtCount(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return fmtPlain(v)
}

// groupInt writes n with thousands separators: 12,345.
func groupInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

var reportTmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
:root { color-scheme: light; }
body { margin: 0; padding: 20px 28px 40px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1d2330; background: #f5f6f8; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 16px; margin: 28px 0 10px; }
.sub { color: #566070; margin: 0 0 16px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: 10px 14px; }
.card .label { color: #566070; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.card .value { font-size: 24px; font-weight: 600; margin: 2px 0; font-variant-numeric: tabular-nums; }
.card .detail { color: #566070; font-size: 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 14px; }
figure { margin: 0; background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: 6px; }
svg.chart { display: block; width: 100%; height: auto; font-size: 12px; }
svg .title { font-size: 15px; font-weight: 600; fill: #1d2330; }
svg .axis { fill: none; stroke: #4a5361; stroke-width: 1; }
svg .grid { fill: none; stroke: #e6e9ee; stroke-width: 1; }
svg .tick { fill: #4a5361; }
svg .label { fill: #1d2330; }
svg .empty { fill: #8a93a2; font-style: italic; }
svg .series { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
svg .dash { stroke-dasharray: 6 4; }
table { border-collapse: collapse; background: #fff; border: 1px solid #dde1e7; width: 100%; }
td, th { text-align: left; vertical-align: top; padding: 5px 12px; border-bottom: 1px solid #eceef2; }
th { white-space: nowrap; color: #3a4250; font-weight: 600; width: 14em; }
td { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
footer { margin-top: 24px; color: #8a93a2; font-size: 12px; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="sub">{{.Subtitle}} — report written {{.Generated}}</p>

<section class="cards">
{{- range .Cards}}
<div class="card"><div class="label">{{.Label}}</div><div class="value">{{.Value}}</div><div class="detail">{{.Detail}}</div></div>
{{- end}}
</section>

<h2>Over time</h2>
<section class="charts">
{{- range .Charts}}
<figure id="chart-{{.ID}}">
<svg class="chart" data-chart="{{.ID}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-labelledby="title-{{.ID}}">
<title id="title-{{.ID}}">{{.Title}}</title>
<text class="title" x="{{.L}}" y="22">{{.Title}}</text>
{{- range .Legend}}
<g class="legend"><path class="series{{if .Dash}} dash{{end}}" stroke="{{.Color}}" d="M{{.X}} {{.Y}}h24" transform="translate(0,-4)"/><text class="label" x="{{.X}}" y="{{.Y}}" dx="30">{{.Name}}</text></g>
{{- end}}
{{- $c := .}}
{{- range .YTicks}}
<line class="grid" x1="{{$c.L}}" x2="{{$c.R}}" y1="{{.Pos}}" y2="{{.Pos}}"/><text class="tick" x="{{$c.L}}" y="{{.Pos}}" dx="-6" dy="4" text-anchor="end">{{.Label}}</text>
{{- end}}
{{- range .XTicks}}
<line class="grid" x1="{{.Pos}}" x2="{{.Pos}}" y1="{{$c.T}}" y2="{{$c.B}}"/><path class="axis" d="M{{.Pos}} {{$c.B}}v5"/><text class="tick" x="{{.Pos}}" y="{{$c.B}}" dy="18" text-anchor="middle">{{.Label}}</text>
{{- end}}
<path class="axis" d="M{{.L}} {{.T}}V{{.B}}H{{.R}}"/>
<text class="label" x="{{.MidX}}" y="{{.B}}" dy="36" text-anchor="middle">{{.XLabel}}</text>
<text class="label" transform="translate(16,{{.MidY}}) rotate(-90)" text-anchor="middle">{{.YLabel}}</text>
{{- range .Lines}}
<path class="series{{if .Dash}} dash{{end}}" data-series="{{.Name}}" data-points="{{.Points}}" stroke="{{.Color}}" d="{{.D}}"/>
{{- end}}
{{- if .Empty}}
<text class="empty" x="{{.MidX}}" y="{{.MidY}}" text-anchor="middle">{{.Empty}}</text>
{{- end}}
</svg>
</figure>
{{- end}}
</section>

<h2>Summary</h2>
<table class="summary">
{{- range .Summary}}
<tr><th>{{.Key}}</th><td>{{.Value}}</td></tr>
{{- end}}
</table>

<h2>Configuration</h2>
<table class="config">
{{- range .Config}}
<tr><th>{{.Key}}</th><td>{{.Value}}</td></tr>
{{- end}}
</table>

<footer>Written by ignis bench. Per-second values: the latency lines are the percentiles of the messages delivered in each second (gaps: none delivered); RSS and CPU are read from /proc once a second; RSS per session is (RSS at the plateau − RSS before the run) / sessions online.</footer>
</body>
</html>
`))
