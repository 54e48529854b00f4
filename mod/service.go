package mod

import (
	"fmt"
	"strings"

	"ignis/jid"
	"ignis/stanza"
)

// Service is an addressable entity of its own that a module runs at a
// domain next to the server's (conference.DOMAIN, pubsub.DOMAIN, …): the
// router hands it every stanza addressed to that domain or to a JID under it.
// A service answers with ctx.Env.Send (from its own domain).
type Service struct {
	// Host is the service's domain. A single label ("conference") is put in
	// front of Parent; a name with a dot is taken as it is.
	Host string
	// Parent is the local domain the service belongs to (a virtual host):
	// disco#items of that domain lists it. Empty is the primary domain.
	Parent string
	// Identities and Features answer disco#info of the service (XEP-0030).
	Identities []Identity
	Features   []string
	// Forms are extended disco#info forms of the service (XEP-0128), e.g.
	// the upload service's max-file-size (XEP-0363 §4).
	Forms []InfoForm
	// Items, if set, lists the service's disco#items (e.g. rooms).
	Items func(ctx *Ctx) []Item

	// Message and Presence receive what is sent to the service; nil drops it
	// (a message that is not an error gets service-unavailable).
	Message  func(ctx *Ctx, st *stanza.Stanza)
	Presence func(ctx *Ctx, st *stanza.Stanza)
	// IQ answers iqs of type get or set other than disco, like an IQHandler;
	// nil answers service-unavailable.
	IQ IQHandler
}

// Domain resolves Host against its parent domain (server, the primary
// domain, when Parent is empty).
func (s *Service) Domain(server jid.JID) (jid.JID, error) {
	host := s.Host
	if !strings.Contains(host, ".") {
		host += "." + s.ParentDomain(server)
	}
	d, err := jid.Parse(host)
	if err != nil || d.Local() != "" || d.Resource() != "" {
		return jid.JID{}, fmt.Errorf("mod: service host %q is not a domain", s.Host)
	}
	return d, nil
}

// ParentDomain is the local domain the service belongs to: Parent, or the
// server's (primary) domain.
func (s *Service) ParentDomain(server jid.JID) string {
	if s.Parent != "" {
		return s.Parent
	}
	return server.Domain()
}

// Service registers a service; the router gives it its domain.
func (r *Registry) Service(s *Service) {
	if s.Host == "" {
		panic("mod: service without a host")
	}
	r.services = append(r.services, s)
}

// Services lists the registered services in registration order.
func (r *Registry) Services() []*Service { return r.services }
