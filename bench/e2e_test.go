package bench

import (
	"context"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
	"ignis/store"
)

// A worker process started by TestWorkers is this test binary again.
func TestMain(m *testing.M) {
	if os.Getenv("IGNIS_BENCH_TEST_WORKER") != "" {
		err := Command(context.Background(), os.Args[1:], nil, os.Stdin, os.Stdout, os.Stderr)
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func startServer(t *testing.T, users int) *servertest.Env {
	t.Helper()
	env := servertest.Start(t)
	for i := 1; i <= users; i++ {
		env.AddUser("user"+strconv.Itoa(i), "secret")
	}
	return env
}

func testConfig(t *testing.T, args string) *Config {
	t.Helper()
	c, err := ParseArgs(strings.Fields("--progress 0 --domain localhost --password secret "+args), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIdleThenChat(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	env := startServer(t, 50)
	ctx := context.Background()

	// 50 idle sessions: what the bench established is what the server bound
	var bound, ticks atomic.Int64
	cfg := testConfig(t, "--addr "+env.Addr+" --scenario idle --sessions 50 --duration 2s")
	res, err := Run(ctx, cfg, Hooks{
		Tick:    func(*Tick) { ticks.Add(1) },
		Plateau: func(int64) { bound.Store(int64(env.Srv.Router().Table().Count())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.SessionsEstablished != 50 || res.SessionsFailed != 0 || res.PeakOnline != 50 {
		t.Fatalf("idle: established %d failed %d peak %d (failures %v)", res.SessionsEstablished, res.SessionsFailed, res.PeakOnline, res.Failures)
	}
	if bound.Load() != res.SessionsEstablished {
		t.Errorf("the server had %d bound sessions at the plateau, the bench established %d", bound.Load(), res.SessionsEstablished)
	}
	if res.LoginMs.Count != 50 || ticks.Load() == 0 || len(res.Series) == 0 {
		t.Errorf("login histogram %d, ticks %d, series %d", res.LoginMs.Count, ticks.Load(), len(res.Series))
	}

	// a chat of 200 messages: all delivered, all timed
	cfg = testConfig(t, "--addr "+env.Addr+" --scenario chat --sessions 50 --rate 2000 --messages 200 --duration 20s")
	res, err = Run(ctx, cfg, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if res.MessagesSent != 200 || res.MessagesDelivered != 200 || res.MessagesLost != 0 || res.MessagesBounced != 0 {
		t.Errorf("chat: sent %d delivered %d bounced %d lost %d", res.MessagesSent, res.MessagesDelivered, res.MessagesBounced, res.MessagesLost)
	}
	if res.LatencyMs.Count != 200 || res.LatencyMs.P50 <= 0 || res.LatencyMs.P99 < res.LatencyMs.P50 {
		t.Errorf("latency %+v", res.LatencyMs)
	}
	if res.DurationS > 15 {
		t.Errorf("the run took %.1fs: it should end once the budget is delivered", res.DurationS)
	}

	// group chat: 20 sessions in rooms of 5; each message reaches its room
	cfg = testConfig(t, "--addr "+env.Addr+" --scenario muc --room-size 5 --sessions 20 --rate 500 --messages 100 --duration 20s")
	res, err = Run(ctx, cfg, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if res.SessionsFailed != 0 || res.MessagesSent != 100 || res.MessagesBounced != 0 || res.MessagesExpected != 500 {
		t.Errorf("muc: failed %d sent %d bounced %d expected %d", res.SessionsFailed, res.MessagesSent, res.MessagesBounced, res.MessagesExpected)
	}
	// every occupant joined before the first message (the join phase)
	if res.MessagesDelivered != 500 || res.LatencyMs.Count != res.MessagesDelivered {
		t.Errorf("muc: delivered %d of 500, latency count %d", res.MessagesDelivered, res.LatencyMs.Count)
	}
	if m := res.MUC; m == nil || m.Occupants != 20 || m.Wanted != 20 {
		t.Errorf("muc joins: %+v, want 20 of 20", m)
	}

	// paced joins (20 at 100/s take 0.19 s at least), then --duration of
	// sending: 1 s of it, whatever the logins and joins took; the server
	// (this process) is sampled at the end of the joins and settled
	cfg = testConfig(t, "--addr "+env.Addr+" --scenario muc --room-size 10 --sessions 20 --rate 100 --duration 1s --join-rate 100 --drain 3s --server-pid "+strconv.Itoa(pidSelf()))
	res, err = Run(ctx, cfg, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if m := res.MUC; m == nil || m.Occupants != 20 || m.JoinS < 0.19 {
		t.Errorf("paced muc joins: %+v, want 20 in 0.19 s or more", m)
	}
	// the settled sample: at least a span after the end of the joins,
	// at most settleMax (and a last interval) after it
	if m := res.MUC; m == nil || m.ServerRSSAfter == 0 || m.ServerRSSSettled == 0 ||
		m.SettleS < settleSpan.Seconds() || m.SettleS > (settleMax+2*settleEvery).Seconds() {
		t.Errorf("muc settled sample: %+v", m)
	}
	var txt strings.Builder
	if err := res.WriteSummary(&txt); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), "server RSS/occupant settled") || !strings.Contains(txt.String(), "at the end of the joins") {
		t.Errorf("text report without both samples:\n%s", txt.String())
	}
	if res.SendS < 0.9 || res.MessagesSent < 80 || res.MessagesDelivered != res.MessagesExpected {
		t.Errorf("paced muc: sent %d for %.2f s, delivered %d of %d", res.MessagesSent, res.SendS, res.MessagesDelivered, res.MessagesExpected)
	}
}

func TestTLSModesAndMechanisms(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	env := startServer(t, 10)
	ctx := context.Background()
	for _, tt := range []struct{ name, args string }{
		{"starttls scram-sha-1 login", "--addr " + env.Addr + " --tls starttls --scenario login --sessions 4"},
		{"direct tls scram-sha-256 presence", "--addr " + env.TLSAddr + " --tls direct --mech SCRAM-SHA-256 --scenario presence --sessions 5 --presence-rate 200"},
		{"starttls plain mix", "--addr " + env.Addr + " --tls starttls --mech PLAIN --scenario mix --mix idle=1,chat=2,presence=1,login=1 --sessions 10"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(ctx, testConfig(t, tt.args+" --duration 1s"), Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			if res.SessionsEstablished == 0 || res.SessionsFailed != 0 || res.SessionsDropped != 0 {
				t.Fatalf("established %d failed %d dropped %d: %v", res.SessionsEstablished, res.SessionsFailed, res.SessionsDropped, res.Failures)
			}
			if res.PresenceSent > 0 && res.PresenceReceived < res.PresenceSent {
				t.Errorf("presence: %d sent, %d received", res.PresenceSent, res.PresenceReceived)
			}
			if res.MessagesLost != 0 {
				t.Errorf("%d messages lost", res.MessagesLost)
			}
		})
	}
}

// TestPlainPaths: the event loops' paths on plain TCP (stream management
// acks written from a loop, keepalives beside the paced sends) and the
// goroutine path they replace (--no-loops) deliver every message.
func TestPlainPaths(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	env := startServer(t, 20)
	for _, tt := range []struct{ name, args string }{
		{"loops, stream management", "--sm"},
		{"loops, keepalive, 1 ms tick", "--keepalive 100ms --tick 1ms"},
		{"goroutines", "--no-loops"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := "--addr " + env.Addr + " --scenario chat --sessions 20 --rate 1000 --messages 300 --duration 20s " + tt.args
			res, err := Run(context.Background(), testConfig(t, args), Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			if res.MessagesSent != 300 || res.MessagesDelivered != 300 || res.SessionsDropped != 0 {
				t.Fatalf("sent %d delivered %d dropped %d: %v", res.MessagesSent, res.MessagesDelivered, res.SessionsDropped, res.Failures)
			}
		})
	}
}

// TestLatencySplit: with --split every message delivered over a real
// server has its latency split in three parts (send, server, receive),
// and the parts' medians add up to about the latency's.
func TestLatencySplit(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	env := startServer(t, 20)
	args := "--addr " + env.Addr + " --scenario chat --sessions 20 --rate 1000 --messages 300 --duration 20s --split"
	res, err := Run(context.Background(), testConfig(t, args), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	sp := res.Client.Split
	if res.MessagesDelivered != 300 || sp == nil {
		t.Fatalf("delivered %d, split %+v", res.MessagesDelivered, sp)
	}
	for name, p := range map[string]Percentiles{"send": sp.Send, "server": sp.Server, "receive": sp.Receive} {
		if p.Count != 300 {
			t.Errorf("%s: %d values, want 300", name, p.Count)
		}
	}
	if sp.Server.P50 <= 0 || sp.Server.Max > res.LatencyMs.Max+0.01 {
		t.Errorf("server part %+v against latency %+v", sp.Server, res.LatencyMs)
	}
}

// TestRosterFanOut: --roster-size builds mutual subscriptions through the
// protocol before the load, and each presence update then reaches the
// sender's own session and its contacts; a second run finds the rosters in
// place.
func TestRosterFanOut(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	env := startServer(t, 10)
	for run := range 2 {
		args := "--addr " + env.Addr + " --scenario presence --sessions 10 --roster-size 4 --presence-rate 100 --duration 2s"
		res, err := Run(context.Background(), testConfig(t, args), Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		if res.RosterContactsWanted != 40 || res.RosterContacts != 40 {
			t.Fatalf("run %d: rosters %d of %d (failures %v)", run, res.RosterContacts, res.RosterContactsWanted, res.Failures)
		}
		if res.PresenceSent == 0 || res.PresenceReceived != 5*res.PresenceSent {
			t.Errorf("run %d: %d presence updates sent, %d received; want 5 each (self and 4 contacts)", run, res.PresenceSent, res.PresenceReceived)
		}
	}
	// what the server holds: user1's contacts are its two neighbours on
	// each side, wrapping around user1..user10
	var got []string
	if _, err := env.Srv.DB().Roster().List("user1", func(it store.RosterItem) bool {
		if it.Sub == store.SubBoth {
			got = append(got, it.JID)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{"user10@localhost", "user2@localhost", "user3@localhost", "user9@localhost"}; !slices.Equal(got, want) {
		t.Errorf("user1's mutual contacts %v, want %v", got, want)
	}
}

func TestFailuresHaveReasons(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	env := startServer(t, 3)
	res, err := Run(context.Background(), testConfig(t, "--addr "+env.Addr+" --sessions 3 --duration 1s --password wrong"), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if res.SessionsFailed != 3 || res.Failures["auth failed: not-authorized"] != 3 {
		t.Errorf("failed %d, reasons %v", res.SessionsFailed, res.Failures)
	}
}

func TestWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	env := startServer(t, 20)
	t.Setenv("IGNIS_BENCH_TEST_WORKER", "1")
	args := strings.Fields("--addr " + env.Addr + " --scenario chat --sessions 20 --rate 1000 --messages 100 --duration 20s --progress 0 --domain localhost --password secret --workers 2")
	cfg, err := ParseArgs(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServerPID = os.Getpid() // the in-process server
	start := time.Now()
	res, err := runWorkers(context.Background(), cfg, []string{os.Args[0]}, args, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if res.Workers != 2 || res.Client.Processes != 2 || res.SessionsEstablished != 20 || res.PeakOnline != 20 {
		t.Errorf("workers %d processes %d established %d peak %d", res.Workers, res.Client.Processes, res.SessionsEstablished, res.PeakOnline)
	}
	if res.MessagesSent != 100 || res.MessagesDelivered != 100 || res.LatencyMs.Count != 100 {
		t.Errorf("sent %d delivered %d timed %d", res.MessagesSent, res.MessagesDelivered, res.LatencyMs.Count)
	}
	if res.Server == nil || res.Server.OnlineAtSample != 20 || res.Server.RSSPlateau == 0 {
		t.Errorf("server sample %+v", res.Server)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

// --transport websocket: the same logins and chat over RFC 7395 on the
// server's web listener; the server bound every session and every message
// arrived.
func TestWebSocketTransport(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	env := servertest.Start(t, func(c *server.Config) {
		c.Web.Enabled = true
		c.Web.HTTP = "127.0.0.1:0"
		c.Web.HTTPS = "off"
	})
	for i := 1; i <= 20; i++ {
		env.AddUser("user"+strconv.Itoa(i), "secret")
	}
	web, _ := env.Srv.WebAddrs()
	var bound atomic.Int64
	cfg := testConfig(t, "--addr "+web.String()+" --transport websocket --scenario chat --sessions 20 --rate 500 --messages 100 --duration 20s")
	res, err := Run(context.Background(), cfg, Hooks{
		Plateau: func(int64) { bound.Store(int64(env.Srv.Router().Table().Count())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.SessionsEstablished != 20 || res.SessionsFailed != 0 || bound.Load() != 20 {
		t.Fatalf("established %d, failed %d (%v), bound at the plateau %d", res.SessionsEstablished, res.SessionsFailed, res.Failures, bound.Load())
	}
	if res.MessagesDelivered != 100 || res.MessagesLost != 0 {
		t.Fatalf("messages: %d delivered, %d lost", res.MessagesDelivered, res.MessagesLost)
	}
}

// TestS2SScenario: --scenario s2s against two servers linked on loopback.
// Half the sessions log in to each; every message crosses the link, all are
// delivered and timed, the link came up before the load, and both servers
// (this process, given as both pids) were sampled.
func TestS2SScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	fed := func(domain string) func(*server.Config) {
		return func(c *server.Config) {
			c.Domain = domain
			c.S2S.Enabled = true
			c.S2S.Listen = "127.0.0.1:0"
		}
	}
	a, b := servertest.Start(t, fed("a.test")), servertest.Start(t, fed("b.test"))
	a.Srv.S2S().SetHost("b.test", b.Srv.S2SAddr().String())
	b.Srv.S2S().SetHost("a.test", a.Srv.S2SAddr().String())
	for i := 1; i <= 20; i++ {
		a.AddUser("user"+strconv.Itoa(i), "secret")
		b.AddUser("user"+strconv.Itoa(i), "secret")
	}
	pid := strconv.Itoa(os.Getpid())
	cfg := testConfig(t, "--addr "+a.Addr+" --domain a.test --scenario s2s --sessions 20 --remote-addr "+b.Addr+
		" --remote-domain b.test --rate 1000 --messages 300 --duration 20s --server-pid "+pid+" --remote-pid "+pid)
	res, err := Run(context.Background(), cfg, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if res.SessionsEstablished != 20 || res.SessionsFailed != 0 {
		t.Fatalf("established %d failed %d (%v)", res.SessionsEstablished, res.SessionsFailed, res.Failures)
	}
	// 300 paced messages and the two that brought the link up
	if res.MessagesSent != 302 || res.MessagesDelivered != 302 || res.LatencyMs.Count != 302 {
		t.Errorf("sent %d delivered %d timed %d, want 302", res.MessagesSent, res.MessagesDelivered, res.LatencyMs.Count)
	}
	l := res.S2S
	if l == nil || !l.LinkUp || l.LinkUpS <= 0 || l.RemoteDomain != "b.test" || l.Remote == nil || l.LocalRSSLinked == 0 || l.RemoteRSSLinked == 0 {
		t.Fatalf("s2s stats: %+v", l)
	}
	// the first message opened a link that carried the answer (XEP-0288),
	// and then the whole load both ways
	if out, in := a.Srv.S2S().Links(); out != 1 || in != 0 {
		t.Errorf("a.test has %d outgoing and %d incoming links, want one outgoing (bidirectional)", out, in)
	}
	var sum strings.Builder
	if err := res.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	t.Logf("summary:\n%s", sum.String())
	for _, want := range []string{"remote server " + b.Addr + " domain b.test", "s2s link RSS", "remote RSS/session"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
}

// TestPEPScenario: --scenario pep against Ignis. The server asks the caps
// once and verifies the hash (a wrong one would notify nobody), every
// publish notifies each of the 4 contacts exactly once, the publisher's own
// resource gets its own notification apart, and each user's nodes hold one
// item each, which the result counts.
func TestPEPScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	env := startServer(t, 10)
	args := "--addr " + env.Addr + " --scenario pep --sessions 10 --roster-size 4 --pep-nodes 3 --rate 500 --messages 100 --duration 20s --caps-wait 10s"
	res, err := Run(context.Background(), testConfig(t, args), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	p := res.PEP
	if p == nil || res.RosterContacts != 40 {
		t.Fatalf("pep stats %v, rosters %d of 40 (failures %v)", p, res.RosterContacts, res.Failures)
	}
	if p.CapsQueries != 1 {
		t.Errorf("caps queries answered: %d, want 1 (one verification string)", p.CapsQueries)
	}
	if p.Publishes != 100 || p.PublishErrors != 0 || res.MessagesExpected != 400 {
		t.Errorf("publishes %d, errors %d, notifications expected %d; want 100, 0, 400 (failures %v)", p.Publishes, p.PublishErrors, res.MessagesExpected, res.Failures)
	}
	if res.MessagesDelivered != 400 || res.MessagesLost != 0 || res.LatencyMs.Count != 400 {
		t.Errorf("notifications delivered %d, lost %d, timed %d; want 400, 0, 400", res.MessagesDelivered, res.MessagesLost, res.LatencyMs.Count)
	}
	if p.SelfNotifications != 100 {
		t.Errorf("own notifications %d, want 100 (the publisher's resource asked for +notify)", p.SelfNotifications)
	}
	if p.ItemsStored != 30 {
		t.Errorf("items stored %d, want 30 (10 users × 3 nodes)", p.ItemsStored)
	}
	for _, node := range []string{"urn:ignis:bench:pep-0", "urn:ignis:bench:pep-2"} {
		items, err := env.Srv.DB().PEP().Items("user1", node)
		if err != nil || len(items) != 1 || items[0].ID != "current" || !strings.Contains(string(items[0].XML), markPrefix) {
			t.Errorf("user1's %s: %v, %v", node, items, err)
		}
	}
}

// TestPEPWorkers: --scenario pep over two worker processes, whose users are
// each other's contacts: every notification is counted once, by the worker
// that got it, and the merged result holds the publishes.
func TestPEPWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	env := startServer(t, 10)
	t.Setenv("IGNIS_BENCH_TEST_WORKER", "1")
	args := strings.Fields("--addr " + env.Addr + " --scenario pep --sessions 10 --roster-size 4 --rate 500 --messages 100 --duration 20s --caps-wait 1s --progress 0 --domain localhost --password secret --workers 2")
	cfg, err := ParseArgs(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runWorkers(context.Background(), cfg, []string{os.Args[0]}, args, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	p := res.PEP
	if p == nil || p.Publishes != 100 || p.Duplicates != 0 || p.PublishErrors != 0 {
		t.Fatalf("pep stats %+v (failures %v)", p, res.Failures)
	}
	if res.MessagesExpected != 400 || res.MessagesDelivered != 400 || res.MessagesLost != 0 {
		t.Errorf("notifications expected %d, delivered %d, lost %d; want 400, 400, 0", res.MessagesExpected, res.MessagesDelivered, res.MessagesLost)
	}
}
