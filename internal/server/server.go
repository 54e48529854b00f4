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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ignis/component"
	"ignis/jid"
	"ignis/mod"
	"ignis/reactor"
	"ignis/route"
	"ignis/session"
	"ignis/session/sasl"
	"ignis/store"
	"ignis/web"
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
	comps   *component.Service // XEP-0114 components
	compAt  int                // index of the component listener in Addrs, or -1
	console *console           // the admin HTTP server, nil unless console.enabled
	cert    tls.Certificate    // the server's certificate (the console's TLS port)
	web     *web.Server        // nil unless [web] is enabled
	webAt   [2]int             // indexes of the web listeners (http, https) in Addrs, -1 if off
	fed     *federation        // [s2s]; nil when off

	features []string     // module names, for the startup line
	pidFile  string       // removed by Stop
	rt       *mod.Runtime // the modules' handles: started in order, stopped in reverse
	mods     []mod.Module
	svc      services // bytestreams proxy, file upload
	tlsCfg   *tls.Config

	started atomic.Int64 // unix nanoseconds when Start finished (uptime); read by the console's sampler

	stopOnce sync.Once
	stopErr  error
}

// PIDFile is the file in the data folder that holds a running server's
// process id (`ignis bench --server-data` reads it); removed at a clean stop.
const PIDFile = "ignis.pid"

// DomainFile is the file in the data folder naming the domain the server
// last served from it, then its virtual hosts, one a line: the CLI checks
// account JIDs against them.
const DomainFile = "domain"

