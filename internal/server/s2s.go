package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"

	"ignis/jid"
	"ignis/reactor"
	"ignis/route"
	"ignis/s2s"
	"ignis/session"
)

// federation holds the server-to-server side: the manager and its listener.
type federation struct {
	mgr  *s2s.Manager
	addr int // index of the s2s listener in the reactor's addresses; -1 if none
}

// newFederation builds the s2s manager ([s2s]); dial reaches the reactor
// once it exists.
func newFederation(cfg *Config, domain jid.JID, cert tls.Certificate, hosts hostCerts, rt *route.Router, log *slog.Logger,
	dial func() *reactor.Server) (*federation, error) {
	var roots *x509.CertPool
	if f := cfg.S2S.CAFile; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("config: s2s.ca_file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config: s2s.ca_file: %s holds no PEM certificate", f)
		}
	}
	mgr := s2s.New(s2s.Config{
		Domain:            domain,
		Local:             rt.Serves,
		Origin:            origin(rt),
		TLS:               &tls.Config{Certificates: []tls.Certificate{cert}, GetCertificate: hosts.get, MinVersion: tls.VersionTLS12},
		RootCAs:           roots,
		RequireTLS:        cfg.S2S.RequireTLS,
		DirectTLS:         cfg.S2S.DirectTLS,
		Hosts:             cfg.S2S.Hosts,
		IdleTimeout:       cfg.S2S.IdleTimeout.Duration,
		AuthTimeout:       cfg.S2S.AuthTimeout.Duration,
		MaxQueue:          cfg.S2S.MaxQueue,
		MaxStanzaBytes:    cfg.S2S.MaxStanzaBytes,
		MaxLinksPerDomain: cfg.S2S.MaxLinksPerDomain,
		MaxDomainsPerLink: cfg.S2S.MaxDomainsPerLink,
		NoBidi:            !cfg.S2S.Bidi,
		Router:            rt,
		Logger:            log,
		Dial: func(ctx context.Context, addr string, tc *tls.Config, nh func(session.Transport) session.Handler) error {
			return dial().Dial(ctx, addr, tc, nh)
		},
	})
	rt.SetFallback(mgr)
	return &federation{mgr: mgr, addr: -1}, nil
}

// S2SAddr returns the bound server-to-server listener address, nil if none.
func (s *Server) S2SAddr() net.Addr {
	if s.fed == nil || s.fed.addr < 0 {
		return nil
	}
	return s.reactor.Addrs()[s.fed.addr]
}

// S2S returns the federation manager, nil when [s2s] is off.
func (s *Server) S2S() *s2s.Manager {
	if s.fed == nil {
		return nil
	}
	return s.fed.mgr
}

// origin is the local domain a stanza from the domain from leaves as: the
// sender's own when it is served here (a virtual host, or a service such
// as conference.DOMAIN: a peer accepts on a link only the domains it
// authenticated, so a room's stanzas to a remote occupant need a link
// authenticated as the room's service), the primary domain otherwise
// (bounces of stanzas from elsewhere).
func origin(rt *route.Router) func(from string) string {
	primary := rt.Domain().Domain()
	return func(from string) string {
		if from != "" && rt.Serves(from) {
			return from
		}
		return primary
	}
}
