package reactor

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// gateConn lets a test decide how many bytes a Read may deliver before it
// answers "would block".
type gateConn struct {
	net.Conn
	mu     sync.Mutex
	budget int // < 0: unlimited
}

func (g *gateConn) setBudget(n int) {
	g.mu.Lock()
	g.budget = n
	g.mu.Unlock()
}

func (g *gateConn) Read(b []byte) (int, error) {
	g.mu.Lock()
	budget := g.budget
	g.mu.Unlock()
	if budget == 0 {
		return 0, errWouldBlock
	}
	if budget > 0 && len(b) > budget {
		b = b[:budget]
	}
	n, err := g.Conn.Read(b)
	if budget > 0 {
		g.setBudget(budget - n)
	}
	return n, err
}

// TestTLSTemporaryErrorNotSticky pins the crypto/tls behaviour the loop-mode
// pipe relies on (TECH-NOTES §2.2): after the handshake, a Read error that is
// a net.Error with Temporary() true is returned but not kept, and bytes read
// before it (half a record header) are not lost. If a Go upgrade makes such
// errors sticky, this fails, and every TLS connection would die on its first
// partial read.
func TestTLSTemporaryErrorNotSticky(t *testing.T) {
	srvCfg, cliCfg := testCert(t)
	cliRaw, srvRaw := net.Pipe()
	defer cliRaw.Close()
	defer srvRaw.Close()
	_ = cliRaw.SetDeadline(time.Now().Add(10 * time.Second))
	_ = srvRaw.SetDeadline(time.Now().Add(10 * time.Second))
	gate := &gateConn{Conn: srvRaw, budget: -1}
	srv := tls.Server(gate, srvCfg)
	cli := tls.Client(cliRaw, cliCfg)
	hs := make(chan error, 1)
	go func() { hs <- cli.Handshake() }()
	if err := srv.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-hs; err != nil {
		t.Fatal(err)
	}

	buf := make([]byte, 64)
	read := func(want string) {
		t.Helper()
		n, err := srv.Read(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("Read: %q, %v; want %q", buf[:n], err, want)
		}
	}
	wouldBlock := func() {
		t.Helper()
		_, err := srv.Read(buf)
		var ne net.Error
		//lint:ignore SA1019 crypto/tls consults Temporary: the point of the test
		if !errors.As(err, &ne) || !ne.Temporary() {
			t.Fatalf("Read: %v; want the temporary error back", err)
		}
	}
	send := func(msg string) <-chan error {
		done := make(chan error, 1)
		go func() { _, err := cli.Write([]byte(msg)); done <- err }()
		return done
	}

	// Nothing there: would block, then a whole record reads fine.
	gate.setBudget(0)
	wouldBlock()
	gate.setBudget(-1)
	sent := send("hello")
	read("hello")
	if err := <-sent; err != nil {
		t.Fatal(err)
	}

	// A record cut inside its header: 3 bytes then would block, twice; the
	// rest then completes the same record.
	gate.setBudget(3)
	sent = send("world")
	wouldBlock()
	wouldBlock()
	gate.setBudget(-1)
	read("world")
	if err := <-sent; err != nil {
		t.Fatal(err)
	}

	// Cut inside the body as well.
	gate.setBudget(9)
	sent = send("again")
	wouldBlock()
	gate.setBudget(-1)
	read("again")
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}
