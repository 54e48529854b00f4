package privacy

import (
	"errors"
	"slices"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// filter applies the governing privacy lists. Users without lists cost a
// map lookup per side and no allocation.
func (m *Module) filter(ctx *mod.Ctx, st *stanza.Stanza, dir mod.Direction, user jid.JID) (mod.Verdict, *stanza.Error) {
	switch dir {
	case mod.Outbound:
		return m.outbound(ctx, st, user)
	case mod.Inbound:
		return m.inbound(ctx, st, user)
	}
	return mod.Pass, nil
}

// notification reports whether a presence is a presence notification
// (available or unavailable), which presence-in and presence-out items are
// about; subscriptions and probes are matched only by items for every kind.
func notification(st *stanza.Stanza) bool {
	return st.Kind == stanza.Presence && (st.Type == stanza.TypeNone || st.Type == stanza.Unavailable)
}

// outbound: what the user's session sends (XEP-0016 §2.13). Presence
// notifications are matched by presence-out items, everything by items
// for every kind; a denied message or iq request gets <not-acceptable/>,
// anything else is dropped.
func (m *Module) outbound(ctx *mod.Ctx, st *stanza.Stanza, user jid.JID) (mod.Verdict, *stanza.Error) {
	to := st.To
	if to.IsZero() || to.Bare() == user || ctx.From == nil {
		return mod.Pass, nil
	}
	pl, ok := m.applicable(ctx.Env, m.h.User(user), ctx.From.JID())
	if !ok {
		return mod.Pass, nil
	}
	var kind store.PrivacyStanzas
	if notification(st) {
		kind = store.PrivacyPresenceOut
	}
	if !m.denies(m.h.User(user), pl, kind, to) {
		return mod.Pass, nil
	}
	if st.Kind == stanza.Presence || st.Type == stanza.Result || st.Type == stanza.TypeError {
		return mod.Drop, nil
	}
	return mod.Bounce, errOutDenied
}

// inbound: a stanza about to reach user, checked against user's list for
// incoming stanzas (XEP-0016 §2.12: presence and iq results dropped,
// messages and iq requests answered with service-unavailable), and, for a
// presence notification from a local user, against the sender's list for
// outgoing presence: the server sends broadcasts on the sender's behalf, so
// they never pass the sender's outbound filter.
func (m *Module) inbound(ctx *mod.Ctx, st *stanza.Stanza, user jid.JID) (mod.Verdict, *stanza.Error) {
	if mod.InboundExempt(ctx, st, user) {
		return mod.Pass, nil
	}
	from := st.From
	// the receiving session's active list: ctx.To, as st.To is zero when st
	// is shared by many receivers (a room's broadcast)
	if pl, ok := m.applicable(ctx.Env, m.h.User(user), ctx.To); ok {
		var kind store.PrivacyStanzas
		switch {
		case st.Kind == stanza.Message:
			kind = store.PrivacyMessage
		case st.Kind == stanza.IQ:
			kind = store.PrivacyIQ
		case notification(st):
			kind = store.PrivacyPresenceIn
		}
		if m.denies(m.h.User(user), pl, kind, from) {
			return m.denier.Deny(st, user, errInDenied)
		}
	}
	if notification(st) && mod.IsLocalUser(ctx.Env, from) {
		to := ctx.To
		if to.IsZero() {
			to = user
		}
		if pl, ok := m.applicable(ctx.Env, m.h.User(from), from); ok && m.denies(m.h.User(from), pl, store.PrivacyPresenceOut, to) {
			return mod.Drop, nil
		}
	}
	return mod.Pass, nil
}

// denies runs owner's list pl for a stanza of kind (0: a kind only items
// for every kind match) exchanged with other: the first matching item
// decides (XEP-0016 §2.10); no match allows.
func (m *Module) denies(owner string, pl store.PrivacyList, kind store.PrivacyStanzas, other jid.JID) bool {
	var r rosterView
	for i := range pl.Items {
		it := &pl.Items[i]
		if it.Stanzas != 0 && it.Stanzas&kind == 0 {
			continue
		}
		if m.matches(owner, it, other, &r) {
			return !it.Allow
		}
	}
	return false
}

// matches reports whether item it of owner's list matches other.
func (m *Module) matches(owner string, it *store.PrivacyItem, other jid.JID, r *rosterView) bool {
	switch it.Type {
	case store.PrivacyFallThrough:
		return true
	case store.PrivacyJID:
		return jidMatches(it.Value, other)
	case store.PrivacyGroup:
		return slices.Contains(m.roster(owner, other, r).groups, it.Value)
	case store.PrivacySubscription:
		return m.roster(owner, other, r).sub.String() == it.Value
	}
	return false
}

// jidMatches applies XEP-0016 §2.1: a full JID or domain/resource value
// matches only itself, a bare JID any of its resources, a domain itself and
// every JID at it. Values are canonical (parsed when the list was set).
func jidMatches(value string, j jid.JID) bool {
	return value == j.String() || value == j.Bare().String() || value == j.Domain()
}

// rosterView is what owner's roster says of one contact, read once per
// stanza and only if a group or subscription item is reached.
type rosterView struct {
	loaded bool
	groups []string
	sub    store.Subscription
}

// roster reads owner's roster item for other's bare JID, and merges in the
// shared groups both are members of (their members are each other's
// contacts under the group's display name, subscription both).
func (m *Module) roster(owner string, other jid.JID, r *rosterView) *rosterView {
	if r.loaded {
		return r
	}
	r.loaded = true
	it, err := m.db.Roster().Get(owner, other.Bare().String())
	switch {
	case err == nil && !it.Hidden:
		r.groups, r.sub = it.Groups, it.Sub
	case err != nil && !errors.Is(err, store.ErrNotFound):
		m.log.Error("privacy: reading roster", "user", owner, "err", err)
	}
	if other.Local() == "" {
		return r // shared groups hold accounts only; a remote JID's key is in none
	}
	shared, err := m.db.Groups().GroupsOf(owner)
	if err != nil {
		m.log.Error("privacy: reading shared groups", "user", owner, "err", err)
		return r
	}
	for _, g := range shared {
		if slices.Contains(g.Members, m.h.User(other)) {
			r.groups = append(slices.Clip(r.groups), g.Display)
			r.sub = store.SubBoth
		}
	}
	return r
}
