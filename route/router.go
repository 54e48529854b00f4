// Package route delivers stanzas: the sharded session table and the rules of
// RFC 6120 §10 and RFC 6121 §8 for message, presence and iq addressed to a
// full JID, a bare JID, the server itself, or nobody. Stanzas for the server
// go to the feature handlers registered in a mod.Registry.
package route

import (
	"errors"
	"log/slog"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// Config configures a Router. Zero fields take defaults.
type Config struct {
	Domain   jid.JID        // the server's domain (required)
	Conflict ConflictPolicy // what binding a bound full JID does; default Replace
	Logger   *slog.Logger
}

// Router applies the delivery rules. It is safe for concurrent use: Route runs
// on the sender's event loop, Deliver crosses to the recipient's.
type Router struct {
	cfg   Config
	table *Table
	reg   *mod.Registry
	log   *slog.Logger
}

// New returns a Router over a new Table.
func New(cfg Config, reg *mod.Registry) *Router {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Router{cfg: cfg, table: NewTable(), reg: reg, log: cfg.Logger}
}

// Table returns the session table.
func (r *Router) Table() *Table { return r.table }

// Domain implements mod.Env.
func (r *Router) Domain() jid.JID { return r.cfg.Domain }

// Bind binds e (see Table.Bind); a replaced endpoint is told so.
func (r *Router) Bind(e Endpoint) error {
	old, err := r.table.Bind(e, r.cfg.Conflict)
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
func (r *Router) Send(st *stanza.Stanza) { r.route(nil, st) }

// Route delivers a stanza a client sent. from is the sender's endpoint; the
// stanza's from is stamped with its full JID whatever the client wrote
// (RFC 6120 §8.1.2.1).
func (r *Router) Route(from Endpoint, st *stanza.Stanza) {
	st = st.WithAddrs(from.JID(), st.To)
	r.route(from, st)
}

func (r *Router) isLocal(j jid.JID) bool { return j.Domain() == r.cfg.Domain.Domain() }

func (r *Router) route(from Endpoint, st *stanza.Stanza) {
	to := st.To
	switch {
	case to.IsZero():
		r.toNobody(from, st)
	case !r.isLocal(to):
		// no server-to-server links (yet): RFC 6120 §10.4.3
		r.bounce(st, stanza.Err(stanza.RemoteServerNotFound))
	case to.Local() == "":
		if to.Resource() != "" {
			r.bounce(st, stanza.Err(stanza.ServiceUnavailable))
			return
		}
		r.toServer(st)
	case to.IsBare():
		r.toBare(st)
	default:
		r.toFull(st)
	}
}

// toNobody: no 'to' (RFC 6120 §10.3). An iq is for the sender's own account;
// a message is as if sent to the sender's bare JID; a presence is a broadcast.
func (r *Router) toNobody(from Endpoint, st *stanza.Stanza) {
	if from == nil {
		return // the server never sends to nobody
	}
	self := from.JID().Bare()
	switch st.Kind {
	case stanza.IQ:
		r.dispatchIQ(st, self, mod.ToAccount)
	case stanza.Message:
		r.toBare(st.WithAddrs(st.From, self))
	case stanza.Presence:
		r.broadcast(from, st)
	}
}

// broadcast sends an undirected presence to the user's available resources,
// the sender's own included (RFC 6121 §4.2.2, §4.4.2); contacts come with
// the roster. An unavailable presence also reaches the resource going away.
func (r *Router) broadcast(from Endpoint, st *stanza.Stanza) {
	if st.Type != stanza.TypeNone && st.Type != stanza.Unavailable {
		return
	}
	r.table.Resources(from.JID().Bare(), func(e Endpoint) bool {
		if e.Available() || e == from {
			e.Deliver(st.WithAddrs(st.From, e.JID()))
		}
		return true
	})
}

func (r *Router) toServer(st *stanza.Stanza) {
	if st.Kind == stanza.IQ {
		r.dispatchIQ(st, r.cfg.Domain, mod.ToServer)
	}
	// messages and presences to the domain itself are not served yet
}

func (r *Router) toFull(st *stanza.Stanza) {
	if e := r.table.Lookup(st.To); e != nil {
		if st.Kind != stanza.Presence || e.Available() || st.Type != stanza.TypeNone {
			e.Deliver(st)
		}
		return
	}
	// RFC 6121 §8.5.3.2: no such resource
	switch st.Kind {
	case stanza.Message:
		switch st.Type {
		case stanza.TypeNone, stanza.Normal, stanza.Chat, stanza.Headline:
			r.toBare(st.WithAddrs(st.From, st.To.Bare()))
		case stanza.Groupchat:
			r.bounce(st, stanza.Err(stanza.ServiceUnavailable))
		}
	case stanza.Presence:
		switch st.Type {
		case stanza.Subscribe, stanza.Subscribed, stanza.Unsubscribe, stanza.Unsubscribed:
			r.toBare(st.WithAddrs(st.From, st.To.Bare()))
		}
	case stanza.IQ:
		r.bounce(st, stanza.Err(stanza.ServiceUnavailable))
	}
}

// toBare: RFC 6121 §8.5.2.
func (r *Router) toBare(st *stanza.Stanza) {
	switch st.Kind {
	case stanza.IQ:
		r.dispatchIQ(st, st.To, mod.ToAccount)
	case stanza.Presence:
		r.table.Resources(st.To, func(e Endpoint) bool {
			if e.Available() {
				e.Deliver(st)
			}
			return true
		})
	case stanza.Message:
		r.messageToBare(st)
	}
}

// messageToBare delivers to the available resources of highest non-negative
// priority (all of them when several share it, RFC 6121 §8.5.2.1.1); a
// headline goes to every available non-negative resource.
func (r *Router) messageToBare(st *stanza.Stanza) {
	if st.Type == stanza.TypeError {
		return
	}
	if st.Type == stanza.Groupchat {
		r.bounce(st, stanza.Err(stanza.ServiceUnavailable))
		return
	}
	best := int8(-1)
	r.table.Resources(st.To, func(e Endpoint) bool {
		if e.Available() && e.Priority() >= 0 && e.Priority() > best {
			best = e.Priority()
		}
		return true
	})
	delivered := false
	if best >= 0 {
		r.table.Resources(st.To, func(e Endpoint) bool {
			if e.Available() && e.Priority() >= 0 && (st.Type == stanza.Headline || e.Priority() == best) {
				delivered = e.Deliver(st) || delivered
			}
			return true
		})
	}
	if !delivered && st.Type != stanza.Headline {
		// RFC 6121 §8.5.2.2: no available resource. Offline storage comes
		// with the IM features; until then the sender learns it was not delivered.
		r.bounce(st, stanza.Err(stanza.ServiceUnavailable))
	}
}

// dispatchIQ runs the handler registered for the iq's payload in scope s.
func (r *Router) dispatchIQ(st *stanza.Stanza, target jid.JID, s mod.Scope) {
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
	ctx := &mod.Ctx{Env: r, Target: target}
	reply, err := h(ctx, st)
	var se *stanza.Error
	switch {
	case errors.As(err, &se):
		r.bounce(st, se)
	case err != nil:
		r.log.Error("iq handler failed", "ns", ns, "local", local, "err", err)
		r.bounce(st, stanza.Err(stanza.InternalServerError))
	case reply != nil:
		r.route(nil, reply)
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
		r.route(nil, reply)
	}
}
