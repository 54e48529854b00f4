// Package disco answers service discovery (XEP-0030) for the server and for
// local accounts. It lists nothing itself: identities, features and items
// come from what the other features registered.
package disco

import (
	"errors"

	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// Namespaces of XEP-0030.
const (
	NSInfo  = "http://jabber.org/protocol/disco#info"
	NSItems = "http://jabber.org/protocol/disco#items"
)

// Module is the disco feature. ServerName is the server's disco identity
// name. DB, if set, is used to answer queries about accounts that do not
// exist as RFC 6121 §8.5.1 asks (service-unavailable, the same answer as for
// anything else an account does not offer, so nobody learns which accounts
// exist from the error alone).
type Module struct {
	ServerName string
	DB         *store.DB
	reg        *mod.Registry
}

var errNoAccount = stanza.Err(stanza.ServiceUnavailable)

// exists reports whether the account a query is addressed to exists.
func (m *Module) exists(ctx *mod.Ctx) (bool, error) {
	if m.DB == nil || (ctx.From != nil && ctx.From.JID().Bare() == ctx.Target) {
		return true, nil // one's own account exists while one is logged in
	}
	_, err := m.DB.Accounts().Get(mod.UserKey(ctx.Env, ctx.Target))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
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
	// every service's own domain: what the service declared
	r.IQ(mod.ToService, stanza.Get, NSInfo, "query", m.serviceInfo)
	r.IQ(mod.ToService, stanza.Get, NSItems, "query", m.serviceItems)
}

func (m *Module) serviceInfo(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if node, ok := iq.Payload().Attr("node"); ok && len(node) > 0 {
		return nil, stanza.Err(stanza.ItemNotFound)
	}
	var b stanza.Builder
	b.Start("query", "xmlns", NSInfo)
	for _, id := range ctx.Service.Identities {
		b.Element("identity", "", "category", id.Category, "type", id.Type, "name", id.Name)
	}
	b.Element("feature", "", "var", NSInfo)
	b.Element("feature", "", "var", NSItems)
	for _, f := range ctx.Service.Features {
		if f != NSInfo && f != NSItems {
			b.Element("feature", "", "var", f)
		}
	}
	for _, f := range ctx.Service.Forms {
		writeForm(&b, f)
	}
	return iq.Result(b.Bytes()), nil
}

func (m *Module) serviceItems(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if node, ok := iq.Payload().Attr("node"); ok && len(node) > 0 {
		return nil, stanza.Err(stanza.ItemNotFound)
	}
	var b stanza.Builder
	b.Start("query", "xmlns", NSItems)
	if ctx.Service.Items != nil {
		for _, it := range ctx.Service.Items(ctx) {
			b.Element("item", "", "jid", it.JID, "node", it.Node, "name", it.Name)
		}
	}
	return iq.Result(b.Bytes()), nil
}

func (m *Module) info(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if node, ok := iq.Payload().Attr("node"); ok && len(node) > 0 {
		return m.nodeInfo(ctx, iq, string(node))
	}
	var b stanza.Builder
	b.Start("query", "xmlns", NSInfo)
	scope := mod.ToServer
	if ctx.Target.Local() != "" {
		if ok, err := m.exists(ctx); !ok {
			if err != nil {
				return nil, err
			}
			return nil, errNoAccount
		}
		scope = mod.ToAccount
		b.Element("identity", "", "category", "account", "type", "registered")
		for _, id := range m.reg.AccountIdentities() {
			b.Element("identity", "", "category", id.Category, "type", id.Type, "name", id.Name)
		}
	} else {
		for _, id := range m.reg.Identities() {
			b.Element("identity", "", "category", id.Category, "type", id.Type, "name", id.Name)
		}
	}
	for _, f := range m.reg.Features(scope) {
		b.Element("feature", "", "var", f)
	}
	for _, f := range m.reg.Forms(scope) {
		writeForm(&b, f)
	}
	return iq.Result(b.Bytes()), nil
}

// NSData is the data forms namespace (XEP-0004).
const NSData = "jabber:x:data"

// writeForm appends an extended info form as XEP-0128 §3 shows it: a result
// form whose first field is the hidden FORM_TYPE.
func writeForm(b *stanza.Builder, f mod.InfoForm) {
	b.Start("x", "xmlns", NSData, "type", "result")
	b.Start("field", "var", "FORM_TYPE", "type", "hidden")
	b.Element("value", f.Type)
	b.End()
	for _, fl := range f.Fields {
		b.Start("field", "var", fl.Var)
		b.Element("value", fl.Value)
		b.End()
	}
	b.End()
}

// items lists the server's items (components and the domain's own
// services) for a local domain, and what the modules list for an account (its PEP nodes).
func (m *Module) items(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if node, ok := iq.Payload().Attr("node"); ok && len(node) > 0 {
		return m.nodeItems(ctx, iq, string(node))
	}
	var b stanza.Builder
	b.Start("query", "xmlns", NSItems)
	if ctx.Target.Local() != "" {
		if ok, err := m.exists(ctx); !ok {
			if err != nil {
				return nil, err
			}
			return nil, errNoAccount
		}
		for _, src := range m.reg.AccountItemSources() {
			items, err := src(ctx, iq.From.Bare())
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				b.Element("item", "", "jid", it.JID, "node", it.Node, "name", it.Name)
			}
		}
		return iq.Result(b.Bytes()), nil
	}
	for _, it := range m.reg.Items() {
		b.Element("item", "", "jid", it.JID, "name", it.Name)
	}
	// each local domain lists its own services (a virtual host's
	// conference.vhost, not the primary domain's)
	for _, s := range m.reg.Services() {
		if s.ParentDomain(ctx.Env.Domain()) != ctx.Target.Domain() {
			continue
		}
		d, err := s.Domain(ctx.Env.Domain())
		if err != nil {
			continue // the router refused it at start-up
		}
		name := ""
		if len(s.Identities) > 0 {
			name = s.Identities[0].Name
		}
		b.Element("item", "", "jid", d.String(), "name", name)
	}
	return iq.Result(b.Bytes()), nil
}

