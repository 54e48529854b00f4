package reactor

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"ignis/session"
)

// detacher detaches its connection on the first input and echoes on a
// goroutine from then on.
type detacher struct {
	t      session.Transport
	closed chan error
}

func (d *detacher) Traffic(p []byte) error {
	nc, err := d.t.(interface{ Detach() (net.Conn, error) }).Detach()
	if err != nil {
		return err
	}
	first := append([]byte(nil), p...)
	go func() {
		defer nc.Close()
		nc.Write(first)
		io.Copy(nc, nc)
	}()
	return nil
}
func (d *detacher) Wakeup()          {}
func (d *detacher) Timer(time.Time)  {}
func (d *detacher) Closed(err error) { d.closed <- err }

// TestDetach: a detached connection's socket outlives the loop's close of
// it (Closed is called) and carries bytes both ways for its new owner,
// until the peer closes it.
func TestDetach(t *testing.T) {
	closed := make(chan error, 1)
	s, _ := startServer(t, Config{Listeners: []Listener{
		{Addr: "127.0.0.1:0", Handler: func(tr session.Transport) session.Handler {
			return &detacher{t: tr, closed: closed}
		}},
	}})
	c := dial(t, s.Addrs()[0])
	r := bufio.NewReader(c)
	c.Write([]byte("one\n"))
	expectLine(t, r, "one")
	if err := <-closed; err != nil {
		t.Errorf("Closed(%v) after a detach", err)
	}
	c.Write([]byte("two\n"))
	expectLine(t, r, "two")
	c.(*net.TCPConn).CloseWrite()
	if _, err := r.ReadByte(); err != io.EOF {
		t.Errorf("after our close: %v, want EOF", err)
	}
}
