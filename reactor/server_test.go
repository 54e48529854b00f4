package reactor

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"ignis/session"
)

func TestEchoPlainManyConns(t *testing.T) {
	s, _ := startServer(t, Config{Loops: 2})
	const conns = 200
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := mrand.New(mrand.NewPCG(uint64(i), 7))
			c, err := net.DialTimeout("tcp", s.Addrs()[0].String(), 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			var all []byte
			for range 10 {
				all = append(all, randLine(rnd, 1+rnd.IntN(2000))...)
			}
			go func() { _ = writeSplit(c, all, rnd, 700) }()
			got := make([]byte, len(all))
			if _, err := io.ReadFull(c, got); err != nil {
				errs <- fmt.Errorf("conn %d: %w", i, err)
				return
			}
			if !bytes.Equal(got, all) {
				errs <- fmt.Errorf("conn %d: echo differs", i)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// starttls upgrades a plain client connection the way the test handler
// expects, and checks the exporter matches on both sides.
func starttls(t *testing.T, c net.Conn, cli *tls.Config) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	proceed(t, c)
	tc := tls.Client(c, cli)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tc, bufio.NewReader(tc)
}

// proceed asks for STARTTLS on a plain connection and reads the handler's
// PROCEED, with nothing after it: the next byte is the peer's TLS.
func proceed(t *testing.T, c net.Conn) *bufio.Reader {
	t.Helper()
	br := bufio.NewReader(c)
	mustWrite(t, c, "STARTTLS\n")
	expectLine(t, br, "PROCEED")
	if br.Buffered() != 0 {
		t.Fatal("plaintext after PROCEED")
	}
	return br
}

func checkExporter(t *testing.T, tc *tls.Conn, br *bufio.Reader) {
	t.Helper()
	mustWrite(t, tc, "TLSINFO\n")
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	st := tc.ConnectionState()
	want, err := st.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	if line != "EKM "+hex.EncodeToString(want)+"\n" {
		t.Fatalf("exporter: got %q", line)
	}
}

func TestStartTLS(t *testing.T) {
	srvTLS, cliTLS := testCert(t)
	s, e := startServer(t, Config{TLS: srvTLS})
	c := dial(t, s.Addrs()[0])
	br := bufio.NewReader(c)
	mustWrite(t, c, "TLSINFO\n")
	expectLine(t, br, "NOTLS")
	h := nextHandler(t, e)
	tc, tbr := starttls(t, c, cliTLS)
	rnd := mrand.New(mrand.NewPCG(3, 4))
	echo(t, tc, tbr, rnd, 1, 20_000, 200_000, 1)
	checkExporter(t, tc, tbr)
	if !h.tlsSeen.Load() {
		t.Fatal("handler did not see TLS()")
	}
	// Client closes: the server sees close_notify or EOF, a clean close.
	_ = tc.Close()
	if err := recvErr(t, h.closedErr, "Closed"); err != nil {
		t.Fatalf("Closed(%v), want nil", err)
	}
	waitFor(t, "no handshakes", func() bool { return s.hsRun.Load() == 0 })
}

// TestStartTLSPipelinedPlaintext: plaintext sent after STARTTLS in the same
// segment is discarded, and the handshake still works.
func TestStartTLSPipelinedPlaintext(t *testing.T) {
	srvTLS, cliTLS := testCert(t)
	s, _ := startServer(t, Config{TLS: srvTLS, Loops: 1})
	c := dial(t, s.Addrs()[0])
	br := bufio.NewReader(c)
	mustWrite(t, c, "STARTTLS\nINJECTED\n")
	expectLine(t, br, "PROCEED")
	tc := tls.Client(c, cliTLS)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	tbr := bufio.NewReader(tc)
	echo(t, tc, tbr, mrand.New(mrand.NewPCG(1, 1)), 10)
}

func TestDirectTLS(t *testing.T) {
	srvTLS, cliTLS := testCert(t)
	s, _ := startServer(t, Config{TLS: srvTLS, Listeners: []Listener{
		{Addr: "127.0.0.1:0"},
		{Addr: "127.0.0.1:0", DirectTLS: true},
	}})
	if len(s.Addrs()) != 2 || s.Addrs()[0].String() == s.Addrs()[1].String() {
		t.Fatalf("addrs %v", s.Addrs())
	}
	// The plain listener stays plain.
	pc := dial(t, s.Addrs()[0])
	pbr := bufio.NewReader(pc)
	echo(t, pc, pbr, mrand.New(mrand.NewPCG(5, 5)), 5)

	raw := dial(t, s.Addrs()[1])
	tc := tls.Client(raw, cliTLS)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	tbr := bufio.NewReader(tc)
	echo(t, tc, tbr, mrand.New(mrand.NewPCG(5, 6)), 1, 20_000, 200_000)
	checkExporter(t, tc, tbr)
}

// TestMaxHandshakes: with one worker, concurrent handshakes queue and all
// complete.
func TestMaxHandshakes(t *testing.T) {
	srvTLS, cliTLS := testCert(t)
	s, _ := startServer(t, Config{TLS: srvTLS, MaxHandshakes: 1, Listeners: []Listener{{Addr: "127.0.0.1:0", DirectTLS: true}}})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.Addrs()[0].String(), cliTLS)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			msg := fmt.Sprintf("hello %d\n", i)
			if _, err := c.Write([]byte(msg)); err != nil {
				errs <- err
				return
			}
			got, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || got != msg {
				errs <- fmt.Errorf("conn %d: %q %v", i, got, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.hsRun.Load(); n > 1 {
		t.Fatalf("%d handshakes running, cap 1", n)
	}
}

// zlibClient speaks XEP-0138-style zlib over w/r after COMPRESS.
type zlibClient struct {
	zw *zlib.Writer
	zr io.Reader
	br *bufio.Reader
	w  io.Writer
}

func compress(t *testing.T, w io.Writer, br *bufio.Reader) *zlibClient {
	t.Helper()
	mustWrite(t, w, "COMPRESS\n")
	expectLine(t, br, "COMPRESSED")
	return &zlibClient{zw: zlib.NewWriter(w), br: br, w: w}
}

// roundTrip sends msg compressed (sync flush) and reads the echo.
func (z *zlibClient) roundTrip(t *testing.T, rnd *mrand.Rand, n int) {
	t.Helper()
	line := randLine(rnd, n)
	errc := make(chan error, 1)
	go func() {
		if _, err := z.zw.Write(line); err != nil {
			errc <- err
			return
		}
		errc <- z.zw.Flush()
	}()
	if z.zr == nil {
		zr, err := zlib.NewReader(z.br) // reads the header the first reply starts with
		if err != nil {
			t.Fatal(err)
		}
		z.zr = zr
	}
	got := make([]byte, len(line))
	if _, err := io.ReadFull(z.zr, got); err != nil {
		t.Fatalf("zlib echo %d B: %v", n, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, line) {
		t.Fatalf("zlib echo %d B differs", n)
	}
}

// splitConn splits every write into random pieces, so compressed units
// arrive across reads.
type splitConn struct {
	net.Conn
	rnd *mrand.Rand
}

func (s splitConn) Write(p []byte) (int, error) {
	return len(p), writeSplit(s.Conn, p, s.rnd, 50)
}

func TestZlib(t *testing.T) {
	s, _ := startServer(t, Config{})
	c := dial(t, s.Addrs()[0])
	rnd := mrand.New(mrand.NewPCG(9, 9))
	z := compress(t, splitConn{c, mrand.New(mrand.NewPCG(1, 9))}, bufio.NewReader(c))
	for _, n := range []int{1, 100, 5000, 40_000, 200_000, 3} {
		z.roundTrip(t, rnd, n)
	}
}

func TestTLSAndZlib(t *testing.T) {
	srvTLS, cliTLS := testCert(t)
	s, _ := startServer(t, Config{TLS: srvTLS})
	c := dial(t, s.Addrs()[0])
	tc, tbr := starttls(t, c, cliTLS)
	rnd := mrand.New(mrand.NewPCG(2, 9))
	z := compress(t, tc, tbr)
	for _, n := range []int{1, 20_000, 200_000, 7} {
		z.roundTrip(t, rnd, n)
	}
}

// TestOutputCap: a peer that does not read fills the cap; Write then
// reports ErrOutputFull, and Close(final) still delivers everything.
func TestOutputCap(t *testing.T) {
	h := floodToCap(t, "FLOOD")
	if err := recvErr(t, h.closedErr, "Closed"); err != nil {
		t.Fatalf("Closed(%v)", err)
	}
}

// TestWakeupBurst: what one Wakeup writes is gathered into one write; it
// must arrive whole and in order, over plain TCP, TLS and zlib, also when
// the Wakeup ends with a Close, and past the staging buffer's kept size.
func TestWakeupBurst(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tls, zlib bool
	}{
		{"plain", false, false},
		{"tls", true, false},
		{"zlib", false, true},
		{"tls+zlib", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srvTLS, cliTLS := testCert(t)
			s, _ := startServer(t, Config{TLS: srvTLS})
			c := dial(t, s.Addrs()[0])
			var rw io.ReadWriter = c
			br := bufio.NewReader(c)
			if tc.tls {
				tc, tbr := starttls(t, c, cliTLS)
				rw, br = tc, tbr
			}
			if tc.zlib {
				z := &zlibRW{z: compress(t, rw, br)}
				rw, br = z, bufio.NewReader(z)
			}
			for _, n := range []int{1, 50, 20000} { // 20,000 lines: past stageKeep
				if _, err := io.WriteString(rw, "BURST "+strconv.Itoa(n)+"\n"); err != nil {
					t.Fatal(err)
				}
				for i := range n {
					expectLine(t, br, "B"+strconv.Itoa(i))
				}
			}
			if _, err := io.WriteString(rw, "BURSTQUIT 100\n"); err != nil {
				t.Fatal(err)
			}
			for i := range 100 {
				expectLine(t, br, "B"+strconv.Itoa(i))
			}
			expectLine(t, br, "BYE")
		})
	}
}

// zlibRW reads and writes through a zlibClient, flushing every write.
type zlibRW struct{ z *zlibClient }

func (w *zlibRW) Write(p []byte) (int, error) {
	n, err := w.z.zw.Write(p)
	if err != nil {
		return n, err
	}
	return n, w.z.zw.Flush()
}

func (w *zlibRW) Read(p []byte) (int, error) {
	if w.z.zr == nil {
		zr, err := zlib.NewReader(w.z.br)
		if err != nil {
			return 0, err
		}
		w.z.zr = zr
	}
	return w.z.zr.Read(p)
}

// TestWakeupOutputCap: a flood written from a Wakeup to a peer that does
// not read stops at the output cap (the gathered bytes go on to the socket as
// they grow, and what is still gathered counts), and everything written,
// the final bytes last, arrives intact.
func TestWakeupOutputCap(t *testing.T) {
	floodToCap(t, "WAKEFLOOD")
}

// floodToCap has the handler flood (cmd: from Traffic or from a Wakeup) a
// peer that reads nothing until the handler hit the output cap, then reads
// it all: every byte the handler got written, then its final line.
func floodToCap(t *testing.T, cmd string) *lineHandler {
	t.Helper()
	s, e := startServer(t, Config{MaxPendingOutput: 64 << 10})
	c := dial(t, s.Addrs()[0])
	mustWrite(t, c, cmd+"\n")
	h := nextHandler(t, e)
	waitFor(t, "flood to hit the cap", func() bool { return h.flooded.Load() > 0 })
	all, err := io.ReadAll(c) // EOF after the final bytes
	if err != nil {
		t.Fatal(err)
	}
	n := h.flooded.Load()
	tail := "\nEND " + strconv.FormatInt(n, 10) + "\n"
	if int64(len(all)) != n+int64(len(tail)) || !strings.HasSuffix(string(all), tail) {
		t.Fatalf("read %d bytes, want %d ending in %q", len(all), n+int64(len(tail)), tail)
	}
	return h
}

// TestSentFinalAtClose: a connection closed with output still pending (a
// peer that does not read, past CloseTimeout) reports in Closed exactly
// what the kernel took: the peer, reading afterwards, gets those bytes and
// not one more (gnet's buffer is not written after the count is fixed).
// Session relies on it to route again, exactly once, what never left.
func TestSentFinalAtClose(t *testing.T) {
	s, e := startServer(t, Config{MaxPendingOutput: 256 << 10, CloseTimeout: 200 * time.Millisecond})
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	mustWrite(t, c, "COUNTFLOOD\n")
	h := nextHandler(t, e)
	recvErr(t, h.closedErr, "Closed") // the peer reads nothing until then
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	flushed := h.flushedAt.Load()
	if flushed == 0 || flushed >= h.flooded.Load() {
		t.Fatalf("flushed %d of %d flooded: want some of it held in the server", flushed, h.flooded.Load())
	}
	if int64(len(all)) != flushed {
		t.Fatalf("the peer read %d bytes, Closed reported %d taken by the kernel", len(all), flushed)
	}
}

// TestTimer: timers fire on the loop, SetTimer(0) cancels. One loop, so the
// later timer firing proves the earlier, cancelled one's tick has passed.
func TestTimer(t *testing.T) {
	s, e := startServer(t, Config{Loops: 1})
	a := dial(t, s.Addrs()[0])
	mustWrite(t, a, "TIMER 100\nCANCEL\n")
	ha := nextHandler(t, e)
	b := dial(t, s.Addrs()[0])
	bbr := bufio.NewReader(b)
	start := time.Now()
	mustWrite(t, b, "TIMER 300\n")
	expectLine(t, bbr, "TIMER")
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("timer fired early, after %v", d)
	}
	if n := ha.timers.Load(); n != 0 {
		t.Fatalf("cancelled timer fired %d times", n)
	}
	// Re-arming works after a cancel, and fires once.
	abr := bufio.NewReader(a)
	mustWrite(t, a, "TIMER 100\n")
	expectLine(t, abr, "TIMER")
	mustWrite(t, a, "ping\n")
	expectLine(t, abr, "ping")
}

func TestWake(t *testing.T) {
	s, e := startServer(t, Config{})
	c := dial(t, s.Addrs()[0])
	br := bufio.NewReader(c)
	mustWrite(t, c, "hi\nWAKEME\n")
	expectLine(t, br, "hi")
	expectLine(t, br, "WOKE")
	h := nextHandler(t, e)
	// Keep traffic and wakeups interleaving for a while.
	for i := range 20 {
		msg := "m" + strconv.Itoa(i)
		mustWrite(t, c, msg+"\nWAKEME\n")
		expectLine(t, br, msg)
		expectLine(t, br, "WOKE")
	}
	if h.badWake.Load() {
		t.Fatal("Wakeup ran on a goroutine other than the loop's")
	}
}

func TestHandshakeTimeout(t *testing.T) {
	srvTLS, _ := testCert(t)
	s, e := startServer(t, Config{TLS: srvTLS, HandshakeTimeout: 300 * time.Millisecond,
		Listeners: []Listener{{Addr: "127.0.0.1:0", DirectTLS: true}}})
	c := dial(t, s.Addrs()[0])
	h := nextHandler(t, e)
	start := time.Now()
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %d, %v; want EOF", n, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("closed after %v", d)
	}
	if err := recvErr(t, h.closedErr, "Closed"); !errors.Is(err, errHandshakeTimeout) {
		t.Fatalf("Closed(%v)", err)
	}
	waitFor(t, "no handshakes in flight", func() bool { return s.hsRun.Load() == 0 })
}