// scopeOf is the registry scope of a query to the server or to an account.
func scopeOf(ctx *mod.Ctx) mod.Scope {
	if ctx.Target.Local() != "" {
		return mod.ToAccount
	}
	return mod.ToServer
}

// nodeInfo answers disco#info of a node a feature registered (XEP-0030 §3.2:
// the node attribute is echoed), item-not-found for any other.
func (m *Module) nodeInfo(ctx *mod.Ctx, iq *stanza.Stanza, node string) (*stanza.Stanza, error) {
	n, ok := m.reg.LookupNode(scopeOf(ctx), node)
	if !ok || n.Info == nil {
		return nil, stanza.Err(stanza.ItemNotFound)
	}
	ids, feats, err := n.Info(ctx)
	if err != nil {
		return nil, err
	}
	var b stanza.Builder
	b.Start("query", "xmlns", NSInfo, "node", node)
	for _, id := range ids {
		b.Element("identity", "", "category", id.Category, "type", id.Type, "name", id.Name)
	}
	for _, f := range feats {
		b.Element("feature", "", "var", f)
	}
	return iq.Result(b.Bytes()), nil
}

// nodeItems answers disco#items of a registered node.
func (m *Module) nodeItems(ctx *mod.Ctx, iq *stanza.Stanza, node string) (*stanza.Stanza, error) {
	n, ok := m.reg.LookupNode(scopeOf(ctx), node)
	if !ok || n.Items == nil {
		return nil, stanza.Err(stanza.ItemNotFound)
	}
	items, err := n.Items(ctx)
	if err != nil {
		return nil, err
	}
	var b stanza.Builder
	b.Start("query", "xmlns", NSItems, "node", node)
	for _, it := range items {
		b.Element("item", "", "jid", it.JID, "node", it.Node, "name", it.Name)
	}
	return iq.Result(b.Bytes()), nil
}
