package reactor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"ignis/session"
)

// Listener is one address the server accepts connections on.
type Listener struct {
	Addr      string // host:port; port 0 picks a free port (see Server.Addrs)
	DirectTLS bool   // XEP-0368: TLS from the first byte, no STARTTLS
	// Handler, if set, makes the handlers of this listener's connections
	// (a server-to-server, component, HTTP or proxy port); nil takes the
	// server's NewHandler (client streams).
	Handler NewHandler
	// TLS, if set, replaces Config.TLS for this listener's connections
	// (a server-to-server port asks peers for a certificate).
	TLS *tls.Config
}

// Config configures a Server. Zero fields take the defaults named on them.
type Config struct {
	Listeners []Listener
	// TLS holds the server certificate. Required for StartTLS and for any
	// DirectTLS listener; nil makes Transport.StartTLS fail.
	TLS *tls.Config
	// Loops is the number of event loops; default runtime.NumCPU(), max 256.
	Loops int
	// MaxPendingOutput is how many bytes may wait for a slow reader before
	// Transport.Write returns session.ErrOutputFull; default 1 MiB.
	MaxPendingOutput int
	// HandshakeTimeout bounds a TLS handshake from StartTLS (or accept, for
	// DirectTLS) to completion, including time spent queued behind
	// MaxHandshakes; default 10 s.
	HandshakeTimeout time.Duration
	// MaxHandshakes caps TLS handshakes running at once (each holds a worker
	// goroutine); default 1024. Handshakes past the cap wait in a FIFO queue,
	// their input buffered, until a worker frees up; HandshakeTimeout still
	// runs for them, so a flood closes connections rather than growing
	// goroutines.
	MaxHandshakes int
	// CloseTimeout is how long Transport.Close waits for queued output to
	// reach a slow reader before dropping it; default 10 s.
	CloseTimeout time.Duration
	// KeepAlive is the idle time before the kernel starts TCP keepalive
	// probes (every KeepAlive/4, four of them), so that a peer that vanished
	// without a FIN (a phone losing its network) is noticed within about
	// twice KeepAlive; default 60 s. It costs an idle connection no memory.
	KeepAlive time.Duration
	Logger    *slog.Logger // default slog.Default()
}

