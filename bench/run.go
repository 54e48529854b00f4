package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"ignis/scram"
	"ignis/xmlscan"
)

// Tick is what a run reports each second: the point for the time series,
// and, in a worker process, the second's latency histograms for merging.
type Tick struct {
	Point       Point  `json:"point"`
	LatencyHDR  string `json:"latency_hdr,omitempty"`
	PresenceHDR string `json:"presence_hdr,omitempty"`
}

// Hooks lets the caller watch a run. All fields are optional.
type Hooks struct {
	// Tick is called about once per second from the run's ticker goroutine.
	Tick func(*Tick)
	// Plateau is called when the load phase is over, just before sessions
	// are closed; the run waits for it to return (a parent process samples
	// the server then).
	Plateau func(online int64)
	// LoggedIn is called once every session's first login has ended, before
	// any message is sent; the run waits for it to return (a parent process
	// holds every worker there until all have logged in, so that no message
	// goes to a session another worker has not opened yet).
	LoggedIn func()
}

type stats struct {
	established, failed, dropped, aborted, online, peak, logins atomic.Int64
	msgSent, msgDelivered, msgBounced, msgSkipped               atomic.Int64
	msgExpected                                                 atomic.Int64 // deliveries the sent messages make (muc: one per occupant)
	presSent, presRecv, presErrors                              atomic.Int64
	stale                                                       atomic.Int64 // marks of another run
	rosterBoth                                                  atomic.Int64 // contacts subscribed both ways (roster.go)
	registered, regExisting, rosterErrors                       atomic.Int64
	smEnabled                                                   atomic.Int64
	// pep (pep.go)
	capsQueries, capsReady, pubErrors, pepSelf, pepDup, itemsStored atomic.Int64

	mu      sync.Mutex
	reasons map[string]int64
}

func (s *stats) addReason(why string) {
	s.mu.Lock()
	if s.reasons == nil {
		s.reasons = map[string]int64{}
	}
	if _, ok := s.reasons[why]; !ok && len(s.reasons) >= 50 {
		why = "other"
	}
	s.reasons[why]++
	s.mu.Unlock()
}

// run is one process's share of a benchmark.
type run struct {
	cfg      *Config
	hooks    Hooks
	ctx      context.Context // cancelled at teardown: aborts dials
	cancel   context.CancelFunc
	closing  atomic.Bool
	st       stats
	msgLat   *recorder
	presLat  *recorder
	loginLat *recorder
	sendLag  *recorder
	split    [3]*recorder // --split: send, server, receive (LatencySplit)
	sessions []session
	chat     []int32 // local indices of chat sessions
	pres     []int32 // local indices of presence sessions
	header   []byte
	close    []byte // the stream's end: </stream:stream>, or RFC 7395's <close/>
	password string // prepared for SCRAM
	tlsConf  *tls.Config
	dialers  []net.Dialer
	salts    saltCache
	admitSem chan struct{}
	rampMu   sync.Mutex
	ramp     *Pacer
	first    atomic.Int64  // sessions whose first login has not ended
	firstCh  chan struct{} // closed when first reaches 0
	wg       sync.WaitGroup
	msgLeft  atomic.Int64 // message budget left (with --messages)
	loops    []*evloop    // plain TCP: the epoll loops online sessions move to
	id       uint32       // this run's id, in every mark (cfg.RunID or random)

	rosterHave, rosterWant int64 // --roster-size: subscriptions in place when the load began

	joinsOpen atomic.Bool // muc: the join phase began (a session joins when it logs in)
	mucJoins  mucJoins    // muc: what the join phase measured

	presence  []byte     // the initial presence (pep: with caps)
	discoBody []byte     // pep: identity and features of the disco#info answer
	pepBefore ProcSample // pep: the server's when the publishing began

	// escaped pieces of the user JID pattern, for building 'to' attributes
	toPre, toPost []byte

	// --scenario s2s: the remote server's side of the above
	remoteHeader, remoteToPost []byte
	remoteTLS                  *tls.Config
	link                       linkPhase
}

