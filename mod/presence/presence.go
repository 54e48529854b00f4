// Package presence runs presence subscriptions and presence broadcast for
// local users (RFC 6121 §3 and §4): the subscription state machine of both
// sides (Appendix A), pre-approval (§3.4), initial presence with probes of
// the user's contacts, broadcast of presence changes to subscribers, stored
// subscription requests delivered at login, and unavailable presence to
// the entities a session sent directed presence to (§4.6).
//
// When both ends of a subscription are on this server, a subscription
// stanza is processed for the sender and the recipient (package im's two
// halves, joined by im.Local) in one store transaction, and every resulting
// stanza is sent once that transaction is on disk. With a contact on
// another server each server runs its half: the user's side here for what
// a local user sends (its Route effects go out over the s2s link), the
// contact's side for what arrives from there (Ctx.Remote). Roster pushes
// come from mod/roster, which watches the roster table.
package presence

import (
	"errors"
	"log/slog"
	"sync"

	"ignis/im"
	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// NSPreApproval is the pre-approval stream feature (RFC 6121 §3.4.1).
const NSPreApproval = "urn:xmpp:features:pre-approval"

// Module is the presence feature.
type Module struct {
	h      *mod.Handle // the store user of an account: h.User (virtual hosts)
	db     *store.DB
	log    *slog.Logger
	roster *store.Roster

	cfg Config

	// mu guards directed: per session, the entities it sent directed
	// available presence to while available (RFC 6121 §4.6.3), which get
	// unavailable presence when it goes unavailable. A session has one
	// (the room it joined) far more often than more: Sets keeps it inline.
	// A target is kept as its canonical JID string (a third smaller entry
	// than a jid.JID), the one its presence was routed with: shared with
	// that stanza and the room's occupant, never copied.
	mu       sync.Mutex
	directed mod.Sets[mod.Resource, string]

	order order
}

// order keeps a user's presence in the order the user sent it (RFC 6120
// §10.1): a subscription change goes out from its commit callback, so a
// broadcast the user sends after it waits until it has gone out.
type order struct {
	mu   sync.Mutex
	busy map[string]*pending // by localpart: transactions not yet sent out
}

type pending struct {
	inflight int
	then     []func() // broadcasts waiting, in order
}

// begin notes a transaction of user that is on its way.
func (o *order) begin(user string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.busy == nil {
		o.busy = map[string]*pending{}
	}
	p := o.busy[user]
	if p == nil {
		p = &pending{}
		o.busy[user] = p
	}
	p.inflight++
}

// end notes that a transaction of user went out, and runs what waited for
// the last one.
func (o *order) end(user string) {
	o.mu.Lock()
	p := o.busy[user]
	p.inflight--
	if p.inflight > 0 {
		o.mu.Unlock()
		return
	}
	delete(o.busy, user)
	o.mu.Unlock()
	for _, fn := range p.then {
		fn()
	}
}

// held queues fn and reports true if user has something on its way;
// otherwise it reports false and the caller goes on at once.
func (o *order) held(user string, fn func()) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p := o.busy[user]; p != nil {
		p.then = append(p.then, fn)
		return true
	}
	return false
}

// Config is the presence feature's configuration ([presence] in the server's TOML).
type Config struct {
	// MaxDirected caps the entities one session has directed available
	// presence out to at once (each is remembered for its unavailable,
	// RFC 6121 §4.6.3); past it, one more gets <resource-constraint/>.
	// 0 means 1000.
	MaxDirected int
}

// New returns the presence feature over db.
func New(h *mod.Handle, cfg Config) *Module {
	if cfg.MaxDirected <= 0 {
		cfg.MaxDirected = 1000
	}
	db := h.DB()
	return &Module{h: h, db: db, log: h.Log(), roster: db.Roster(), cfg: cfg}
}

func (m *Module) Name() string { return "presence" }

func (m *Module) Register(r *mod.Registry) {
	r.OutboundPresence(m.outbound)
	r.InboundPresence(m.inbound)
	r.OnAvailable(m.available)
	r.OnUnavailable(m.unavailable)
	r.StreamFeature(true, "<sub xmlns='"+NSPreApproval+"'/>")
}