func (c *Config) ensureDefaults() {
	if c.Loops == 0 {
		c.Loops = runtime.NumCPU()
	}
	if c.MaxPendingOutput == 0 {
		c.MaxPendingOutput = 1 << 20
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.MaxHandshakes == 0 {
		c.MaxHandshakes = 1024
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = 10 * time.Second
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 60 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	if len(c.Listeners) == 0 {
		return errors.New("reactor: no listeners")
	}
	if c.Loops < 1 || c.Loops > 256 {
		return fmt.Errorf("reactor: Loops %d is outside 1..256", c.Loops)
	}
	if c.MaxPendingOutput < 4<<10 {
		return fmt.Errorf("reactor: MaxPendingOutput %d is below 4 KiB", c.MaxPendingOutput)
	}
	if c.HandshakeTimeout < tickDur {
		return fmt.Errorf("reactor: HandshakeTimeout %v is below the %v timer tick", c.HandshakeTimeout, tickDur)
	}
	if c.CloseTimeout < tickDur {
		return fmt.Errorf("reactor: CloseTimeout %v is below the %v timer tick", c.CloseTimeout, tickDur)
	}
	if c.MaxHandshakes < 1 {
		return fmt.Errorf("reactor: MaxHandshakes %d is below 1", c.MaxHandshakes)
	}
	for _, l := range c.Listeners {
		if l.DirectTLS && c.TLS == nil && l.TLS == nil {
			return fmt.Errorf("reactor: listener %s wants DirectTLS but Config.TLS is nil", l.Addr)
		}
		if _, _, err := net.SplitHostPort(l.Addr); err != nil {
			return fmt.Errorf("reactor: listener %q: %w", l.Addr, err)
		}
	}
	return nil
}

// NewHandler makes the handler for a newly accepted connection. It runs on
// the connection's event loop; t is valid until Handler.Closed.
type NewHandler func(t session.Transport) session.Handler

// ErrStopped is what Handler.Closed gets for connections closed by Stop.
var ErrStopped = errors.New("reactor: server stopped")

// Server accepts connections on its listeners and drives one session.Handler
// per connection on gnet event loops.
type Server struct {
	cfg Config
	nh  NewHandler

	addrs []net.Addr
	ports map[int]*Listener // listening port → its listener

	eng      gnet.Engine // set in OnBoot, read after booted is closed
	booted   chan struct{}
	bootOnce sync.Once
	done     chan struct{} // closed when gnet has stopped
	runErr   error         // gnet's return, read after done is closed
	started  atomic.Bool
	stopping atomic.Bool
	nconns   atomic.Int64
	nclosing atomic.Int64 // connections closing: output draining, or the socket close posted

	loopsMu struct {
		sync.Mutex
		byEL map[gnet.EventLoop]*loop
		list []*loop
	}

	hs    handshakes
	hsWG  sync.WaitGroup // handshake workers; waited for after gnet stopped
	hsRun atomic.Int32   // handshakes in flight (running on a worker)
	// tlsCfg is cfg.TLS with keyLog as its key log, for tls-unique on TLS
	// 1.3 (tlsunique.go).
	tlsCfg *tls.Config
	keyLog keyLog
}

// New checks cfg and returns a server ready to Start.
func New(cfg Config, nh NewHandler) (*Server, error) {
	cfg.ensureDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if nh == nil {
		return nil, errors.New("reactor: nil NewHandler")
	}
	s := &Server{cfg: cfg, nh: nh, booted: make(chan struct{}), done: make(chan struct{})}
	s.loopsMu.byEL = make(map[gnet.EventLoop]*loop)
	s.hs.max = cfg.MaxHandshakes
	s.tlsCfg = withKeyLog(cfg.TLS, &s.keyLog)
	s.cfg.Listeners = append([]Listener(nil), cfg.Listeners...) // the caller's stay as they are
	for i := range s.cfg.Listeners {
		if l := &s.cfg.Listeners[i]; l.TLS != nil {
			l.TLS = withKeyLog(l.TLS, &s.keyLog)
		}
	}
	return s, nil
}

// Start binds every listener and runs the event loops in the background. Bind
// errors are returned here.
//
// Each address is first bound by a placeholder socket, which reports a taken
// port here. For a given port the placeholder has no SO_REUSEPORT: the
// kernel then refuses it while any other socket listens there, so a second
// server (ours or not) gets "address already in use" instead of silently
// sharing the port with the first; SO_REUSEPORT stays among our own loops.
// Port 0: with SO_REUSEPORT every loop binds
// its own socket, so port 0 would give each loop a different port. The
// placeholder learns a free port, gnet gets that concrete port, and the
// placeholder stays open until gnet's sockets are bound: no other process
// can take the port in between, and no client can have connected to the
// placeholder because its port was not published yet.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("reactor: Start called twice")
	}
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	addrs := make([]string, 0, len(s.cfg.Listeners))
	s.ports = make(map[int]*Listener, len(s.cfg.Listeners))
	for i := range s.cfg.Listeners {
		l := &s.cfg.Listeners[i]
		ln, err := placeholder(l.Addr)
		if err != nil {
			return fmt.Errorf("reactor: %w", err)
		}
		held = append(held, ln)
		a := ln.Addr().(*net.TCPAddr)
		if _, dup := s.ports[a.Port]; dup {
			return fmt.Errorf("reactor: two listeners on port %d", a.Port)
		}
		s.ports[a.Port] = l
		s.addrs = append(s.addrs, a)
		host, _, _ := net.SplitHostPort(l.Addr)
		addrs = append(addrs, "tcp://"+net.JoinHostPort(host, strconv.Itoa(a.Port)))
	}
	// Keep only port-0 placeholders open while gnet binds. A placeholder on
	// a published port could be handed a client's SYN and then reset it.
	// Off Linux gnet may not use SO_REUSEPORT, and any placeholder would make
	// its bind fail; accept the small race there.
	keep := held[:0]
	for i, l := range held {
		if runtime.GOOS == "linux" && portOf(s.cfg.Listeners[i].Addr) == 0 {
			keep = append(keep, l)
		} else {
			_ = l.Close()
		}
	}
	held = keep

	go func() {
		s.runErr = gnet.Rotate(&events{s}, addrs,
			gnet.WithNumEventLoop(s.cfg.Loops),
			gnet.WithReusePort(true),
			// SO_REUSEADDR too: connections accepted from these sockets
			// inherit it, so the TIME_WAIT they leave after we close them
			// does not make a restart's exclusive placeholder fail to bind
			gnet.WithReuseAddr(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithTCPKeepAlive(s.cfg.KeepAlive),
			gnet.WithTCPKeepInterval(s.cfg.KeepAlive/4),
			gnet.WithTCPKeepCount(4),
			gnet.WithTicker(true),
			// Dial registers connections from other goroutines: round
			// robin's counter is not safe for that, least-connections is
			// (accepts are spread by SO_REUSEPORT either way)
			gnet.WithLoadBalancing(gnet.LeastConnections),
			gnet.WithLogger(slogAdapter{s.cfg.Logger}),
		)
		close(s.done)
	}()
	select {
	case <-s.booted: // the first OnTick: every loop is bound and running
		return nil
	case <-s.done:
		if s.runErr == nil {
			return errors.New("reactor: gnet stopped during start")
		}
		return fmt.Errorf("reactor: %w", s.runErr)
	}
}

// placeholder binds addr: exclusively for a given port, with SO_REUSEPORT for
// port 0 (gnet's sockets join it while it is held).
func placeholder(addr string) (net.Listener, error) {
	lc := net.ListenConfig{}
	if portOf(addr) == 0 {
		lc.Control = setReusePort
	}
	return lc.Listen(context.Background(), "tcp", addr)
}

// CheckListen reports whether every listener's address could be bound now
// (free, permitted, a local address), without keeping it: the server asks
// before it touches the disk, so a taken port fails a start cleanly.
func CheckListen(ls []Listener) error {
	for _, l := range ls {
		ln, err := placeholder(l.Addr)
		if err != nil {
			return fmt.Errorf("reactor: %w", err)
		}
		_ = ln.Close()
	}
	return nil
}

func portOf(hostport string) int {
	_, p, _ := net.SplitHostPort(hostport)
	n, _ := strconv.Atoi(p)
	return n
}

func setReusePort(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// Addrs returns the bound listener addresses, in Config.Listeners order.
func (s *Server) Addrs() []net.Addr { return s.addrs }

// Conns returns the number of open connections.
func (s *Server) Conns() int { return int(s.nconns.Load()) }

// WaitClosing returns once no connection is closing any more: the streams
// the server ended (e.g. with <system-shutdown/> before Stop) have written
// their last bytes out, or hit CloseTimeout. It returns ctx's error if that
// takes longer.
func (s *Server) WaitClosing(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.nclosing.Load() > 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Stop stops accepting, closes every connection (each handler gets
// Closed(ErrStopped); nothing more is written to them), waits for the loops
// and any TLS handshake workers to finish, and returns. It returns ctx's error
// if that takes longer than ctx allows.
func (s *Server) Stop(ctx context.Context) error {
	if !s.started.Load() || !s.stopping.CompareAndSwap(false, true) {
		return nil
	}
	select {
	case <-s.booted:
	case <-s.done:
		return nil
	}
	stopCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Engine.Stop polls every 500 ms; s.done tells us sooner, and cancel
	// releases the poller.
	go func() { _ = s.eng.Stop(stopCtx) }()
	select {
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	// The loops are gone, every pipe is closed: workers end promptly and no
	// new ones can start.
	wdone := make(chan struct{})
	go func() { s.hsWG.Wait(); close(wdone) }()
	select {
	case <-wdone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loopOf returns the per-loop state for el, creating it on first sight.
// Called on el's own goroutine.
func (s *Server) loopOf(el gnet.EventLoop) *loop {
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	lp := s.loopsMu.byEL[el]
	if lp == nil {
		lp = newLoop(s, el)
		s.loopsMu.byEL[el] = lp
		s.loopsMu.list = append(s.loopsMu.list, lp)
	}
	return lp
}

// events adapts Server to gnet.EventHandler without exporting the callbacks.
type events struct{ s *Server }

func (e *events) OnBoot(eng gnet.Engine) gnet.Action {
	e.s.eng = eng
	return gnet.None
}

func (e *events) OnShutdown(gnet.Engine) {}

// OnTick runs on gnet's ticker goroutine, not on a loop: it only posts the
// tick task into each loop seen so far.
func (e *events) OnTick() (time.Duration, gnet.Action) {
	s := e.s
	s.bootOnce.Do(func() { close(s.booted) })
	if s.stopping.Load() {
		return tickDur, gnet.None
	}
	s.loopsMu.Lock()
	loops := s.loopsMu.list
	s.loopsMu.Unlock()
	for _, lp := range loops {
		_ = lp.el.Execute(context.Background(), lp.tickFn)
	}
	return tickDur, gnet.None
}

func (e *events) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	s := e.s
	lp := s.loopOf(gc.EventLoop())
	c := &conn{gc: gc, lp: lp}
	nh := s.nh
	var clientTLS *tls.Config
	if d, ok := gc.Context().(*dialed); ok { // an outgoing connection (Dial)
		nh, clientTLS, c.direct = d.nh, d.tls, d.tls != nil
	} else if l := s.ports[localPort(gc)]; l != nil {
		c.direct = l.DirectTLS
		if l.Handler != nil {
			nh = l.Handler
		}
	}
	gc.SetContext(c)
	s.nconns.Add(1)
	lp.cur, lp.closeCur = c, false
	lp.enter()
	if clientTLS != nil {
		// the client speaks first: the handshake starts before the handler,
		// which writes once its Wakeup finds TLS up
		c.beginHandshake(clientTLS)
	}
	c.h = nh(c)
	if c.h == nil {
		c.closeErr = errors.New("reactor: NewHandler returned nil")
		c.closeNow()
	} else if c.state == stOpen && c.direct && c.tls == nil {
		c.beginHandshake(nil)
	}
	lp.leave()
	lp.cur = nil
	if lp.closeCur {
		lp.closeCur = false
		return nil, gnet.Close
	}
	return nil, gnet.None
}

func localPort(gc gnet.Conn) int {
	if a, ok := gc.LocalAddr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

func (e *events) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*conn)
	buf, _ := gc.Next(-1) // always consume everything: gnet keeps no ring for us
	if c == nil {
		return gnet.Close
	}
	lp := c.lp
	lp.cur, lp.closeCur = c, false
	lp.enter()
	if len(buf) > 0 {
		c.input(buf)
	}
	// gnet's Wake also lands here; a read that sees the flag serves it too.
	if c.state < stClosing && c.wake.Swap(false) {
		c.wakeup()
	}
	lp.leave()
	lp.cur = nil
	if lp.closeCur {
		lp.closeCur = false
		return gnet.Close
	}
	return gnet.None
}

func (e *events) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil || c.state == stClosed {
		return gnet.None
	}
	s := e.s
	wasClosing := c.state == stClosing
	if wasClosing {
		s.nclosing.Add(-1)
	}
	c.finalCount() // the peer closed, or the socket failed: gnet's buffer is still there
	c.state = stClosed
	c.wake.Store(true) // later Wake calls do nothing
	c.lp.wheel.remove(c)
	if c.tls != nil {
		c.tls.pipe.close() // a blocked handshake worker sees EOF and exits
	}
	c.zin = nil
	s.nconns.Add(-1)
	if c.closeErr == nil {
		switch {
		case c.tls != nil && c.tls.client && !c.tls.established:
			// an outgoing link must learn its TLS failed (the peer may
			// close on our alert before the worker reports)
			c.closeErr = errClientHandshake
		case s.stopping.Load() && !wasClosing:
			c.closeErr = ErrStopped
		case err != nil && !errors.Is(err, io.EOF):
			c.closeErr = err
		}
	}
	lp := c.lp
	if lp.depth > 0 {
		// gnet closed the socket inside a Write the handler made; the handler
		// hears of it when its current call returns.
		lp.pendingClosed = append(lp.pendingClosed, c)
		return gnet.None
	}
	lp.enter()
	c.callClosed()
	lp.leave()
	return gnet.None
}

// slogAdapter routes gnet's logging to slog so zap is never used.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debugf(f string, args ...any) { a.l.Debug(fmt.Sprintf(f, args...), "via", "gnet") }

// Infof logs at debug level: gnet's banner repeats what "ignis started" says.
func (a slogAdapter) Infof(f string, args ...any)  { a.l.Debug(fmt.Sprintf(f, args...), "via", "gnet") }
func (a slogAdapter) Warnf(f string, args ...any)  { a.l.Warn(fmt.Sprintf(f, args...), "via", "gnet") }
func (a slogAdapter) Errorf(f string, args ...any) { a.l.Error(fmt.Sprintf(f, args...), "via", "gnet") }

// Fatalf logs at error level: a library must not exit the process.
func (a slogAdapter) Fatalf(f string, args ...any) { a.l.Error(fmt.Sprintf(f, args...), "via", "gnet") }
