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
	"strings"

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
	// PreAuth: iq sent on a stream that has not authenticated yet (in-band
	// registration, XEP-0077). The handler runs on the stream's loop and its
	// reply goes back on that stream; ctx.From is nil and ctx.Target is the
	// stream's domain (the primary one or a virtual host).
	PreAuth
	// ToService: iq addressed to a module's service (ctx.Service); disco
	// answers there for every service.
	ToService
)

// IQHandler answers an iq. It returns the reply (usually iq.Result(payload)),
// or a *stanza.Error; any other error becomes internal-server-error. It runs
// on the sender's event loop and must not block: a handler that must wait
// (a synced store write) returns (nil, nil) and later sends its reply with
// ctx.Env.Send from whatever goroutine finishes the work.
type IQHandler func(ctx *Ctx, iq *stanza.Stanza) (*stanza.Stanza, error)

// Ctx is what a handler knows about the stanza it handles. It is valid only
// during the call (the router reuses it): work that outlives the call copies
// the fields it needs (env := ctx.Env) rather than keep ctx.
type Ctx struct {
	Env Env
	// Target is the bare JID the stanza is addressed to (the sender's own bare
	// JID for an iq without 'to'), or the server's domain JID.
	Target jid.JID
	// From is the local session that sent the stanza, or nil when the server
	// itself (a feature) sent it.
	From Resource
	// Secure: for PreAuth handlers, whether the stream is encrypted (a
	// handler may refuse a password in the clear).
	Secure bool
	// Bounce: the stanza is an error the server returns to the sender of a
	// stanza it could not deliver; the sender's own filters do not apply.
	Bounce bool
	// Loopback: for PreAuth handlers, whether the client connected from a
	// loopback address (this machine).
	Loopback bool
	// Service is the service the stanza is addressed to (Target is its
	// domain), or nil.
	Service *Service
	// Remote: the stanza came from another server (s2s), its from is an
	// entity there; the contact's half of RFC 6121 applies to it.
	Remote bool
	// To is the address the stanza is routed to. It is st.To, but for a
	// stanza shared by many receivers (Env.SendTo), whose st.To is zero:
	// hooks on the way to a receiver (filters, inbound presence and
	// message hooks, delivered hooks) read the receiver here, and one that
	// keeps the stanza or sends it on takes Addressed(st).
	To jid.JID
}

// Addressed returns st with c.To as its to, in its bytes too: st itself
// when it has it, else a copy. Only what leaves the process or outlives the
// delivery (an archive, a bounce, a link to another server) pays for it.
func (c *Ctx) Addressed(st *stanza.Stanza) *stanza.Stanza {
	if st.To.Equal(c.To) {
		return st
	}
	return st.WithAddrs(st.From, c.To)
}

// Delivery is one stanza for one receiver. St may be shared by many
// deliveries (a room's broadcast): its bytes carry no 'to', To says who
// this one is for (RFC 6120 §8.1.1.1: a stanza without 'to' that a
// server delivers is for the receiving client). Passed by value.
type Delivery struct {
	To jid.JID
	St *stanza.Stanza
}

// To is the delivery of st to its own 'to'.
func To(st *stanza.Stanza) Delivery { return Delivery{To: st.To, St: st} }

// StreamInfo is what a stream feature's condition may look at.
type StreamInfo struct {
	Secure   bool // TLS is in place
	Loopback bool // the client connected from a loopback address
}

// Resource is a bound session as features see it. Its methods may be called
// from any goroutine.
type Resource interface {
	JID() jid.JID
	Available() bool
	Priority() int8
	// LastPresence is the last undirected available presence the session
	// sent (from stamped), or nil: what a probe is answered with (RFC 6121 §4.3.2).
	LastPresence() *stanza.Stanza
	// Close ends the session with a stream error, after what was already
	// delivered to it (e.g. <not-authorized/> for a deleted account).
	Close(se *stanza.StreamError)
	// Offer queues st for the session like a delivery, unless its pending
	// output is already past half its cap: then it returns false and the
	// caller retries later. Bulk deliveries (offline messages) use it so a
	// long queue never trips the slow-reader limit; a false from a session
	// that is gone is final (check Env.Lookup).
	Offer(st *stanza.Stanza) bool
	// OfferConfirmed is Offer for a stanza whose owner keeps a copy until it
	// is surely handed over (offline storage). Once it returned true, done
	// is called exactly once, on the session's loop (quick, never blocking):
	// ok when the bytes reached the kernel (without XEP-0198) or the client
	// acknowledged the stanza (with it); false when the session ended first,
	// and then st is not routed again: the owner delivers it later.
	OfferConfirmed(st *stanza.Stanza, done func(ok bool)) bool
}