func isLocal(env mod.Env, j jid.JID) bool {
	return mod.IsLocalUser(env, j) // the primary domain or a virtual host
}

// isRemote: an account on another server.
func isRemote(env mod.Env, j jid.JID) bool {
	return j.Local() != "" && !env.IsLocal(j)
}

// outbound sees every presence a local session sends.
func (m *Module) outbound(ctx *mod.Ctx, st *stanza.Stanza) bool {
	if ctx.From == nil {
		return false
	}
	switch st.Type {
	case stanza.Subscribe, stanza.Subscribed, stanza.Unsubscribe, stanza.Unsubscribed:
		if st.To.IsZero() {
			return false
		}
		return m.subscription(ctx, st)
	}
	// anything else waits behind the user's subscription changes still on
	// their way (RFC 6120 §10.1), and is routed again once they have gone
	from, env := ctx.From, ctx.Env // the closure outlives ctx
	if m.order.held(m.h.User(from.JID()), func() { env.Resend(from, st) }) {
		return true
	}
	if st.To.IsZero() {
		m.broadcast(ctx, st)
		return false // the router gives it to the user's own resources
	}
	switch st.Type {
	case stanza.Probe:
		return m.probe(ctx, st)
	case stanza.TypeNone, stanza.Unavailable:
		return m.track(ctx, st)
	}
	return false
}

// broadcast sends an undirected presence to the user's contacts with a
// subscription from the user (RFC 6121 §4.2.2, §4.4.2, §4.5.2), and an
// unavailable one also to every entity the session sent directed presence
// to (§4.6.3).
func (m *Module) broadcast(ctx *mod.Ctx, st *stanza.Stanza) {
	if st.Type != stanza.TypeNone && st.Type != stanza.Unavailable {
		return
	}
	env, from := ctx.Env, ctx.From.JID()
	sent := map[string]bool{}
	// serialized once, without 'to': every contact gets the same bytes
	shared := st.WithAddrs(from, jid.JID{})
	_, err := m.roster.List(m.h.User(from), func(it store.RosterItem) bool {
		if it.Hidden || it.Sub&store.SubFrom == 0 {
			return true
		}
		c, err := jid.Parse(it.JID)
		if err != nil || !isLocal(env, c) && !isRemote(env, c) {
			return true
		}
		sent[c.String()] = true
		env.SendTo(c, shared)
		return true
	})
	if err != nil {
		m.log.Error("reading roster", "user", m.h.User(from), "err", err)
	}
	// shared roster groups: members are subscribed both ways (Openfire)
	m.sharedMembers(from, func(c jid.JID) {
		if !sent[c.String()] {
			sent[c.String()] = true
			env.SendTo(c, shared)
		}
	})
	if st.Type != stanza.Unavailable {
		return
	}
	m.mu.Lock()
	targets := m.directed.Take(ctx.From)
	m.mu.Unlock()
	for _, k := range targets {
		to, err := jid.Parse(k) // canonical already: no copy
		if err == nil && !sent[k] && !sent[to.Bare().String()] {
			env.Send(st.WithAddrs(from, to))
		}
	}
}

// track remembers directed presence (RFC 6121 §4.6): an available one from
// an available session to someone who is not a subscriber, to be undone
// with unavailable presence when the session goes unavailable. One past
// MaxDirected is answered with <resource-constraint/> and not sent: its
// unavailable could not be promised (handled reports that).
func (m *Module) track(ctx *mod.Ctx, st *stanza.Stanza) (handled bool) {
	to := st.To
	m.mu.Lock()
	if st.Type == stanza.Unavailable {
		m.directed.Remove(ctx.From, to.String())
		m.mu.Unlock()
		return false
	}
	if !ctx.From.Available() || to.Bare().Equal(ctx.From.JID().Bare()) {
		m.mu.Unlock()
		return false
	}
	ok := m.directed.Add(ctx.From, to.String(), m.cfg.MaxDirected)
	m.mu.Unlock()
	if ok {
		return false
	}
	m.log.Debug("directed presence refused: too many targets", "jid", ctx.From.JID().String(), "max", m.cfg.MaxDirected)
	if reply := st.ErrorReply(errTooManyDirected); reply != nil {
		ctx.Env.Send(reply)
	}
	return true
}

