// Package carbons implements Message Carbons (XEP-0280, urn:xmpp:carbons:2):
// a session that enables carbons gets a copy of every instant message its
// account's other sessions send (a <sent/> carbon) and of every one the
// account receives on another session (a <received/> carbon), each wrapped
// in a XEP-0297 <forwarded/> element.
//
// The enabled state belongs to a session (XEP-0280 §4, §5): it lasts until
// the client disables it or the session ends, across presence changes. It
// lives in memory only, keyed by the session itself, so a new session bound
// to the same full JID starts with carbons off. Copies go only to available
// sessions: one that has not sent presence (or withdrew it) gets no messages
// for its account (RFC 6121 §8.5.2), and a copy is one of those.
package carbons

import (
	"sync"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// Namespaces used by the protocol.
const (
	NS        = stanza.NSCarbons // XEP-0280
	NSForward = stanza.NSForward // XEP-0297
	NSHints   = stanza.NSHints   // XEP-0334
)

// errNotOwn: XEP-0280 §4.1 and §5.1 recommend not-allowed for a request a
// client may not make, such as toggling carbons on another account.
var errNotOwn = stanza.ErrText(stanza.NotAllowed, "carbons can only be toggled for one's own session")

// Module is the carbons feature. Its zero value is ready to use; it must not
// be copied after Register.
type Module struct {
	// mu guards the enabled sessions. A user's slice is replaced whole on
	// every change (copy on write), so a reader may range over it after
	// releasing mu.
	mu struct {
		sync.RWMutex
		byBare map[string][]mod.Resource // bare JID → sessions that enabled carbons
		n      int                       // sessions in byBare
		swept  int                       // n after the last full sweep
	}
}

func (m *Module) Name() string { return "carbons" }

func (m *Module) Register(r *mod.Registry) {
	m.mu.byBare = map[string][]mod.Resource{}
	r.IQ(mod.ToAccount, stanza.Set, NS, "enable", m.enable)
	r.IQ(mod.ToAccount, stanza.Set, NS, "disable", m.disable)
	r.Feature(mod.ToServer, NS) // XEP-0280 §3: the user's server advertises it
	r.OutboundMessage(m.sent)
	r.OnDelivered(m.received)
	r.OnUnavailable(m.gone)
}

// enable and disable answer the iqs of XEP-0280 §4 and §5. Repeating either
// is not an error (§10.1).
func (m *Module) enable(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	return m.toggle(ctx, iq, true)
}

func (m *Module) disable(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	return m.toggle(ctx, iq, false)
}

func (m *Module) toggle(ctx *mod.Ctx, iq *stanza.Stanza, on bool) (*stanza.Stanza, error) {
	if ctx.From == nil || !ctx.Target.Equal(ctx.From.JID().Bare()) {
		return nil, errNotOwn
	}
	m.set(ctx.Env, ctx.From, on)
	return iq.Result(nil), nil
}

// set records whether res wants carbons. Entries for sessions that are gone
// (unbound, or replaced by another session with the same full JID) are
// dropped from res's account on the way, and from every account once the
// table has doubled since the last full sweep: a session that enabled
// carbons and ended without ever being available leaves no other trace.
func (m *Module) set(env mod.Env, res mod.Resource, on bool) {
	full := res.JID()
	key := full.Bare().String()
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.mu.byBare[key]
	next := make([]mod.Resource, 0, len(old)+1)
	for _, r := range old {
		if r != res && !r.JID().Equal(full) && env.Lookup(r.JID()) == r {
			next = append(next, r)
		}
	}
	if on {
		next = append(next, res)
	}
	m.store(key, old, next)
	if m.mu.n > 2*m.mu.swept+64 {
		for k, list := range m.mu.byBare {
			m.store(k, list, live(env, list))
		}
		m.mu.swept = m.mu.n
	}
}

// store replaces an account's slice. m.mu must be held.
func (m *Module) store(key string, old, next []mod.Resource) {
	m.mu.n += len(next) - len(old)
	if len(next) == 0 {
		delete(m.mu.byBare, key)
		return
	}
	m.mu.byBare[key] = next
}

// gone forgets a session that ended. A session that merely sent unavailable
// presence is still bound and keeps its carbons.
func (m *Module) gone(ctx *mod.Ctx, res mod.Resource) {
	if ctx.Env.Lookup(res.JID()) == res {
		return
	}
	key := res.JID().Bare().String()
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.mu.byBare[key]; len(old) > 0 {
		m.store(key, old, live(ctx.Env, old))
	}
}

// live returns the sessions of list that are still bound (list itself when
// all are).
func live(env mod.Env, list []mod.Resource) []mod.Resource {
	for i, r := range list {
		if env.Lookup(r.JID()) != r {
			out := append([]mod.Resource(nil), list[:i]...)
			for _, r := range list[i+1:] {
				if env.Lookup(r.JID()) == r {
					out = append(out, r)
				}
			}
			return out
		}
	}
	return list
}

// targets returns the sessions of user that enabled carbons, are bound and
// available, and are not skipped. Sessions found gone are forgotten.
func (m *Module) targets(env mod.Env, user jid.JID, skip func(mod.Resource) bool) []mod.Resource {
	m.mu.RLock()
	list := m.mu.byBare[user.String()]
	m.mu.RUnlock()
	if len(list) == 0 {
		return nil
	}
	var out []mod.Resource
	stale := false
	for _, r := range list {
		switch {
		case env.Lookup(r.JID()) != r:
			stale = true
		case r.Available() && !skip(r):
			out = append(out, r)
		}
	}
	if stale {
		key := user.String()
		m.mu.Lock()
		if old := m.mu.byBare[key]; len(old) > 0 {
			m.store(key, old, live(env, old))
		}
		m.mu.Unlock()
	}
	return out
}

// sent copies a message a session sends to the account's other sessions
// that enabled carbons (XEP-0280 §7), whether or not the sender enabled
// them. It runs before the message is routed and never changes it.
func (m *Module) sent(ctx *mod.Ctx, st *stanza.Stanza) *stanza.Stanza {
	if ctx.From == nil {
		return st
	}
	sender := ctx.From.JID()
	user := sender.Bare()
	if st.To.IsZero() || st.To.Bare().Equal(user) {
		// To the account itself: every session involved is the user's own,
		// and the delivery decides who sees it; copies would duplicate it.
		return st
	}
	to := m.targets(ctx.Env, user, func(r mod.Resource) bool { return r == ctx.From || r.JID().Equal(sender) })
	if len(to) == 0 {
		return st
	}
	if eligible(st.Type, st.Class(), false) {
		m.send(ctx.Env, "sent", user, st.Elem(), st.Type, to)
	}
	return st
}

// received copies a message handed to some sessions of a local account to
// the account's other sessions that enabled carbons (XEP-0280 §6).
func (m *Module) received(ctx *mod.Ctx, st *stanza.Stanza, got []mod.Resource) {
	if len(got) == 0 || st.Kind != stanza.Message {
		return
	}
	user := got[0].JID().Bare()
	if st.From.Bare().Equal(user) {
		// from the account itself: between its own sessions (see sent), or
		// a carbon this module made (its from is the bare JID)
		return
	}
	to := m.targets(ctx.Env, user, func(r mod.Resource) bool {
		for _, g := range got {
			if r == g || r.JID().Equal(g.JID()) {
				return true
			}
		}
		return false
	})
	if len(to) == 0 {
		return
	}
	if !eligible(st.Type, st.Class(), true) {
		return
	}
	// the copy forwards the message with its 'to' (st.To is zero when
	// st is shared by many receivers)
	m.send(ctx.Env, "received", user, ctx.Addressed(st).Elem(), st.Type, to)
}

// send wraps the message e once and sends a copy to each session in to.
//
// A copy is routed like any message to a full JID, so it passes the
// recipient's filters and message hooks. If the session ends between
// targets and the routing, the router treats the copy as a message for an
// unknown resource and delivers it to the bare JID (RFC 6121 §8.5.3.2.1):
// a narrow race the contract has no way to close yet (it needs a send that
// never falls back to the bare JID).
func (m *Module) send(env mod.Env, dir string, user jid.JID, e elem, typ stanza.Type, to []mod.Resource) {
	c, err := wrap(dir, user, to[0].JID(), typ, e)
	if err != nil {
		return // cannot happen for a stanza the server parsed; copies are best effort
	}
	env.Send(c)
	for _, r := range to[1:] {
		env.Send(c.WithAddrs(user, r.JID()))
	}
}
