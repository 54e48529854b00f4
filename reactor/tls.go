package reactor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// TLS over gnet, the hybrid design (TECH-NOTES §2.3):
//
//  1. StartTLS (or a DirectTLS accept) makes a tls.Server over a pipe and
//     queues the handshake for a worker goroutine (at most MaxHandshakes run
//     at once). While it runs, OnTraffic copies input into the pipe, whose
//     Read blocks the worker; the worker's writes go out through
//     gnet's AsyncWrite (goroutine-safe, FIFO on the loop).
//  2. When Handshake returns, the worker posts handshakeDone to the loop with
//     EventLoop.Execute. That task runs after every AsyncWrite the worker
//     queued before it, so the handshake bytes are in order ahead of any
//     application data. Only there does the connection switch to loop mode.
//  3. In loop mode the pipe's Read returns errWouldBlock when empty and its
//     Write calls gnet's Write directly; tls.Conn Read and Write run on the
//     loop only.
//
// Never call a tls.Conn method on the loop while the worker runs: they take
// the handshake mutex, and the worker waits for input only the loop can give
// (deadlock). established is the loop's own flag for "worker finished".

// tlsLayer is a connection's TLS state. Owned by the loop, except pipe (its
// own mutex) and err (written by the worker before it posts handshakeDone).
type tlsLayer struct {
	c           *conn
	tc          *tls.Conn
	pipe        pipe
	err         error  // the handshake's result
	unique      []byte // tls-unique (tlsunique.go), written by the worker with err
	established bool   // loop-owned: handshake done, loop mode on
	client      bool   // an outgoing connection's handshake (Server.Dial)
}

// maxHandshakeInput bounds what a peer may send before the handshake ends.
const maxHandshakeInput = 64 << 10

// wouldBlock is the pipe's "no input yet" error in loop mode. crypto/tls
// keeps a record-read error only when it is not a net.Error with
// Temporary() true (conn.go readRecordOrCCS); TestTLSTemporaryErrorNotSticky
// pins that.
type wouldBlock struct{}

func (wouldBlock) Error() string   { return "reactor: would block" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

var errWouldBlock net.Error = wouldBlock{}

// pipe is the net.Conn a tls.Conn runs over.
type pipe struct {
	c      *conn
	mu     sync.Mutex
	cond   sync.Cond // signals the worker: input arrived or closed
	in     []byte    // input not yet read by tls; in loop mode often borrowed (see tlsInput)
	closed bool
	loop   bool   // loop mode: written on the loop after the worker has finished
	record []byte // every byte fed during the handshake, for tls-unique (tlsunique.go)
	taken  bool   // record was taken: keep no more
}

func (p *pipe) init(c *conn) {
	p.c = c
	p.cond.L = &p.mu
}

// feed copies handshake-time input for the worker. false: over the limit.
func (p *pipe) feed(b []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return true
	}
	if len(p.in)+len(b) > maxHandshakeInput {
		return false
	}
	p.in = append(p.in, b...)
	if !p.taken {
		p.record = append(p.record, b...)
	}
	p.cond.Signal()
	return true
}

// takeRecord returns the handshake input recorded so far and stops keeping it.
func (p *pipe) takeRecord() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.record
	p.record, p.taken = nil, true
	return r
}

func (p *pipe) close() {
	p.mu.Lock()
	p.closed = true
	p.in = nil
	// record stays for the worker, whose Handshake now fails: it takes the
	// ClientHello's random from it to drop the key-log entry
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *pipe) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.in) == 0 {
		if p.closed {
			return 0, io.EOF
		}
		if p.loop {
			return 0, errWouldBlock
		}
		p.cond.Wait() // worker only: the loop never reads in handshake mode
	}
	n := copy(b, p.in)
	p.in = p.in[n:]
	if len(p.in) == 0 {
		p.in = nil
	}
	return n, nil
}

func (p *pipe) Write(b []byte) (int, error) {
	if p.loop {
		return p.c.rawWrite(b)
	}
	// Worker goroutine: b is reused by tls, so copy it.
	if err := p.post(func(gc gnet.Conn) error {
		return gc.AsyncWrite(append([]byte(nil), b...), nil)
	}); err != nil {
		return 0, err
	}
	return len(b), nil
}

// post runs fn (a goroutine-safe gnet call) unless the pipe is closed. The
// lock orders it before close: OnClose closes the pipe before the loop can
// exit, and gnet does not guard its wake-up fd once a loop has stopped, so
// nothing from a worker may reach gnet after that.
func (p *pipe) post(fn func(gnet.Conn) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return net.ErrClosed
	}
	return fn(p.c.gc)
}

func (p *pipe) Close() error { p.close(); return nil }

// Deadlines are the loop's business (timer wheel); tls.Conn sets them around
// close_notify, so they must succeed.
func (p *pipe) SetDeadline(time.Time) error      { return nil }
func (p *pipe) SetReadDeadline(time.Time) error  { return nil }
func (p *pipe) SetWriteDeadline(time.Time) error { return nil }
func (p *pipe) LocalAddr() net.Addr              { return pipeAddr{} }
func (p *pipe) RemoteAddr() net.Addr             { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "reactor" }
func (pipeAddr) String() string  { return "reactor-pipe" }

