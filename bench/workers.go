package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// runWorkers starts cfg.Workers copies of this program, each running a
// slice of the sessions (--worker i/n), and merges what they report:
// counters summed, histograms merged, time series aligned by second.
func runWorkers(ctx context.Context, cfg *Config, self, args []string, stderr io.Writer) (*Result, error) {
	if len(self) == 0 {
		return nil, errors.New("workers: no way to start a worker process")
	}
	n := cfg.Workers
	start := time.Now()
	var srvBefore ProcSample
	if cfg.ServerPID > 0 {
		var err error
		if srvBefore, err = ReadProc(cfg.ServerPID); err != nil {
			return nil, errors.New("server-pid: " + err.Error())
		}
	}
	runID := cfg.RunID
	for runID == 0 {
		runID = rand.Uint32() // one id for all the workers' marks
	}
	m := newMerger(n)
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
	}
	children := make([]child, n)
	var readers sync.WaitGroup
	for i := range n {
		a := append(append(append([]string{}, self[1:]...), args...), "--worker="+strconv.Itoa(i)+"/"+strconv.Itoa(n),
			"--run-id="+strconv.FormatUint(uint64(runID), 10))
		cmd := exec.Command(self[0], a...)
		cmd.Stderr = stderr
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(defaultProcs(n)))
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			for _, c := range children[:i] {
				_ = c.cmd.Process.Kill()
				_ = c.cmd.Wait()
			}
			return nil, fmt.Errorf("workers: starting worker %d: %w", i, err)
		}
		children[i] = child{cmd: cmd, stdin: in}
		readers.Add(1)
		go func() {
			defer readers.Done()
			m.read(i, out)
		}()
	}

	// sample the server, show progress, release the workers at the plateau
	pr := newProgress(stderr, cfg.Progress)
	var srvSamples []ProcSample
	var srvPlateau ProcSample
	var plateauOnline int64
	released := false
	release := func() {
		if released {
			return
		}
		released = true
		if cfg.ServerPID > 0 {
			srvPlateau, _ = ReadProc(cfg.ServerPID)
		}
		plateauOnline = m.plateauOnline()
		for _, c := range children {
			_, _ = io.WriteString(c.stdin, "go\n")
			_ = c.stdin.Close()
		}
	}
	go func() {
		// every worker has logged in: let them all send
		<-m.loggedInCh
		for _, c := range children {
			_, _ = io.WriteString(c.stdin, "send\n")
		}
	}()
	allRead := make(chan struct{})
	go func() { readers.Wait(); close(allRead) }()
	limit := time.NewTimer(cfg.Duration + cfg.Drain + cfg.Timeout + time.Minute)
	defer limit.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	killed := false
loop:
	for {
		select {
		case <-allRead:
			break loop
		case <-m.plateauCh:
			release()
		case <-tick.C:
			if cfg.ServerPID > 0 {
				if s, err := ReadProc(cfg.ServerPID); err == nil {
					srvSamples = append(srvSamples, s)
				}
			}
			p := m.latest()
			p.T = time.Since(start).Seconds()
			if k := len(srvSamples); k > 0 {
				p.ServerRSS = srvSamples[k-1].RSS
				prev := srvBefore
				if k > 1 {
					prev = srvSamples[k-2]
				}
				p.ServerCPU = cpuPercent(prev, srvSamples[k-1])
			}
			pr.show(&p, cfg.Sessions)
		case <-limit.C:
			// a worker overran every bound: stop the ones still running
			for _, c := range children {
				_ = c.cmd.Process.Kill()
			}
			killed = true
			break loop
		}
	}
	release()
	pr.done()
	var errs []error
	for i, c := range children {
		if err := c.cmd.Wait(); err != nil && !killed {
			errs = append(errs, fmt.Errorf("worker %d: %w", i, err))
		}
	}
	if killed {
		errs = append(errs, errors.New("workers: killed after overrunning the time limit"))
	}
	readers.Wait()
	res, err := m.result(cfg)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	end := time.Now()
	res.DurationS = end.Sub(start).Seconds()
	if cfg.ServerPID > 0 {
		after, _ := ReadProc(cfg.ServerPID)
		s := &ServerStats{PID: cfg.ServerPID, RSSBefore: srvBefore.RSS, RSSPlateau: srvPlateau.RSS, OnlineAtSample: plateauOnline}
		s.RSSPeak = srvPlateau.RSS
		for i, x := range srvSamples {
			s.RSSPeak = max(s.RSSPeak, x.RSS)
			if i < len(res.Series) {
				res.Series[i].ServerRSS = x.RSS
				prev := srvBefore
				if i > 0 {
					prev = srvSamples[i-1]
				}
				res.Series[i].ServerCPU = cpuPercent(prev, x)
			}
		}
		if after.CPU > 0 {
			s.CPUSeconds = (after.CPU - srvBefore.CPU).Seconds()
			s.CPUAvgPct = 100 * s.CPUSeconds / res.DurationS
		}
		res.Server = s
		if plateauOnline > 0 {
			res.ServerRSSPerSessionBytes = float64(srvPlateau.RSS-srvBefore.RSS) / float64(plateauOnline)
		}
	}
	res.Client.CPUAvgPct = 100 * res.Client.CPUSeconds / res.DurationS
	return res, nil
}

