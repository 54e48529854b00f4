package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
)

// Point is one second of a run, for charts. Counters named *_total are
// cumulative; the others count what happened during that second.
type Point struct {
	T                 float64 `json:"t"` // seconds since the run began (end of the interval)
	Online            int64   `json:"online"`
	EstablishedTotal  int64   `json:"established_total"`
	FailedTotal       int64   `json:"failed_total"`
	Logins            int64   `json:"logins"`
	MessagesSent      int64   `json:"messages_sent"`
	MessagesDelivered int64   `json:"messages_delivered"`
	PresenceSent      int64   `json:"presence_sent"`
	PresenceReceived  int64   `json:"presence_received"`
	LatencyP50        float64 `json:"latency_p50_ms"`
	LatencyP90        float64 `json:"latency_p90_ms"`
	LatencyP99        float64 `json:"latency_p99_ms"`
	LatencyP999       float64 `json:"latency_p99_9_ms"`
	LatencyMax        float64 `json:"latency_max_ms"`
	ClientRSS         int64   `json:"client_rss_bytes"`
	ClientCPU         float64 `json:"client_cpu_pct"`
	ServerRSS         int64   `json:"server_rss_bytes,omitempty"`
	ServerCPU         float64 `json:"server_cpu_pct,omitempty"`
}

func (p *Point) setLatency(s Percentiles) {
	p.LatencyP50, p.LatencyP90, p.LatencyP99, p.LatencyP999, p.LatencyMax = s.P50, s.P90, s.P99, s.P999, s.Max
}

// ServerStats is what was sampled of the server process.
type ServerStats struct {
	PID            int     `json:"pid"`
	RSSBefore      int64   `json:"rss_before_bytes"`
	RSSPlateau     int64   `json:"rss_plateau_bytes"`
	RSSPeak        int64   `json:"rss_peak_bytes"`
	OnlineAtSample int64   `json:"online_at_plateau"`
	CPUSeconds     float64 `json:"cpu_seconds"`
	CPUAvgPct      float64 `json:"cpu_avg_pct"`
}

// MUCStats is the join phase of --scenario muc: every session logs in
// first, then all join their rooms; the server's RSS is sampled before the
// joins, at their end (the last newcomer has its self-presence: queues not
// yet written and heap not yet returned count) and settled (with no load,
// once the readings of 2 s, every 0.5 s, are within 1 %; 10 s at most).
type MUCStats struct {
	Occupants            int64   `json:"occupants"` // sessions in their room when the load began
	Wanted               int64   `json:"occupants_wanted"`
	JoinS                float64 `json:"join_s"` // from the first join sent to the last self-presence
	ServerRSSBefore      int64   `json:"server_rss_before_joins_bytes,omitempty"`
	ServerRSSAfter       int64   `json:"server_rss_after_joins_bytes,omitempty"`
	ServerRSSPerOccupant float64 `json:"server_rss_per_occupant_bytes,omitempty"` // at the end of the joins
	ServerRSSSettled     int64   `json:"server_rss_settled_bytes,omitempty"`
	SettleS              float64 `json:"settle_s,omitempty"`      // from the end of the joins to the settled sample
	SettleSteady         bool    `json:"settle_steady,omitempty"` // false: settleMax passed still moving
	// ServerRSSSettledPerOccupant is (settled - before) / occupants.
	ServerRSSSettledPerOccupant float64 `json:"server_rss_settled_per_occupant_bytes,omitempty"`
}

// S2SStats is --scenario s2s: half the sessions on the remote server, each
// chatting with a partner on the other side, so every message crosses the
// servers' link(s). The RSS of each server is sampled with every session
// logged in and again once one message each way has crossed: the
// difference is the link's cost (a few KiB, so within the page noise of a
// single sample; the plateau samples show the links under load).
type S2SStats struct {
	RemoteAddr      string       `json:"remote_addr"`
	RemoteDomain    string       `json:"remote_domain"`
	LinkUp          bool         `json:"link_up"`   // the first message each way was delivered
	LinkUpS         float64      `json:"link_up_s"` // from sending them to the second delivery (dial, TLS, dialback both ways)
	LocalRSSBefore  int64        `json:"local_rss_before_link_bytes,omitempty"`
	LocalRSSLinked  int64        `json:"local_rss_linked_bytes,omitempty"`
	RemoteRSSBefore int64        `json:"remote_rss_before_link_bytes,omitempty"`
	RemoteRSSLinked int64        `json:"remote_rss_linked_bytes,omitempty"`
	Remote          *ServerStats `json:"remote_server,omitempty"` // sampled as Server is (--remote-pid)
	// RemoteRSSPerSessionBytes is the remote server's RSS at the plateau
	// over its sessions (half of them), as ServerRSSPerSessionBytes.
	RemoteRSSPerSessionBytes float64 `json:"remote_rss_per_session_bytes,omitempty"`
}

