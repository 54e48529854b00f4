package reactor

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"ignis/session"
)

// state is a connection's lifecycle state.
type state uint8

const (
	stOpen      state = iota // input goes to the handler (plaintext, or after the TLS handshake)
	stHandshake              // a TLS handshake runs on a worker; input feeds its pipe
	stClosing                // close requested: output drains, input is dropped, no handler calls but Closed
	stClosed                 // gnet closed the socket; Closed was called or is pending
)

func (s state) String() string {
	switch s {
	case stOpen:
		return "open"
	case stHandshake:
		return "handshake"
	case stClosing:
		return "closing"
	case stClosed:
		return "closed"
	}
	return "state?"
}

var (
	errHandshaking      = errors.New("reactor: write during the TLS handshake")
	errNoTLS            = errors.New("reactor: no TLS configuration")
	errTLSState         = errors.New("reactor: StartTLS after TLS or compression, or on a closing connection")
	errCompressState    = errors.New("reactor: StartCompression twice, or on a closing connection")
	errHandshakeTimeout = errors.New("reactor: TLS handshake timed out")
	errHandshakeInput   = errors.New("reactor: too much input during the TLS handshake")
)

// conn is one client connection; it implements session.Transport.
//
// Owned by its loop: every field and method except wake / Wake.
type conn struct {
	gc gnet.Conn
	lp *loop
	h  session.Handler // nil once Closed was called

	tls *tlsLayer // nil until StartTLS or a DirectTLS accept
	zin *inflater // nil until StartCompression

	closeErr error // reason handed to Handler.Closed

	// Timer wheel entry (loop.go). userAt: the handler's timer; sysAt: the
	// handshake deadline, or while closing the CloseTimeout deadline. Ticks.
	tNext, tPrev       *conn
	tAt, userAt, sysAt int64

	wake        atomic.Bool // a Wakeup is pending; the only field written off the loop
	state       state
	direct      bool // accepted on a DirectTLS listener
	zhdr        bool // zlib header sent
	closePosted bool // the socket close is requested from gnet
	counted     bool // has an entry in lp.counts (Transport.Sent)
}

// outCount is a connection's output accounting below TLS and zlib, for
// Transport.Sent. Only connections that asked for it (offline deliveries)
// have one, in their loop's map: conn stays small. sent counts bytes handed
// to gnet or staged since the first call; flushed is the last count known
// to have reached the kernel (kept after close, when gnet's buffer is gone);
// watchAt is where WakeWhenFlushed wants a Wakeup.
type outCount struct {
	sent, flushed, watchAt uint64
	watching               bool // a Wakeup is wanted once flushed reaches watchAt
	listed                 bool // on lp.watch
}

// count returns c's accounting, starting it; nil once c is closed.
func (c *conn) count() *outCount {
	if c.counted {
		return c.lp.counts[c]
	}
	if c.state >= stClosed {
		return nil
	}
	if c.lp.counts == nil {
		c.lp.counts = map[*conn]*outCount{}
	}
	oc := &outCount{}
	c.lp.counts[c] = oc
	c.counted = true
	return oc
}

var _ session.Transport = (*conn)(nil)

// Write sends p through zlib and TLS. It fails with session.ErrOutputFull
// when more than MaxPendingOutput bytes are already waiting for the peer.
func (c *conn) Write(p []byte) error {
	switch c.state {
	case stOpen:
	case stHandshake:
		return errHandshaking
	default:
		return net.ErrClosed
	}
	if len(p) == 0 {
		return nil
	}
	if c.gc.OutboundBuffered()+c.staged() > c.lp.srv.cfg.MaxPendingOutput {
		return session.ErrOutputFull
	}
	return c.send(p)
}

// send writes p regardless of the output cap.
func (c *conn) send(p []byte) error {
	lp := c.lp
	if c.zin != nil {
		lp.zOut.b = lp.zOut.b[:0]
		if !c.zhdr {
			// CMF 0x78 (deflate, 32 KiB window), FLG 0x01: no dictionary,
			// fastest level, a multiple of 31 as RFC 1950 requires.
			lp.zOut.b = append(lp.zOut.b, 0x78, 0x01)
			c.zhdr = true
		}
		deflate(&lp.zOut, p)
		p = lp.zOut.b
		defer func() {
			if cap(lp.zOut.b) > zOutKeep {
				lp.zOut.b = nil
			}
		}()
	}
	var err error
	if c.tls != nil {
		_, err = c.tls.tc.Write(p)
	} else {
		_, err = c.rawWrite(p)
	}
	return err
}