// merger collects the workers' lines.
type merger struct {
	mu        sync.Mutex
	n         int
	ticks     [][]*Tick // per worker, in order
	results   []*Result
	plateaus  []*int64
	plateauCh chan struct{}
	signalled bool
	errs      []error

	loggedIn   []bool // per worker: reported its logins done (or ended)
	nLoggedIn  int
	loggedInCh chan struct{} // closed when every worker has
}

// markLoggedIn records that worker i is past its logins; the caller holds mu.
func (m *merger) markLoggedIn(i int) {
	if m.loggedIn[i] {
		return
	}
	m.loggedIn[i] = true
	m.nLoggedIn++
	if m.nLoggedIn == m.n {
		close(m.loggedInCh)
	}
}

func newMerger(n int) *merger {
	return &merger{n: n, ticks: make([][]*Tick, n), results: make([]*Result, n), plateaus: make([]*int64, n), plateauCh: make(chan struct{}),
		loggedIn: make([]bool, n), loggedInCh: make(chan struct{})}
}

func (m *merger) read(i int, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() {
		var l workerLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			m.mu.Lock()
			m.errs = append(m.errs, fmt.Errorf("worker %d: bad line: %v", i, err))
			m.mu.Unlock()
			continue
		}
		m.mu.Lock()
		switch {
		case l.LoggedIn:
			m.markLoggedIn(i)
		case l.Tick != nil:
			m.ticks[i] = append(m.ticks[i], l.Tick)
		case l.Plateau != nil:
			m.plateaus[i] = l.Plateau
		case l.Result != nil:
			m.results[i] = l.Result
		}
		m.mu.Unlock()
		m.checkPlateau()
	}
	// a worker that ended counts as logged in and at its plateau
	m.mu.Lock()
	m.markLoggedIn(i)
	if m.plateaus[i] == nil {
		var zero int64
		m.plateaus[i] = &zero
	}
	m.mu.Unlock()
	m.checkPlateau()
}

func (m *merger) checkPlateau() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.signalled {
		return
	}
	for _, p := range m.plateaus {
		if p == nil {
			return
		}
	}
	m.signalled = true
	close(m.plateauCh)
}

func (m *merger) plateauOnline() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sum int64
	for _, p := range m.plateaus {
		if p != nil {
			sum += *p
		}
	}
	return sum
}

// latest sums each worker's most recent point, for the progress line.
func (m *merger) latest() Point {
	m.mu.Lock()
	defer m.mu.Unlock()
	var p Point
	for _, ts := range m.ticks {
		if len(ts) == 0 {
			continue
		}
		addPoint(&p, &ts[len(ts)-1].Point)
		p.LatencyP50 = max(p.LatencyP50, ts[len(ts)-1].Point.LatencyP50)
		p.LatencyP99 = max(p.LatencyP99, ts[len(ts)-1].Point.LatencyP99)
	}
	return p
}

func addPoint(p, q *Point) {
	p.Online += q.Online
	p.EstablishedTotal += q.EstablishedTotal
	p.FailedTotal += q.FailedTotal
	p.Logins += q.Logins
	p.MessagesSent += q.MessagesSent
	p.MessagesDelivered += q.MessagesDelivered
	p.PresenceSent += q.PresenceSent
	p.PresenceReceived += q.PresenceReceived
	p.ClientRSS += q.ClientRSS
	p.ClientCPU += q.ClientCPU
}

// result merges the workers' results.
func (m *merger) result(cfg *Config) (*Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) > 0 {
		return nil, errors.Join(m.errs...)
	}
	parts := make([]*Result, 0, m.n)
	for i, r := range m.results {
		if r == nil {
			return nil, fmt.Errorf("worker %d: no result", i)
		}
		parts = append(parts, r)
	}
	res, err := MergeResults(parts)
	if err != nil {
		return nil, err
	}
	res.Sessions = cfg.Sessions
	// the time series: second k of every worker together
	longest := 0
	for _, ts := range m.ticks {
		longest = max(longest, len(ts))
	}
	res.Series = make([]Point, longest)
	for k := range longest {
		p := &res.Series[k]
		lat := NewHistogram()
		for _, ts := range m.ticks {
			if k >= len(ts) {
				continue
			}
			addPoint(p, &ts[k].Point)
			p.T = max(p.T, ts[k].Point.T)
			if err := MergeEncoded(lat, ts[k].LatencyHDR); err != nil {
				return nil, err
			}
		}
		p.setLatency(Summarize(lat))
	}
	res.setLoginRates()
	return res, nil
}

