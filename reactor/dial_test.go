package reactor

import (
	"bytes"
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"ignis/session"
)

// dialer is the handler of an outgoing test connection: it sends a script
// of lines, one per line it reads back, and upgrades to TLS after PROCEED.
type dialer struct {
	t      session.Transport
	tlsCfg *tls.Config
	script []string
	buf    []byte
	lines  chan string
	closed chan error
	tls    chan bool // TLS() seen non-nil at each line
	direct bool      // dialed with TLS: the script starts at the Wakeup
	wait   bool      // the next line waits for the TLS Wakeup
}

func newDialer(cfg *tls.Config, script ...string) *dialer {
	return &dialer{tlsCfg: cfg, script: script, lines: make(chan string, 16), closed: make(chan error, 1), tls: make(chan bool, 16)}
}

func (d *dialer) make(t session.Transport) session.Handler {
	d.t = t
	if d.tlsCfg == nil || !d.direct {
		d.next()
	}
	return d
}

func (d *dialer) next() {
	if len(d.script) > 0 {
		_ = d.t.Write([]byte(d.script[0] + "\n"))
		d.script = d.script[1:]
	}
}

func (d *dialer) Traffic(p []byte) error {
	d.buf = append(d.buf, p...)
	for {
		i := bytes.IndexByte(d.buf, '\n')
		if i < 0 {
			return nil
		}
		line := string(d.buf[:i])
		d.buf = d.buf[i+1:]
		d.lines <- line
		d.tls <- d.t.TLS() != nil
		if line == "PROCEED" {
			if err := d.t.(interface{ StartClientTLS(*tls.Config) error }).StartClientTLS(d.tlsCfg); err != nil {
				return err
			}
			d.wait = true
			continue
		}
		d.next()
	}
}

func (d *dialer) Wakeup() {
	if d.t.TLS() != nil && (d.wait || d.direct) {
		d.wait, d.direct = false, false
		d.next()
	}
}

func (d *dialer) Timer(time.Time)  {}
func (d *dialer) Closed(err error) { d.closed <- err }

func (d *dialer) expect(t *testing.T, want string, wantTLS bool) {
	t.Helper()
	select {
	case got := <-d.lines:
		if tlsOn := <-d.tls; got != want || tlsOn != wantTLS {
			t.Fatalf("got %q (TLS %v), want %q (TLS %v)", got, tlsOn, want, wantTLS)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %q", want)
	}
}

// TestDial: a server's outgoing connections run on its loops, in plaintext,
// upgraded with STARTTLS as the client, or with direct TLS (XEP-0368).
func TestDial(t *testing.T) {
	srvCfg, cliCfg := testCert(t)
	peer, _ := startServer(t, Config{TLS: srvCfg, Listeners: []Listener{{Addr: "127.0.0.1:0"}, {Addr: "127.0.0.1:0", DirectTLS: true}}})
	local, _ := startServer(t, Config{})
	plain, direct := peer.Addrs()[0].String(), peer.Addrs()[1].String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("plain", func(t *testing.T) {
		d := newDialer(nil, "hello", "QUIT")
		if err := local.Dial(ctx, plain, nil, d.make); err != nil {
			t.Fatal(err)
		}
		d.expect(t, "hello", false)
		d.expect(t, "BYE", false)
		if err := recvErr(t, d.closed, "close"); err != nil {
			t.Fatalf("closed with %v", err)
		}
	})
	t.Run("starttls", func(t *testing.T) {
		d := newDialer(cliCfg, "STARTTLS", "secret", "QUIT")
		if err := local.Dial(ctx, plain, nil, d.make); err != nil {
			t.Fatal(err)
		}
		d.expect(t, "PROCEED", false)
		d.expect(t, "secret", true)
		d.expect(t, "BYE", true)
	})
	t.Run("direct", func(t *testing.T) {
		d := newDialer(cliCfg, "hi", "QUIT")
		d.direct = true
		if err := local.Dial(ctx, direct, cliCfg, d.make); err != nil {
			t.Fatal(err)
		}
		d.expect(t, "hi", true)
		d.expect(t, "BYE", true)
	})
	t.Run("bad certificate", func(t *testing.T) {
		d := newDialer(&tls.Config{ServerName: "elsewhere.example"}, "hi")
		d.direct = true
		if err := local.Dial(ctx, direct, d.tlsCfg, d.make); err != nil {
			t.Fatal(err)
		}
		err := recvErr(t, d.closed, "close")
		if err == nil || !strings.Contains(err.Error(), "TLS") {
			t.Fatalf("closed with %v, want a TLS error", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		ln, _ := placeholder("127.0.0.1:0")
		addr := ln.Addr().String()
		_ = ln.Close()
		if err := local.Dial(ctx, addr, nil, newDialer(nil).make); err == nil {
			t.Fatal("dialing a closed port succeeded")
		}
	})
}
