package route

import (
	"fmt"
	"sync"
	"sync/atomic"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// Remote is a route to a domain served elsewhere: a server-to-server link,
// an external component (XEP-0114), another cluster node. The package that
// runs the link implements it and adds it with Router.AddRemote.
type Remote interface {
	// Send hands st (from stamped, outbound filters applied) to the link. It
	// may be called from any goroutine and must not block; false means the
	// link cannot take it and the sender gets remote-server-not-found.
	Send(st *stanza.Stanza) bool
}

// hostKind says who answers for a domain.
type hostKind uint8

const (
	hostNone    hostKind = iota // nobody: remote-server-not-found (RFC 6120 §10.4.3)
	hostLocal                   // a local domain: accounts and the server itself
	hostService                 // a module's service
	hostRemote                  // a link to elsewhere
)

type host struct {
	kind   hostKind
	domain jid.JID
	svc    *mod.Service
	remote Remote
}

// hosts is the host table: domain → who answers. Reads are lock-free (the
// map is replaced, never changed, on every write), since every routed stanza
// to another domain reads it and links come and go rarely.
type hosts struct {
	primary string // the server's domain: the common case, compared first
	local   host
	m       atomic.Pointer[map[string]*host]
	mu      sync.Mutex // serialises writers
}

func (h *hosts) init(primary jid.JID, extra []jid.JID, svcs []*mod.Service) error {
	h.primary = primary.Domain()
	h.local = host{kind: hostLocal, domain: primary}
	m := map[string]*host{}
	add := func(e *host) error {
		d := e.domain.Domain()
		if d == h.primary || m[d] != nil {
			return fmt.Errorf("route: domain %s is served twice", d)
		}
		m[d] = e
		return nil
	}
	for _, d := range extra {
		if err := add(&host{kind: hostLocal, domain: d}); err != nil {
			return err
		}
	}
	for _, s := range svcs {
		d, err := s.Domain(primary)
		if err != nil {
			return err
		}
		if err := add(&host{kind: hostService, domain: d, svc: s}); err != nil {
			return err
		}
	}
	h.m.Store(&m)
	return nil
}

// lookup finds who answers for a domain; nil means nobody.
func (h *hosts) lookup(domain string) *host {
	if domain == h.primary {
		return &h.local
	}
	return (*h.m.Load())[domain]
}

// update replaces the table with a changed copy.
func (h *hosts) update(fn func(m map[string]*host) error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.m.Load()
	m := make(map[string]*host, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	if err := fn(m); err != nil {
		return err
	}
	h.m.Store(&m)
	return nil
}

// AddRemote routes stanzas for domain to rt. A domain served here (local or
// a service) cannot be taken over; an existing remote route is replaced.
func (r *Router) AddRemote(domain jid.JID, rt Remote) error {
	d := domain.Domain()
	return r.hosts.update(func(m map[string]*host) error {
		if e := m[d]; d == r.hosts.primary || (e != nil && e.kind != hostRemote) {
			return fmt.Errorf("route: %s is served here", d)
		}
		m[d] = &host{kind: hostRemote, domain: domain, remote: rt}
		return nil
	})
}

// RemoveRemote removes the remote route of domain, if it is rt (a newer
// link may have replaced it).
func (r *Router) RemoveRemote(domain jid.JID, rt Remote) {
	d := domain.Domain()
	_ = r.hosts.update(func(m map[string]*host) error {
		if e := m[d]; e != nil && e.kind == hostRemote && e.remote == rt {
			delete(m, d)
		}
		return nil
	})
}

// SetFallback makes rt the route of every domain without one here (the
// server-to-server manager), instead of remote-server-not-found. Call it
// before the router serves.
func (r *Router) SetFallback(rt Remote) { r.fallback = rt }

// Serves reports whether a domain is answered here: its accounts, the
// server itself, or a service (what a remote server may address).
func (r *Router) Serves(domain string) bool {
	h := r.hosts.lookup(domain)
	return h != nil && h.kind != hostRemote
}

// IsLocal reports whether a domain's accounts live on this server.
func (r *Router) IsLocal(domain jid.JID) bool {
	h := r.hosts.lookup(domain.Domain())
	return h != nil && h.kind == hostLocal
}

// Hosts lists the further local domains (virtual hosts), in no order.
func (r *Router) Hosts() []jid.JID {
	var out []jid.JID
	for _, h := range *r.hosts.m.Load() {
		if h.kind == hostLocal {
			out = append(out, h.domain)
		}
	}
	return out
}

// ServiceDomains lists the domains of the registered services, in the order
// they registered (disco#items of the server).
func (r *Router) ServiceDomains() []jid.JID {
	var out []jid.JID
	for _, s := range r.reg.Services() {
		if d, err := s.Domain(r.cfg.Domain); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// toService hands a stanza addressed to a service's domain (or a JID under
// it) to the service. Disco of the service's own domain is answered by the
// ToService handlers (mod/disco) from what the service declared.
func (r *Router) toService(ctx *mod.Ctx, h *host, st *stanza.Stanza) {
	svc := h.svc
	ctx.Service, ctx.Target = svc, h.domain
	switch st.Kind {
	case stanza.IQ:
		if st.Type == stanza.Result || st.Type == stanza.TypeError {
			if svc.IQ != nil {
				_, _ = svc.IQ(ctx, st) // an answer to the service's own request
			}
			return
		}
		p := st.Payload()
		if p.IsZero() {
			r.bounce(st, stanza.ErrText(stanza.BadRequest, "iq of type get or set needs exactly one child"))
			return
		}
		ns, local := string(p.NS()), string(p.Local())
		if st.To.Local() == "" && st.To.Resource() == "" {
			if hd, ok := r.reg.LookupIQ(mod.ToService, st.Type, ns, local); ok {
				r.answer(ctx, st, hd, ns, local)
				return
			}
		}
		if svc.IQ == nil {
			r.bounce(st, stanza.Err(stanza.ServiceUnavailable))
			return
		}
		r.answer(ctx, st, svc.IQ, ns, local)
	case stanza.Message:
		if svc.Message == nil {
			r.bounce(st, stanza.Err(stanza.ServiceUnavailable))
			return
		}
		svc.Message(ctx, st)
	case stanza.Presence:
		if svc.Presence != nil {
			svc.Presence(ctx, st)
		}
	}
}