// MergeResults combines the results of workers that ran at the same time
// against the same server: counters and failure reasons are summed,
// histograms merged, and rates recomputed over the longest worker's times.
// Series and server figures are left to the caller.
func MergeResults(parts []*Result) (*Result, error) {
	if len(parts) == 0 {
		return nil, errors.New("merge: no results")
	}
	res := *parts[0]
	res.Series, res.Server, res.ServerRSSPerSessionBytes = nil, nil, 0
	res.Failures = map[string]int64{}
	res.Workers = len(parts)
	zero := Result{}
	res.SessionsEstablished, res.SessionsFailed, res.SessionsDropped, res.SessionsAborted = 0, 0, 0, 0
	res.PeakOnline, res.RosterErrors, res.Registered, res.RegisterExisting, res.Logins = 0, 0, 0, 0, 0
	res.SMEnabled = 0
	res.MessagesSent, res.MessagesDelivered, res.MessagesBounced, res.MessagesExpected = 0, 0, 0, 0
	res.PresenceSent, res.PresenceReceived, res.PresenceErrors = 0, 0, 0
	res.Client = zero.Client
	if res.PEP != nil {
		res.PEP = &PEPStats{Nodes: res.PEP.Nodes}
	}
	res.LoadS, res.SendS, res.DurationS = 0, 0, 0
	lat, login, pres := NewHistogram(), NewHistogram(), NewHistogram()
	var rssWeighted float64
	for _, p := range parts {
		res.SessionsEstablished += p.SessionsEstablished
		res.SessionsFailed += p.SessionsFailed
		res.SessionsDropped += p.SessionsDropped
		res.SessionsAborted += p.SessionsAborted
		res.PeakOnline += p.PeakOnline
		res.RosterErrors += p.RosterErrors
		res.SMEnabled += p.SMEnabled
		res.Registered += p.Registered
		res.RegisterExisting += p.RegisterExisting
		res.Logins += p.Logins
		res.MessagesSent += p.MessagesSent
		res.MessagesDelivered += p.MessagesDelivered
		res.MessagesBounced += p.MessagesBounced
		res.MessagesExpected += p.MessagesExpected
		res.PresenceSent += p.PresenceSent
		res.PresenceReceived += p.PresenceReceived
		res.PresenceErrors += p.PresenceErrors
		if q := p.PEP; q != nil && res.PEP != nil {
			res.PEP.Publishes += q.Publishes
			res.PEP.PublishErrors += q.PublishErrors
			res.PEP.SelfNotifications += q.SelfNotifications
			res.PEP.Duplicates += q.Duplicates
			res.PEP.CapsQueries += q.CapsQueries
			res.PEP.ItemsStored += q.ItemsStored
		}
		for k, v := range p.Failures {
			res.Failures[k] += v
		}
		res.LoadS = max(res.LoadS, p.LoadS)
		res.SendS = max(res.SendS, p.SendS)
		res.DurationS = max(res.DurationS, p.DurationS)
		c := &res.Client
		c.Processes += max(1, p.Client.Processes)
		c.RSSPeak += p.Client.RSSPeak
		c.CPUSeconds += p.Client.CPUSeconds
		c.SendLagMs = max(c.SendLagMs, p.Client.SendLagMs)
		c.SendLagMaxMs = max(c.SendLagMaxMs, p.Client.SendLagMaxMs)
		c.MessagesSkipped += p.Client.MessagesSkipped
		c.Stale += p.Client.Stale
		rssWeighted += p.Client.RSSPerSession * float64(p.PeakOnline)
		for _, x := range [...]struct {
			h   string
			dst *Histogram
		}{{p.LatencyHDR, lat}, {p.LoginHDR, login}, {p.PresenceHDR, pres}} {
			if err := MergeEncoded(x.dst, x.h); err != nil {
				return nil, fmt.Errorf("merge: %w", err)
			}
		}
	}
	if len(res.Failures) == 0 {
		res.Failures = nil
	}
	if res.PeakOnline > 0 {
		res.Client.RSSPerSession = rssWeighted / float64(res.PeakOnline)
	}
	res.LatencyHDR, res.LoginHDR, res.PresenceHDR = EncodeHistogram(lat), EncodeHistogram(login), EncodeHistogram(pres)
	res.finish(lat, login, pres)
	return &res, nil
}