// rawWrite hands bytes to gnet, which writes them now or queues them; or,
// during a staged Wakeup, gathers them for one write at its end.
func (c *conn) rawWrite(p []byte) (int, error) {
	if c.state == stClosed {
		// gnet released the fd; it may belong to another socket by now.
		return 0, net.ErrClosed
	}
	if c.lp.stageFor == c {
		c.lp.stage = append(c.lp.stage, p...)
		if c.counted {
			c.lp.counts[c].sent += uint64(len(p))
		}
		if len(c.lp.stage) >= stageFlushAt {
			// a long burst (an offline queue, an archive page) goes on to the
			// kernel as it grows: staged bytes are not drained by the peer's
			// reading, and the output cap counts them
			c.writeStage()
		}
		return len(p), nil
	}
	n, err := c.gc.Write(p)
	if err == nil && c.counted {
		c.lp.counts[c].sent += uint64(n)
	}
	return n, err
}

// stageFlushAt is how much a wakeup gathers before it writes; stageKeep
// bounds the staging buffer a loop keeps between wakeups.
const (
	stageFlushAt = 32 << 10
	stageKeep    = 64 << 10
)

// writeStage hands what is staged to gnet, staying in the staged wakeup.
func (c *conn) writeStage() {
	lp := c.lp
	if len(lp.stage) > 0 && c.state != stClosed {
		_, _ = c.gc.Write(lp.stage) // on error gnet closes the connection: OnClose follows
	}
	lp.stage = lp.stage[:0]
}

// staged is how many bytes c has gathered in the loop's staging buffer.
func (c *conn) staged() int {
	if c.lp.stageFor == c {
		return len(c.lp.stage)
	}
	return 0
}

// wakeup runs the handler's Wakeup with its writes gathered: a wakeup under
// load delivers several stanzas, and one write of all of them costs the
// server, and the client reading them, one syscall instead of one each.
func (c *conn) wakeup() {
	c.lp.stageFor = c
	c.h.Wakeup()
	c.flushStage()
	if c.counted && c.state == stOpen {
		// what the Wakeup wrote usually went straight into the kernel: the
		// Wakeup it asked for (WakeWhenFlushed) is due now, without a Wake
		if oc := c.lp.counts[c]; oc.watching && c.flushedNow(oc) >= oc.watchAt {
			oc.watching = false
			c.h.Wakeup()
		}
	}
}

// flushStage writes what c gathered, and ends the staging. Anything that
// changes how bytes reach the socket (closing, STARTTLS, compression) calls
// it first.
func (c *conn) flushStage() {
	lp := c.lp
	if lp.stageFor != c {
		return
	}
	c.writeStage()
	lp.stageFor = nil
	if cap(lp.stage) > stageKeep {
		lp.stage = nil
	} else {
		lp.stage = lp.stage[:0]
	}
}

// StartTLS begins a server handshake. Input after the current buffer is TLS;
// the handler must ignore whatever followed <starttls/> in the buffer it is
// processing (plaintext pipelined after it can only be an injection).
func (c *conn) StartTLS() error {
	if c.serverTLS() == nil {
		return errNoTLS
	}
	if c.state != stOpen || c.tls != nil || c.zin != nil {
		return errTLSState
	}
	c.flushStage()
	c.beginHandshake(nil)
	return nil
}

// StartClientTLS begins a client handshake with cfg on an outgoing
// connection (server-to-server STARTTLS), once queued output has gone out.
// Writes fail until it completes; then the handler gets a Wakeup, with TLS()
// set, and sends its new stream header.
func (c *conn) StartClientTLS(cfg *tls.Config) error {
	if cfg == nil {
		return errNoTLS
	}
	if c.state != stOpen || c.tls != nil || c.zin != nil {
		return errTLSState
	}
	c.flushStage()
	c.beginHandshake(cfg)
	return nil
}

