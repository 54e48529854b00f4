// Package component accepts external components (XEP-0114, Jabber Component
// Protocol): a trusted program (a gateway, a bot framework) connects to the
// component port, opens a jabber:component:accept stream to the domain it
// serves and proves the shared secret with <handshake/>, the hex SHA-1 of the
// stream id followed by the secret. The domain then joins the router's host
// table as a route.Remote: everything addressed to it or to a JID under it is
// written to the component, and what the component sends (with a from in its
// domain) is routed like any server-made stanza.
//
// A Service holds the configured secrets and the connected components; a
// Conn is one component stream, driven by reactor like a client stream.
//
// Ownership: a Conn belongs to its connection's event loop. Every method runs
// on that loop except Send, which may be called from any goroutine and touches
// only the outbox, under its own lock. The Service's table of connected
// components is guarded by its mutex.
package component

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/route"
	"ignis/session"
	"ignis/xmlscan"
)

// Config configures a Service. Zero limits take defaults.
type Config struct {
	// Domain is the server's domain: a secret's name without a dot is a
	// label in front of it ("gw" is gw.DOMAIN), as for services.
	Domain jid.JID
	// Secrets maps each component's domain to its shared secret.
	Secrets map[string]string
	Limits  Limits
	Logger  *slog.Logger
}

// Limits bound what one component stream can cost the server.
type Limits struct {
	// Scan bounds each element after the handshake (the client streams'
	// [limits]); zero fields take the tokenizer's defaults. Over them the
	// stream ends with <policy-violation/>.
	Scan xmlscan.Limits
	// MaxPendingOut is how many bytes may wait for a slow component in its
	// outbox; default 1 MiB. Past it stanzas to the component bounce with
	// <remote-server-not-found/>; past the connection's own output cap the
	// stream ends with <policy-violation/>.
	MaxPendingOut int
	// HandshakeTimeout is the time from accept to a good handshake; default
	// 30 s, then <connection-timeout/>.
	HandshakeTimeout time.Duration
}

// preAuthBytes bounds an element before the handshake: the handshake is 40
// hex digits and a tag.
const preAuthBytes = 1 << 10

// EnsureDefaults fills in zero fields.
func (l *Limits) EnsureDefaults() {
	if l.MaxPendingOut == 0 {
		l.MaxPendingOut = 1 << 20
	}
	if l.HandshakeTimeout == 0 {
		l.HandshakeTimeout = 30 * time.Second
	}
}

// Service accepts the component streams of one server.
type Service struct {
	cfg     Config
	log     *slog.Logger
	secrets map[string][]byte // component domain → secret
	router  *route.Router     // set by Attach before the port opens

	mu struct {
		sync.Mutex
		conns map[string]*Conn // connected components by domain
	}
}

// New checks the configuration and returns a Service without a router;
// Attach gives it one before its port opens.
func New(cfg Config) (*Service, error) {
	cfg.Limits.EnsureDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{cfg: cfg, log: cfg.Logger, secrets: map[string][]byte{}}
	s.mu.conns = map[string]*Conn{}
	for name, secret := range cfg.Secrets {
		d, err := Domain(name, cfg.Domain)
		if err != nil {
			return nil, err
		}
		if secret == "" {
			return nil, fmt.Errorf("component %s: the secret is empty", d)
		}
		if _, dup := s.secrets[d.Domain()]; dup {
			return nil, fmt.Errorf("component %s: named twice", d)
		}
		s.secrets[d.Domain()] = []byte(secret)
	}
	return s, nil
}

// Domain resolves a component's configured name against the server's domain.
func Domain(name string, server jid.JID) (jid.JID, error) {
	host := name
	if !strings.Contains(host, ".") {
		host += "." + server.Domain()
	}
	d, err := jid.Parse(host)
	if err != nil || d.Local() != "" || d.Resource() != "" {
		return jid.JID{}, fmt.Errorf("component %q: not a domain name", name)
	}
	if d.Equal(server) {
		return jid.JID{}, fmt.Errorf("component %q: the server's own domain", name)
	}
	return d, nil
}

// Attach gives the Service the router that components join.
func (s *Service) Attach(r *route.Router) { s.router = r }

// Configured reports whether any component has a secret (the port is
// worth opening).
func (s *Service) Configured() bool { return len(s.secrets) > 0 }

// Handler starts a component stream over t; it is the component listener's
// reactor.NewHandler.
func (s *Service) Handler(t session.Transport) session.Handler { return newConn(s, t) }

// Connected lists the domains of the connected components, sorted.
func (s *Service) Connected() []jid.JID {
	s.mu.Lock()
	out := make([]jid.JID, 0, len(s.mu.conns))
	for _, c := range s.mu.conns {
		out = append(out, c.domain)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b jid.JID) int { return strings.Compare(a.Domain(), b.Domain()) })
	return out
}

// errTaken: the domain already has a component connected.
var errTaken = errors.New("component: already connected")

// join makes c the component of its domain, refusing a second connection
// while the first lives (Prosody's default, component_conflict_resolve =
// kick_new: a stray restart cannot cut off a working gateway).
func (s *Service) join(c *Conn) error {
	d := c.domain.Domain()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.conns[d] != nil {
		return errTaken
	}
	if err := s.router.AddRemote(c.domain, c); err != nil {
		return err
	}
	s.mu.conns[d] = c
	return nil
}

// leave takes c's domain out of the host table if c still holds it.
func (s *Service) leave(c *Conn) {
	d := c.domain.Domain()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.conns[d] == c {
		delete(s.mu.conns, d)
		s.router.RemoveRemote(c.domain, c)
	}
}

// Shutdown ends every connected component's stream with <system-shutdown/>
// (on its loop, soon after); the server calls it as it stops, before it
// waits for closing connections.
func (s *Service) Shutdown() {
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.mu.conns))
	for _, c := range s.mu.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.out.mu.Lock()
		c.out.ending = true
		c.out.mu.Unlock()
		c.tr.Wake()
	}
}

// Module lists the connected components in the server's disco#items
// (XEP-0030; XEP-0114 leaves discovery to the server).
func (s *Service) Module() mod.Module { return discoItems{s} }

type discoItems struct{ s *Service }

func (discoItems) Name() string { return "component" }

func (m discoItems) Register(r *mod.Registry) {
	r.ItemSource(func() []mod.Item {
		var out []mod.Item
		for _, d := range m.s.Connected() {
			out = append(out, mod.Item{JID: d.String()})
		}
		return out
	})
}
