// Package blocking implements the blocking command (XEP-0191): a user keeps a
// list of JIDs they want nothing to do with. The list is stored in the store's
// blocklist table and cached in memory per user; a filter stops stanzas to
// and from the blocked JIDs on every delivery.
package blocking

import (
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// Namespaces of XEP-0191.
const (
	NS       = "urn:xmpp:blocking"
	NSErrors = "urn:xmpp:blocking:errors"
)

var (
	errNotOwn  = stanza.Err(stanza.ServiceUnavailable) // another user's blocklist: as if nobody served it
	errNoItems = stanza.ErrText(stanza.BadRequest, "block needs at least one item")
	errBadJID  = stanza.ErrText(stanza.JIDMalformed, "an item's jid is not a valid JID")
	errBlocked = stanza.Err(stanza.ServiceUnavailable) // what a blocked sender learns (XEP-0191 §3.4)
)

// Module is the blocking feature. Create it with New.
type Module struct {
	// h: the store user of an account is h.User (virtual hosts);
	// replies run on its goroutines (shutdown waits)
	h   *mod.Handle
	db  *store.DB
	log *slog.Logger

	// sets: each user's set, loaded on first use, replaced whole by
	// each change once it is on disk
	sets mod.UserCache[*set]

	pushID atomic.Uint64
	denier mod.Denier // see inbound
}

// New returns the blocking module over db.
func New(h *mod.Handle) *Module {
	m := &Module{h: h, db: h.DB(), log: h.Log()}
	// only the users with a stored blocklist get an entry in sets: most
	// block nobody (if listing them fails, every user is cached instead)
	if users, err := m.db.Blocklist().Users(); err != nil {
		m.log.Error("blocking: listing the users with a blocklist", "err", err)
	} else {
		m.sets.OnlyFor(emptySet, users)
	}
	return m
}

func (m *Module) Name() string { return "blocking" }

func (m *Module) Register(r *mod.Registry) {
	r.IQ(mod.ToAccount, stanza.Get, NS, "blocklist", m.getList)
	r.IQ(mod.ToAccount, stanza.Set, NS, "block", m.block)
	r.IQ(mod.ToAccount, stanza.Set, NS, "unblock", m.unblock)
	r.Feature(mod.ToServer, NS)
	r.Filter(m.filter)
	r.OnUnavailable(m.evict)
}

// set is one user's blocklist, immutable once built. Matching follows
// XEP-0016 §2.1, which XEP-0191 §4 adopts: an item that is a full JID (or
// domain/resource) matches only that JID, a bare JID matches its every
// resource, a domain matches itself and every JID at it. So a JID is blocked
// when it, its bare JID or its domain is an item: three map lookups of
// substrings of the JID, no allocation.
type set struct {
	sorted []string            // every JID, canonical, in byte order (for the blocklist result)
	items  map[string]struct{} // the same JIDs
}

var emptySet = &set{}

func newSet(jids []string) *set {
	if len(jids) == 0 {
		return emptySet
	}
	s := &set{sorted: jids, items: make(map[string]struct{}, len(jids))}
	for _, j := range jids {
		s.items[j] = struct{}{}
	}
	return s
}

// blocks reports whether j matches an item.
func (s *set) blocks(j jid.JID) bool {
	if len(s.sorted) == 0 || j.IsZero() {
		return false
	}
	for _, k := range [...]string{j.String(), j.Bare().String(), j.Domain()} {
		if _, ok := s.items[k]; ok {
			return true
		}
	}
	return false
}

// with returns a new set with add added and del removed (del nil and all
// true: everything removed).
func (s *set) with(add, del []string, all bool) *set {
	if all {
		return emptySet
	}
	keep := make(map[string]struct{}, len(s.sorted)+len(add))
	for _, j := range s.sorted {
		keep[j] = struct{}{}
	}
	for _, j := range add {
		keep[j] = struct{}{}
	}
	for _, j := range del {
		delete(keep, j)
	}
	out := make([]string, 0, len(keep))
	for j := range keep {
		out = append(out, j)
	}
	slices.Sort(out)
	return newSet(out)
}

// lookup returns user's set, loading it on first use. A store failure is
// logged and yields the empty set: filtering fails open rather than losing
// every stanza.
func (m *Module) lookup(user string) *set {
	return m.sets.Get(user, func() (*set, bool) {
		jids, err := m.db.Blocklist().Get(user)
		if err != nil {
			m.log.Error("blocking: loading blocklist", "user", user, "err", err)
			return emptySet, false
		}
		return newSet(jids), true
	})
}

// apply records a change that is on disk.
func (m *Module) apply(user string, add, del []string, all bool) {
	m.sets.Change(user, func(cur *set) *set { return cur.with(add, del, all) })
}

// evict forgets a user's set when their last session goes away.
func (m *Module) evict(ctx *mod.Ctx, res mod.Resource) {
	if mod.LastSession(ctx.Env, res) {
		m.sets.Forget(m.h.User(res.JID().Bare()))
	}
}

// own reports whether the sender addressed their own account.
func own(ctx *mod.Ctx) bool { return ctx.From != nil && ctx.From.JID().Bare() == ctx.Target }

func (m *Module) getList(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if !own(ctx) {
		return nil, errNotOwn
	}
	s := m.lookup(m.h.User(ctx.Target))
	var b stanza.Builder
	b.Start("blocklist", "xmlns", NS)
	for _, j := range s.sorted {
		b.Element("item", "", "jid", j)
	}
	return iq.Result(b.Bytes()), nil
}

// items returns the canonical JIDs of the payload's <item/> children.
func items(iq *stanza.Stanza) ([]string, error) {
	var out []string
	it := iq.Payload().Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		if string(c.Local()) != "item" || string(c.NS()) != NS {
			continue
		}
		v, _ := c.Attr("jid")
		j, err := jid.Parse(string(v))
		if err != nil {
			return nil, errBadJID
		}
		out = append(out, j.String())
	}
	return out, nil
}