// StartCompression switches input and output to zlib. As with StartTLS the
// rest of the buffer being processed must be ignored by the handler.
func (c *conn) StartCompression() error {
	if c.state != stOpen || c.zin != nil {
		return errCompressState
	}
	c.flushStage()
	c.zin = newInflater()
	return nil
}

// Close queues final regardless of the output cap, sends a TLS close_notify,
// and closes once the output has drained (or CloseTimeout passed).
func (c *conn) Close(final []byte) {
	switch {
	case c.state == stHandshake, c.state == stOpen && c.direct && c.tls == nil:
		// nothing can be written mid-handshake, nor in plaintext on a TLS
		// port (a handler refusing the connection as it opens)
		c.closeNow()
		return
	case c.state != stOpen:
		return
	}
	if len(final) > 0 {
		_ = c.send(final)
	}
	if c.tls != nil && c.state == stOpen {
		_ = c.tls.tc.CloseWrite()
	}
	c.closeAfterFlush(nil)
}

// Wake may be called from any goroutine. Calls coalesce until Wakeup runs.
func (c *conn) Wake() {
	if c.wake.CompareAndSwap(false, true) {
		_ = c.gc.Wake(nil) // runs OnTraffic on the loop; ignored once closed
	}
}

// SetTimer arms the connection's one handler timer (100 ms granularity,
// never early); d <= 0 disarms it.
func (c *conn) SetTimer(d time.Duration) {
	if c.state >= stClosing {
		return
	}
	if d <= 0 {
		c.userAt = 0
	} else {
		c.userAt = c.lp.wheel.at(d)
	}
	c.rearm()
}

func (c *conn) RemoteAddr() net.Addr { return c.gc.RemoteAddr() }

// Pending implements session.Transport.
func (c *conn) Pending() int {
	if c.state >= stClosed {
		return 0
	}
	return c.gc.OutboundBuffered() + c.staged()
}

// Sent implements session.Transport.
func (c *conn) Sent() (written, flushed uint64) {
	oc := c.count()
	if oc == nil {
		return 0, 0
	}
	return oc.sent, c.flushedNow(oc)
}

// flushedNow is how many of the counted bytes the kernel has taken; once
// the socket is closed, the last count seen while it was open (a lower
// bound). Bytes pending from before counting began make it lower still.
func (c *conn) flushedNow(oc *outCount) uint64 {
	if c.state < stClosed {
		pending := uint64(c.gc.OutboundBuffered() + c.staged())
		if oc.sent > pending && oc.sent-pending > oc.flushed {
			oc.flushed = oc.sent - pending
		}
	}
	return oc.flushed
}

// WakeWhenFlushed implements session.Transport: the loop's tick checks the
// watched connections (loop.watchFlushed).
func (c *conn) WakeWhenFlushed() {
	if c.state >= stClosing {
		return
	}
	oc := c.count()
	oc.watchAt = oc.sent
	oc.watching = true
	if !oc.listed {
		oc.listed = true
		c.lp.watch = append(c.lp.watch, c)
	}
}

// watchFlushed wakes the watched connections whose output reached the
// kernel up to the point they asked about; it runs on each tick.
func (lp *loop) watchFlushed() {
	j := 0
	for _, c := range lp.watch {
		oc := lp.counts[c]
		switch {
		case oc == nil:
		case !oc.watching, c.state >= stClosing:
			oc.watching, oc.listed = false, false
		case c.flushedNow(oc) >= oc.watchAt:
			oc.watching, oc.listed = false, false
			c.Wake()
		default:
			lp.watch[j] = c
			j++
		}
	}
	clear(lp.watch[j:])
	lp.watch = lp.watch[:j]
}

// rearm puts the wheel entry at the earlier of the armed deadlines.
func (c *conn) rearm() {
	at := c.userAt
	if c.state == stHandshake && c.sysAt != 0 && (at == 0 || c.sysAt < at) {
		at = c.sysAt
	}
	if at == c.tAt {
		return
	}
	c.lp.wheel.remove(c)
	if at != 0 {
		c.lp.wheel.insert(c, at)
	}
}

// fire runs when the wheel entry expires at tick cur.
func (c *conn) fire(now time.Time, cur int64) {
	switch c.state {
	case stOpen, stHandshake:
	default:
		return
	}
	if c.state == stHandshake && c.sysAt != 0 && c.sysAt <= cur {
		c.closeErr = errHandshakeTimeout
		c.closeNow()
		return
	}
	if c.userAt != 0 && c.userAt <= cur {
		c.userAt = 0
		c.rearm()
		c.lp.enter()
		c.h.Timer(now)
		c.lp.leave()
		return
	}
	c.rearm()
}

