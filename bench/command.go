package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Command runs `ignis bench` with args. self is how to start this program
// again as a worker (the executable and the subcommand, e.g.
// ["/path/ignis", "bench"]); stdin is read only by worker processes.
func Command(ctx context.Context, args []string, self []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := ParseArgs(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if cfg.CPUProfile != "" && cfg.WorkerOf == 0 {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.WorkerOf > 0 {
		return workerMain(ctx, cfg, stdin, stdout)
	}
	if cfg.ServerData != "" {
		// the pid replaces the folder: Run validates the config again
		if cfg.ServerPID, err = readPIDFile(cfg.ServerData); err != nil {
			return err
		}
		cfg.ServerData = ""
	}
	var res *Result
	if cfg.Workers > 1 {
		res, err = runWorkers(ctx, cfg, self, args, stderr)
	} else {
		pr := newProgress(stderr, cfg.Progress)
		res, err = Run(ctx, cfg, Hooks{Tick: func(t *Tick) { pr.show(&t.Point, cfg.Sessions) }})
		pr.done()
	}
	if err != nil {
		return err
	}
	if err := res.WriteSummary(stdout); err != nil {
		return err
	}
	if cfg.JSONFile != "" {
		if err := res.WriteJSON(cfg.JSONFile); err != nil {
			return err
		}
	}
	if cfg.HTMLFile != "" {
		if err := res.WriteHTMLFile(cfg.HTMLFile, ReportInfo{Config: cfg, Args: args}); err != nil {
			return err
		}
	}
	return res.checkFailed(cfg.MaxFailed)
}

// checkFailed is the run's verdict: an error when more sessions failed to
// log in than the allowed fraction, so scripts and CI notice a broken run.
func (r *Result) checkFailed(maxFailed float64) error {
	tried := r.SessionsEstablished + r.SessionsFailed
	if tried == 0 {
		return errors.New("bench: no session was attempted")
	}
	if frac := float64(r.SessionsFailed) / float64(tried); frac > maxFailed {
		return fmt.Errorf("bench: %d of %d sessions failed (%.1f%%), more than --max-failed %g", r.SessionsFailed, tried, 100*frac, maxFailed)
	}
	return nil
}

// readPIDFile reads the pid of the Ignis server running on the data folder
// dir (ignis.pid, written at start and removed at a clean stop).
func readPIDFile(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "ignis.pid"))
	if err != nil {
		return 0, fmt.Errorf("server-data: %w (is an Ignis server running with --data %s?)", err, dir)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("server-data: %s holds %q, not a pid", filepath.Join(dir, "ignis.pid"), b)
	}
	if _, err := ReadProc(pid); err != nil {
		return 0, fmt.Errorf("server-data: the server with pid %d (from %s) is not running: %w", pid, dir, err)
	}
	return pid, nil
}

// workerLine is one line a worker writes on stdout.
type workerLine struct {
	LoggedIn bool    `json:"logged_in,omitempty"`
	Tick     *Tick   `json:"tick,omitempty"`
	Plateau  *int64  `json:"plateau,omitempty"`
	Result   *Result `json:"result,omitempty"`
}

// workerMain runs this process's slice and reports JSON lines on stdout.
// At the plateau it waits (bounded) for a line on stdin, so that the parent
// can sample the server while every worker still holds its sessions.
func workerMain(ctx context.Context, cfg *Config, stdin io.Reader, stdout io.Writer) error {
	w := cfg.slice(cfg.WorkerIdx, cfg.WorkerOf)
	w.ServerPID = 0 // the parent samples the server
	var mu sync.Mutex
	enc := json.NewEncoder(stdout)
	emit := func(l workerLine) {
		mu.Lock()
		_ = enc.Encode(l)
		mu.Unlock()
	}
	sendAhead, goAhead := make(chan struct{}), make(chan struct{})
	go func() {
		// two lines from the parent: "send" once every worker has logged
		// in, "go" after it sampled the plateau; EOF releases both
		in := bufio.NewReader(stdin)
		_, err := in.ReadString('\n')
		close(sendAhead)
		if err == nil {
			_, _ = in.ReadString('\n')
		}
		close(goAhead)
	}()
	res, err := Run(ctx, w, Hooks{
		Tick: func(t *Tick) { emit(workerLine{Tick: t}) },
		LoggedIn: func() {
			emit(workerLine{LoggedIn: true})
			select {
			case <-sendAhead:
			case <-time.After(cfg.Timeout + 15*time.Second):
			case <-ctx.Done():
			}
		},
		Plateau: func(online int64) {
			emit(workerLine{Plateau: &online})
			select {
			case <-goAhead:
			case <-time.After(15 * time.Second):
			case <-ctx.Done():
			}
		},
	})
	if err != nil {
		return err
	}
	emit(workerLine{Result: res})
	return nil
}

// progress writes the live line on stderr: rewritten in place on a
// terminal, plain lines otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	every time.Duration
	last  time.Time
	shown bool
}

func newProgress(w io.Writer, every time.Duration) *progress {
	p := &progress{w: w, every: every}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) show(pt *Point, sessions int) {
	if p.every <= 0 || time.Since(p.last) < p.every-50*time.Millisecond {
		return
	}
	p.last = time.Now()
	line := fmt.Sprintf("%5.0fs online %d/%d est %d fail %d | logins %d/s",
		pt.T, pt.Online, sessions, pt.EstablishedTotal, pt.FailedTotal, pt.Logins)
	// latency only when there was traffic to time: an idle second has none
	if pt.MessagesSent+pt.MessagesDelivered > 0 {
		line += fmt.Sprintf(" | msgs %d/s sent %d/s dlv, delivery p50 %.2fms p99 %.2fms",
			pt.MessagesSent, pt.MessagesDelivered, pt.LatencyP50, pt.LatencyP99)
	} else if pt.Logins == 0 {
		line += " | idle"
	}
	if pt.PresenceSent > 0 {
		line += fmt.Sprintf(" | pres %d/s", pt.PresenceSent)
	}
	if pt.ServerRSS > 0 {
		line += fmt.Sprintf(" | server %s %.0f%%", mib(pt.ServerRSS), pt.ServerCPU)
	}
	line += fmt.Sprintf(" | client %s %.0f%%", mib(pt.ClientRSS), pt.ClientCPU)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.shown = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}