// Direction says which side of a user a stanza is on, for filters.
type Direction uint8

const (
	Outbound Direction = iota + 1 // sent by a local user's session
	Inbound                       // about to be delivered to a local user
)

// Verdict is what a filter decides.
type Verdict uint8

const (
	Pass   Verdict = iota // deliver as usual
	Drop                  // silently drop
	Bounce                // answer the sender with the filter's error
)

// Hooks: typed functions features register; the router calls them in
// registration order. A hook runs on the loop of whoever routes the stanza
// and must not block.
type (
	// PresenceHook sees a presence before the default delivery; returning
	// true means the hook took care of it.
	PresenceHook func(ctx *Ctx, st *stanza.Stanza) (handled bool)
	// ResourceHook is told about a session's availability.
	ResourceHook func(ctx *Ctx, res Resource)
	// MessageHook sees a message that no resource can take; returning true
	// means it was taken care of (stored), false that the sender gets an error.
	MessageHook func(ctx *Ctx, st *stanza.Stanza) (handled bool)
	// MessageRewrite sees a message and returns the one to carry on with:
	// st itself, or a copy with something added (e.g. a XEP-0359 stanza-id).
	// It must not return nil.
	MessageRewrite func(ctx *Ctx, st *stanza.Stanza) *stanza.Stanza
	// DeliveredHook is told which resources a message for a local account
	// was handed to (message carbons send copies to the others). The slice
	// is the router's and valid only during the call.
	DeliveredHook func(ctx *Ctx, st *stanza.Stanza, to []Resource)
	// FilterHook may stop a stanza. user is the local account the direction
	// is relative to: the sender (Outbound) or the recipient (Inbound).
	FilterHook func(ctx *Ctx, st *stanza.Stanza, dir Direction, user jid.JID) (Verdict, *stanza.Error)
)

// Env is routing as features see it; route.Router implements it.
type Env interface {
	// Send routes a stanza the server makes (its from is trusted as is).
	Send(st *stanza.Stanza)
	// SendTo routes st to to as if to were its 'to', whatever st.To is: one
	// stanza built without 'to' is sent to many receivers with no copy
	// each. A copy with the address is made only where one is needed: for
	// another server or a component, offline storage, an archive, a bounce.
	SendTo(to jid.JID, st *stanza.Stanza)
	// Resources calls fn for each bound resource of a bare JID until fn returns false.
	Resources(bare jid.JID, fn func(Resource) bool)
	// Domain is the server's (primary) domain.
	Domain() jid.JID
	// IsLocal reports whether a domain's accounts live on this server: the
	// primary domain or a virtual host.
	IsLocal(domain jid.JID) bool
	// Lookup returns the session bound to a full JID, or nil.
	Lookup(full jid.JID) Resource
	// Resend routes st as if the session from had sent it now: outbound
	// filters and hooks run again. A hook that holds a stanza back (to keep
	// a user's stanzas in order) releases it with Resend.
	Resend(from Resource, st *stanza.Stanza)
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
	accountIDs []Identity
	forms      map[Scope][]InfoForm
	items      []Item
	itemSrc    []func() []Item // entries that come and go (connected components)
	services   []*Service
	modules    []string
	streamFeat [2][]streamFeature // stream features: [0] before authentication, [1] after

	outPresence   []PresenceHook
	inPresence    []PresenceHook
	available     []ResourceHook
	unavailable   []ResourceHook
	undeliverable []MessageHook
	filters       []FilterHook
	outMessage    []MessageRewrite
	inMessage     []MessageRewrite
	delivered     []DeliveredHook
	account       []AccountHook
	nodes         map[nodeKey]DiscoNode // disco nodes (mod/nodes.go)
	accountItems  []AccountItemsFunc    // disco#items of an account's bare JID
}

