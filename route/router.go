// Package route delivers stanzas: the sharded session table and the rules of
// RFC 6120 §10 and RFC 6121 §8 for message, presence and iq addressed to a
// full JID, a bare JID, the server itself, or nobody. Stanzas for the server
// go to the feature handlers registered in a mod.Registry.
package route

import (
	"errors"
	"log/slog"
	"sync"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// Config configures a Router. Zero fields take defaults.
type Config struct {
	Domain   jid.JID        // the server's domain (required)
	Domains  []jid.JID      // further local domains (virtual hosts)
	Conflict ConflictPolicy // what binding a bound full JID does; default Replace
	// MaxSessions caps the resources bound per account; 0 is no limit.
	MaxSessions int
	Logger      *slog.Logger
}

// Router applies the delivery rules. It is safe for concurrent use: Route runs
// on the sender's event loop, Deliver crosses to the recipient's.
type Router struct {
	cfg   Config
	table *Table
	hosts hosts
	ctxs  sync.Pool // of *mod.Ctx, for Route and Send
	lists sync.Pool // of *[]mod.Resource, for the delivered hooks
	reg   *mod.Registry
	log   *slog.Logger
	// fallback takes stanzas for domains nobody here serves (the
	// server-to-server links); nil bounces them
	fallback Remote
}

// New returns a Router over a new Table, serving cfg's domains and the
// services reg holds. It panics if two of them claim one domain or a
// service's host is not a domain: both are mistakes in the wiring.
func New(cfg Config, reg *mod.Registry) *Router {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Router{cfg: cfg, table: NewTable(), reg: reg, log: cfg.Logger}
	r.ctxs.New = func() any { return &mod.Ctx{Env: r} }
	r.lists.New = func() any { s := make([]mod.Resource, 0, 8); return &s }
	if err := r.hosts.init(cfg.Domain, cfg.Domains, reg.Services()); err != nil {
		panic(err)
	}
	return r
}

// Table returns the session table.
func (r *Router) Table() *Table { return r.table }

// Domain implements mod.Env.
func (r *Router) Domain() jid.JID { return r.cfg.Domain }

// Registry returns the feature registry.
func (r *Router) Registry() *mod.Registry { return r.reg }

// Lookup implements mod.Env.
func (r *Router) Lookup(full jid.JID) mod.Resource {
	if e := r.table.Lookup(full); e != nil {
		return e
	}
	return nil
}

// Resend implements mod.Env.
func (r *Router) Resend(from mod.Resource, st *stanza.Stanza) {
	if e, ok := from.(Endpoint); ok {
		r.Route(e, st)
	}
}

// Available tells the features that e sent its initial presence.
func (r *Router) Available(e Endpoint) {
	r.reg.RunAvailable(&mod.Ctx{Env: r, From: e, Target: e.JID().Bare()}, e)
}

// Unavailable tells the features that e is no longer available (unavailable
// presence, or the stream ended).
func (r *Router) Unavailable(e Endpoint) {
	r.reg.RunUnavailable(&mod.Ctx{Env: r, From: e, Target: e.JID().Bare()}, e)
}

// Bind binds e (see Table.Bind); a replaced endpoint is told so.
func (r *Router) Bind(e Endpoint) error {
	old, err := r.table.BindAtMost(e, r.cfg.Conflict, r.cfg.MaxSessions)
	if old != nil {
		old.Replaced()
	}
	return err
}

// Unbind removes e from the table.
func (r *Router) Unbind(e Endpoint) { r.table.Unbind(e) }

// Resources implements mod.Env.
func (r *Router) Resources(bare jid.JID, fn func(mod.Resource) bool) {
	r.table.Resources(bare, func(e Endpoint) bool { return fn(e) })
}

// Send implements mod.Env: a stanza the server made, with a trusted from.
// It may be called from any goroutine. The Ctx is pooled as Route's: a
// room's broadcast is a Send per receiver, and a fresh one each was a sixth
// of what a wave of joins allocated.
func (r *Router) Send(st *stanza.Stanza) { r.SendTo(st.To, st) }

// SendTo implements mod.Env: Send, to to whatever st.To is. The rules read
// the receiver in ctx.To; a stanza shared by a room's occupants reaches a
// local session as it is, so a broadcast to n allocates nothing per
// receiver (a header each was over half of what a wave of joins to a room
// of 1,000 allocated). Where the address must be in the stanza (a link to
// another server, a service, offline storage, a bounce) ctx.Addressed
// makes the one copy there.
func (r *Router) SendTo(to jid.JID, st *stanza.Stanza) {
	ctx := r.ctxs.Get().(*mod.Ctx)
	*ctx = mod.Ctx{Env: r}
	r.route(ctx, to, st)
	*ctx = mod.Ctx{Env: r}
	r.ctxs.Put(ctx)
}

// Receive delivers a stanza another server sent (the s2s links checked
// its addresses); presence hooks see it with Ctx.Remote set.
func (r *Router) Receive(st *stanza.Stanza) {
	r.route(&mod.Ctx{Env: r, Remote: true}, st.To, st)
}

// Route delivers a stanza a client sent. from is the sender's endpoint; the
// stanza's from is stamped with its full JID whatever the client wrote
// (RFC 6120 §8.1.2.1); a session that stamped it while copying the stanza
// out of its read buffer (stanza.FromFrameAs) spares the second copy.
// Outbound filters and presence hooks run first.
func (r *Router) Route(from Endpoint, st *stanza.Stanza) {
	st = st.WithAddrs(from.JID(), st.To)
	// the Ctx is pooled: routing a chat message allocates nothing
	ctx := r.ctxs.Get().(*mod.Ctx)
	*ctx = mod.Ctx{Env: r, From: from, To: st.To}
	r.routeFrom(ctx, from, st)
	*ctx = mod.Ctx{Env: r} // Env stays: a hook that kept ctx by mistake still routes
	r.ctxs.Put(ctx)
}

func (r *Router) routeFrom(ctx *mod.Ctx, from Endpoint, st *stanza.Stanza) {
	if r.reg.HasFilters() {
		switch v, e := r.reg.RunFilters(ctx, st, mod.Outbound, from.JID().Bare()); v {
		case mod.Drop:
			return
		case mod.Bounce:
			r.bounce(st, e)
			return
		}
	}
	switch st.Kind {
	case stanza.Presence:
		if r.reg.RunOutboundPresence(ctx, st) {
			return
		}
	case stanza.Message:
		st = r.reg.RunOutboundMessage(ctx, st)
	}
	r.route(ctx, st.To, st)
}

// inboundAllowed runs the recipient account's filters on a message before
// features see it (archive, offline storage); a refused message is dropped
// or bounced here and false returned.
func (r *Router) inboundAllowed(ctx *mod.Ctx, st *stanza.Stanza) bool {
	if !r.reg.HasFilters() || ctx.Bounce {
		return true
	}
	switch v, err := r.reg.RunFilters(ctx, st, mod.Inbound, ctx.To.Bare()); v {
	case mod.Drop:
		return false
	case mod.Bounce:
		r.bounce(ctx.Addressed(st), err)
		return false
	}
	return true
}

// deliver hands st to e after the inbound filters. done reports that the
// stanza was taken care of (handed over, or refused by a filter that the
// recipient set); handed that e really got it.
func (r *Router) deliver(ctx *mod.Ctx, e Endpoint, st *stanza.Stanza) (done, handed bool) {
	if r.reg.HasFilters() && !ctx.Bounce {
		switch v, err := r.reg.RunFilters(ctx, st, mod.Inbound, e.JID().Bare()); v {
		case mod.Drop:
			return true, false // the recipient does not want it
		case mod.Bounce:
			r.bounce(ctx.Addressed(st), err)
			return true, false
		}
	}
	ok := e.Deliver(st)
	return ok, ok
}

// route delivers st to to, which is st.To or, for a stanza shared by many
// receivers (SendTo), this receiver's address; the rules read it in ctx.To.
// Local sessions get st as it is; the other ways take an addressed copy.
func (r *Router) route(ctx *mod.Ctx, to jid.JID, st *stanza.Stanza) {
	ctx.To = to
	if to.IsZero() {
		r.toNobody(ctx, st)
		return
	}
	h := r.hosts.lookup(to.Domain())
	switch {
	case h == nil:
		st = ctx.Addressed(st) // a stream to another server needs the 'to'
		if r.fallback != nil && r.fallback.Send(st) {
			return
		}
		// no link to that domain: RFC 6120 §10.4.3
		r.bounce(st, stanza.Err(stanza.RemoteServerNotFound))
	case h.kind == hostService:
		r.toService(ctx, h, ctx.Addressed(st))
	case h.kind == hostRemote:
		if st = ctx.Addressed(st); !h.remote.Send(st) {
			r.bounce(st, stanza.Err(stanza.RemoteServerNotFound))
		}
	case to.Local() == "":
		st = ctx.Addressed(st)
		if to.Resource() != "" {
			r.bounce(st, stanza.Err(stanza.ServiceUnavailable))
			return
		}
		r.toServer(ctx, h, st)
	case to.IsBare():
		r.toBare(ctx, st)
	default:
		r.toFull(ctx, st)
	}
}

// toNobody: no 'to' (RFC 6120 §10.3). An iq is for the sender's own account;
// a message is as if sent to the sender's bare JID; a presence is a broadcast.
func (r *Router) toNobody(ctx *mod.Ctx, st *stanza.Stanza) {
	if ctx.From == nil {
		return // the server never sends to nobody
	}
	self := ctx.From.JID().Bare()
	switch st.Kind {
	case stanza.IQ:
		r.dispatchIQ(ctx, st, self, mod.ToAccount)
	case stanza.Message:
		r.toBare(ctx, r.readdress(ctx, st, self))
	case stanza.Presence:
		r.broadcast(ctx, st)
	}
}

// broadcast sends an undirected presence to the user's available resources,
// the sender's own included (RFC 6121 §4.2.2, §4.4.2); contacts come with
// the roster. An unavailable presence also reaches the resource going away.
func (r *Router) broadcast(ctx *mod.Ctx, st *stanza.Stanza) {
	if st.Type != stanza.TypeNone && st.Type != stanza.Unavailable {
		return
	}
	r.table.Resources(ctx.From.JID().Bare(), func(e Endpoint) bool {
		if e.Available() || e == ctx.From {
			ctx.To = e.JID()
			r.deliver(ctx, e, st.WithAddrs(st.From, e.JID()))
		}
		return true
	})
}

// readdress is st sent on to another address (a full JID's bare one): the
// copy carries it, and the rules read it in ctx.To from now on.
func (r *Router) readdress(ctx *mod.Ctx, st *stanza.Stanza, to jid.JID) *stanza.Stanza {
	ctx.To = to
	return st.WithAddrs(st.From, to)
}

func (r *Router) toServer(ctx *mod.Ctx, h *host, st *stanza.Stanza) {
	if st.Kind == stanza.IQ {
		r.dispatchIQ(ctx, st, h.domain, mod.ToServer)
	}
	// messages and presences to the domain itself are not served yet
}

func (r *Router) toFull(ctx *mod.Ctx, st *stanza.Stanza) {
	if st.Kind == stanza.Presence && r.reg.RunInboundPresence(ctx, st) {
		return
	}
	if e := r.table.Lookup(ctx.To); e != nil {
		if st.Kind == stanza.Message && !ctx.Bounce {
			if !r.inboundAllowed(ctx, st) {
				return
			}
			st = r.reg.RunInboundMessage(ctx, st)
			done, handed := r.deliver(ctx, e, st)
			if handed && r.reg.HasDelivered() {
				r.delivered(ctx, st, e)
			}
			if !done && st.Type != stanza.Headline && st.Type != stanza.Groupchat {
				// refused by a session that is ending over its output cap: as
				// for a resource that is gone, RFC 6121 §8.5.2.2 (offline
				// storage), or the sender learns it was not delivered
				full := ctx.Addressed(st)
				if !r.reg.RunUndeliverable(ctx, r.readdress(ctx, st, ctx.To.Bare())) {
					r.bounce(full, stanza.Err(stanza.ServiceUnavailable))
				}
			}
			return
		}
		r.deliver(ctx, e, st)
		return
	}
	// RFC 6121 §8.5.3.2: no such resource
	switch st.Kind {
	case stanza.Message:
		switch st.Type {
		case stanza.TypeNone, stanza.Normal, stanza.Chat, stanza.Headline:
			r.toBare(ctx, r.readdress(ctx, st, ctx.To.Bare()))
		case stanza.Groupchat:
			r.bounce(ctx.Addressed(st), stanza.Err(stanza.ServiceUnavailable))
		}
	case stanza.Presence:
		switch st.Type {
		case stanza.Subscribe, stanza.Subscribed, stanza.Unsubscribe, stanza.Unsubscribed:
			r.toBare(ctx, r.readdress(ctx, st, ctx.To.Bare()))
		}
	case stanza.IQ:
		r.bounce(ctx.Addressed(st), stanza.Err(stanza.ServiceUnavailable))
	}
}

// delivered runs the delivered hooks for a message handed to e alone,
// with a pooled list: a room's message runs them once per occupant.
func (r *Router) delivered(ctx *mod.Ctx, st *stanza.Stanza, e Endpoint) {
	list := r.lists.Get().(*[]mod.Resource)
	to := append((*list)[:0], e)
	r.reg.RunDelivered(ctx, st, to)
	clear(to)
	*list = to[:0]
	r.lists.Put(list)
}

// toBare: RFC 6121 §8.5.2.
func (r *Router) toBare(ctx *mod.Ctx, st *stanza.Stanza) {
	switch st.Kind {
	case stanza.IQ:
		st = ctx.Addressed(st)
		r.dispatchIQ(ctx, st, st.To, mod.ToAccount)
	case stanza.Presence:
		if r.reg.RunInboundPresence(ctx, st) {
			return
		}
		r.table.Resources(ctx.To, func(e Endpoint) bool {
			if e.Available() {
				r.deliver(ctx, e, st)
			}
			return true
		})
	case stanza.Message:
		r.messageToBare(ctx, st)
	}
}

// messageToBare delivers to the available resources of highest non-negative
// priority (all of them when several share it, RFC 6121 §8.5.2.1.1); a
// headline goes to every available non-negative resource.
func (r *Router) messageToBare(ctx *mod.Ctx, st *stanza.Stanza) {
	if st.Type == stanza.TypeError {
		return
	}
	if st.Type == stanza.Groupchat {
		r.bounce(ctx.Addressed(st), stanza.Err(stanza.ServiceUnavailable))
		return
	}
	if !r.inboundAllowed(ctx, st) {
		return
	}
	st = r.reg.RunInboundMessage(ctx, st) // archived and stamped only once the recipient accepts it
	bound := r.table.Bound(ctx.To)        // one look-up for both passes
	best := int8(-1)
	for _, e := range bound {
		if e.Available() && e.Priority() >= 0 && e.Priority() > best {
			best = e.Priority()
		}
	}
	delivered := false
	var to []mod.Resource // for the delivered hooks, only when there are some
	var list *[]mod.Resource
	if r.reg.HasDelivered() {
		list = r.lists.Get().(*[]mod.Resource)
		to = (*list)[:0]
	}
	if best >= 0 {
		for _, e := range bound {
			if e.Available() && e.Priority() >= 0 && (st.Type == stanza.Headline || e.Priority() == best) {
				done, handed := r.deliver(ctx, e, st)
				delivered = delivered || done
				if handed && r.reg.HasDelivered() {
					to = append(to, e)
				}
			}
		}
	}
	if len(to) > 0 {
		r.reg.RunDelivered(ctx, st, to)
	}
	if list != nil {
		clear(to)
		*list = to[:0]
		r.lists.Put(list)
	}
	if !delivered && st.Type != stanza.Headline {
		// RFC 6121 §8.5.2.2: no available resource: offline storage, if a
		// feature takes it; otherwise the sender learns it was not delivered.
		st = ctx.Addressed(st) // kept (offline) or bounced: with its 'to'
		if !r.reg.RunUndeliverable(ctx, st) {
			r.bounce(st, stanza.Err(stanza.ServiceUnavailable))
		}
	}
}

// dispatchIQ runs the handler registered for the iq's payload in scope s.
func (r *Router) dispatchIQ(ctx *mod.Ctx, st *stanza.Stanza, target jid.JID, s mod.Scope) {
	if st.Type == stanza.Result || st.Type == stanza.TypeError {
		return // replies to the server's own requests; none are outstanding yet
	}
	p := st.Payload()
	if p.IsZero() {
		r.bounce(st, stanza.ErrText(stanza.BadRequest, "iq of type get or set needs exactly one child"))
		return
	}
	ns, local := string(p.NS()), string(p.Local())
	h, ok := r.reg.LookupIQ(s, st.Type, ns, local)
	if !ok && s == mod.ToAccount && st.To.IsZero() {
		// many clients send server queries (ping, disco) without 'to'
		h, ok = r.reg.LookupIQ(mod.ToServer, st.Type, ns, local)
	}
	if !ok {
		// RFC 6120 §8.4: a payload namespace nobody here understands gets
		// service-unavailable; a known namespace used in an unsupported way
		// gets feature-not-implemented.
		cond := stanza.ServiceUnavailable
		if r.reg.HandlesNS(s, ns) {
			cond = stanza.FeatureNotImplemented
		}
		r.bounce(st, stanza.Err(cond))
		return
	}
	ctx.Target = target
	r.answer(ctx, st, h, ns, local)
}

// answer runs an iq handler and sends its reply or error.
func (r *Router) answer(ctx *mod.Ctx, st *stanza.Stanza, h mod.IQHandler, ns, local string) {
	reply, err := h(ctx, st)
	var se *stanza.Error
	switch {
	case errors.As(err, &se):
		r.bounce(st, se)
	case err != nil:
		r.log.Error("iq handler failed", "ns", ns, "local", local, "err", err)
		r.bounce(st, stanza.Err(stanza.InternalServerError))
	case reply != nil:
		r.Send(reply)
	}
}

// bounce answers st with an error, never answering an error (RFC 6120 §8.3.1).
func (r *Router) bounce(st *stanza.Stanza, e *stanza.Error) {
	if st.Type == stanza.TypeError || st.Type == stanza.Result {
		return
	}
	if st.From.IsZero() {
		return
	}
	if reply := st.ErrorReply(e); reply != nil {
		r.route(&mod.Ctx{Env: r, Bounce: true}, reply.To, reply)
	}
}