// input takes the bytes gnet read (borrowed from the loop's read buffer).
func (c *conn) input(buf []byte) {
	switch c.state {
	case stHandshake:
		if !c.tls.pipe.feed(buf) {
			c.closeErr = errHandshakeInput
			c.closeNow()
		}
	case stOpen:
		if c.tls != nil {
			c.tlsInput(buf)
		} else {
			c.plain(buf)
		}
	}
}

// plain takes bytes after TLS: inflate them if compression is on.
func (c *conn) plain(p []byte) {
	if c.zin != nil {
		c.inflate(p)
		return
	}
	c.traffic(p)
}

func (c *conn) traffic(p []byte) {
	if c.state != stOpen {
		return
	}
	if err := c.h.Traffic(p); err != nil {
		c.closeAfterFlush(err)
	}
}

// closeAfterFlush closes once the queued output has drained.
func (c *conn) closeAfterFlush(err error) {
	c.flushStage()
	if c.state >= stClosing {
		return
	}
	if c.closeErr == nil {
		c.closeErr = err
	}
	c.setClosing()
	c.userAt = 0
	c.lp.wheel.remove(c)
	if c.gc.OutboundBuffered() == 0 {
		c.closeNow()
		return
	}
	c.sysAt = c.lp.wheel.at(c.lp.srv.cfg.CloseTimeout)
	c.lp.draining = append(c.lp.draining, c)
}

// closeNow asks gnet to close the socket: by returning gnet.Close when
// inside this connection's own callback, else by posting a close task, so
// that Handler.Closed never runs inside another of its own calls.
func (c *conn) closeNow() {
	c.flushStage()
	if c.state == stClosed || c.closePosted {
		return
	}
	c.finalCount()
	c.setClosing()
	c.closePosted = true
	c.lp.wheel.remove(c)
	if c.lp.cur == c {
		c.lp.closeCur = true
		return
	}
	_ = c.gc.Close()
}

// finalCount fixes what the kernel took of a counted connection's output,
// which is known only until gnet closes the socket. gnet still writes what
// it holds after OnClose; that must not go out once the count is final, or
// a stanza the handler routes again as never taken would arrive twice: the
// socket's sending side is shut (what the kernel took still goes out).
func (c *conn) finalCount() {
	if !c.counted || c.state == stClosed {
		return
	}
	oc := c.lp.counts[c]
	if c.flushedNow(oc) < oc.sent {
		_ = syscall.Shutdown(c.gc.Fd(), syscall.SHUT_WR)
	}
}

// setClosing enters stClosing, counting the connection among those whose
// close is under way (Server.WaitClosing).
func (c *conn) setClosing() {
	if c.state < stClosing {
		c.lp.srv.nclosing.Add(1)
	}
	c.state = stClosing
}

func (c *conn) callClosed() {
	h := c.h
	if h == nil {
		return
	}
	c.h = nil
	h.Closed(c.closeErr)
	if c.counted {
		delete(c.lp.counts, c)
		c.counted = false
	}
}

// errNoDetach: only an open plaintext connection with nothing pending can
// be detached.
var errNoDetach = errors.New("reactor: the connection cannot be detached (TLS, compression, output pending or closing)")

// Detach hands the socket over as a net.Conn for blocking I/O on a
// goroutine (the bytestreams relay, whose senders must be held back by TCP
// itself: a loop reads whatever arrives) and ends the connection here
// without touching the socket: gnet closes only its own descriptor.
// Handler.Closed follows as for any close. Loop only.
func (c *conn) Detach() (net.Conn, error) {
	if c.state != stOpen || c.tls != nil || c.zin != nil || c.gc.OutboundBuffered() > 0 || c.staged() > 0 {
		return nil, errNoDetach
	}
	fd, err := c.gc.Dup()
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "detached")
	nc, err := net.FileConn(f) // its own descriptor, in Go's poller
	f.Close()
	if err != nil {
		return nil, err
	}
	c.closeNow()
	return nc, nil
}