// LinkBytes is the RSS the link(s) added on each server (local, remote);
// false where a server was not sampled.
func (s *S2SStats) LinkBytes() (local, remote int64, okLocal, okRemote bool) {
	if s.LocalRSSLinked > 0 {
		local, okLocal = s.LocalRSSLinked-s.LocalRSSBefore, true
	}
	if s.RemoteRSSLinked > 0 {
		remote, okRemote = s.RemoteRSSLinked-s.RemoteRSSBefore, true
	}
	return
}

// ClientStats is the load generator's own cost.
type ClientStats struct {
	Processes       int           `json:"processes"`
	RSSPeak         int64         `json:"rss_peak_bytes"`
	RSSPerSession   float64       `json:"rss_per_session_bytes"`
	CPUSeconds      float64       `json:"cpu_seconds"`
	CPUAvgPct       float64       `json:"cpu_avg_pct"`
	SendLagMs       float64       `json:"send_lag_p99_ms"` // how late senders were against the schedule
	SendLagMaxMs    float64       `json:"send_lag_max_ms"`
	MessagesSkipped int64         `json:"messages_skipped"`        // paced sends with no online sender/partner pair
	Stale           int64         `json:"stale_received"`          // messages and presence marked by another run (left queued for these accounts), not counted
	Split           *LatencySplit `json:"latency_split,omitempty"` // --split
}

// LatencySplit is where a message's latency went (--split): the three parts
// add up to its latency, each measured on the same message.
type LatencySplit struct {
	// from its due time to the write that sent it (the pacing wakeup's lag
	// plus the writes before it in that wakeup)
	Send Percentiles `json:"send_ms"`
	// from that write to the kernel's receive timestamp of the server's
	// reply in the receiving socket: the write's own TCP work, the server's
	// queueing, handling and write
	Server Percentiles `json:"server_ms"`
	// from that timestamp to the receiving session reading it: the load
	// generator's receive lag
	Receive Percentiles `json:"receive_ms"`
}

// Result is the outcome of a run.
type Result struct {
	Scenario  string  `json:"scenario"`
	Mix       string  `json:"mix"`
	Addr      string  `json:"addr"`
	Domain    string  `json:"domain"`
	TLS       string  `json:"tls"`
	Mech      string  `json:"mech"`
	Sessions  int     `json:"sessions"`
	Workers   int     `json:"workers"`
	DurationS float64 `json:"duration_s"` // wall time of the run, ramp, drain and teardown included
	LoadS     float64 `json:"load_s"`     // from the start to the end of the load phase (before drain)
	SendS     float64 `json:"send_s"`     // time the message senders ran

	SessionsEstablished int64            `json:"sessions_established"`
	SessionsFailed      int64            `json:"sessions_failed"`
	SessionsDropped     int64            `json:"sessions_dropped"` // lost after being established
	SessionsAborted     int64            `json:"sessions_aborted"` // logins cut short by the end of the run
	PeakOnline          int64            `json:"peak_online"`
	Failures            map[string]int64 `json:"failures,omitempty"`
	RosterErrors        int64            `json:"roster_errors,omitempty"`
	// --roster-size: contacts subscribed both ways when the load began, of those wanted
	RosterContacts       int64 `json:"roster_contacts,omitempty"`
	RosterContactsWanted int64 `json:"roster_contacts_wanted,omitempty"`
	SMEnabled            int64 `json:"sm_enabled,omitempty"` // sessions with XEP-0198 enabled (--sm)
	Registered           int64 `json:"registered,omitempty"`
	RegisterExisting     int64 `json:"register_existing,omitempty"`

	Logins     int64   `json:"logins"`
	LoginsPerS float64 `json:"logins_per_s"` // over the login phase (see LoginPhaseS)
	// LoginPhaseS runs from the start of the first second with a login to
	// the end of the last one: a rate over the whole run would be diluted by
	// the idle hold (200 logins in 1 s of a 10 s run are not 20/s).
	LoginPhaseS    float64     `json:"login_phase_s"`
	LoginsPeakPerS float64     `json:"logins_peak_per_s"` // the busiest one-second bucket
	LoginMs        Percentiles `json:"login_ms"`

	MessagesSent      int64 `json:"messages_sent"`
	MessagesDelivered int64 `json:"messages_delivered"`
	MessagesBounced   int64 `json:"messages_bounced"`
	MessagesLost      int64 `json:"messages_lost"`
	// MessagesExpected is the deliveries the sent messages should make:
	// one each, or one per occupant of the room with --scenario muc.
	MessagesExpected int64       `json:"messages_expected,omitempty"`
	MessagesPerS     float64     `json:"messages_per_s"` // delivered per second of sending
	LatencyMs        Percentiles `json:"latency_ms"`

	PresenceSent      int64       `json:"presence_sent"`
	PresenceReceived  int64       `json:"presence_received"`
	PresenceErrors    int64       `json:"presence_errors,omitempty"`
	PresenceLatencyMs Percentiles `json:"presence_latency_ms"`

	MUC *MUCStats `json:"muc,omitempty"` // --scenario muc: the join phase
	S2S *S2SStats `json:"s2s,omitempty"` // --scenario s2s: the link and the remote server
	// --scenario pep: publishes and caps; the notifications are the messages
	// (delivered, expected: one per contact of each publish, latency)
	PEP *PEPStats `json:"pep,omitempty"`

	Server                   *ServerStats `json:"server,omitempty"`
	ServerRSSPerSessionBytes float64      `json:"server_rss_per_session_bytes,omitempty"`
	Client                   ClientStats  `json:"client"`

	Series []Point `json:"series"`

	// encoded HdrHistograms (V2 compressed, base64) so results can be merged
	LatencyHDR  string `json:"latency_hdr,omitempty"`
	LoginHDR    string `json:"login_hdr,omitempty"`
	PresenceHDR string `json:"presence_hdr,omitempty"`
}

