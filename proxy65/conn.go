package proxy65

import (
	"errors"
	"time"

	"ignis/session"
)

// state is where a connection stands.
type state uint8

const (
	stGreeting state = iota // waiting for VER NMETHODS METHODS (RFC 1928 §3)
	stRequest               // waiting for VER CMD RSV ATYP DST.ADDR DST.PORT (§4)
	stWaiting               // paired or waiting for the other party, not yet activated
	stRelaying              // activated: bytes flow
	stClosed
)

// SOCKS5 constants (RFC 1928).
const (
	socksVersion   = 5
	methodNoAuth   = 0
	methodNone     = 0xff
	cmdConnect     = 1
	atypDomain     = 3
	repSucceeded   = 0
	repFailure     = 1
	repCmdUnsupp   = 7
	repAtypUnsupp  = 8
	maxHandshake   = 4 + 1 + 255 + 2 // the longest request
	timerTick      = 100 * time.Millisecond
	minPacedWrites = 512 // a paced write waits for at least this many tokens
)

// conn is the handler of one proxy connection; it runs on its loop only.
type conn struct {
	r     *Relay
	t     session.Transport
	state state
	carry []byte // a handshake message split across reads
	st    *stream
	side  int
	// deadline: pairing (until relaying) or idle (while relaying)
	deadline time.Time
	spare    []byte // the previous inbox, reused for the next swap
	// detachedNow: the socket went to the pumps; the loop's close of this
	// connection does not end the stream
	detachedNow bool
}

// Handler makes the handler of a connection accepted on the proxy's
// listener (reactor.Listener.Handler).
func (r *Relay) Handler(t session.Transport) session.Handler {
	c := &conn{r: r, t: t, deadline: time.Now().Add(r.cfg.Timeout)}
	t.SetTimer(r.cfg.Timeout)
	return c
}

// Traffic implements session.Handler: the handshake, then relaying.
func (c *conn) Traffic(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if c.state == stWaiting && c.activated() && c.detach(p) {
		return nil
	}
	if c.state >= stWaiting {
		return c.relay(p)
	}
	if len(c.carry)+len(p) > maxHandshake+2+255 {
		return errBadSOCKS
	}
	buf := p
	if len(c.carry) > 0 {
		c.carry = append(c.carry, p...)
		buf = c.carry
	}
	for len(buf) > 0 && c.state < stWaiting {
		n, err := c.step(buf)
		if err != nil {
			return err
		}
		if n == 0 { // incomplete: keep the rest for the next read
			break
		}
		buf = buf[n:]
	}
	if c.state >= stWaiting && len(buf) > 0 {
		return errEarlyData // the initiator must wait for activation
	}
	c.carry = append(c.carry[:0], buf...)
	if len(c.carry) == 0 {
		c.carry = nil
	}
	return nil
}

// step parses one handshake message at the start of b and acts on it; it
// returns how many bytes it took, 0 when b holds only part of it.
func (c *conn) step(b []byte) (int, error) {
	switch c.state {
	case stGreeting:
		if len(b) < 2 {
			return 0, nil
		}
		if b[0] != socksVersion {
			return 0, errBadSOCKS
		}
		n := 2 + int(b[1])
		if len(b) < n {
			return 0, nil
		}
		for _, m := range b[2:n] {
			if m == methodNoAuth {
				_ = c.t.Write([]byte{socksVersion, methodNoAuth})
				c.state = stRequest
				return n, nil
			}
		}
		c.t.Close([]byte{socksVersion, methodNone})
		return 0, errBadSOCKS
	case stRequest:
		if len(b) < 5 {
			return 0, nil
		}
		if b[0] != socksVersion {
			return 0, errBadSOCKS
		}
		if b[1] != cmdConnect {
			c.refuse(repCmdUnsupp)
			return 0, errUnsupported
		}
		if b[3] != atypDomain {
			c.refuse(repAtypUnsupp)
			return 0, errUnsupported
		}
		n := 5 + int(b[4]) + 2
		if len(b) < n {
			return 0, nil
		}
		hash := string(b[5 : 5+int(b[4])])
		if len(hash) != 40 || b[n-2] != 0 || b[n-1] != 0 {
			c.refuse(repFailure) // XEP-0065 §5.3.2: a SHA-1 in hex, port 0
			return 0, errBadSOCKS
		}
		if err := c.r.join(c, hash); err != nil {
			c.refuse(repFailure)
			return 0, err
		}
		reply := make([]byte, 0, n)
		reply = append(reply, socksVersion, repSucceeded, 0, atypDomain, byte(len(hash)))
		reply = append(reply, hash...)
		reply = append(reply, 0, 0)
		_ = c.t.Write(reply)
		c.state = stWaiting
		return n, nil
	}
	return 0, errBadSOCKS
}

// refuse answers a request with a failure reply (RFC 1928 §6).
func (c *conn) refuse(rep byte) {
	_ = c.t.Write([]byte{socksVersion, rep, 0, 1, 0, 0, 0, 0, 0, 0})
}

