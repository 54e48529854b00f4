package reactor

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ignis/session"
)

// testCert returns a server config with a fresh self-signed ECDSA P-256
// certificate for localhost, and a client config trusting it.
func testCert(t testing.TB) (srv, cli *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	srv = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}}
	cli = &tls.Config{RootCAs: pool, ServerName: "localhost"}
	return srv, cli
}

// env collects the handlers of one test server.
type env struct {
	mu       sync.Mutex
	handlers []*lineHandler
	created  chan *lineHandler
}

func (e *env) all() []*lineHandler {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*lineHandler(nil), e.handlers...)
}

// lineHandler is the test Handler: a line echo with a few commands. All its
// methods run on the loop; tests read it through channels and atomics.
type lineHandler struct {
	t     session.Transport
	carry []byte

	gid       uint64 // goroutine of the first Traffic
	wakeCheck bool   // WAKEME armed: the next Wakeup answers
	burst     int    // BURST n: the next Wakeup writes n lines
	burstQuit bool   // BURSTQUIT n: ... and then closes
	wakeFlood bool   // WAKEFLOOD: the next Wakeup writes until the output cap

	closes    atomic.Int32
	closedErr chan error // buffered 1
	timers    atomic.Int32
	flooded   atomic.Int64 // bytes written by FLOOD before ErrOutputFull
	tlsSeen   atomic.Bool  // TLS() non-nil at TLSINFO
	badWake   atomic.Bool  // Wakeup ran off the Traffic goroutine
	counted   bool         // COUNTFLOOD: Closed records the output count
	flushedAt atomic.Int64 // Transport.Sent's flushed in Closed, after COUNTFLOOD
}

func (h *lineHandler) Traffic(p []byte) error {
	if h.gid == 0 {
		h.gid = goid()
	}
	data := p
	if len(h.carry) > 0 {
		h.carry = append(h.carry, p...)
		data = h.carry
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := data[:i]
		data = data[i+1:]
		switched, err := h.command(line)
		if err != nil {
			return err
		}
		if switched {
			h.carry = nil // the rest of the buffer is ignored (injection)
			return nil
		}
	}
	h.carry = append([]byte(nil), data...)
	if len(h.carry) == 0 {
		h.carry = nil
	}
	return nil
}

func (h *lineHandler) command(line []byte) (switched bool, err error) {
	cmd, arg, _ := strings.Cut(string(line), " ")
	if len(line) > 64 {
		cmd = ""
	}
	switch cmd {
	case "STARTTLS":
		if err := h.t.Write([]byte("PROCEED\n")); err != nil {
			return false, err
		}
		return true, h.t.StartTLS()
	case "COMPRESS":
		if err := h.t.Write([]byte("COMPRESSED\n")); err != nil {
			return false, err
		}
		return true, h.t.StartCompression()
	case "QUIT":
		h.t.Close([]byte("BYE\n"))
		return true, nil
	case "FAIL":
		_ = h.t.Write([]byte("ERR\n"))
		return false, errors.New("test: FAIL")
	case "FLOOD":
		h.flood()
		return true, nil
	case "COUNTFLOOD":
		h.counted = true
		h.t.Sent() // counting starts here: nothing was written before
		h.flood()
		return true, nil
	case "TIMER":
		ms, _ := strconv.Atoi(arg)
		h.t.SetTimer(time.Duration(ms) * time.Millisecond)
	case "CANCEL":
		h.t.SetTimer(0)
	case "TLSINFO":
		st := h.t.TLS()
		if st == nil {
			return false, h.t.Write([]byte("NOTLS\n"))
		}
		h.tlsSeen.Store(true)
		ekm, err := st.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
		if err != nil {
			return false, err
		}
		return false, h.t.Write([]byte("EKM " + hex.EncodeToString(ekm) + "\n"))
	case "UNIQUE":
		st := h.t.TLS()
		if st == nil || st.TLSUnique == nil {
			return false, h.t.Write([]byte("UNIQUE none\n"))
		}
		return false, h.t.Write([]byte("UNIQUE " + hex.EncodeToString(st.TLSUnique) + "\n"))
	case "BURST", "BURSTQUIT":
		h.burst, _ = strconv.Atoi(arg)
		h.burstQuit = cmd == "BURSTQUIT"
		h.t.Wake()
		return cmd == "BURSTQUIT", nil
	case "WAKEFLOOD":
		h.wakeFlood = true
		h.t.Wake()
		return true, nil
	case "WAKEME":
		h.wakeCheck = true
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					h.t.Wake()
				}
			}()
		}
		go wg.Wait()
	default:
		out := make([]byte, 0, len(line)+1)
		out = append(append(out, line...), '\n')
		return false, h.t.Write(out)
	}
	return false, nil
}