func TestHandshakeFailure(t *testing.T) {
	srvTLS, _ := testCert(t)
	s, e := startServer(t, Config{TLS: srvTLS})
	c := dial(t, s.Addrs()[0])
	br := proceed(t, c)
	mustWrite(t, c, "this is not a ClientHello at all........\n")
	h := nextHandler(t, e)
	if err := recvErr(t, h.closedErr, "Closed"); err == nil || !strings.Contains(err.Error(), "handshake") {
		t.Fatalf("Closed(%v)", err)
	}
	_, _ = io.Copy(io.Discard, br) // the server closed: EOF (maybe after an alert)
	waitFor(t, "no handshakes in flight", func() bool { return s.hsRun.Load() == 0 })
}

// TestCloseOnce: server-side and client-side closes each give exactly one
// Closed, with nil for orderly closes.
func TestCloseOnce(t *testing.T) {
	s, e := startServer(t, Config{})

	a := dial(t, s.Addrs()[0])
	abr := bufio.NewReader(a)
	mustWrite(t, a, "QUIT\n")
	ha := nextHandler(t, e)
	expectLine(t, abr, "BYE")
	if _, err := abr.ReadByte(); err != io.EOF {
		t.Fatalf("after BYE: %v", err)
	}
	if err := recvErr(t, ha.closedErr, "server close"); err != nil {
		t.Fatalf("Closed(%v)", err)
	}

	b := dial(t, s.Addrs()[0])
	mustWrite(t, b, "x\n")
	hb := nextHandler(t, e)
	expectLine(t, bufio.NewReader(b), "x") // unread input would make close send RST
	_ = b.Close()
	if err := recvErr(t, hb.closedErr, "client close"); err != nil {
		t.Fatalf("Closed(%v)", err)
	}

	// A handler error closes after flushing what it wrote.
	c := dial(t, s.Addrs()[0])
	cbr := bufio.NewReader(c)
	mustWrite(t, c, "FAIL\nnever\n")
	hc := nextHandler(t, e)
	expectLine(t, cbr, "ERR")
	if _, err := cbr.ReadByte(); err != io.EOF {
		t.Fatalf("after ERR: %v", err)
	}
	if err := recvErr(t, hc.closedErr, "error close"); err == nil {
		t.Fatal("Closed(nil) after a Traffic error")
	}

	waitFor(t, "Conns() == 0", func() bool { return s.Conns() == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for i, h := range e.all() {
		if n := h.closes.Load(); n != 1 {
			t.Errorf("handler %d: Closed %d times", i, n)
		}
	}
}

func TestStop(t *testing.T) {
	srvTLS, cliTLS := testCert(t)
	s, e := startServer(t, Config{TLS: srvTLS, Listeners: []Listener{
		{Addr: "127.0.0.1:0"},
		{Addr: "127.0.0.1:0", DirectTLS: true},
	}})
	var clients []net.Conn
	for range 10 {
		c := dial(t, s.Addrs()[0])
		echo(t, c, bufio.NewReader(c), mrand.New(mrand.NewPCG(1, 2)), 10)
		clients = append(clients, c)
	}
	tc, tbr := starttls(t, dial(t, s.Addrs()[0]), cliTLS)
	echo(t, tc, tbr, mrand.New(mrand.NewPCG(1, 3)), 10)
	stalled := dial(t, s.Addrs()[1]) // mid-handshake: a worker waits on it
	waitFor(t, "12 conns", func() bool { return s.Conns() == 12 })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Conns() != 0 || s.hsRun.Load() != 0 {
		t.Fatalf("after Stop: %d conns, %d handshakes", s.Conns(), s.hsRun.Load())
	}
	for _, c := range append(clients, stalled) {
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("client after Stop: %v", err)
		}
	}
	if _, err := tbr.ReadByte(); err == nil {
		t.Fatal("TLS client still open after Stop")
	}
	for i, h := range e.all() {
		if n := h.closes.Load(); n != 1 {
			t.Errorf("handler %d: Closed %d times", i, n)
		}
		if err := <-h.closedErr; !errors.Is(err, ErrStopped) {
			t.Errorf("handler %d: Closed(%v)", i, err)
		}
	}
	if _, err := net.DialTimeout("tcp", s.Addrs()[0].String(), time.Second); err == nil {
		t.Fatal("still accepting after Stop")
	}
}

func TestStartBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := New(Config{Listeners: []Listener{{Addr: ln.Addr().String()}}}, func(session.Transport) session.Handler { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		_ = s.Stop(context.Background())
		t.Fatal("Start succeeded on a taken port")
	}
}

// TestStartPortHeldByAnotherServer: SO_REUSEPORT among our loops must not
// let a second server (same user, also SO_REUSEPORT) share a port the first
// one listens on; the kernel would split new connections between them.
func TestStartPortHeldByAnotherServer(t *testing.T) {
	first, _ := startServer(t, Config{})
	addr := first.Addrs()[0].String()
	for _, wildcard := range []bool{false, true} {
		a := addr
		if wildcard {
			a = net.JoinHostPort("", strconv.Itoa(first.Addrs()[0].(*net.TCPAddr).Port))
		}
		if err := CheckListen([]Listener{{Addr: a}}); !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("CheckListen(%s) = %v, want address already in use", a, err)
		}
		s, err := New(Config{Loops: 2, Listeners: []Listener{{Addr: a}}}, func(session.Transport) session.Handler { return nil })
		if err != nil {
			t.Fatal(err)
		}
		err = s.Start()
		if err == nil {
			_ = s.Stop(context.Background())
			t.Fatalf("second server started on %s", a)
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("second Start on %s: %v, want address already in use", a, err)
		}
	}
}

