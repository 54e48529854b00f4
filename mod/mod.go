// Package mod is the contract between the router and the feature packages
// under mod/ (roster, disco, ping, …): the Registry features register their
// handlers, disco features and identities with, the Ctx a handler runs in, and
// the Env through which features reach back into routing.
//
// Features never import route, session, reactor or one another; they share
// data through store and events through the Registry's typed hooks.
package mod

import (
	"fmt"
	"slices"

	"ignis/jid"
	"ignis/stanza"
)

// Scope says which addressee an iq handler serves.
type Scope uint8

const (
	// ToServer: iq addressed to the server's domain.
	ToServer Scope = 1 << iota
	// ToAccount: iq addressed to a local account's bare JID, or with no 'to'
	// (RFC 6120 §10.3.3: handled on behalf of the sender's own account).
	ToAccount
)

// IQHandler answers an iq. It returns the reply (usually iq.Result(payload)),
// or a *stanza.Error; any other error becomes internal-server-error. It runs
// on the sender's event loop and must not block.
type IQHandler func(ctx *Ctx, iq *stanza.Stanza) (*stanza.Stanza, error)

// Ctx is what a handler knows about the stanza it handles.
type Ctx struct {
	Env Env
	// Target is the bare JID the stanza is addressed to (the sender's own bare
	// JID for an iq without 'to'), or the server's domain JID.
	Target jid.JID
}

// Resource is a bound session as features see it.
type Resource interface {
	JID() jid.JID
	Available() bool
	Priority() int8
}

// Env is routing as features see it; route.Router implements it.
type Env interface {
	// Send routes a stanza the server makes (its from is trusted as is).
	Send(st *stanza.Stanza)
	// Resources calls fn for each bound resource of a bare JID until fn returns false.
	Resources(bare jid.JID, fn func(Resource) bool)
	// Domain is the server's domain.
	Domain() jid.JID
}

// Module is a feature package's entry point.
type Module interface {
	Name() string
	Register(r *Registry)
}

// Identity is a disco#info identity (XEP-0030).
type Identity struct{ Category, Type, Name string }

type iqKey struct {
	scope Scope
	typ   stanza.Type
	ns    string
	local string
}

// Registry collects handlers, disco features and identities at start-up. It
// is filled before the server starts and read-only afterwards, so lookups
// take no lock.
type Registry struct {
	iq         map[iqKey]IQHandler
	features   map[Scope][]string
	identities []Identity
	modules    []string
}

// NewRegistry registers each module.
func NewRegistry(mods ...Module) *Registry {
	r := &Registry{iq: map[iqKey]IQHandler{}, features: map[Scope][]string{}}
	for _, m := range mods {
		r.modules = append(r.modules, m.Name())
		m.Register(r)
	}
	return r
}

// IQ registers h for iqs of type t whose child is {ns}local, for every scope
// in scopes. It panics on a duplicate: two features must not claim one
// namespace.
func (r *Registry) IQ(scopes Scope, t stanza.Type, ns, local string, h IQHandler) {
	for s := ToServer; s <= ToAccount; s <<= 1 {
		if scopes&s == 0 {
			continue
		}
		k := iqKey{s, t, ns, local}
		if _, dup := r.iq[k]; dup {
			panic(fmt.Sprintf("mod: duplicate iq handler for %s {%s}%s", t, ns, local))
		}
		r.iq[k] = h
	}
}

// LookupIQ finds the handler for an iq in a scope.
func (r *Registry) LookupIQ(s Scope, t stanza.Type, ns, local string) (IQHandler, bool) {
	h, ok := r.iq[iqKey{s, t, ns, local}]
	return h, ok
}

// HandlesNS reports whether any handler in scope s serves namespace ns (for
// telling feature-not-implemented from service-unavailable).
func (r *Registry) HandlesNS(s Scope, ns string) bool {
	for k := range r.iq {
		if k.scope == s && k.ns == ns {
			return true
		}
	}
	return false
}

// Feature adds a disco#info feature var for the given scopes.
func (r *Registry) Feature(scopes Scope, v string) {
	for s := ToServer; s <= ToAccount; s <<= 1 {
		if scopes&s != 0 && !slices.Contains(r.features[s], v) {
			r.features[s] = append(r.features[s], v)
		}
	}
}

// Identity adds a disco#info identity of the server.
func (r *Registry) Identity(id Identity) { r.identities = append(r.identities, id) }

// Features lists the disco features of a scope, sorted.
func (r *Registry) Features(s Scope) []string {
	f := slices.Clone(r.features[s])
	slices.Sort(f)
	return f
}

// Identities lists the server's identities.
func (r *Registry) Identities() []Identity { return r.identities }

// Modules lists the registered modules' names in order.
func (r *Registry) Modules() []string { return r.modules }