func (m *Module) block(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if !own(ctx) {
		return nil, errNotOwn
	}
	jids, err := items(iq)
	if err != nil {
		return nil, err
	}
	if len(jids) == 0 {
		return nil, errNoItems // XEP-0191 §3.3
	}
	user := m.h.User(ctx.Target)
	m.lookup(user) // cached before the change, so apply updates it
	env, from := ctx.Env, ctx.From
	m.db.Blocklist().BlockAsync(user, jids, func(err error) {
		if err == nil {
			m.apply(user, jids, nil, false)
		}
		// sending runs other features' hooks: not on the writer goroutine
		m.h.ReplyStored(env, iq, err, func() {
			m.hide(env, from, jids)
			m.push(env, from.JID().Bare(), "block", jids)
		})
	})
	return nil, nil
}

func (m *Module) unblock(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if !own(ctx) {
		return nil, errNotOwn
	}
	jids, err := items(iq)
	if err != nil {
		return nil, err
	}
	user := m.h.User(ctx.Target)
	before := m.lookup(user)
	unblocked := jids
	all := len(jids) == 0 // XEP-0191 §3.5: no items unblocks everything
	env, from := ctx.Env, ctx.From
	m.db.Blocklist().UnblockAsync(user, jids, func(err error) {
		if err == nil {
			m.apply(user, nil, jids, all)
		}
		m.h.ReplyStored(env, iq, err, func() {
			if all {
				unblocked = before.sorted
			}
			m.reveal(env, from.JID().Bare(), unblocked)
			m.push(env, from.JID().Bare(), "unblock", jids)
		})
	})
	return nil, nil
}

// push tells every resource of user about the change (XEP-0191 §3.3, §3.4),
// the one that made it included.
func (m *Module) push(env mod.Env, user jid.JID, op string, jids []string) {
	var b stanza.Builder
	env.Resources(user, func(r mod.Resource) bool {
		b.Reset()
		b.Start("iq", "type", "set", "id", "block-"+strconv.FormatUint(m.pushID.Add(1), 10), "to", r.JID().String())
		b.Start(op, "xmlns", NS)
		for _, j := range jids {
			b.Element("item", "", "jid", j)
		}
		env.Send(stanza.MustParse(append([]byte(nil), b.Bytes()...)))
		return true
	})
}

// hide makes the user appear offline to newly blocked local contacts that
// receive the user's presence (XEP-0191 §3.3): each available resource
// sends them unavailable presence. Remote and domain-wide items are skipped
// (no server-to-server yet).
func (m *Module) hide(env mod.Env, from mod.Resource, jids []string) {
	m.announce(env, from.JID().Bare(), jids, func(r mod.Resource, to jid.JID) *stanza.Stanza {
		var b stanza.Builder
		b.Start("presence", "type", "unavailable", "from", r.JID().String(), "to", to.String())
		return stanza.MustParse(b.Bytes())
	})
}

// reveal sends the user's current presence to unblocked local contacts
// that receive it (XEP-0191 §3.4).
func (m *Module) reveal(env mod.Env, user jid.JID, jids []string) {
	m.announce(env, user, jids, func(r mod.Resource, to jid.JID) *stanza.Stanza {
		if p := r.LastPresence(); p != nil {
			return p.WithAddrs(r.JID(), to)
		}
		return nil
	})
}