var errTooManyDirected = stanza.ErrText(stanza.ResourceConstraint, "directed presence to too many entities at once")

// subscription processes a subscription stanza to a local contact for
// both sides (RFC 6121 §3, Appendix A). One to another server is left to
// the router, which has no route for it.
func (m *Module) subscription(ctx *mod.Ctx, st *stanza.Stanza) bool {
	env := ctx.Env
	user, contact := ctx.From.JID().Bare(), st.To.Bare()
	if isRemote(env, contact) {
		m.commit(env, m.h.User(user), m.roster.Begin(m.h.User(user)), func(tx *store.RosterTxn) im.Effects {
			return im.Outbound(m.hosted(tx), user, contact, st.Type, st)
		})
		return true
	}
	if !isLocal(env, contact) {
		return false
	}
	if contact.Equal(user) {
		return true // a subscription to oneself means nothing: dropped
	}
	exists, err := m.accountExists(m.h.User(contact))
	if err != nil {
		m.log.Error("reading account", "user", m.h.User(contact), "err", err)
		return true
	}
	tx := m.roster.Begin(m.h.User(user), m.h.User(contact))
	effects := im.Local{Tx: m.hosted(tx), ContactExists: exists}.Subscription(user, contact, st.Type, st)
	m.order.begin(m.h.User(user))
	tx.CommitAsync(func(err error) {
		defer m.order.end(m.h.User(user))
		if err != nil {
			m.log.Error("subscription not stored", "user", m.h.User(user), "err", err)
			return
		}
		mod.SendEffects(env, effects)
	})
	return true
}

// commit runs one half's rules in tx and sends their effects once stored,
// in the order of user's presence.
func (m *Module) commit(env mod.Env, user string, tx *store.RosterTxn, rules func(*store.RosterTxn) im.Effects) {
	effects := rules(tx)
	m.order.begin(user)
	tx.CommitAsync(func(err error) {
		defer m.order.end(user)
		if err != nil {
			m.log.Error("subscription not stored", "user", user, "err", err)
			return
		}
		mod.SendEffects(env, effects)
	})
}

// inbound runs the contact's side (RFC 6121 Appendix A.3) for a presence
// another server sent to a local account: subscription stanzas change the
// roster, probes are answered on the user's behalf.
func (m *Module) inbound(ctx *mod.Ctx, st *stanza.Stanza) bool {
	to := ctx.To // the receiver: st.To is zero for a stanza shared by many
	if !ctx.Remote || st.From.IsZero() || to.Local() == "" {
		return false
	}
	env := ctx.Env
	user, sender := to.Bare(), st.From.Bare()
	switch st.Type {
	case stanza.TypeNone, stanza.Unavailable:
		// behind the subscription changes of user still being stored: the
		// contact's approval reaches the user before its presence (§3.1.6)
		return m.order.held(m.h.User(user), func() { env.SendTo(to, st) })
	case stanza.Subscribe, stanza.Subscribed, stanza.Unsubscribe, stanza.Unsubscribed:
		exists, err := m.accountExists(m.h.User(user))
		if err != nil {
			m.log.Error("reading account", "user", m.h.User(user), "err", err)
			return true
		}
		m.commit(env, m.h.User(user), m.roster.Begin(m.h.User(user)), func(tx *store.RosterTxn) im.Effects {
			return im.Inbound(m.hosted(tx), user, sender, st.Type, st.WithAddrs(sender, user), exists)
		})
		return true
	case stanza.Probe:
		m.answerProbe(env, user, st.From)
		return true
	}
	return false
}

func (m *Module) accountExists(user string) (bool, error) {
	_, err := m.db.Accounts().Get(user)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidUser):
		return false, nil
	}
	return false, err
}

// probe answers a probe a client sent to a local contact as the contact's
// server does (RFC 6121 §4.3.2): with the contact's available resources'
// presence, or unavailable presence, if the user is subscribed; otherwise
// nothing is revealed.
func (m *Module) probe(ctx *mod.Ctx, st *stanza.Stanza) bool {
	env := ctx.Env
	contact := st.To.Bare()
	if !isLocal(env, contact) {
		return false
	}
	m.answerProbe(env, contact, ctx.From.JID())
	return true
}