// WriteJSON writes r to path, indented.
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteSummary prints the human summary table.
func (r *Result) WriteSummary(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, f string, a ...any) { fmt.Fprintf(tw, "%s\t"+f+"\n", append([]any{k}, a...)...) }
	row("scenario", "%s (%s), %d sessions, %d worker(s), tls=%s, %s", r.Scenario, r.Mix, r.Sessions, r.Workers, r.TLS, r.Mech)
	row("server", "%s domain %s", r.Addr, r.Domain)
	row("duration", "%.1f s", r.DurationS)
	row("sessions", "%d established, %d failed, %d dropped, %d aborted at end, peak online %d",
		r.SessionsEstablished, r.SessionsFailed, r.SessionsDropped, r.SessionsAborted, r.PeakOnline)
	for _, k := range sortedKeys(r.Failures) {
		row("  failure", "%d × %s", r.Failures[k], k)
	}
	if r.Registered+r.RegisterExisting > 0 {
		row("registered", "%d new, %d existing", r.Registered, r.RegisterExisting)
	}
	if r.SMEnabled > 0 {
		row("stream management", "enabled on %d sessions (XEP-0198, resume allowed)", r.SMEnabled)
	}
	if r.RosterContactsWanted > 0 {
		row("rosters", "%s", rosterSummary(r.RosterContacts, r.RosterContactsWanted))
	}
	if m := r.MUC; m != nil {
		row("muc joins", "%d of %d occupants in %.2f s", m.Occupants, m.Wanted, m.JoinS)
		if m.ServerRSSAfter != 0 { // sampled (the difference itself may be 0 B on a small run)
			row("server RSS/occupant", "%.0f B at the end of the joins (%.1f MiB before the joins, %.1f MiB at their end)", m.ServerRSSPerOccupant, float64(m.ServerRSSBefore)/(1<<20), float64(m.ServerRSSAfter)/(1<<20))
		}
		if m.ServerRSSSettled != 0 {
			how := "steady"
			if !m.SettleSteady {
				how = "still moving"
			}
			row("server RSS/occupant settled", "%.0f B (%.1f MiB %.1f s after the joins, %s)", m.ServerRSSSettledPerOccupant, float64(m.ServerRSSSettled)/(1<<20), m.SettleS, how)
		}
	}
	if l := r.S2S; l != nil {
		row("s2s", "remote server %s domain %s; first message each way delivered: %v in %.3f s", l.RemoteAddr, l.RemoteDomain, l.LinkUp, l.LinkUpS)
		local, remote, okL, okR := l.LinkBytes()
		if okL || okR {
			row("s2s link RSS", "%s (local), %s (remote): RSS with the link up minus before", kib(local, okL), kib(remote, okR))
		}
		if s := l.Remote; s != nil {
			row("remote pid", "%d: RSS %s before, %s at plateau, %s peak; CPU %.1f s (%.0f%% avg)",
				s.PID, mib(s.RSSBefore), mib(s.RSSPlateau), mib(s.RSSPeak), s.CPUSeconds, s.CPUAvgPct)
			if l.RemoteRSSPerSessionBytes > 0 {
				row("remote RSS/session", "%.0f B (%.2f KiB)", l.RemoteRSSPerSessionBytes, l.RemoteRSSPerSessionBytes/1024)
			}
		}
	}
	if p := r.PEP; p != nil {
		row("pep", "%d publishes to %d node(s) each, %d errors, %d items stored; %d caps queries answered; %d own notifications and %d duplicates (not counted)",
			p.Publishes, p.Nodes, p.PublishErrors, p.ItemsStored, p.CapsQueries, p.SelfNotifications, p.Duplicates)
		if p.ServerRSSPerItem != 0 {
			row("server RSS/item", "%.0f B (%.1f MiB before publishing, %.1f MiB after)", p.ServerRSSPerItem, float64(p.ServerRSSBefore)/(1<<20), float64(p.ServerRSSAfter)/(1<<20))
		}
	}
	if r.RosterErrors > 0 {
		row("roster errors", "%d (the server answered the roster get with an error)", r.RosterErrors)
	}
	row("logins", "%d in %.1f s: %.1f/s over the login phase, peak %.0f/s; login ms %s",
		r.Logins, r.LoginPhaseS, r.LoginsPerS, r.LoginsPeakPerS, pctl(r.LoginMs))
	if r.MessagesSent > 0 {
		what := "messages"
		if r.PEP != nil {
			what = "notifications" // sent: the publishes
		}
		row(what, "%d sent, %d delivered, %d bounced, %d lost; %.1f/s delivered",
			r.MessagesSent, r.MessagesDelivered, r.MessagesBounced, r.MessagesLost, r.MessagesPerS)
		row("latency ms", "%s", pctl(r.LatencyMs))
	}
	if r.PresenceSent > 0 {
		row("presence", "%d sent, %d received", r.PresenceSent, r.PresenceReceived)
		row("presence ms", "%s", pctl(r.PresenceLatencyMs))
	}
	if s := r.Server; s != nil {
		row("server pid", "%d: RSS %s before, %s at plateau (%d online), %s peak; CPU %.1f s (%.0f%% avg)",
			s.PID, mib(s.RSSBefore), mib(s.RSSPlateau), s.OnlineAtSample, mib(s.RSSPeak), s.CPUSeconds, s.CPUAvgPct)
		if r.ServerRSSPerSessionBytes > 0 {
			row("server RSS/session", "%.0f B (%.2f KiB)", r.ServerRSSPerSessionBytes, r.ServerRSSPerSessionBytes/1024)
		}
	}
	c := r.Client
	if c.Stale > 0 {
		row("stale", "%d messages or presence from an earlier run received and not counted (queued for these accounts, e.g. offline)", c.Stale)
	}
	row("client", "%d process(es), RSS peak %s (%.0f B/session), CPU %.1f s (%.0f%% avg), send lag p99 %.2f ms max %.2f ms",
		c.Processes, mib(c.RSSPeak), c.RSSPerSession, c.CPUSeconds, c.CPUAvgPct, c.SendLagMs, c.SendLagMaxMs)
	if sp := c.Split; sp != nil {
		row("latency split", "send %s | server %s | receive %s (ms, p50/p99)",
			p5099(sp.Send), p5099(sp.Server), p5099(sp.Receive))
	}
	return tw.Flush()
}

func p5099(p Percentiles) string { return fmt.Sprintf("%.2f/%.2f", p.P50, p.P99) }

func pctl(p Percentiles) string {
	if p.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  (n=%d)", p.P50, p.P90, p.P99, p.P999, p.Max, p.Count)
}

// kib writes a signed byte count in KiB, "-" when not measured.
func kib(b int64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%+.1f KiB", float64(b)/1024)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// setLoginRates computes the login rate over the login phase and the peak
// from the per-second series; without a series it keeps the rate over the
// load phase.
func (r *Result) setLoginRates() {
	first, last := -1, -1
	for i, p := range r.Series {
		if p.Logins > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return
	}
	start := 0.0
	if first > 0 {
		start = r.Series[first-1].T
	}
	var n int64
	r.LoginsPeakPerS = 0
	prev := start
	for _, p := range r.Series[first : last+1] {
		n += p.Logins
		if dt := p.T - prev; dt > 0 {
			r.LoginsPeakPerS = max(r.LoginsPeakPerS, float64(p.Logins)/dt)
		}
		prev = p.T
	}
	if r.LoginPhaseS = r.Series[last].T - start; r.LoginPhaseS > 0 {
		r.LoginsPerS = float64(n) / r.LoginPhaseS
	}
}
