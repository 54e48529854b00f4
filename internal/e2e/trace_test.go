package e2e

import (
	"net"
	"os"
	"testing"
)

// traced wraps a connection so that, with IGNIS_E2E_TRACE=1, every byte the
// client reads and writes is logged: the first thing to look at when a flow
// test fails.
func traced(t *testing.T, c net.Conn) net.Conn {
	if os.Getenv("IGNIS_E2E_TRACE") == "" {
		return c
	}
	return traceConn{Conn: c, t: t}
}

type traceConn struct {
	net.Conn
	t *testing.T
}

func (c traceConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.t.Logf("S→C %q", p[:n])
	return n, err
}

func (c traceConn) Write(p []byte) (int, error) {
	c.t.Logf("C→S %q", p)
	return c.Conn.Write(p)
}
