package pubsub

import (
	"context"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// Subscription states as stored (XEP-0060 §4.2).
const (
	subSubscribed = "subscribed"
	subPending    = "pending"
)

// subState is who's subscription to node n, or "".
func subState(sp space, n string, who string) string {
	state := ""
	_ = sp.st.Subs(sp.owner, n, func(j, s string) bool {
		if j == who {
			state = s
			return false
		}
		return true
	})
	return state
}

// subscribe subscribes the requester (XEP-0060 §6.1): at once, or pending
// the owner's approval on an authorize node; the last item follows.
func (m *Module) subscribe(env mod.Env, sp space, r *request) (*stanza.Stanza, error) {
	n, err := m.node(sp, r)
	if err != nil {
		return nil, err
	}
	js, _ := r.verb.Attr("jid")
	sub, err := jid.Parse(string(js))
	if err != nil || !sub.Bare().Equal(r.who) {
		return nil, pubErr(stanza.BadRequest, "invalid-jid")
	}
	state := subSubscribed
	if n.AccessModel == accessAuthorize && m.affiliation(sp, &n, r.who) == affNone {
		state = subPending
	} else if err := m.mayRead(env, sp, &n, r.who); err != nil {
		return nil, err
	}
	if m.affiliation(sp, &n, r.who) == affOutcast {
		return nil, errForbidden
	}
	tx := sp.st.Begin(sp.owner)
	tx.PutSub(n.Name, sub.String(), state)
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if state == subPending {
		m.askApproval(env, sp, &n, sub)
	} else if n.SendLast != "never" {
		if items, err := sp.st.Items(sp.owner, n.Name); err == nil && len(items) > 0 {
			defer m.notifyEvent(env, sp, &n, []jid.JID{sub}, func(b *stanza.Builder) {
				b.Start("items", "node", n.Name)
				writeItem(b, sp, items[0])
				b.End()
			})
		}
	}
	var b stanza.Builder
	b.Start("pubsub", "xmlns", NS).Element("subscription", "", "node", n.Name, "jid", sub.String(), "subscription", state)
	return r.iq.Result(b.Bytes()), nil
}

// askApproval sends the node's owners the subscription approval form
// (XEP-0060 §8.6).
func (m *Module) askApproval(env mod.Env, sp space, n *store.PubsubNode, sub jid.JID) {
	for j, a := range n.Affiliations {
		owner, err := jid.Parse(j)
		if a != affOwner || err != nil {
			continue
		}
		var b stanza.Builder
		b.Start("message", "from", sp.jid.String(), "to", owner.String())
		b.Start("x", "xmlns", NSData, "type", "form")
		b.Element("title", "PubSub subscriber request")
		field(&b, "FORM_TYPE", "hidden", NSSubAuth)
		field(&b, "pubsub#node", "text-single", n.Name)
		field(&b, "pubsub#subscriber_jid", "jid-single", sub.String())
		field(&b, "pubsub#allow", "boolean", "0")
		b.End().End()
		env.Send(stanza.MustParse(b.Bytes()))
	}
}

// serviceMessage takes an owner's answer to an approval form.
func (m *Module) serviceMessage(ctx *mod.Ctx, st *stanza.Stanza) {
	if st.Type == stanza.TypeError || st.From.IsZero() {
		return
	}
	f, err := parseForm(st.Elem(), NSSubAuth)
	if err != nil || f.one("pubsub#node") == "" {
		return
	}
	sp, env, who := m.serviceSpace(ctx.Target), ctx.Env, st.From.Bare()
	_ = m.h.Serial(sp.key(), func(context.Context) {
		n, err := sp.st.Node(sp.owner, f.one("pubsub#node"))
		if err != nil || m.affiliation(sp, &n, who) != affOwner {
			return
		}
		sub := f.one("pubsub#subscriber_jid")
		if subState(sp, n.Name, sub) != subPending {
			return
		}
		tx := sp.st.Begin(sp.owner)
		allow, _ := parseBool(f.one("pubsub#allow"))
		state := "none"
		if allow {
			state = subSubscribed
			tx.PutSub(n.Name, sub, subSubscribed)
		} else {
			tx.DeleteSub(n.Name, sub)
		}
		if err := tx.Commit(); err != nil {
			m.log.Error("storing an approval", "node", n.Name, "err", err)
			return
		}
		if to, err := jid.Parse(sub); err == nil {
			var b stanza.Builder
			b.Start("message", "from", sp.jid.String(), "to", to.String())
			b.Start("event", "xmlns", NSEvent).Element("subscription", "", "node", n.Name, "jid", sub, "subscription", state)
			b.End().End()
			env.Send(stanza.MustParse(b.Bytes()))
		}
	})
}

// unsubscribe ends a subscription (XEP-0060 §6.2).
func (m *Module) unsubscribe(sp space, r *request) (*stanza.Stanza, error) {
	n, err := m.node(sp, r)
	if err != nil {
		return nil, err
	}
	js, _ := r.verb.Attr("jid")
	sub, err := jid.Parse(string(js))
	if err != nil || !sub.Bare().Equal(r.who) {
		return nil, pubErr(stanza.BadRequest, "invalid-jid")
	}
	if subState(sp, n.Name, sub.String()) == "" {
		return nil, pubErr(stanza.UnexpectedRequest, "not-subscribed")
	}
	tx := sp.st.Begin(sp.owner)
	tx.DeleteSub(n.Name, sub.String())
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return r.iq.Result(nil), nil
}

// options answers subscription options (XEP-0060 §6.3), minimally: one
// pubsub#deliver field, always on.
func (m *Module) options(sp space, r *request) (*stanza.Stanza, error) {
	n, err := m.node(sp, r)
	if err != nil {
		return nil, err
	}
	js, _ := r.verb.Attr("jid")
	if subState(sp, n.Name, string(js)) == "" {
		return nil, pubErr(stanza.UnexpectedRequest, "not-subscribed")
	}
	if r.iq.Type == stanza.Set {
		return r.iq.Result(nil), nil
	}
	var b stanza.Builder
	b.Start("pubsub", "xmlns", NS).Start("options", "node", n.Name, "jid", string(js))
	b.Start("x", "xmlns", NSData, "type", "form")
	field(&b, "FORM_TYPE", "hidden", NS+"#subscribe_options")
	field(&b, "pubsub#deliver", "boolean", "1")
	return r.iq.Result(b.Bytes()), nil
}

// mySubscriptions lists the requester's subscriptions (XEP-0060 §5.6).
func (m *Module) mySubscriptions(sp space, r *request) (*stanza.Stanza, error) {
	var b stanza.Builder
	b.Start("pubsub", "xmlns", NS).Start("subscriptions")
	err := sp.st.Nodes(sp.owner, func(n store.PubsubNode) bool {
		if r.node != "" && n.Name != r.node {
			return true
		}
		_ = sp.st.Subs(sp.owner, n.Name, func(j, s string) bool {
			if sj, err := jid.Parse(j); err == nil && sj.Bare().Equal(r.who) {
				b.Element("subscription", "", "node", n.Name, "jid", j, "subscription", s)
			}
			return true
		})
		return true
	})
	if err != nil {
		return nil, err
	}
	return r.iq.Result(b.Bytes()), nil
}

// myAffiliations lists the requester's affiliations (XEP-0060 §5.7).
func (m *Module) myAffiliations(sp space, r *request) (*stanza.Stanza, error) {
	var b stanza.Builder
	b.Start("pubsub", "xmlns", NS).Start("affiliations")
	err := sp.st.Nodes(sp.owner, func(n store.PubsubNode) bool {
		if r.node != "" && n.Name != r.node {
			return true
		}
		if a := m.affiliation(sp, &n, r.who); a != affNone {
			b.Element("affiliation", "", "node", n.Name, "affiliation", a)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return r.iq.Result(b.Bytes()), nil
}

// affiliations lets an owner read and change a node's affiliations
// (XEP-0060 §8.9).
func (m *Module) affiliations(sp space, r *request) (*stanza.Stanza, error) {
	n, err := m.ownedNode(sp, r)
	if err != nil {
		return nil, err
	}
	if r.iq.Type == stanza.Get {
		var b stanza.Builder
		b.Start("pubsub", "xmlns", NSOwner).Start("affiliations", "node", n.Name)
		for j, a := range n.Affiliations {
			b.Element("affiliation", "", "jid", j, "affiliation", a)
		}
		return r.iq.Result(b.Bytes()), nil
	}
	aff := map[string]string{}
	for j, a := range n.Affiliations {
		aff[j] = a
	}
	it := r.verb.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		js, _ := c.Attr("jid")
		a, _ := c.Attr("affiliation")
		j, err := jid.Parse(string(js))
		if err != nil {
			return nil, pubErr(stanza.BadRequest, "invalid-jid")
		}
		switch string(a) {
		case affOwner, affPublisher, affMember, affOutcast:
			aff[j.Bare().String()] = string(a)
		case affNone:
			delete(aff, j.Bare().String())
		default:
			return nil, errBadRequest
		}
	}
	owners := 0
	for _, a := range aff {
		if a == affOwner {
			owners++
		}
	}
	if owners == 0 {
		return nil, stanza.ErrText(stanza.NotAcceptable, "a node keeps at least one owner")
	}
	n.Affiliations = aff
	tx := sp.st.Begin(sp.owner)
	tx.PutNode(n)
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return r.iq.Result(nil), nil
}

// subscriptions lets an owner read and change a node's subscriptions
// (XEP-0060 §8.8), approving pending ones among them.
func (m *Module) subscriptions(env mod.Env, sp space, r *request) (*stanza.Stanza, error) {
	n, err := m.ownedNode(sp, r)
	if err != nil {
		return nil, err
	}
	if r.iq.Type == stanza.Get {
		var b stanza.Builder
		b.Start("pubsub", "xmlns", NSOwner).Start("subscriptions", "node", n.Name)
		err := sp.st.Subs(sp.owner, n.Name, func(j, s string) bool {
			b.Element("subscription", "", "jid", j, "subscription", s)
			return true
		})
		if err != nil {
			return nil, err
		}
		return r.iq.Result(b.Bytes()), nil
	}
	tx := sp.st.Begin(sp.owner)
	it := r.verb.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		js, _ := c.Attr("jid")
		s, _ := c.Attr("subscription")
		j, err := jid.Parse(string(js))
		if err != nil {
			tx.Discard()
			return nil, pubErr(stanza.BadRequest, "invalid-jid")
		}
		switch string(s) {
		case subSubscribed, subPending:
			tx.PutSub(n.Name, j.String(), string(s))
		case "none":
			tx.DeleteSub(n.Name, j.String())
		default:
			tx.Discard()
			return nil, errBadRequest
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return r.iq.Result(nil), nil
}

// serviceItems lists the service's nodes (disco#items, XEP-0060 §5.2).
func (m *Module) serviceItems(ctx *mod.Ctx) []mod.Item {
	var out []mod.Item
	d := ctx.Target.String()
	sp := m.serviceSpace(ctx.Target)
	_ = sp.st.Nodes(sp.owner, func(n store.PubsubNode) bool {
		out = append(out, mod.Item{JID: d, Node: n.Name, Name: n.Title})
		return true
	})
	return out
}

// pepItems lists the PEP nodes of the account ctx.Target that asker may
// read (disco#items on a bare JID, XEP-0060 §5.2 and XEP-0163 §7): nodes
// whose access model shuts asker out are left out, not refused, as Prosody
// and ejabberd do.
func (m *Module) pepItems(ctx *mod.Ctx, asker jid.JID) ([]mod.Item, error) {
	sp := m.pepSpace(ctx.Target)
	d := ctx.Target.String()
	var out []mod.Item
	var ferr error
	err := sp.st.Nodes(sp.owner, func(n store.PubsubNode) bool {
		switch err := m.mayRead(ctx.Env, sp, &n, asker); {
		case err == nil:
			out = append(out, mod.Item{JID: d, Node: n.Name, Name: n.Title})
		case !isStanzaError(err):
			ferr = err // the store failed
			return false
		}
		return true
	})
	if err == nil {
		err = ferr
	}
	return out, err
}

// isStanzaError tells a refusal (a stanza error) from a failure.
func isStanzaError(err error) bool {
	_, ok := err.(*stanza.Error)
	return ok
}