// answerProbe answers user's probe of local contact (RFC 6121 §4.3.2).
func (m *Module) answerProbe(env mod.Env, contact, user jid.JID) {
	it, err := m.roster.Get(m.h.User(contact), user.Bare().String())
	if err != nil || it.Hidden || it.Sub&store.SubFrom == 0 {
		return
	}
	if mod.SendPresenceOf(env, contact, user) == 0 {
		var b stanza.Builder
		b.Start("presence", "from", contact.String(), "to", user.String(), "type", "unavailable")
		env.Send(stanza.MustParse(b.Bytes()))
	}
}

// available runs after a session's initial presence was broadcast: it
// probes the user's contacts (RFC 6121 §4.2.2, answered on their behalf as
// they are local, to this session only), and delivers the subscription
// requests still waiting for an answer (§3.1.3).
func (m *Module) available(ctx *mod.Ctx, res mod.Resource) {
	env, self := ctx.Env, res.JID()
	// every later broadcast reads the roster: it stays in memory while the
	// user is available (released in unavailable)
	m.roster.Hold(m.h.User(self))
	// the user is subscribed to its own presence: the new resource learns
	// of the others already online (RFC 6121 §4.2.2)
	env.Resources(self.Bare(), func(r mod.Resource) bool {
		if p := r.LastPresence(); r != res && r.Available() && p != nil {
			env.Send(p.WithAddrs(r.JID(), self))
		}
		return true
	})
	var pending [][]byte
	probed := map[string]bool{}
	_, err := m.roster.List(m.h.User(self), func(it store.RosterItem) bool {
		if it.PendingIn != nil {
			pending = append(pending, it.PendingIn)
		}
		if it.Hidden || it.Sub&store.SubTo == 0 {
			return true
		}
		c, err := jid.Parse(it.JID)
		switch {
		case err != nil:
		case isLocal(env, c):
			probed[c.String()] = true
			mod.SendPresenceOf(env, c, self)
		case isRemote(env, c):
			// the contact's server answers (§4.3.1), to all the user's resources
			var b stanza.Builder
			b.Start("presence", "from", self.Bare().String(), "to", c.String(), "type", "probe")
			env.Send(stanza.MustParse(b.Bytes()))
		}
		return true
	})
	m.sharedMembers(self, func(c jid.JID) {
		if !probed[c.String()] {
			probed[c.String()] = true
			mod.SendPresenceOf(env, c, self)
		}
	})
	if err != nil {
		m.log.Error("reading roster", "user", m.h.User(self), "err", err)
	}
	for _, raw := range pending {
		st, err := stanza.Parse(raw)
		if err != nil {
			m.log.Error("stored subscription request", "user", m.h.User(self), "err", err)
			continue
		}
		env.Send(st.WithAddrs(st.From, self))
	}
}

// unavailable forgets the session's directed presence (broadcast already
// sent it unavailable presence), and releases the roster available held.
func (m *Module) unavailable(_ *mod.Ctx, res mod.Resource) {
	m.roster.Release(m.h.User(res.JID()))
	m.mu.Lock()
	m.directed.Drop(res)
	m.mu.Unlock()
}

// sharedMembers calls fn for every other member of user's shared roster
// groups: as in Openfire, they see each other's presence as if subscribed
// both ways.
func (m *Module) sharedMembers(user jid.JID, fn func(jid.JID)) {
	groups, err := m.db.Groups().GroupsOf(m.h.User(user))
	if err != nil {
		m.log.Error("reading shared groups", "user", m.h.User(user), "err", err)
		return
	}
	for _, g := range groups {
		for _, member := range g.Members {
			if member == m.h.User(user) {
				continue
			}
			if c, err := m.h.UserJID(member); err == nil {
				fn(c)
			}
		}
	}
}

// hosted is tx as the rules address it: by account JID on any local domain.
func (m *Module) hosted(tx *store.RosterTxn) im.Roster {
	return im.Hosted{Roster: tx, Primary: m.h.Domain().Domain()}
}