// Run performs the benchmark described by cfg in this process and returns
// its result. It stops by itself: after cfg.Duration, plus the drain and
// teardown (each bounded), or earlier when a --messages budget is done.
func Run(ctx context.Context, cfg *Config, hooks Hooks) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r, err := newRun(cfg, hooks)
	if err != nil {
		return nil, err
	}
	defer r.cancel()
	return r.execute(ctx)
}

func newRun(cfg *Config, hooks Hooks) (*run, error) {
	r := &run{cfg: cfg, hooks: hooks, id: cfg.RunID}
	for r.id == 0 {
		r.id = rand.Uint32()
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.msgLat, r.presLat, r.loginLat, r.sendLag = newRecorder(), newRecorder(), newRecorder(), newRecorder()
	if cfg.Split {
		r.split = [3]*recorder{newRecorder(), newRecorder(), newRecorder()}
	}
	r.header, r.close = streamHeader(cfg.Domain), streamClose
	r.presence = presenceInitial
	if cfg.PEP() {
		r.pepSetup()
	}
	if cfg.Transport == "websocket" {
		r.header, r.close = wsOpen(cfg.Domain), wsCloseElem
	}
	p, err := scram.Prepare(cfg.Password)
	if err != nil {
		return nil, errors.New("password: " + err.Error())
	}
	r.password = p
	name := cfg.ServerName
	if name == "" {
		name = cfg.Domain
	}
	r.tlsConf = &tls.Config{ServerName: name, InsecureSkipVerify: !cfg.TLSVerify, MinVersion: tls.VersionTLS12}
	if !cfg.TLSPQ {
		// the classic groups every server can take (Debian 12's OpenSSL 3.0,
		// so Prosody and ejabberd, has no ML-KEM): without this, a Go server
		// would do the hybrid key exchange the others cannot, and comparisons
		// would not be like for like
		r.tlsConf.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
	}
	if cfg.S2S() {
		r.remoteHeader = streamHeader(cfg.RemoteDomain)
		r.remoteTLS = r.tlsConf.Clone()
		r.remoteTLS.ServerName = cfg.RemoteDomain
	}
	ips := cfg.SourceIPs
	if len(ips) == 0 {
		r.dialers = []net.Dialer{{Timeout: cfg.Timeout}}
	}
	for _, ip := range ips {
		r.dialers = append(r.dialers, net.Dialer{
			Timeout:   cfg.Timeout,
			LocalAddr: &net.TCPAddr{IP: ip.AsSlice()},
			Control:   bindNoPort,
		})
	}
	roles := cfg.Mix.Assign(cfg.Sessions)
	r.sessions = make([]session, cfg.Sessions)
	for i := range r.sessions {
		s := &r.sessions[i]
		s.r, s.idx, s.role, s.partner, s.fd = r, int32(i), roles[i], -1, -1
		switch s.role {
		case RoleChat:
			r.chat = append(r.chat, int32(i))
		case RolePresence:
			r.pres = append(r.pres, int32(i))
		}
	}
	// chat partners: the chat session half the list away
	if n := len(r.chat); n >= 2 {
		for j, i := range r.chat {
			r.sessions[i].partner = r.chat[(j+n/2)%n]
		}
	}
	pre, post, _ := strings.Cut(cfg.Users, "%d")
	r.toPre = xmlscan.AppendEscapedAttr(nil, pre)
	r.toPost = xmlscan.AppendEscapedAttr(nil, post+"@"+cfg.Domain)
	r.remoteToPost = xmlscan.AppendEscapedAttr(nil, post+"@"+cfg.RemoteDomain)
	r.admitSem = make(chan struct{}, cfg.Inflight)
	r.first.Store(int64(cfg.Sessions))
	r.firstCh = make(chan struct{})
	r.msgLeft.Store(cfg.Messages)
	if cfg.TLS == TLSNone && !cfg.NoLoops && cfg.Transport != "websocket" {
		r.loops = newLoops(r, runtime.GOMAXPROCS(0))
	}
	return r, nil
}

// bindNoPort sets IP_BIND_ADDRESS_NO_PORT so that binding a source address
// before connect does not reserve a port per address (Linux ≥ 4.2): the
// port is chosen at connect, per destination.
func bindNoPort(_, _ string, c syscall.RawConn) error {
	const ipBindAddressNoPort = 24
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	if err != nil {
		return err
	}
	_ = serr // best effort: older kernels still work, with fewer ports
	return nil
}

func (r *run) dialer(i int) *net.Dialer { return &r.dialers[i%len(r.dialers)] }

// server returns the address, stream header and TLS configuration session
// i logs in with: the remote server's for the second half of --scenario s2s.
func (r *run) server(i int32) (addr string, header []byte, tc *tls.Config) {
	if r.cfg.remote(int(i)) {
		return r.cfg.RemoteAddr, r.remoteHeader, r.remoteTLS
	}
	return r.cfg.Addr, r.header, r.tlsConf
}

// admit waits for a login slot: the ramp's schedule, then an in-flight slot.
func (r *run) admit(ctx context.Context) bool {
	if r.ramp != nil {
		r.rampMu.Lock()
		due := r.ramp.Due(r.ramp.n)
		r.ramp.n++
		r.rampMu.Unlock()
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return false
			case <-t.C:
			}
		}
	}
	select {
	case r.admitSem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (r *run) release() { <-r.admitSem }

func (r *run) onEstablished(s *session) {
	r.loginLat.record(int(s.idx), time.Since(s.started))
	r.st.established.Add(1)
	r.st.logins.Add(1)
	if s.holding {
		s.holding = false
		r.release()
	}
	if s.role != RoleLogin {
		n := r.st.online.Add(1)
		for {
			p := r.st.peak.Load()
			if n <= p || r.st.peak.CompareAndSwap(p, n) {
				break
			}
		}
	}
	r.firstEnded(s)
}

func (r *run) firstEnded(s *session) {
	if !s.firstDone {
		s.firstDone = true
		if r.first.Add(-1) == 0 {
			close(r.firstCh)
		}
	}
}

// loop is a session's goroutine: log in, then serve; login sessions repeat.
func (s *session) loop(ctx context.Context) {
	r := s.r
	defer r.wg.Done()
	admitted := true // the launcher admitted the first login
	for {
		if !admitted && !r.admit(ctx) {
			return
		}
		admitted = false
		s.holding, s.est = true, false
		err := s.connect()
		if err == nil {
			err = s.serve()
		}
		wasOnline := s.online.Swap(false)
		s.closeConn(false)
		if s.holding {
			s.holding = false
			r.release()
		}
		closing := r.closing.Load()
		failed := false
		switch {
		case errors.Is(err, errClosed) && s.est:
			// a login session's clean close
		case closing && !s.est:
			r.st.aborted.Add(1)
		case closing:
		case !s.est:
			failed = true
			r.st.failed.Add(1)
			r.st.addReason(reason(s.ph, err))
		default:
			r.st.dropped.Add(1)
			r.st.addReason("dropped: " + reason(s.ph, err))
		}
		if wasOnline {
			r.st.online.Add(-1)
		}
		r.firstEnded(s)
		if closing || s.role != RoleLogin {
			return
		}
		if failed { // do not spin on a refusing server
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// provision registers every account in band (XEP-0077) before the run.
func (r *run) provision(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range r.sessions {
		if !r.admit(ctx) {
			break
		}
		s := &r.sessions[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.release()
			s.reg = true
			err := s.connect()
			if err == nil {
				err = s.serve()
			}
			s.closeConn(false)
			s.reg = false
			if !errors.Is(err, errClosed) && !r.closing.Load() {
				r.st.addReason("register: " + reason(s.ph, err))
			}
		}()
	}
	wg.Wait()
}

func (r *run) execute(parent context.Context) (*Result, error) {
	cfg := r.cfg
	pid := os.Getpid()
	var srvBefore ProcSample
	if cfg.ServerPID > 0 {
		var err error
		if srvBefore, err = ReadProc(cfg.ServerPID); err != nil {
			return nil, errors.New("server-pid: " + err.Error())
		}
	}
	var remote remoteServer
	if err := remote.start(cfg.RemotePID); err != nil {
		return nil, errors.New("remote-pid: " + err.Error())
	}
	cliBefore, _ := ReadProc(pid)
	start := time.Now()
	// muc, pep and s2s: --duration is the sending time, after the logins and
	// the joins, the rosters and caps or the link (bounded by --timeout each:
	// a big room's joins fan out n² presences, rosters are built through the
	// protocol, a peer's link may take seconds to come up)
	sendTimed := cfg.MUC() || cfg.PEP() || cfg.S2S()
	deadline := start.Add(cfg.Duration)
	if sendTimed {
		deadline = deadline.Add(2 * cfg.Timeout)
	}
	runCtx, stopRun := context.WithDeadline(parent, deadline)
	defer stopRun()
	sendEnd := make(chan struct{})
	if cfg.Register {
		r.provision(runCtx)
	}
	if cfg.Ramp > 0 {
		r.ramp = NewPacer(nil, cfg.Ramp)
	}

	// the ticker: one point per second
	var series []Point
	var srvPeak ProcSample
	tickDone := make(chan struct{})
	tickStop := make(chan struct{})
	go func() {
		defer close(tickDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		prevSrv, prevCli := srvBefore, cliBefore
		var logins, sent, deliv, psent, precv int64
		for {
			select {
			case <-tickStop:
				return
			case <-t.C:
			}
			p := Point{T: time.Since(start).Seconds(), Online: r.st.online.Load()}
			p.EstablishedTotal, p.FailedTotal = r.st.established.Load(), r.st.failed.Load()
			cur := [...]int64{r.st.logins.Load(), r.st.msgSent.Load(), r.st.msgDelivered.Load(), r.st.presSent.Load(), r.st.presRecv.Load()}
			p.Logins, p.MessagesSent, p.MessagesDelivered = cur[0]-logins, cur[1]-sent, cur[2]-deliv
			p.PresenceSent, p.PresenceReceived = cur[3]-psent, cur[4]-precv
			logins, sent, deliv, psent, precv = cur[0], cur[1], cur[2], cur[3], cur[4]
			lat, plat := NewHistogram(), NewHistogram()
			r.msgLat.takeInterval(lat)
			r.presLat.takeInterval(plat)
			p.setLatency(Summarize(lat))
			if c, err := ReadProc(pid); err == nil {
				p.ClientRSS, p.ClientCPU = c.RSS, cpuPercent(prevCli, c)
				prevCli = c
			}
			if cfg.ServerPID > 0 {
				if s, err := ReadProc(cfg.ServerPID); err == nil {
					p.ServerRSS, p.ServerCPU = s.RSS, cpuPercent(prevSrv, s)
					prevSrv = s
					if s.RSS > srvPeak.RSS {
						srvPeak = s
					}
				}
			}
			remote.tick()
			series = append(series, p)
			if r.hooks.Tick != nil {
				tk := &Tick{Point: p}
				if cfg.WorkerOf > 0 {
					tk.LatencyHDR, tk.PresenceHDR = EncodeHistogram(lat), EncodeHistogram(plat)
				}
				r.hooks.Tick(tk)
			}
		}
	}()

	if cfg.Keepalive > 0 {
		go r.keepalive(runCtx)
	}

	// the launcher
	launchDone := make(chan struct{})
	go func() {
		defer close(launchDone)
		for i := range r.sessions {
			if !r.admit(runCtx) {
				// never launched: their first login will not end
				for j := i; j < len(r.sessions); j++ {
					r.firstEnded(&r.sessions[j])
				}
				return
			}
			r.wg.Add(1)
			go r.sessions[i].loop(r.ctx)
		}
	}()

	// the senders start once every session's first login has ended
	sendCtx, stopSend := context.WithCancel(runCtx)
	defer stopSend()
	var senders sync.WaitGroup
	var sendStart time.Time
	var sendersStarted atomic.Bool
	go func() {
		select {
		case <-r.firstCh:
		case <-sendCtx.Done():
			return
		}
		if cfg.RosterSize > 0 {
			r.rosterHave, r.rosterWant = r.waitRosters(sendCtx.Done())
		}
		if cfg.MUC() {
			r.mucJoins = r.joinPhase(sendCtx.Done())
		}
		if cfg.S2S() {
			r.link = r.linkUp(sendCtx.Done())
		}
		if cfg.PEP() {
			r.waitCaps(sendCtx.Done())
			if cfg.ServerPID > 0 {
				r.pepBefore, _ = ReadProc(cfg.ServerPID)
			}
		}
		if r.hooks.LoggedIn != nil {
			r.hooks.LoggedIn()
		}
		sendStart = time.Now()
		sendersStarted.Store(true)
		r.startSenders(sendCtx, &senders)
		if sendTimed {
			time.AfterFunc(cfg.Duration, func() { close(sendEnd) })
		}
	}()

	// hold until the deadline, or until a message budget is spent
	budget := make(chan struct{})
	if cfg.Messages > 0 && len(r.chat) >= 2 {
		go func() {
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-t.C:
				}
				if r.msgLeft.Load() <= 0 && r.st.msgSent.Load() >= cfg.Messages {
					close(budget)
					return
				}
			}
		}()
	}
	select {
	case <-runCtx.Done():
	case <-budget:
	case <-sendEnd:
	}
	stopSend()
	<-launchDone
	var sendSeconds float64
	if sendersStarted.Load() {
		senders.Wait()
		sendSeconds = time.Since(sendStart).Seconds()
	}

	// drain: wait for outstanding messages and presence echoes, bounded
	drainEnd := time.Now().Add(cfg.Drain)
	for time.Now().Before(drainEnd) {
		if r.st.msgDelivered.Load()+r.st.msgBounced.Load() >= r.st.msgExpected.Load() &&
			r.st.presRecv.Load()+r.st.presErrors.Load() >= r.st.presSent.Load()*int64(1+cfg.RosterSize) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}

	// plateau: the server's memory with everything still connected
	hold := time.Since(start)
	online := r.st.online.Load()
	if r.hooks.Plateau != nil {
		r.hooks.Plateau(online)
	}
	var srvPlateau ProcSample
	if cfg.ServerPID > 0 {
		srvPlateau, _ = ReadProc(cfg.ServerPID)
	}
	cliPlateau, _ := ReadProc(pid)
	remote.atPlateau()

	// teardown, bounded
	r.closing.Store(true)
	r.cancel()
	for i := range r.sessions {
		r.sessions[i].closeConn(true)
	}
	waited := make(chan struct{})
	go func() { r.wg.Wait(); close(waited) }()
	select {
	case <-waited:
		for _, l := range r.loops {
			l.stop()
		}
	case <-time.After(10 * time.Second):
	}
	close(tickStop)
	<-tickDone
	if srvPlateau.RSS > srvPeak.RSS { // the ticker owned srvPeak until now
		srvPeak = srvPlateau
	}
	end := time.Now()
	cliAfter, _ := ReadProc(pid)

	res := r.result(end.Sub(start), sendSeconds, hold, series)
	res.PeakOnline = r.st.peak.Load()
	peakCli := cliPlateau.RSS
	for _, p := range series {
		peakCli = max(peakCli, p.ClientRSS)
	}
	res.Client.RSSPeak = peakCli
	if online > 0 {
		res.Client.RSSPerSession = float64(cliPlateau.RSS-cliBefore.RSS) / float64(online)
	}
	res.Client.CPUSeconds = (cliAfter.CPU - cliBefore.CPU).Seconds()
	res.Client.CPUAvgPct = 100 * res.Client.CPUSeconds / end.Sub(start).Seconds()
	if cfg.ServerPID > 0 {
		srvAfter, _ := ReadProc(cfg.ServerPID)
		res.Server = &ServerStats{
			PID: cfg.ServerPID, RSSBefore: srvBefore.RSS, RSSPlateau: srvPlateau.RSS, RSSPeak: srvPeak.RSS,
			OnlineAtSample: online,
		}
		if srvAfter.CPU > 0 {
			res.Server.CPUSeconds = (srvAfter.CPU - srvBefore.CPU).Seconds()
			res.Server.CPUAvgPct = 100 * res.Server.CPUSeconds / end.Sub(start).Seconds()
		}
		if online > 0 {
			res.ServerRSSPerSessionBytes = float64(srvPlateau.RSS-srvBefore.RSS) / float64(online)
		}
		if p := res.PEP; p != nil && r.pepBefore.RSS > 0 {
			p.ServerRSSBefore, p.ServerRSSAfter = r.pepBefore.RSS, srvPlateau.RSS
			if p.ItemsStored > 0 {
				p.ServerRSSPerItem = float64(srvPlateau.RSS-r.pepBefore.RSS) / float64(p.ItemsStored)
			}
		}
	}
	if cfg.S2S() {
		res.S2S = r.link.stats(cfg)
		res.S2S.Remote = remote.stats(online, end.Sub(start))
		// each server holds half the sessions
		if half := float64(online) / 2; half > 0 {
			if res.Server != nil {
				res.ServerRSSPerSessionBytes = float64(srvPlateau.RSS-srvBefore.RSS) / half
			}
			if s := res.S2S.Remote; s != nil {
				res.S2S.RemoteRSSPerSessionBytes = float64(s.RSSPlateau-s.RSSBefore) / half
			}
		}
	}
	return res, nil
}

// startSenders starts the chat and presence senders: on the event loops
// when there are, else as goroutines.
func (r *run) startSenders(ctx context.Context, wg *sync.WaitGroup) {
	cfg := r.cfg
	if r.loops != nil {
		n := len(r.loops)
		for i, l := range r.loops {
			var chat, pres []int32
			if len(r.chat) >= 2 {
				chat = subset(r.chat, i, n)
			}
			if len(chat) == 0 && (len(r.pres) == 0 || cfg.PresRate <= 0) {
				continue
			}
			pres = subset(r.pres, i, n)
			wg.Add(1)
			l.startSending(wg, chat, pres, cfg.Rate/float64(n), cfg.PresRate/float64(n))
		}
		go func() {
			<-ctx.Done()
			for _, l := range r.loops {
				l.stopSending()
			}
		}()
		return
	}
	const k = 4 // senders per kind: a slow write stalls only a quarter of them
	if len(r.chat) >= 2 && cfg.Rate > 0 {
		n := min(k, len(r.chat))
		for i := range n {
			wg.Add(1)
			go r.sender(ctx, wg, i, RoleChat, subset(r.chat, i, n), cfg.Rate/float64(n))
		}
	}
	if len(r.pres) >= 1 && cfg.PresRate > 0 {
		n := min(k, len(r.pres))
		for i := range n {
			wg.Add(1)
			go r.sender(ctx, wg, i, RolePresence, subset(r.pres, i, n), cfg.PresRate/float64(n))
		}
	}
}

// keepalive sends a whitespace keepalive (RFC 6120 §4.6.1) on every online
// session once per --keepalive, a tenth of the sessions at a time.
func (r *run) keepalive(ctx context.Context) {
	const parts = 10
	t := time.NewTicker(r.cfg.Keepalive / parts)
	defer t.Stop()
	for k := 0; ; k = (k + 1) % parts {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for i := k; i < len(r.sessions); i += parts {
			if s := &r.sessions[i]; s.online.Load() {
				_ = s.write(space)
			}
		}
	}
}

var space = []byte(" ")

func subset(ids []int32, i, n int) []int32 {
	var out []int32
	for j := i; j < len(ids); j += n {
		out = append(out, ids[j])
	}
	return out
}

// sender writes paced messages (or presence updates) from its sessions in
// turn, on a goroutine of its own (TLS sessions, where there are no loops).
func (r *run) sender(ctx context.Context, wg *sync.WaitGroup, shard int, kind Role, ids []int32, rate float64) {
	defer wg.Done()
	p := NewPacer(nil, rate)
	next := 0
	var seq int64
	for {
		due, err := p.Wait(ctx)
		if err != nil {
			return
		}
		if !r.sendOne(kind, ids, &next, &seq, due, time.Now(), shard, writeNow) {
			return
		}
	}
}

// sendOne sends the event due at due from the next online session of ids
// (taken in turn from *next). The mark carries the due time, so that a late
// send counts against the latency (no coordinated omission). out takes the
// bytes (borrowed for the call). It reports false once the --messages
// budget is spent.
func (r *run) sendOne(kind Role, ids []int32, next *int, seq *int64, due, now time.Time, shard int, out func(*session, []byte)) bool {
	if kind == RoleChat && r.cfg.Messages > 0 && r.msgLeft.Add(-1) < 0 {
		return false
	}
	var s *session
	for range ids {
		c := &r.sessions[ids[*next]]
		*next = (*next + 1) % len(ids)
		if c.online.Load() && (kind != RoleChat || r.cfg.PEP() || (r.cfg.MUC() && c.joined.Load()) || (!r.cfg.MUC() && r.sessions[c.partner].online.Load())) {
			s = c
			break
		}
	}
	if s == nil {
		r.st.msgSkipped.Add(1)
		if kind == RoleChat && r.cfg.Messages > 0 {
			r.msgLeft.Add(1)
		}
		return true
	}
	*seq++
	r.sendLag.record(shard, now.Sub(due))
	bp := sendBufs.Get().(*[]byte)
	if kind == RoleChat && r.cfg.PEP() {
		*bp = r.appendPublish((*bp)[:0], s, *seq, due.UnixNano())
		r.st.msgSent.Add(1)
		r.st.msgExpected.Add(int64(r.cfg.RosterSize)) // one notification per contact
	} else if kind == RoleChat {
		*bp = r.appendMessage((*bp)[:0], s, *seq, due.UnixNano())
		r.st.msgSent.Add(1)
		if r.cfg.MUC() {
			_, n := r.cfg.roomOf(r.cfg.UserOffset + int(s.idx))
			r.st.msgExpected.Add(int64(n))
		} else {
			r.st.msgExpected.Add(1)
		}
	} else {
		*bp = r.appendPresence((*bp)[:0], s, *seq, due.UnixNano())
		r.st.presSent.Add(1)
	}
	out(s, *bp)
	sendBufs.Put(bp)
	return true
}

// writeNow writes one paced event at once; a failed write shows as a
// dropped session and a lost message.
func writeNow(s *session, b []byte) { _ = s.write(b) }

var sendBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (r *run) appendMessage(b []byte, s *session, seq, ts int64) []byte {
	if r.cfg.MUC() {
		b = append(b, "<message type='groupchat' id='b"...)
		b = strconv.AppendInt(b, seq, 36)
		b = append(b, "' to='"...)
		b = r.appendRoom(b, s)
		b = append(b, "'><body>"...)
		b = r.appendPadded(b, s.idx, seq, ts)
		return append(b, "</body></message>"...)
	}
	b = append(b, "<message type='chat' id='b"...)
	b = strconv.AppendInt(b, seq, 36)
	b = append(b, "' to='"...)
	b = append(b, r.toPre...)
	b = strconv.AppendInt(b, int64(r.cfg.FirstUser+r.cfg.UserOffset+int(s.partner)), 10)
	if r.cfg.remote(int(s.partner)) {
		b = append(b, r.remoteToPost...)
	} else {
		b = append(b, r.toPost...)
	}
	b = append(b, "'><body>"...)
	b = r.appendPadded(b, s.idx, seq, ts)
	return append(b, "</body></message>"...)
}

// appendRoom appends the bare JID of s's room (--scenario muc).
func (r *run) appendRoom(b []byte, s *session) []byte {
	room, _ := r.cfg.roomOf(r.cfg.UserOffset + int(s.idx))
	b = append(b, "bench"...)
	b = strconv.AppendInt(b, int64(room), 10)
	b = append(b, '@')
	return xmlscan.AppendEscapedAttr(b, r.cfg.MUCHost)
}

func (r *run) appendPresence(b []byte, s *session, seq, ts int64) []byte {
	b = append(b, "<presence><status>"...)
	b = r.appendPadded(b, s.idx, seq, ts)
	return append(b, "</status></presence>"...)
}

func (r *run) appendPadded(b []byte, idx int32, seq, ts int64) []byte {
	m := len(b)
	b = appendMark(b, r.id, idx, seq, ts)
	if r.cfg.Split {
		b = append(b, sentPlaceholder...) // stamped by the loop at the write
	}
	for len(b)-m < r.cfg.MsgSize {
		b = append(b, 'x')
	}
	return b
}

// result fills the counters and summaries.
func (r *run) result(wall time.Duration, sendSeconds float64, hold time.Duration, series []Point) *Result {
	cfg := r.cfg
	st := &r.st
	res := &Result{
		Scenario: cfg.Scenario, Mix: cfg.Mix.String(), Addr: cfg.Addr, Domain: cfg.Domain,
		TLS: cfg.TLS.String(), Mech: cfg.Mech, Sessions: cfg.Sessions, Workers: 1,
		DurationS:           wall.Seconds(),
		SessionsEstablished: st.established.Load(), SessionsFailed: st.failed.Load(),
		SessionsDropped: st.dropped.Load(), SessionsAborted: st.aborted.Load(),
		RosterErrors: st.rosterErrors.Load(), SMEnabled: st.smEnabled.Load(), Registered: st.registered.Load(), RegisterExisting: st.regExisting.Load(),
		Logins:       st.logins.Load(),
		MessagesSent: st.msgSent.Load(), MessagesDelivered: st.msgDelivered.Load(), MessagesBounced: st.msgBounced.Load(),
		MessagesExpected: st.msgExpected.Load(),
		PresenceSent:     st.presSent.Load(), PresenceReceived: st.presRecv.Load(), PresenceErrors: st.presErrors.Load(),
		Series: series,
		SendS:  sendSeconds,
		LoadS:  hold.Seconds(),
	}
	st.mu.Lock()
	if len(st.reasons) > 0 {
		res.Failures = make(map[string]int64, len(st.reasons))
		for k, v := range st.reasons {
			res.Failures[k] = v
		}
	}
	st.mu.Unlock()
	lat, login, pres, lag := r.msgLat.total(), r.loginLat.total(), r.presLat.total(), r.sendLag.total()
	res.LatencyHDR, res.LoginHDR, res.PresenceHDR = EncodeHistogram(lat), EncodeHistogram(login), EncodeHistogram(pres)
	res.Client.Processes = 1
	res.Client.MessagesSkipped = st.msgSkipped.Load()
	res.Client.Stale = st.stale.Load()
	res.RosterContacts, res.RosterContactsWanted = r.rosterHave, r.rosterWant
	if r.cfg.MUC() {
		j := r.mucJoins
		res.MUC = &MUCStats{Occupants: j.joined, Wanted: int64(len(r.chat)), JoinS: j.took.Seconds()}
		if j.joined > 0 && j.after.RSS > 0 {
			res.MUC.ServerRSSBefore, res.MUC.ServerRSSAfter = j.before.RSS, j.after.RSS
			res.MUC.ServerRSSPerOccupant = float64(j.after.RSS-j.before.RSS) / float64(j.joined)
			if j.settled.RSS > 0 {
				res.MUC.ServerRSSSettled = j.settled.RSS
				res.MUC.SettleS = j.settled.At.Sub(j.after.At).Seconds()
				res.MUC.SettleSteady = j.steady
				res.MUC.ServerRSSSettledPerOccupant = float64(j.settled.RSS-j.before.RSS) / float64(j.joined)
			}
		}
	}
	if cfg.PEP() {
		res.PEP = &PEPStats{
			Nodes: cfg.PEPNodes, Publishes: st.msgSent.Load(), PublishErrors: st.pubErrors.Load(),
			SelfNotifications: st.pepSelf.Load(), Duplicates: st.pepDup.Load(), CapsQueries: st.capsQueries.Load(), ItemsStored: st.itemsStored.Load(),
		}
	}
	lagS := Summarize(lag)
	res.Client.SendLagMs, res.Client.SendLagMaxMs = lagS.P99, lagS.Max
	if r.split[0] != nil {
		res.Client.Split = &LatencySplit{Send: Summarize(r.split[0].total()), Server: Summarize(r.split[1].total()), Receive: Summarize(r.split[2].total())}
	}
	res.finish(lat, login, pres)
	return res
}

// finish computes the derived figures from counters and histograms.
func (res *Result) finish(lat, login, pres *hdr.Histogram) {
	want := res.MessagesExpected
	if want == 0 { // a result from before the field
		want = res.MessagesSent
	}
	res.MessagesLost = max(0, want-res.MessagesDelivered-res.MessagesBounced)
	if res.LoadS > 0 {
		res.LoginsPerS = float64(res.Logins) / res.LoadS
	}
	res.setLoginRates()
	if res.SendS > 0 {
		res.MessagesPerS = float64(res.MessagesDelivered) / res.SendS
	}
	res.LatencyMs, res.LoginMs, res.PresenceLatencyMs = Summarize(lat), Summarize(login), Summarize(pres)
}