// TestConnSize reports the per-connection struct (and keeps it small).
func TestConnSize(t *testing.T) {
	n := unsafe.Sizeof(conn{})
	t.Logf("conn: %d B; tlsLayer: %d B (TLS only); inflater: %d B + ~37 KiB flate reader (zlib only)",
		n, unsafe.Sizeof(tlsLayer{}), unsafe.Sizeof(inflater{}))
	if n > 128 {
		t.Fatalf("conn grew to %d B", n)
	}
}

// TestRestartOverTimeWait: connections the server closed first leave
// TIME_WAIT sockets on its port for a minute after it stops. A server
// restarted at once (after a crash, kill -9, an upgrade) must still bind the
// port: the exclusive check that refuses a port another listener holds must
// not refuse one that only closed connections linger on.
func TestRestartOverTimeWait(t *testing.T) {
	first, e := startServer(t, Config{})
	addr := first.Addrs()[0].String()
	for range 3 {
		c := dial(t, first.Addrs()[0])
		h := nextHandler(t, e)
		br := bufio.NewReader(c)
		if _, err := io.WriteString(c, "QUIT\n"); err != nil {
			t.Fatal(err)
		}
		expectLine(t, br, "BYE")
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("after BYE: %v, want EOF (the server closes first)", err)
		}
		_ = c.Close()
		recvErr(t, h.closedErr, "closed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := CheckListen([]Listener{{Addr: addr}}); err != nil {
		t.Fatalf("CheckListen(%s) after a stop: %v", addr, err)
	}
	s, err := New(Config{Loops: 2, Listeners: []Listener{{Addr: addr}}, Logger: first.cfg.Logger},
		func(session.Transport) session.Handler { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// greeter is a handler of a listener of its own: it says hello and closes.
type greeter struct{ t session.Transport }

func (g *greeter) Traffic([]byte) error { return nil }
func (g *greeter) Wakeup()              {}
func (g *greeter) Timer(time.Time)      {}
func (g *greeter) Closed(error)         {}

// A listener's own Handler serves its port; the others keep the server's.
func TestListenerHandler(t *testing.T) {
	s, _ := startServer(t, Config{Listeners: []Listener{
		{Addr: "127.0.0.1:0"},
		{Addr: "127.0.0.1:0", Handler: func(tr session.Transport) session.Handler {
			_ = tr.Write([]byte("HELLO\n"))
			return &greeter{tr}
		}},
	}})
	rnd := mrand.New(mrand.NewPCG(1, 2))
	c := dial(t, s.Addrs()[0])
	echo(t, c, bufio.NewReader(c), rnd, 10)
	g := dial(t, s.Addrs()[1])
	expectLine(t, bufio.NewReader(g), "HELLO")
}
