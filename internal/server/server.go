package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"ignis/jid"
	"ignis/mod"
	"ignis/reactor"
	"ignis/route"
	"ignis/session"
	"ignis/session/sasl"
	"ignis/store"
)

// Server is a running Ignis.
type Server struct {
	cfg     Config
	log     *slog.Logger
	db      *store.DB
	router  *route.Router
	stream  *session.Config
	reactor *reactor.Server
	admin   *adminListener
}

// New opens the data folder and builds the server; Start makes it listen.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	domain, _ := jid.Parse(cfg.Domain)
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	cert, err := loadOrMakeCert(cfg.TLS.Cert, cfg.TLS.Key, cfg.Data, domain.String())
	if err != nil {
		return nil, err
	}
	db, err := store.Open(&store.Options{Dir: cfg.Data, Logger: log})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, db: db}
	conflict := route.Replace
	if cfg.Session.Conflict == "refuse" {
		conflict = route.Refuse
	}
	s.router = route.New(route.Config{Domain: domain, Conflict: conflict, MaxSessions: cfg.Session.MaxPerUser, Logger: log}, mod.NewRegistry(modules(deps{db: db, cfg: &cfg, domain: domain})...))
	s.stream = &session.Config{
		Domain:           domain,
		Router:           s.router,
		Credentials:      db.Accounts(),
		SASL:             sasl.Config{AllowPlainWithoutTLS: cfg.SASL.PlainWithoutTLS, Anonymous: cfg.SASL.Anonymous, Domain: domain.String()},
		TLSOffered:       true,
		TLSRequired:      cfg.TLS.Required,
		ServerCert:       cert.Certificate[0],
		Compression:      cfg.Compression.Enabled,
		CompressionOnTLS: cfg.Compression.OnTLS,
		LegacyAuth:       cfg.LegacyAuth.Enabled,
		Limits:           cfg.sessionLimits(),
		SM:               session.SMConfig{ResumeTimeout: cfg.StreamManagement.ResumeTimeout.Duration, MaxUnacked: cfg.StreamManagement.MaxUnacked},
		Durable:          db,
		Logger:           log,
	}
	if s.stream.Guard, err = session.NewGuard(cfg.guardConfig()); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.stream.Prepare(); err != nil {
		db.Close()
		return nil, err
	}
	var listeners []reactor.Listener
	if a := cfg.Listen.C2S; a != "" && a != "off" {
		listeners = append(listeners, reactor.Listener{Addr: a})
	}
	if a := cfg.Listen.C2STLS; a != "" && a != "off" {
		listeners = append(listeners, reactor.Listener{Addr: a, DirectTLS: true})
	}
	if len(listeners) == 0 {
		db.Close()
		return nil, errors.New("config: listen: every listener is off")
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.reactor, err = reactor.New(reactor.Config{
		Listeners:        listeners,
		TLS:              tlsCfg,
		Loops:            cfg.Loops,
		MaxPendingOutput: s.stream.Limits.MaxPendingOut,
		Logger:           log,
	}, func(t session.Transport) session.Handler { return session.New(s.stream, t) })
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Start binds the listeners and the admin socket.
func (s *Server) Start() error {
	a, err := listenAdmin(filepath.Join(s.cfg.Data, AdminSocket), s.db, s.log)
	if err != nil {
		return err
	}
	s.admin = a
	if err := s.reactor.Start(); err != nil {
		a.Close()
		return err
	}
	s.log.Info("ignis started", "domain", s.cfg.Domain, "listen", s.reactor.Addrs(), "data", s.cfg.Data)
	return nil
}

// Addrs returns the bound listener addresses, in the order c2s, c2s_tls
// (those that are on).
func (s *Server) Addrs() []net.Addr { return s.reactor.Addrs() }

// DB returns the store.
func (s *Server) DB() *store.DB { return s.db }

// Stats returns the streams' counters (XEP-0352 savings, …).
func (s *Server) Stats() *session.Stats { return &s.stream.Stats }

// Guard returns the limits on unauthenticated clients (tests read its counts).
func (s *Server) Guard() *session.Guard { return s.stream.Guard }

// Router returns the router (tests look at the session table).
func (s *Server) Router() *route.Router { return s.router }

// Stop ends every session with <system-shutdown/>, handing what they had
// not delivered or had unacknowledged to offline storage, lets their last
// bytes drain, then stops the listeners and loops and closes the store.
func (s *Server) Stop(ctx context.Context) error {
	n, err := s.stream.Shutdown(ctx)
	if err == nil {
		err = s.reactor.WaitClosing(ctx)
	}
	s.log.Info("stopping: sessions closed", "sessions", n)
	if rerr := s.reactor.Stop(ctx); err == nil {
		err = rerr
	}
	s.stream.ExpireDetached() // XEP-0198: unacknowledged messages go to offline storage
	if s.admin != nil {
		s.admin.Close()
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}