// beginHandshake switches c to TLS: input now feeds the handshake worker.
// A non-nil client config makes it the client's side (an outgoing link).
func (c *conn) beginHandshake(client *tls.Config) {
	s := c.lp.srv
	t := &tlsLayer{c: c, client: client != nil}
	t.pipe.init(c)
	if client != nil {
		t.tc = tls.Client(&t.pipe, client)
	} else {
		t.tc = tls.Server(&t.pipe, c.serverTLS())
	}
	c.tls = t
	c.state = stHandshake
	c.sysAt = c.lp.wheel.at(s.cfg.HandshakeTimeout)
	c.rearm()
	s.startHandshake(t)
}

// serverTLS is the configuration of c's listener, or the server's.
func (c *conn) serverTLS() *tls.Config {
	s := c.lp.srv
	if l := s.ports[localPort(c.gc)]; l != nil && l.TLS != nil {
		return l.TLS
	}
	return s.tlsCfg
}

// handshakeDone runs on the loop after the worker finished t's handshake.
func (c *conn) handshakeDone(t *tlsLayer) {
	if c.tls != t || c.state != stHandshake {
		return // closed meanwhile
	}
	c.sysAt = 0
	if t.err != nil {
		c.closeErr = fmt.Errorf("reactor: TLS handshake: %w", t.err)
		c.closeNow()
		return
	}
	t.pipe.mu.Lock()
	t.pipe.loop = true
	t.pipe.mu.Unlock()
	t.established = true
	c.state = stOpen
	c.rearm()
	if t.client {
		// the initiator speaks next (a new stream header): its handler
		// learns the handshake is done from a Wakeup, with TLS() set
		c.wakeup()
		if c.state != stOpen || c.tls != t {
			return
		}
	}
	// The client may have pipelined application data behind its Finished:
	// it sits in the pipe or in tls's rawInput already.
	c.lp.enter()
	c.tlsInput(nil)
	c.lp.leave()
}

// tlsInput decrypts what gnet read (borrowed) and passes the plaintext on.
func (c *conn) tlsInput(buf []byte) {
	t := c.tls
	p := &t.pipe
	p.mu.Lock()
	if len(p.in) == 0 {
		p.in = buf // borrowed: tc.Read below drains it before we return
	} else {
		p.in = append(p.in, buf...) // leftovers from the handshake (owned)
	}
	p.mu.Unlock()
	out := c.lp.tlsScratch()
	for c.state == stOpen && c.tls == t {
		n, err := t.tc.Read(out)
		if n > 0 {
			c.plain(out[:n])
		}
		if err != nil {
			switch {
			case errors.Is(err, errWouldBlock): // tls passes our pipe's error through
			case errors.Is(err, io.EOF): // close_notify
				c.closeAfterFlush(nil)
			default:
				c.closeAfterFlush(err)
			}
			break
		}
	}
	p.mu.Lock()
	p.in = nil
	p.mu.Unlock()
	if c.tls == t && c.state == stOpen {
		releaseTLSBuffers(t.tc) // an idle connection holds no input buffer
	}
}

// TLS returns the connection state once the handshake has completed.
func (c *conn) TLS() *tls.ConnectionState {
	if c.tls == nil || !c.tls.established || c.state == stClosed {
		return nil
	}
	cs := c.tls.tc.ConnectionState() // safe: the worker has finished
	if cs.TLSUnique == nil {
		// crypto/tls leaves it nil on TLS 1.3; ours is what OpenSSL clients use
		cs.TLSUnique = c.tls.unique
	}
	return &cs
}

// handshakes bounds the TLS handshake workers.
type handshakes struct {
	mu      sync.Mutex
	max     int
	running int
	queue   []*tlsLayer // FIFO of handshakes waiting for a worker
}

func (s *Server) startHandshake(t *tlsLayer) {
	s.hs.mu.Lock()
	if s.hs.running >= s.hs.max {
		s.hs.queue = append(s.hs.queue, t)
		s.hs.mu.Unlock()
		return
	}
	s.hs.running++
	s.hsRun.Add(1)
	s.hs.mu.Unlock()
	s.hsWG.Add(1)
	go s.handshakeWorker(t)
}

// handshakeWorker runs t's handshake, then takes queued ones until none is
// left.
func (s *Server) handshakeWorker(t *tlsLayer) {
	defer s.hsWG.Done()
	for t != nil {
		t.err = t.tc.Handshake()
		if !t.client { // channel binding is offered by servers only
			t.unique = t.tlsUnique(&s.keyLog)
		}
		done := t
		_ = t.pipe.post(func(gc gnet.Conn) error {
			return gc.EventLoop().Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
				done.c.handshakeDone(done)
				return nil
			}))
		})
		t = s.nextHandshake()
	}
}

func (s *Server) nextHandshake() *tlsLayer {
	s.hs.mu.Lock()
	defer s.hs.mu.Unlock()
	for len(s.hs.queue) > 0 {
		t := s.hs.queue[0]
		s.hs.queue[0] = nil
		s.hs.queue = s.hs.queue[1:]
		if !t.pipe.isClosed() { // skip connections that timed out waiting
			return t
		}
	}
	s.hs.queue = nil
	s.hs.running--
	s.hsRun.Add(-1)
	return nil
}
