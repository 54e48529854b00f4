package mam

import (
	"bytes"
	"slices"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
	"ignis/xmlscan"
)

// content is what decides whether a message is archived.
type content struct {
	body, storeHint, noStore bool
	sid                      bool // a stanza-id by the archive's owner
}

func (c content) archived() bool { return (c.body || c.storeHint) && !c.noStore }

// typeArchived: chat and normal messages, not errors, headlines or
// groupchat (XEP-0313 §5.1.1).
func typeArchived(t stanza.Type) bool {
	return t == stanza.TypeNone || t == stanza.Normal || t == stanza.Chat
}

// inspect looks at st's children; by is the JID whose stanza-ids count.
func inspect(st *stanza.Stanza, by string) content {
	cl := st.Class()
	c := content{
		body:      cl.Has(stanza.ClassBody),
		storeHint: cl.Has(stanza.ClassHintStore),
		noStore:   cl.Has(stanza.ClassHintNoStore | stanza.ClassHintNoPermStore),
	}
	if by == "" || !cl.Has(stanza.ClassStanzaID) {
		return c
	}
	// whose stanza-id it is needs its attributes: scanned only when there is one
	it := st.Elem().Children()
	for e, ok := it.Next(); ok; e, ok = it.Next() {
		if v, _ := e.Attr("by"); string(e.NS()) == NSSID && string(e.Local()) == "stanza-id" && string(v) == by {
			c.sid = true
		}
	}
	return c
}

// outbound is the OutboundMessage hook: a local session sent st; it goes
// into the sender's archive.
func (m *Module) outbound(ctx *mod.Ctx, st *stanza.Stanza) *stanza.Stanza {
	if ctx.From == nil || st.To.Local() == "" || !typeArchived(st.Type) || !inspect(st, "").archived() {
		return st
	}
	user, with := m.h.User(ctx.From.JID()), st.To.Bare()
	if !m.allowed(user, with) {
		return st
	}
	if _, err := m.ar.AppendAsync(user, store.ArchiveOutbound, with.String(), st.Bytes(), m.failed(user)); err != nil {
		m.log.Error("archiving a sent message", "user", user, "err", err)
	}
	return st
}

// inbound is the InboundMessage hook: st is about to reach a local account,
// whose archive it goes into; what is delivered (or stored offline) carries
// its archive id as a stanza-id (XEP-0359 §4).
//
// A stanza-id claiming to be by the account that someone else put there is
// removed first (XEP-0359 §6), archived or not. A message the server itself
// routes (ctx.From nil) that has the account's stanza-id was archived
// already: a delivery that is routed again because its session went away.
func (m *Module) inbound(ctx *mod.Ctx, st *stanza.Stanza) *stanza.Stanza {
	// the receiver is ctx.To: st.To is zero for a stanza shared by many
	if st.Kind != stanza.Message || !mod.IsLocalUser(ctx.Env, ctx.To) {
		return st
	}
	owner := ctx.To.Bare()
	by := owner.String()
	c := inspect(st, by)
	if c.sid {
		if ctx.From == nil {
			return st
		}
		st = m.rewrite(ctx.Addressed(st), by, nil)
	}
	if !typeArchived(st.Type) || !c.archived() || st.From.IsZero() || !m.exists(ctx.Env, owner) {
		return st
	}
	// archived and delivered with its 'to': the receiver's own copy
	st = ctx.Addressed(st)
	user, with := m.h.User(owner), st.From.Bare()
	if !m.allowed(user, with) {
		return st
	}
	id, err := m.ar.AppendAsync(user, store.ArchiveInbound, with.String(), st.Bytes(), m.failed(user))
	if err != nil {
		m.log.Error("archiving a received message", "user", user, "err", err)
		return st
	}
	var b stanza.Builder
	b.Element("stanza-id", "", "xmlns", NSSID, "id", store.FormatArchiveID(id), "by", by)
	return m.rewrite(st, "", b.Bytes())
}

// failed logs an append that did not reach the disk (on the writer goroutine).
func (m *Module) failed(user string) func(error) {
	return func(err error) {
		if err != nil {
			m.log.Error("archiving a message", "user", user, "err", err)
		}
	}
}

// exists reports whether owner is an account: one with a session is; for
// others the account table is asked.
func (m *Module) exists(env mod.Env, owner jid.JID) bool {
	found := false
	env.Resources(owner, func(mod.Resource) bool { found = true; return false })
	if found {
		return true
	}
	_, err := m.db.Accounts().Get(m.h.User(owner))
	return err == nil
}

// allowed applies user's preferences to a message with contact with
// (XEP-0313 §6): the lists first, then the default. Preferences that cannot
// be read archive nothing.
func (m *Module) allowed(user string, with jid.JID) bool {
	p, err := m.ar.Prefs(user)
	if err != nil {
		m.log.Error("reading archive preferences", "user", user, "err", err)
		return false
	}
	w := with.String()
	switch {
	case slices.Contains(p.Never, w):
		return false
	case slices.Contains(p.Always, w):
		return true
	}
	switch p.Default {
	case store.ArchiveNever:
		return false
	case store.ArchiveRoster:
		it, err := m.db.Roster().Get(user, w)
		return err == nil && !it.Hidden
	}
	return true
}

// rewrite returns st without its stanza-id children by drop (when drop is
// not empty), with add appended as its last child. On any failure it
// returns st unchanged: the stanza is valid, so that is a bug, logged.
func (m *Module) rewrite(st *stanza.Stanza, drop string, add []byte) *stanza.Stanza {
	raw := st.Bytes()
	e, err := xmlscan.ParseElem(raw, stanza.NSClient)
	if err != nil || e.SelfClosing() {
		if err == nil {
			err = errSelfClosing
		}
		m.log.Error("rewriting a message", "err", err)
		return st
	}
	endTag := raw[bytes.LastIndexByte(raw, '<'):]
	out := make([]byte, 0, len(raw)+len(add))
	out = append(out, raw[:e.StartTagEnd()]...)
	if drop == "" {
		out = append(out, raw[e.StartTagEnd():len(raw)-len(endTag)]...)
	} else {
		// Children are copied one by one, leaving out the dropped ones; text
		// between a message's children means nothing (RFC 6120 §8.2).
		it := e.Children()
		for c, ok := it.Next(); ok; c, ok = it.Next() {
			if v, _ := c.Attr("by"); string(c.NS()) == NSSID && string(c.Local()) == "stanza-id" && string(v) == drop {
				continue
			}
			out = append(out, c.Raw()...)
		}
	}
	out = append(out, add...)
	out = append(out, endTag...)
	n, err := stanza.Parse(out)
	if err != nil {
		m.log.Error("rewriting a message", "err", err)
		return st
	}
	return n
}
