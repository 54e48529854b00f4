// Package servertest starts a whole Ignis server in-process on loopback with
// a temporary data folder, for end-to-end tests, and dials it.
package servertest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ignis/internal/server"
)

// Env is a running test server.
type Env struct {
	T       testing.TB
	Srv     *server.Server
	Cfg     server.Config
	Addr    string // STARTTLS listener, host:port
	TLSAddr string // direct TLS listener, host:port
}

// Start runs a server for domain "localhost" on loopback ports; edit may
// change the configuration first. The server stops when the test ends.
func Start(t testing.TB, edit ...func(*server.Config)) *Env {
	t.Helper()
	return StartLogged(t, nil, edit...)
}

// StartLogged is Start with the server's log written to w, at the
// configured log_level and in the configured log_format, so that a test can
// check what an operator reads.
func StartLogged(t testing.TB, w io.Writer, edit ...func(*server.Config)) *Env {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.Listen.C2S = "127.0.0.1:0"
	cfg.Listen.C2STLS = "127.0.0.1:0"
	cfg.LogLevel = "warn"
	for _, e := range edit {
		e(&cfg)
	}
	lvl := slog.LevelWarn
	if os.Getenv("IGNIS_TEST_LOG") != "" {
		lvl = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	if w != nil {
		log = slog.New(cfg.NewLogHandler(w))
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	env := &Env{T: t, Srv: srv, Cfg: cfg}
	addrs := srv.Addrs()
	if cfg.Listen.C2S != "off" {
		env.Addr, addrs = addrs[0].String(), addrs[1:]
	}
	if cfg.Listen.C2STLS != "off" && len(addrs) > 0 {
		env.TLSAddr = addrs[0].String()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Errorf("server.Stop: %v", err)
		}
	})
	return env
}

// AddUser creates an account.
func (e *Env) AddUser(user, password string) {
	e.T.Helper()
	if err := e.Srv.DB().Accounts().Create(user, password); err != nil {
		e.T.Fatalf("creating %s: %v", user, err)
	}
}

// Dial opens a TCP connection to the STARTTLS listener.
func (e *Env) Dial() net.Conn {
	e.T.Helper()
	c, err := net.DialTimeout("tcp", e.Addr, 5*time.Second)
	if err != nil {
		e.T.Fatalf("dial: %v", err)
	}
	e.T.Cleanup(func() { c.Close() })
	return c
}

// DialTLS opens a direct TLS connection (XEP-0368).
func (e *Env) DialTLS() *tls.Conn {
	e.T.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", e.TLSAddr, e.ClientTLS())
	if err != nil {
		e.T.Fatalf("dial tls: %v", err)
	}
	e.T.Cleanup(func() { c.Close() })
	return c
}

// ClientTLS is a client configuration that trusts the server's self-signed
// certificate, and verifies it, for the name "localhost".
func (e *Env) ClientTLS() *tls.Config {
	e.T.Helper()
	pem, err := os.ReadFile(filepath.Join(e.Cfg.Data, "cert.pem"))
	if err != nil {
		e.T.Fatalf("reading the server certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		e.T.Fatal("the server certificate is not PEM")
	}
	return &tls.Config{ServerName: "localhost", RootCAs: pool, MinVersion: tls.VersionTLS12}
}
