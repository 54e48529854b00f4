package bench

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// linkPhase is what --scenario s2s measured before the load: both servers'
// RSS once every session is logged in (no link between them yet, unless
// one was already up), and again once one message each way has crossed, so
// that the difference is what the link(s) it brought up cost.
type linkPhase struct {
	up            bool          // both first messages were delivered
	took          time.Duration // from sending the first to the second delivery
	before, after [2]ProcSample // [0] the local server, [1] the remote one (zero if not sampled)
}

// linkUp runs once every first login has ended: it samples the servers,
// sends one message from the first online local chat session to its remote
// partner, waits for it, sends one back and waits for it (bounded by
// --timeout in all), and samples again. The senders start after it.
func (r *run) linkUp(done <-chan struct{}) linkPhase {
	var lp linkPhase
	pids := [2]int{r.cfg.ServerPID, r.cfg.RemotePID}
	sample := func(into *[2]ProcSample) {
		for i, pid := range pids {
			if pid > 0 {
				into[i], _ = ReadProc(pid)
			}
		}
	}
	// one TLS handshake with each server first, so that the RSS the link
	// adds is not mostly the TLS code and tables its first handshake pages
	// in (a one-time cost of the process, not of the link)
	for i, addr := range []string{r.cfg.Addr, r.cfg.RemoteAddr} {
		_, header, tc := r.server(int32(i * r.cfg.Sessions / 2))
		_ = warmTLS(addr, header, tc, r.cfg.Timeout) // best effort: a server without STARTTLS has no TLS to warm
	}
	sample(&lp.before)
	var a, b *session
	for _, i := range r.chat {
		s := &r.sessions[i]
		if !r.cfg.remote(int(i)) && s.online.Load() && r.sessions[s.partner].online.Load() {
			a, b = s, &r.sessions[s.partner]
			break
		}
	}
	if a == nil {
		return lp
	}
	// one way, then the other: the answer may take the link the first
	// message opened (XEP-0288) rather than race it with a second one
	start := time.Now()
	deadline := start.Add(r.cfg.Timeout)
	for k, s := range []*session{a, b} {
		base := r.st.msgDelivered.Load()
		buf := r.appendMessage(nil, s, int64(k+1), time.Now().UnixNano())
		r.st.msgSent.Add(1)
		r.st.msgExpected.Add(1)
		_ = s.write(buf) // a failed write shows as a dropped session
		for r.st.msgDelivered.Load() <= base {
			if time.Now().After(deadline) {
				lp.took = time.Since(start)
				return lp
			}
			select {
			case <-done:
				return lp
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	lp.up, lp.took = true, time.Since(start)
	sample(&lp.after)
	return lp
}

// stats turns the phase into the result's figures.
func (lp *linkPhase) stats(cfg *Config) *S2SStats {
	st := &S2SStats{RemoteAddr: cfg.RemoteAddr, RemoteDomain: cfg.RemoteDomain, LinkUp: lp.up, LinkUpS: lp.took.Seconds()}
	if lp.up {
		if lp.after[0].RSS > 0 {
			st.LocalRSSBefore, st.LocalRSSLinked = lp.before[0].RSS, lp.after[0].RSS
		}
		if lp.after[1].RSS > 0 {
			st.RemoteRSSBefore, st.RemoteRSSLinked = lp.before[1].RSS, lp.after[1].RSS
		}
	}
	return st
}

// remoteServer samples the remote server over the run, as execute does
// the local one: before, at the plateau, the peak, and its CPU.
type remoteServer struct {
	pid                   int
	before, plateau, peak ProcSample
	hasBefore             bool
}

func (rs *remoteServer) start(pid int) error {
	rs.pid = pid
	if pid <= 0 {
		return nil
	}
	var err error
	rs.before, err = ReadProc(pid)
	rs.hasBefore = err == nil
	return err
}

// tick records a sample's peak.
func (rs *remoteServer) tick() {
	if rs.pid <= 0 {
		return
	}
	if s, err := ReadProc(rs.pid); err == nil && s.RSS > rs.peak.RSS {
		rs.peak = s
	}
}

func (rs *remoteServer) atPlateau() {
	if rs.pid <= 0 {
		return
	}
	if s, err := ReadProc(rs.pid); err == nil {
		rs.plateau = s
		if s.RSS > rs.peak.RSS {
			rs.peak = s
		}
	}
}

// stats is the remote server's ServerStats over wall.
func (rs *remoteServer) stats(online int64, wall time.Duration) *ServerStats {
	if rs.pid <= 0 || !rs.hasBefore {
		return nil
	}
	s := &ServerStats{PID: rs.pid, RSSBefore: rs.before.RSS, RSSPlateau: rs.plateau.RSS, RSSPeak: rs.peak.RSS, OnlineAtSample: online}
	if after, err := ReadProc(rs.pid); err == nil && wall > 0 {
		s.CPUSeconds = (after.CPU - rs.before.CPU).Seconds()
		s.CPUAvgPct = 100 * s.CPUSeconds / wall.Seconds()
	}
	return s
}

// warmTLS opens a client stream to addr, takes STARTTLS, completes the
// handshake and hangs up.
func warmTLS(addr string, header []byte, tc *tls.Config, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(header); err != nil {
		return err
	}
	if err := readUntil(c, "</stream:features>"); err != nil {
		return err
	}
	if _, err := c.Write(startTLS); err != nil {
		return err
	}
	if err := readUntil(c, "<proceed"); err != nil {
		return err
	}
	t := tls.Client(c, tc)
	defer t.Close()
	return t.Handshake()
}

// readUntil reads from c until want has arrived (or the deadline).
func readUntil(c net.Conn, want string) error {
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte(want)) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return err
		}
		if len(got) > 64<<10 {
			return errors.New("bench: no " + want + " in 64 KiB")
		}
	}
	return nil
}
