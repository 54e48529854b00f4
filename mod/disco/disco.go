// Package disco answers service discovery (XEP-0030) for the server and for
// local accounts. It lists nothing itself: identities, features and items
// come from what the other features registered.
package disco

import (
	"ignis/mod"
	"ignis/stanza"
)

// Namespaces of XEP-0030.
const (
	NSInfo  = "http://jabber.org/protocol/disco#info"
	NSItems = "http://jabber.org/protocol/disco#items"
)

// Module is the disco feature. Name is the server's disco identity name.
type Module struct {
	ServerName string
	reg        *mod.Registry
}

func (m *Module) Name() string { return "disco" }

func (m *Module) Register(r *mod.Registry) {
	m.reg = r
	name := m.ServerName
	if name == "" {
		name = "Ignis"
	}
	r.Identity(mod.Identity{Category: "server", Type: "im", Name: name})
	both := mod.ToServer | mod.ToAccount
	r.IQ(both, stanza.Get, NSInfo, "query", m.info)
	r.IQ(both, stanza.Get, NSItems, "query", m.items)
	r.Feature(both, NSInfo)
	r.Feature(both, NSItems)
}

func (m *Module) info(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if node, ok := iq.Payload().Attr("node"); ok && len(node) > 0 {
		return nil, stanza.Err(stanza.ItemNotFound) // no nodes are published yet
	}
	var b stanza.Builder
	b.Start("query", "xmlns", NSInfo)
	scope := mod.ToServer
	if ctx.Target.Local() != "" {
		scope = mod.ToAccount
		b.Element("identity", "", "category", "account", "type", "registered")
	} else {
		for _, id := range m.reg.Identities() {
			b.Element("identity", "", "category", id.Category, "type", id.Type, "name", id.Name)
		}
	}
	for _, f := range m.reg.Features(scope) {
		b.Element("feature", "", "var", f)
	}
	return iq.Result(b.Bytes()), nil
}

func (m *Module) items(_ *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if node, ok := iq.Payload().Attr("node"); ok && len(node) > 0 {
		return nil, stanza.Err(stanza.ItemNotFound)
	}
	var b stanza.Builder
	b.Start("query", "xmlns", NSItems)
	return iq.Result(b.Bytes()), nil
}