// New opens the data folder and builds the server; Start makes it listen.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	domain, _ := jid.Parse(cfg.Domain)
	var listeners []reactor.Listener
	if a := cfg.Listen.C2S; a != "" && a != "off" {
		listeners = append(listeners, reactor.Listener{Addr: a})
	}
	if a := cfg.Listen.C2STLS; a != "" && a != "off" {
		listeners = append(listeners, reactor.Listener{Addr: a, DirectTLS: true})
	}
	if len(listeners) == 0 {
		return nil, errors.New("config: listen: every listener is off")
	}
	comps, err := component.New(cfg.componentConfig(domain, log))
	if err != nil {
		return nil, fmt.Errorf("config: component.secrets: %w", err)
	}
	compAt := -1
	if a := cfg.Component.Listen; a != "off" && comps.Configured() {
		compAt = len(listeners)
		listeners = append(listeners, reactor.Listener{Addr: a, Handler: comps.Handler})
	}
	s := &Server{cfg: cfg, log: log, comps: comps, compAt: compAt, webAt: [2]int{-1, -1}}
	listeners = s.addProxy(listeners)
	// the web listener's connections run their own handler on the same loops
	if cfg.Web.Enabled {
		w := &cfg.Web
		s.web, _ = web.New(web.Config{
			Domain:        domain,
			WebSocketPath: w.WebSocketPath,
			BOSHPath:      w.BOSHPath,
			Origins:       w.Origins,
			Limits:        web.Limits{MaxHeaderBytes: w.MaxHeaderBytes, MaxHeaders: w.MaxHeaders, MaxBodyBytes: w.MaxBodyBytes, MaxFrameBytes: w.MaxFrameBytes},
			IdleTimeout:   w.IdleTimeout.Duration,
			BOSH:          web.BOSHConfig{MaxWait: w.BOSHMaxWait.Duration, Inactivity: w.BOSHInactivity.Duration, MaxHold: w.BOSHMaxHold},
			Logger:        log,
		}, s.Serve)
		if a := w.HTTP; a != "" && a != "off" {
			s.webAt[0] = len(listeners)
			listeners = append(listeners, reactor.Listener{Addr: a, Handler: s.web.NewHandler})
		}
		if a := w.HTTPS; a != "" && a != "off" {
			s.webAt[1] = len(listeners)
			listeners = append(listeners, reactor.Listener{Addr: a, DirectTLS: true, Handler: s.web.NewHandler})
		}
	}
	// A port that is taken or not permitted fails the start before anything
	// is written to disk; Start checks again when it binds for real.
	if err := reactor.CheckListen(listeners); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	// offline `ignis user …` reads which domain the folder's accounts are for
	served := domain.String() + "\n"
	if hosts, err := cfg.vhostDomains(); err == nil { // checked by Validate
		for _, h := range hosts {
			served += h.String() + "\n"
		}
	}
	if err := os.WriteFile(filepath.Join(cfg.Data, DomainFile), []byte(served), 0o644); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	cert, created, err := loadOrMakeCert(cfg.TLS.Cert, cfg.TLS.Key, cfg.Data, domain.String())
	if err != nil {
		return nil, err
	}
	if created != "" {
		log.Info("created a self-signed certificate; clients will not trust it: set tls.cert and tls.key for a real one",
			"for", domain.String(), "cert", created, "key", filepath.Join(filepath.Dir(created), "key.pem"))
	}
	vhosts, hostCerts, err := loadVHosts(&cfg, log)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(&store.Options{Dir: cfg.Data, Logger: log})
	if err != nil {
		return nil, err
	}
	s.db, s.cert = db, cert
	conflict := route.Replace
	if cfg.Session.Conflict == "refuse" {
		conflict = route.Refuse
	}
	s.rt = mod.NewRuntime(db, domain, log)
	s.mods = append(modules(deps{db: db, cfg: &cfg, rt: s.rt, srv: s}), comps.Module())
	for _, m := range s.mods {
		if !slices.Contains(s.features, m.Name()) { // a vhost's instance of a service is no new feature
			s.features = append(s.features, m.Name())
		}
	}
	if s.svc.upload != nil {
		if err := s.svc.upload.Load(); err != nil {
			db.Close()
			return nil, fmt.Errorf("upload: %w", err)
		}
	}
	reg := mod.NewRegistry(s.mods...)
	if err := servedOnce(domain, vhosts, reg); err != nil {
		db.Close()
		return nil, err
	}
	s.router = route.New(route.Config{Domain: domain, Domains: vhosts, Conflict: conflict, MaxSessions: cfg.Session.MaxPerUser, Logger: log}, reg)
	comps.Attach(s.router)
	if cfg.S2S.Enabled {
		if s.fed, err = newFederation(&cfg, domain, cert, hostCerts, s.router, log, func() *reactor.Server { return s.reactor }); err != nil {
			db.Close()
			return nil, err
		}
		if a := cfg.S2S.Listen; a != "" && a != "off" {
			s.fed.addr = len(listeners)
			listeners = append(listeners, reactor.Listener{Addr: a, Handler: s.fed.mgr.Incoming, TLS: s.fed.mgr.ListenerTLS()})
			if err := reactor.CheckListen(listeners[s.fed.addr:]); err != nil {
				db.Close()
				return nil, err
			}
		}
	}
	s.stream = &session.Config{
		Domain:           domain,
		Hosts:            vhosts,
		UserKey:          func(u jid.JID) string { return store.UserKey(domain.Domain(), u) },
		HostCerts:        hostCerts.der(),
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
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
		GetCertificate: hostCerts.get}
	s.tlsCfg = tlsCfg
	s.reactor, err = reactor.New(reactor.Config{
		Listeners:        listeners,
		TLS:              tlsCfg,
		Loops:            cfg.Loops,
		MaxPendingOutput: s.stream.Limits.MaxPendingOut,
		CloseTimeout:     cfg.Limits.CloseTimeout.Duration,
		Logger:           log,
	}, func(t session.Transport) session.Handler { return session.New(s.stream, t) })
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Start starts the modules, then binds the admin socket and the listeners.
func (s *Server) Start() error {
	if err := s.rt.Start(context.Background(), s.router, s.mods); err != nil {
		return err
	}
	a, err := listenAdmin(filepath.Join(s.cfg.Data, AdminSocket), func(req AdminRequest) AdminReply { return s.AdminOp(req, "socket", "") })
	if err != nil {
		_ = s.rt.Stop(context.Background())
		return err
	}
	s.admin = a
	if s.cfg.Console.Enabled {
		if s.console, err = newConsole(s); err == nil {
			err = s.console.listen(s.cert)
		}
		if err != nil {
			s.console = nil
			a.Close()
			_ = s.rt.Stop(context.Background())
			return err
		}
	}
	if err := s.startUpload(s.tlsCfg); err != nil {
		if s.console != nil {
			s.console.close(context.Background())
		}
		a.Close()
		_ = s.rt.Stop(context.Background())
		return err
	}
	if err := s.reactor.Start(); err != nil {
		s.stopUpload(context.Background())
		if s.console != nil {
			s.console.close(context.Background())
		}
		a.Close()
		_ = s.rt.Stop(context.Background())
		return err
	}
	pid := filepath.Join(s.cfg.Data, PIDFile)
	if err := os.WriteFile(pid, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		s.log.Warn("pid file not written", "err", err)
	} else {
		s.pidFile = pid
	}
	attrs := []any{"domain", s.cfg.Domain}
	addrs := s.reactor.Addrs()
	i := 0
	if a := s.cfg.Listen.C2S; a != "" && a != "off" {
		attrs = append(attrs, "c2s_starttls", addrs[i].String())
		i++
	}
	if a := s.cfg.Listen.C2STLS; a != "" && a != "off" {
		attrs = append(attrs, "c2s_direct_tls", addrs[i].String())
	}
	if s.compAt >= 0 {
		attrs = append(attrs, "component", addrs[s.compAt].String())
	}
	for _, a := range s.ConsoleAddrs() {
		attrs = append(attrs, "console", a.String())
	}
	if a := s.ProxyAddr(); a != nil {
		attrs = append(attrs, "proxy65", a.String())
	}
	if a := s.UploadAddr(); a != nil {
		attrs = append(attrs, "upload", a.String())
	}
	if h, hs := s.WebAddrs(); h != nil || hs != nil {
		if h != nil {
			attrs = append(attrs, "web_http", h.String())
		}
		if hs != nil {
			attrs = append(attrs, "web_https", hs.String())
		}
	}
	if a := s.S2SAddr(); a != nil {
		attrs = append(attrs, "s2s", a.String())
	}
	attrs = append(attrs, "data", s.cfg.Data, "pid", os.Getpid(),
		"tls_required", s.cfg.TLS.Required,
		"register", registerMode(&s.cfg),
		"archive", s.cfg.Archive.Enabled,
		"compression", s.cfg.Compression.Enabled,
		"modules", strings.Join(s.features, ","))
	s.started.Store(time.Now().UnixNano())
	s.log.Info("ignis started", attrs...)
	return nil
}

