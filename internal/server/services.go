package server

import (
	"errors"
	"fmt"
	"net"

	"ignis/mod"
	mproxy "ignis/mod/proxy65"
	"ignis/proxy65"
	"ignis/reactor"
)

// services holds what the server runs beside client streams: the bytestreams
// relay (its listener on the reactor) and the upload service.
type services struct {
	relay    *proxy65.Relay
	proxyIdx int // index of the relay's listener among the reactor's
}

// addProxy makes the relay and its listener when [proxy65] is on.
func (s *Server) addProxy(listeners []reactor.Listener) []reactor.Listener {
	p := &s.cfg.Proxy65
	if !p.Enabled {
		return listeners
	}
	s.svc.relay = proxy65.New(proxy65.Config{MaxBytes: p.MaxBytes, RatePerSec: p.Rate, MaxBuffer: p.MaxBuffer,
		Timeout: p.Timeout.Duration, Logger: s.log.With("mod", "proxy65")})
	s.svc.proxyIdx = len(listeners)
	return append(listeners, reactor.Listener{Addr: p.Listen, Handler: s.svc.relay.Handler})
}

// ProxyAddr is the bound address of the bytestreams relay, or nil.
func (s *Server) ProxyAddr() net.Addr {
	if s.svc.relay == nil {
		return nil
	}
	return s.reactor.Addrs()[s.svc.proxyIdx]
}

// proxyModule is the proxy's service at proxy.DOMAIN, or nil.
func (s *Server) proxyModule(h *mod.Handle) mod.Module {
	r := s.svc.relay
	if r == nil {
		return nil
	}
	return mproxy.New(h, mproxy.Config{
		Addr: func() (string, int) {
			host, port := s.cfg.Proxy65.Host, s.cfg.Proxy65.Port
			if host == "" {
				host = s.cfg.Domain
			}
			if a, ok := s.ProxyAddr().(*net.TCPAddr); ok && port == 0 {
				port = a.Port
			}
			return host, port
		},
		Activate: func(sid, initiator, target string) error {
			err := r.Activate(proxy65.Hash(sid, initiator, target))
			switch {
			case errors.Is(err, proxy65.ErrNoStream):
				return mproxy.ErrNoStream
			case errors.Is(err, proxy65.ErrOneSided), errors.Is(err, proxy65.ErrActive):
				return fmt.Errorf("%w (%v)", mproxy.ErrOneSided, err)
			}
			return err
		},
	})
}
