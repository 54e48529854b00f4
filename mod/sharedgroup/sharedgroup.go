// Package sharedgroup answers Openfire's shared-group query
// (http://www.jivesoftware.org/protocol/sharedgroup, used by Spark and Smack):
// the display names of the shared roster groups the asking user belongs to.
// Groups are administered with `ignis group` and kept in store.Groups; the
// roster merges their members into each member's roster.
package sharedgroup

import (
	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// NS is the shared-group namespace.
const NS = "http://www.jivesoftware.org/protocol/sharedgroup"

// errNotAllowed: only local accounts belong to shared groups (as in Openfire).
var errNotAllowed = stanza.ErrText(stanza.NotAllowed, "only local users have shared groups")

// Module is the shared-group query feature.
type Module struct {
	DB *store.DB
	// Primary is the server's primary domain, for the store user of an
	// account (store.UserKey); empty: every account is a localpart (one domain).
	Primary string
}

func (m *Module) Name() string { return "sharedgroup" }

func (m *Module) Register(r *mod.Registry) {
	// addressed to the server; an iq without 'to' reaches it too
	r.IQ(mod.ToServer, stanza.Get, NS, "sharedgroup", m.get)
	r.Feature(mod.ToServer, NS)
}

func (m *Module) get(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if ctx.From == nil || ctx.From.JID().Local() == "" {
		return nil, errNotAllowed
	}
	groups, err := m.DB.Groups().GroupsOf(m.user(ctx.From.JID()))
	if err != nil {
		return nil, err
	}
	var b stanza.Builder
	b.Start("sharedgroup", "xmlns", NS)
	for _, g := range groups {
		b.Element("group", g.Display)
	}
	return iq.Result(b.Bytes()), nil
}

// user is the store user of account j.
func (m *Module) user(j jid.JID) string {
	if m.Primary == "" {
		return j.Local()
	}
	return store.UserKey(m.Primary, j)
}