// announce sends what build returns, from each available resource of user,
// to each local contact among jids with a from or both subscription.
func (m *Module) announce(env mod.Env, user jid.JID, jids []string, build func(mod.Resource, jid.JID) *stanza.Stanza) {
	var targets []jid.JID
	for _, s := range jids {
		j, err := jid.Parse(s)
		if err != nil || !mod.IsLocalUser(env, j) {
			continue
		}
		it, err := m.db.Roster().Get(m.h.User(user), j.Bare().String())
		if err == nil && !it.Hidden && it.Sub&store.SubFrom != 0 {
			targets = append(targets, j)
		}
	}
	if len(targets) == 0 {
		return
	}
	env.Resources(user, func(r mod.Resource) bool {
		if r.Available() {
			for _, to := range targets {
				if st := build(r, to); st != nil {
					env.Send(st)
				}
			}
		}
		return true
	})
}

// filter stops stanzas between a user and the JIDs they block. It runs on
// every delivery; for users with empty blocklists it is two map lookups and
// allocates nothing.
func (m *Module) filter(ctx *mod.Ctx, st *stanza.Stanza, dir mod.Direction, user jid.JID) (mod.Verdict, *stanza.Error) {
	switch dir {
	case mod.Outbound:
		return m.outbound(ctx, st, user)
	case mod.Inbound:
		return m.inbound(ctx, st, user)
	}
	return mod.Pass, nil
}

// outbound: the user sends to a JID they block (XEP-0191 §3.3). Messages and
// iq requests get <not-acceptable/> with <blocked/>; anything else is
// dropped.
func (m *Module) outbound(ctx *mod.Ctx, st *stanza.Stanza, user jid.JID) (mod.Verdict, *stanza.Error) {
	to := st.To
	if to.IsZero() || to.Bare() == user || !m.lookup(m.h.User(user)).blocks(to) {
		return mod.Pass, nil
	}
	switch {
	case st.Type == stanza.TypeError || st.Type == stanza.Result || st.Kind == stanza.Presence:
	default:
		ctx.Env.Send(blockedReply(st))
	}
	return mod.Drop, nil
}

// inbound: a stanza about to reach user. It is stopped when user blocks its
// sender (XEP-0191 §3.4: presence and iq results dropped, messages and iq
// requests answered with service-unavailable, so the user looks offline), or
// when the sender is a local user who blocks user: that catches what the
// server sends on the sender's behalf (presence broadcasts) and so never
// went through the sender's outbound filter.
func (m *Module) inbound(ctx *mod.Ctx, st *stanza.Stanza, user jid.JID) (mod.Verdict, *stanza.Error) {
	if mod.InboundExempt(ctx, st, user) {
		return mod.Pass, nil
	}
	from := st.From
	if m.lookup(m.h.User(user)).blocks(from) {
		return m.denier.Deny(st, user, errBlocked)
	}
	if mod.IsLocalUser(ctx.Env, from) {
		to := ctx.To // st.To is zero when st is shared by many receivers
		if to.IsZero() {
			to = user
		}
		if m.lookup(m.h.User(from)).blocks(to) && (st.Kind != stanza.Presence || st.Type != stanza.Unavailable) {
			// unavailable presence is let through: it is what hide sends
			return mod.Drop, nil
		}
	}
	return mod.Pass, nil
}

// blockedReply is the error answering a stanza the user sent to a JID they
// block: <not-acceptable/> plus the application condition <blocked/>
// (XEP-0191 §3.3), from the blocked JID.
func blockedReply(st *stanza.Stanza) *stanza.Stanza {
	e := stanza.Err(stanza.NotAcceptable)
	e.Type = stanza.Cancel
	var b stanza.Builder
	b.Start(st.Kind.String(), "type", "error", "id", st.ID, "from", st.To.String(), "to", st.From.String())
	b.Raw(appendWithApp(nil, e, NSErrors, "blocked"))
	return stanza.MustParse(b.Bytes())
}

// appendWithApp appends e's <error/> with an application-specific condition
// element added after the defined one (RFC 6120 §8.3.2).
//
// stanza.Error has no field for one, so the element is spliced in before the
// closing tag that Error.AppendXML writes; the condition itself still comes
// from the stanza package's table.
func appendWithApp(dst []byte, e *stanza.Error, ns, local string) []byte {
	x := e.AppendXML(nil)
	const closing = "</error>"
	x = x[:len(x)-len(closing)]
	var b stanza.Builder
	b.Element(local, "", "xmlns", ns)
	x = append(x, b.Bytes()...)
	x = append(x, closing...)
	return append(dst, x...)
}
