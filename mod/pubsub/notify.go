package pubsub

import (
	"context"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// recipients lists who is notified of node n's events. On the service:
// the subscribed JIDs. In PEP (XEP-0163 §4.3): the available resources of
// the account and of the contacts it shares presence with (and the access
// model allows) that asked for NODE+notify in their caps.
func (m *Module) recipients(env mod.Env, sp space, n *store.PubsubNode) []jid.JID {
	var out []jid.JID
	if !sp.pep {
		_ = sp.st.Subs(sp.owner, n.Name, func(j, state string) bool {
			if to, err := jid.Parse(j); err == nil && state == "subscribed" {
				out = append(out, to)
			}
			return true
		})
		return out
	}
	interested := func(r mod.Resource) bool {
		if r.Available() && m.caps.wants(r.JID(), n.Name) {
			out = append(out, r.JID())
		}
		return true
	}
	env.Resources(sp.jid, interested)
	if n.AccessModel == accessWhitelist {
		return out // nobody but the owner in PEP
	}
	_, err := m.db.Roster().List(sp.owner, func(it store.RosterItem) bool {
		if it.Hidden || it.Sub&store.SubFrom == 0 {
			return true
		}
		c, err := jid.Parse(it.JID)
		if err != nil || c.Local() == "" {
			return true
		}
		if n.AccessModel == accessRoster && !anyIn(it.Groups, n.RosterGroups) {
			return true
		}
		if !mod.IsLocalUser(env, c) {
			// another server's contact: the resources whose caps came
			// with their presence (remotePresence)
			out = append(out, m.caps.resources(c, n.Name)...)
			return true
		}
		env.Resources(c, interested)
		return true
	})
	if err != nil {
		m.log.Error("listing the roster for notifications", "user", sp.owner, "err", err)
	}
	return out
}

func anyIn(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// notifyEvent sends one event message to each of to: built once without
// 'to' and shared by every delivery (XEP-0060 §7.1.2, headline messages
// from the service).
func (m *Module) notifyEvent(env mod.Env, sp space, n *store.PubsubNode, to []jid.JID, body func(b *stanza.Builder)) {
	if len(to) == 0 {
		return
	}
	var b stanza.Builder
	b.Start("message", "from", sp.jid.String(), "type", "headline")
	b.Start("event", "xmlns", NSEvent)
	body(&b)
	b.End().End()
	st := stanza.MustParse(b.Bytes())
	for _, t := range to {
		env.SendTo(t, st)
	}
}

// notifyItem tells the node's recipients of a published item, payload
// included.
func (m *Module) notifyItem(env mod.Env, sp space, n *store.PubsubNode, it store.PubsubItem) {
	m.notifyEvent(env, sp, n, m.recipients(env, sp, n), func(b *stanza.Builder) {
		b.Start("items", "node", n.Name)
		writeItem(b, sp, it)
		b.End()
	})
}

// notifyRetract tells the recipients which items were retracted.
func (m *Module) notifyRetract(env mod.Env, sp space, n *store.PubsubNode, ids []string) {
	m.notifyEvent(env, sp, n, m.recipients(env, sp, n), func(b *stanza.Builder) {
		b.Start("items", "node", n.Name)
		for _, id := range ids {
			b.Element("retract", "", "id", id)
		}
		b.End()
	})
}

// sendLast sends a resource that announced (or resolved) its caps the last
// item of each node it wants notifications of, of its own account and of
// each contact whose presence it receives (XEP-0163 §4.3.2,
// send_last_published_item on_sub_and_presence). The store is read on the
// user's queue, not the caller's event loop.
func (m *Module) sendLast(env mod.Env, full jid.JID, f *capsFeatures) {
	if len(f.notify) == 0 {
		return
	}
	user := full.Bare()
	if !mod.IsLocalUser(env, user) {
		return
	}
	err := m.h.Serial("last:"+user.String(), func(context.Context) {
		owners := []jid.JID{user}
		_, err := m.db.Roster().List(m.h.User(user), func(it store.RosterItem) bool {
			if it.Hidden || it.Sub&store.SubTo == 0 {
				return true
			}
			if c, err := jid.Parse(it.JID); err == nil && mod.IsLocalUser(env, c) {
				owners = append(owners, c)
			}
			return true
		})
		if err != nil {
			m.log.Error("listing the roster for last items", "user", user.String(), "err", err)
			return
		}
		for _, o := range owners {
			sp := m.pepSpace(o)
			for _, node := range f.notify {
				n, err := sp.st.Node(sp.owner, node)
				if err != nil || n.SendLast == "never" || m.mayRead(env, sp, &n, user) != nil {
					continue
				}
				items, err := sp.st.Items(sp.owner, node)
				if err != nil || len(items) == 0 {
					continue
				}
				m.notifyEvent(env, sp, &n, []jid.JID{full}, func(b *stanza.Builder) {
					b.Start("items", "node", n.Name)
					writeItem(b, sp, items[0])
					b.End()
				})
			}
		}
	})
	if err != nil {
		m.log.Warn("last items not sent", "jid", full.String(), "err", err)
	}
}
