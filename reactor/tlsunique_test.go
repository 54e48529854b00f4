package reactor

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
)

// recConn records what the client writes, for the test to find its
// Finished message as the server must.
type recConn struct {
	net.Conn
	mu  sync.Mutex
	out []byte
}

func (r *recConn) Write(b []byte) (int, error) {
	r.mu.Lock()
	r.out = append(r.out, b...)
	r.mu.Unlock()
	return r.Conn.Write(b)
}

// clientLog keeps the client's own key log.
type clientLog struct {
	mu    sync.Mutex
	lines []byte
}

func (l *clientLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	l.lines = append(l.lines, b...)
	l.mu.Unlock()
	return len(b), nil
}

func (l *clientLog) secret(t *testing.T) []byte {
	t.Helper()
	for _, line := range strings.Split(string(l.lines), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "CLIENT_HANDSHAKE_TRAFFIC_SECRET" {
			b, err := hex.DecodeString(f[2])
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatal("no client handshake traffic secret logged")
	return nil
}

// uniqueOf asks the handler for the tls-unique it sees.
func uniqueOf(t *testing.T, tc *tls.Conn, br *bufio.Reader) string {
	t.Helper()
	mustWrite(t, tc, "UNIQUE\n")
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(strings.TrimPrefix(line, "UNIQUE "), "\n")
}

// TestTLSUnique: the server's tls-unique is the client's Finished message on
// a full TLS 1.3 handshake (what OpenSSL-based clients send), Go's own on
// TLS 1.2, and absent on a resumed TLS 1.3 session. The client side finds
// its Finished in its own records with its own key log, independently of
// the server's capture.
func TestTLSUnique(t *testing.T) {
	srvTLS, cliTLS := testCert(t)
	s, _ := startServer(t, Config{TLS: srvTLS})
	cache := tls.NewLRUClientSessionCache(4)

	connect := func(maxVersion uint16) (*tls.Conn, *bufio.Reader, *recConn, *clientLog) {
		c := &recConn{Conn: dial(t, s.Addrs()[0])}
		br := bufio.NewReader(c)
		mustWrite(t, c, "STARTTLS\n")
		expectLine(t, br, "PROCEED")
		c.mu.Lock()
		c.out = nil // only the TLS bytes
		c.mu.Unlock()
		log := &clientLog{}
		cfg := cliTLS.Clone()
		cfg.MaxVersion, cfg.KeyLogWriter, cfg.ClientSessionCache = maxVersion, log, cache
		tc := tls.Client(c, cfg)
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		return tc, bufio.NewReader(tc), c, log
	}

	t.Run("tls13", func(t *testing.T) {
		tc, br, rec, log := connect(tls.VersionTLS13)
		got := uniqueOf(t, tc, br) // after the handshake: the client's records are all recorded
		cs := tc.ConnectionState()
		if cs.Version != tls.VersionTLS13 || cs.DidResume {
			t.Fatalf("version %x, resumed %v: want a full TLS 1.3 handshake", cs.Version, cs.DidResume)
		}
		rec.mu.Lock()
		want, err := clientFinished13(rec.out, cs.CipherSuite, log.secret(t))
		rec.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != 32 && len(want) != 48 {
			t.Fatalf("verify_data of %d bytes", len(want))
		}
		if got != hex.EncodeToString(want) {
			t.Fatalf("server's tls-unique %s, want the client's Finished %x", got, want)
		}
		_ = tc.Close()
	})

	t.Run("tls13-resumed", func(t *testing.T) {
		tc, br, _, _ := connect(tls.VersionTLS13)
		if !tc.ConnectionState().DidResume {
			t.Skip("the client did not resume") // the ticket of the subtest above
		}
		if got := uniqueOf(t, tc, br); got != "none" {
			t.Fatalf("tls-unique %s on a resumed TLS 1.3 session, want none", got)
		}
		_ = tc.Close()
	})

	t.Run("tls12", func(t *testing.T) {
		tc, br, _, _ := connect(tls.VersionTLS12)
		want := tc.ConnectionState().TLSUnique
		if got := uniqueOf(t, tc, br); len(want) == 0 || got != hex.EncodeToString(want) {
			t.Fatalf("tls-unique %s on TLS 1.2, want %x", got, want)
		}
		_ = tc.Close()
	})

	// A client that hangs up in the middle of the handshake, after the
	// server logged its secrets: the entry goes all the same.
	t.Run("aborted", func(t *testing.T) {
		c := dial(t, s.Addrs()[0])
		br := bufio.NewReader(c)
		mustWrite(t, c, "STARTTLS\n")
		expectLine(t, br, "PROCEED")
		cfg := cliTLS.Clone()
		cfg.VerifyPeerCertificate = func([][]byte, [][]*x509.Certificate) error {
			_ = c.Close() // the server's first flight is in: hang up
			return errors.New("test: hang up")
		}
		if err := tls.Client(c, cfg).Handshake(); err == nil {
			t.Fatal("handshake succeeded")
		}
	})

	waitFor(t, "an empty key log", func() bool {
		s.keyLog.mu.Lock()
		defer s.keyLog.mu.Unlock()
		return len(s.keyLog.secrets) == 0
	})
	waitFor(t, "no handshakes", func() bool { return s.hsRun.Load() == 0 })
}

// TestClientFinishedGarbage: records that are not what a TLS 1.3 client
// sends give an error, never a panic.
func TestClientFinishedGarbage(t *testing.T) {
	secret := bytes.Repeat([]byte{1}, 32)
	for _, raw := range [][]byte{nil, {23}, {23, 3, 3, 0, 40}, append([]byte{23, 3, 3, 0, 17}, make([]byte, 17)...), {22, 3, 1, 0, 1, 1}} {
		for _, suite := range []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256, 0} {
			if _, err := clientFinished13(raw, suite, secret); err == nil {
				t.Errorf("clientFinished13(%x, %x) succeeded", raw, suite)
			}
		}
	}
	if _, ok := clientRandom([]byte{22, 3, 1, 0, 5, 1, 0, 0}); ok {
		t.Error("clientRandom of a truncated ClientHello succeeded")
	}
}