// Item is a disco#items entry (XEP-0030), e.g. a component, or a node of a
// service (Node set).
type Item struct{ JID, Node, Name string }

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
	for s := ToServer; s <= ToService; s <<= 1 {
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
	for s := ToServer; s <= ToService; s <<= 1 {
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

// InfoForm is an extended disco#info data form (XEP-0128): a result form
// whose hidden FORM_TYPE is Type, with fields in the given order.
type InfoForm struct {
	Type   string
	Fields []InfoField
}

// InfoField is one single-valued field of an InfoForm.
type InfoField struct{ Var, Value string }

// Form adds an extended disco#info form for the given scopes. It panics on a
// second form of one FORM_TYPE in a scope: XEP-0115 §5.4 makes an entity with
// two such forms unhashable.
func (r *Registry) Form(scopes Scope, f InfoForm) {
	if r.forms == nil {
		r.forms = map[Scope][]InfoForm{}
	}
	for s := ToServer; s <= ToService; s <<= 1 {
		if scopes&s == 0 {
			continue
		}
		for _, g := range r.forms[s] {
			if g.Type == f.Type {
				panic("mod: duplicate disco form " + f.Type)
			}
		}
		r.forms[s] = append(r.forms[s], f)
	}
}

// Forms lists the extended disco#info forms of a scope sorted by FORM_TYPE,
// the order XEP-0115's verification string uses.
func (r *Registry) Forms(s Scope) []InfoForm {
	f := slices.Clone(r.forms[s])
	slices.SortFunc(f, func(a, b InfoForm) int { return strings.Compare(a.Type, b.Type) })
	return f
}

// AccountIdentity adds a disco#info identity of every local account, next
// to account/registered (e.g. pubsub/pep, XEP-0163 §6.1).
func (r *Registry) AccountIdentity(id Identity) { r.accountIDs = append(r.accountIDs, id) }

// AccountIdentities lists the identities added with AccountIdentity.
func (r *Registry) AccountIdentities() []Identity { return r.accountIDs }

// Identities lists the server's identities.
func (r *Registry) Identities() []Identity { return r.identities }

// Modules lists the registered modules' names in order.
func (r *Registry) Modules() []string { return r.modules }

// Item adds a disco#items entry of the server.
func (r *Registry) Item(it Item) { r.items = append(r.items, it) }

// Items lists the server's disco#items entries: the fixed ones, then those
// of each ItemSource at the time of the call.
func (r *Registry) Items() []Item {
	if len(r.itemSrc) == 0 {
		return r.items
	}
	out := append([]Item(nil), r.items...)
	for _, fn := range r.itemSrc {
		out = append(out, fn()...)
	}
	return out
}

// ItemSource adds disco#items entries of the server that change while it
// runs (external components come and go); fn may be called from any
// goroutine.
func (r *Registry) ItemSource(fn func() []Item) { r.itemSrc = append(r.itemSrc, fn) }

// AccountItemsFunc lists disco#items entries of the account ctx.Target as
// asker (a bare JID, local or remote) may see them, e.g. its PEP nodes.
type AccountItemsFunc func(ctx *Ctx, asker jid.JID) ([]Item, error)

// AccountItems adds a source of disco#items entries of every local account
// (XEP-0030 §4 on a bare JID; XEP-0060 §5.2 lists PEP nodes there).
func (r *Registry) AccountItems(fn AccountItemsFunc) { r.accountItems = append(r.accountItems, fn) }

// AccountItemSources lists the functions added with AccountItems.
func (r *Registry) AccountItemSources() []AccountItemsFunc { return r.accountItems }

// StreamFeature adds an element to <stream:features/>, before (authed false)
// or after authentication. xml must be one complete element.
func (r *Registry) StreamFeature(authed bool, xml string) { r.StreamFeatureIf(authed, xml, nil) }

// StreamFeatureIf adds a stream feature offered only on streams for which
// when reports true (nil: all).
func (r *Registry) StreamFeatureIf(authed bool, xml string, when func(StreamInfo) bool) {
	i := 0
	if authed {
		i = 1
	}
	r.streamFeat[i] = append(r.streamFeat[i], streamFeature{xml: []byte(xml), when: when})
}

type streamFeature struct {
	xml  []byte
	when func(StreamInfo) bool
}

// StreamFeatures calls fn with each registered stream feature for a stage
// that applies to a stream described by info.
func (r *Registry) StreamFeatures(authed bool, info StreamInfo, fn func(xml []byte)) {
	i := 0
	if authed {
		i = 1
	}
	for _, f := range r.streamFeat[i] {
		if f.when == nil || f.when(info) {
			fn(f.xml)
		}
	}
}

// OutboundPresence registers h for presences a local session sends
// (ctx.From is the session; st.From is stamped).
func (r *Registry) OutboundPresence(h PresenceHook) { r.outPresence = append(r.outPresence, h) }

// InboundPresence registers h for presences addressed to a local account,
// whoever sent them (ctx.From nil when a feature sent them).
func (r *Registry) InboundPresence(h PresenceHook) { r.inPresence = append(r.inPresence, h) }

// OnAvailable registers h for a session's initial available presence.
func (r *Registry) OnAvailable(h ResourceHook) { r.available = append(r.available, h) }

// OnUnavailable registers h for a session that was available and no longer
// is: unavailable presence, stream closed, or connection dropped.
func (r *Registry) OnUnavailable(h ResourceHook) { r.unavailable = append(r.unavailable, h) }

// OnUndeliverable registers h for messages to a local account with no
// resource to take them (RFC 6121 §8.5.2.2): offline storage.
func (r *Registry) OnUndeliverable(h MessageHook) { r.undeliverable = append(r.undeliverable, h) }

// OutboundMessage registers h for messages a local session sends, after the
// outbound filters and before routing (ctx.From is the session).
func (r *Registry) OutboundMessage(h MessageRewrite) { r.outMessage = append(r.outMessage, h) }

// InboundMessage registers h for messages about to reach a local account
// (to its bare or full JID), once per message, before resources are chosen
// or the message is stored offline.
func (r *Registry) InboundMessage(h MessageRewrite) { r.inMessage = append(r.inMessage, h) }

// OnDelivered registers h for messages handed to one or more resources of
// a local account.
func (r *Registry) OnDelivered(h DeliveredHook) { r.delivered = append(r.delivered, h) }

// RunOutboundMessage passes st through the outbound message hooks.
func (r *Registry) RunOutboundMessage(ctx *Ctx, st *stanza.Stanza) *stanza.Stanza {
	for _, h := range r.outMessage {
		st = h(ctx, st)
	}
	return st
}

// RunInboundMessage passes st through the inbound message hooks.
func (r *Registry) RunInboundMessage(ctx *Ctx, st *stanza.Stanza) *stanza.Stanza {
	for _, h := range r.inMessage {
		st = h(ctx, st)
	}
	return st
}

// RunDelivered tells the delivered hooks.
func (r *Registry) RunDelivered(ctx *Ctx, st *stanza.Stanza, to []Resource) {
	for _, h := range r.delivered {
		h(ctx, st, to)
	}
}

// HasDelivered reports whether any delivered hook is registered.
func (r *Registry) HasDelivered() bool { return len(r.delivered) > 0 }

// Filter registers h to vet stanzas leaving and reaching local users
// (blocking, privacy lists).
func (r *Registry) Filter(h FilterHook) { r.filters = append(r.filters, h) }

// RunOutboundPresence runs the outbound presence hooks until one handles st.
func (r *Registry) RunOutboundPresence(ctx *Ctx, st *stanza.Stanza) bool {
	for _, h := range r.outPresence {
		if h(ctx, st) {
			return true
		}
	}
	return false
}

// RunInboundPresence runs the inbound presence hooks until one handles st.
func (r *Registry) RunInboundPresence(ctx *Ctx, st *stanza.Stanza) bool {
	for _, h := range r.inPresence {
		if h(ctx, st) {
			return true
		}
	}
	return false
}

// RunAvailable tells every OnAvailable hook.
func (r *Registry) RunAvailable(ctx *Ctx, res Resource) {
	for _, h := range r.available {
		h(ctx, res)
	}
}

// RunUnavailable tells every OnUnavailable hook.
func (r *Registry) RunUnavailable(ctx *Ctx, res Resource) {
	for _, h := range r.unavailable {
		h(ctx, res)
	}
}

// RunUndeliverable offers st to the undeliverable hooks until one takes it.
func (r *Registry) RunUndeliverable(ctx *Ctx, st *stanza.Stanza) bool {
	for _, h := range r.undeliverable {
		if h(ctx, st) {
			return true
		}
	}
	return false
}

// RunFilters applies the filters; the first verdict other than Pass wins.
func (r *Registry) RunFilters(ctx *Ctx, st *stanza.Stanza, dir Direction, user jid.JID) (Verdict, *stanza.Error) {
	for _, h := range r.filters {
		if v, e := h(ctx, st, dir, user); v != Pass {
			return v, e
		}
	}
	return Pass, nil
}

// HasFilters reports whether any filter is registered (the router skips the
// work otherwise).
func (r *Registry) HasFilters() bool { return len(r.filters) > 0 }