// relay hands p to the other end.
func (c *conn) relay(p []byte) error {
	s := c.st
	s.mu.Lock()
	if !s.active {
		s.mu.Unlock()
		return errEarlyData
	}
	c.state = stRelaying
	s.relayed += int64(len(p))
	if s.relayed > c.r.cfg.MaxBytes {
		s.mu.Unlock()
		return errOverBytes
	}
	peer := s.ends[1-c.side]
	if peer == nil {
		s.mu.Unlock()
		return errPeerIsGone
	}
	wasEmpty := len(s.inbox[peer.side]) == 0
	s.inbox[peer.side] = append(s.inbox[peer.side], p...)
	over := len(s.inbox[peer.side]) > c.r.cfg.MaxBuffer
	s.mu.Unlock()
	if over {
		return errOverBuffer
	}
	c.deadline = time.Now().Add(c.r.cfg.Timeout)
	if wasEmpty {
		peer.t.Wake()
	}
	return nil
}

// Wakeup implements session.Handler: activation, bytes from the other end,
// or the other end's leaving.
func (c *conn) Wakeup() {
	if c.state < stWaiting || c.state == stClosed {
		return
	}
	s := c.st
	s.mu.Lock()
	if s.active && c.state == stWaiting {
		c.state = stRelaying
		c.deadline = time.Now().Add(c.r.cfg.Timeout)
		s.mu.Unlock()
		if c.detach(nil) {
			return
		}
		s.mu.Lock() // not detachable: relay on the loop
	}
	data := s.inbox[c.side]
	if n := c.allowance(s, len(data)); n < len(data) {
		// paced: write what the bucket allows, the rest at a later tick
		s.inbox[c.side] = append(c.spare[:0], data[n:]...)
		c.spare = nil
		data = data[:n]
		c.t.SetTimer(timerTick)
	} else {
		s.inbox[c.side] = c.spare[:0]
		c.spare = nil
	}
	closing := s.closing[c.side] && len(s.inbox[c.side]) == 0
	s.mu.Unlock()
	if len(data) > 0 {
		c.deadline = time.Now().Add(c.r.cfg.Timeout)
		if err := c.t.Write(data); err != nil {
			if errors.Is(err, session.ErrOutputFull) {
				c.requeue(data)
				return
			}
			c.close()
			return
		}
	}
	c.spare = data[:0]
	if closing {
		c.close()
	}
}

// requeue puts data back at the front of c's inbox and waits for the
// socket to drain.
func (c *conn) requeue(data []byte) {
	s := c.st
	s.mu.Lock()
	s.inbox[c.side] = append(data, s.inbox[c.side]...)
	over := len(s.inbox[c.side]) > c.r.cfg.MaxBuffer
	s.mu.Unlock()
	if over {
		c.r.cfg.Logger.Info("proxy65 stream closed", "hash", s.hash, "why", errOverBuffer.Error())
		c.close()
		return
	}
	c.t.WakeWhenFlushed()
}

// allowance is how many of n waiting bytes pacing lets out now (s.mu held).
func (c *conn) allowance(s *stream, n int) int {
	rate := c.r.cfg.RatePerSec
	if rate <= 0 || n == 0 {
		return n
	}
	now := time.Now()
	if s.last.IsZero() {
		s.last, s.tokens = now, float64(rate)/10 // a tick's worth to start
	}
	s.tokens += now.Sub(s.last).Seconds() * float64(rate)
	s.last = now
	if burst := float64(rate); s.tokens > burst {
		s.tokens = burst
	}
	if s.tokens < minPacedWrites && s.tokens < float64(n) {
		return 0
	}
	k := min(n, int(s.tokens))
	s.tokens -= float64(k)
	return k
}

// Timer implements session.Handler: pacing ticks and the pairing and idle
// deadline.
func (c *conn) Timer(now time.Time) {
	if c.state == stClosed {
		return
	}
	if now.After(c.deadline) {
		c.r.cfg.Logger.Debug("proxy65 connection timed out", "state", int(c.state))
		c.close()
		return
	}
	c.t.SetTimer(c.deadline.Sub(now) + timerTick)
	if c.state >= stWaiting {
		c.Wakeup() // a paced inbox goes on (re-arming the tick)
	}
}

func (c *conn) close() {
	if c.state == stClosed {
		return
	}
	c.state = stClosed
	c.t.Close(nil)
}

// Closed implements session.Handler.
func (c *conn) Closed(err error) {
	c.state = stClosed
	if c.detachedNow {
		return
	}
	c.r.leave(c)
	c.st = nil
}

var _ session.Handler = (*conn)(nil)

// activated reports whether c's stream was activated.
func (c *conn) activated() bool {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	return c.st.active
}

// detach hands c's socket to the pumps as soon as its stream is active, on
// the first input or wakeup after activation, so that little is read on the
// loop; p (input read meanwhile) goes first to the other end. It reports
// false when the transport cannot be detached: then c relays on the loop.
func (c *conn) detach(p []byte) bool {
	d, ok := c.t.(detachable)
	if !ok {
		return false
	}
	nc, err := d.Detach()
	if err != nil {
		return false
	}
	c.state, c.detachedNow = stClosed, true
	if len(p) > 0 {
		s := c.st
		s.mu.Lock()
		s.inbox[1-c.side] = append(s.inbox[1-c.side], p...)
		s.relayed += int64(len(p)) // the pumps check it before writing it out
		s.mu.Unlock()
	}
	c.r.detached(c, nc)
	return true
}