func (h *lineHandler) Wakeup() {
	if goid() != h.gid {
		h.badWake.Store(true)
	}
	if h.wakeCheck {
		h.wakeCheck = false
		_ = h.t.Write([]byte("WOKE\n"))
	}
	if n := h.burst; n > 0 {
		h.burst = 0
		for i := range n {
			_ = h.t.Write([]byte("B" + strconv.Itoa(i) + "\n"))
		}
		if h.burstQuit {
			h.t.Close([]byte("BYE\n"))
		}
	}
	if h.wakeFlood {
		h.wakeFlood = false
		h.flood()
	}
}

// flood writes 16 KiB chunks until the output cap refuses one, then closes
// with the count.
func (h *lineHandler) flood() {
	chunk := bytes.Repeat([]byte{'x'}, 16<<10)
	var n int64
	for {
		err := h.t.Write(chunk)
		if errors.Is(err, session.ErrOutputFull) {
			break
		}
		if err != nil {
			return
		}
		n += int64(len(chunk))
	}
	h.flooded.Store(n)
	h.t.Close([]byte("\nEND " + strconv.FormatInt(n, 10) + "\n"))
}

func (h *lineHandler) Timer(time.Time) {
	h.timers.Add(1)
	_ = h.t.Write([]byte("TIMER\n"))
}

func (h *lineHandler) Closed(err error) {
	if h.counted {
		_, flushed := h.t.Sent()
		h.flushedAt.Store(int64(flushed))
	}
	if h.closes.Add(1) == 1 {
		h.closedErr <- err
	}
}

// goid returns the current goroutine's id (test only).
func goid() uint64 {
	var b [64]byte
	s := b[:runtime.Stack(b[:], false)]
	s = bytes.TrimPrefix(s, []byte("goroutine "))
	s = s[:bytes.IndexByte(s, ' ')]
	n, _ := strconv.ParseUint(string(s), 10, 64)
	return n
}

// startServer runs a server on 127.0.0.1 port 0 with the given listeners
// (plain when none) and stops it at the end of the test.
func startServer(t *testing.T, cfg Config) (*Server, *env) {
	t.Helper()
	if len(cfg.Listeners) == 0 {
		cfg.Listeners = []Listener{{Addr: "127.0.0.1:0"}}
	}
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &env{created: make(chan *lineHandler, 1024)}
	s, err := New(cfg, func(tr session.Transport) session.Handler {
		h := &lineHandler{t: tr, closedErr: make(chan error, 1)}
		e.mu.Lock()
		e.handlers = append(e.handlers, h)
		e.mu.Unlock()
		select {
		case e.created <- h:
		default:
		}
		return h
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s, e
}

func dial(t testing.TB, a net.Addr) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", a.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second)) // a hang fails, not stalls, the test (roomy: -race on a loaded machine pushes the zlib bursts past 20 s)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// writeSplit writes p in random pieces.
func writeSplit(w io.Writer, p []byte, rnd *mrand.Rand, max int) error {
	for len(p) > 0 {
		n := min(1+rnd.IntN(max), len(p))
		if _, err := w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func randLine(rnd *mrand.Rand, n int) []byte {
	b := make([]byte, n+1)
	for i := range n {
		b[i] = 'a' + byte(rnd.IntN(26))
	}
	b[n] = '\n'
	return b
}

// mustWrite writes s to w or fails the test.
func mustWrite(t testing.TB, w io.Writer, s string) {
	t.Helper()
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
}

func expectLine(t testing.TB, br *bufio.Reader, want string) {
	t.Helper()
	got, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading %q: %v (got %q)", want, err, got)
	}
	if got != want+"\n" {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// echo sends each message (a line) and checks it comes back byte-exact.
func echo(t testing.TB, w io.Writer, r *bufio.Reader, rnd *mrand.Rand, sizes ...int) {
	t.Helper()
	for _, n := range sizes {
		line := randLine(rnd, n)
		errc := make(chan error, 1)
		go func() { errc <- writeSplit(w, line, rnd, 3000) }()
		got, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("echo %d B: %v", n, err)
		}
		if werr := <-errc; werr != nil {
			t.Fatalf("write %d B: %v", n, werr)
		}
		if !bytes.Equal(got, line) {
			t.Fatalf("echo %d B: got %d bytes, not equal", n, len(got))
		}
	}
}

// waitFor polls cond (a state with no event to wait on) until it holds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func recvErr(t testing.TB, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return nil
	}
}

func nextHandler(t testing.TB, e *env) *lineHandler {
	t.Helper()
	select {
	case h := <-e.created:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("no handler created")
		return nil
	}
}