// registerMode says who may create accounts in-band (XEP-0077).
func registerMode(c *Config) string {
	switch {
	case c.Register.Enabled:
		return "anyone"
	case c.Register.Loopback:
		return "loopback"
	}
	return "off"
}

// Addrs returns the bound listener addresses, in the order c2s, c2s_tls
// (those that are on).
func (s *Server) Addrs() []net.Addr { return s.reactor.Addrs() }

// WebAddrs returns the bound web listeners (plain HTTP, HTTPS), nil when off.
func (s *Server) WebAddrs() (http, https net.Addr) {
	addrs := s.reactor.Addrs()
	if i := s.webAt[0]; i >= 0 {
		http = addrs[i]
	}
	if i := s.webAt[1]; i >= 0 {
		https = addrs[i]
	}
	return http, https
}

// WebBOSHSessions is how many BOSH sessions are open (0 without [web]).
func (s *Server) WebBOSHSessions() int {
	if s.web == nil {
		return 0
	}
	return s.web.BOSHSessions()
}

// Serve starts a client stream over a transport the server did not accept
// itself (RFC 7395 WebSocket, later BOSH): the caller runs the Handler's
// methods as that transport's event loop would.
func (s *Server) Serve(t session.Transport) session.Handler { return session.New(s.stream, t) }

// ComponentAddr returns the bound address of the component port (XEP-0114),
// nil when it is not open.
func (s *Server) ComponentAddr() net.Addr {
	if s.compAt < 0 {
		return nil
	}
	return s.reactor.Addrs()[s.compAt]
}

// Components returns the external components' service (tests look at who
// is connected).
func (s *Server) Components() *component.Service { return s.comps }

// ConsoleAddrs returns the admin HTTP server's bound addresses, plain
// first, then TLS (those on); none when the console is off.
func (s *Server) ConsoleAddrs() []net.Addr {
	if s.console == nil {
		return nil
	}
	return s.console.addrs()
}

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
// bytes drain, then stops the listeners and loops, stops the modules in
// reverse order and closes the store. Calls after the first wait for it and
// return its result (a signal and a deferred Stop may both ask).
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.stop(ctx) })
	return s.stopErr
}

func (s *Server) stop(ctx context.Context) error {
	if s.fed != nil {
		s.fed.mgr.Close()
	}
	n, err := s.stream.Shutdown(ctx)
	s.comps.Shutdown()
	if err == nil {
		err = s.reactor.WaitClosing(ctx)
	}
	s.log.Info("stopping: sessions closed", "sessions", n)
	if rerr := s.reactor.Stop(ctx); err == nil {
		err = rerr
	}
	s.stream.ExpireDetached() // XEP-0198: unacknowledged messages go to offline storage
	if s.console != nil {
		s.console.close(ctx)
	}
	s.stopUpload(ctx)
	if s.svc.relay != nil {
		s.svc.relay.Close() // the detached bytestreams
	}
	if s.admin != nil {
		s.admin.Close()
	}
	if s.pidFile != "" {
		_ = os.Remove(s.pidFile)
	}
	if merr := s.rt.Stop(ctx); err == nil {
		err = merr
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}
