package reactor

import (
	"context"
	"crypto/tls"
	"errors"
	"net"

	"github.com/panjf2000/gnet/v2"
)

// dialed rides in a dialed connection's gnet context until OnOpen replaces
// it with the conn: it says which handler to make, and whether TLS starts
// at once.
type dialed struct {
	nh  NewHandler
	tls *tls.Config
}

// errClientHandshake is what an outgoing connection closed before its TLS
// handshake finished hands to Closed.
var errClientHandshake = errors.New("reactor: connection closed during the TLS handshake (as the client)")

// errNotRunning is Dial's answer before Start or after Stop.
var errNotRunning = errors.New("reactor: server not running")

// Dial connects to addr over TCP (the connect bounded by ctx) and drives the
// handler nh makes on one of the event loops, exactly as for an accepted
// connection: nh runs on the loop with the connection's Transport, whose
// StartClientTLS upgrades it later (STARTTLS). A non-nil tlsCfg makes the
// connection direct TLS (XEP-0368): the client handshake runs first, and
// Writes fail until the handler's Wakeup finds TLS() set (as after
// StartClientTLS). Dial
// returns once the handler exists, or the error that prevented it.
func (s *Server) Dial(ctx context.Context, addr string, tlsCfg *tls.Config, nh NewHandler) error {
	if nh == nil {
		return errors.New("reactor: nil NewHandler")
	}
	select {
	case <-s.booted:
	default:
		return errNotRunning
	}
	if s.stopping.Load() {
		return errNotRunning
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	// gnet duplicates the descriptor into its loop and closes nc
	gctx := gnet.NewNetConnContext(gnet.NewContext(ctx, &dialed{nh: nh, tls: tlsCfg}), nc)
	ch, err := s.eng.Register(gctx)
	if err != nil {
		_ = nc.Close()
		return err
	}
	res := <-ch // a short wait: the loop runs OnOpen and answers
	return res.Err
}
