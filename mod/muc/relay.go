package muc

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/xmlscan"
)

const nsVCard = "vcard-temp"

// hasNode reports whether a disco query asks for node.
func hasNode(q xmlscan.Elem, node string) bool {
	v, ok := q.Attr("node")
	return ok && string(v) == node
}

// occupantIQ handles an iq get or set to room/nick (XEP-0045 §7.5's rules
// for private messages, applied to iqs as Prosody does): a self-ping
// (XEP-0410) is answered by the room; any other goes to the occupant, from
// the asker's occupant JID, and its answer comes back the same way
// (relayAnswer). A vCard request goes to the occupant's account, which the
// server answers for. The asker must be an occupant (not-acceptable), the
// nick must be in the room (item-not-found), and a room without private
// messages relays only a moderator's iqs (forbidden).
func (r *room) occupantIQ(ctx *mod.Ctx, iq *stanza.Stanza, ns string) (*stanza.Stanza, error) {
	r.mu.Lock()
	o := r.occupantAt(iq.From.String())
	nick := iq.To.Resource()
	if o == nil {
		r.mu.Unlock()
		return nil, stanza.ErrText(stanza.NotAcceptable, "only occupants of the room send iqs to its occupants")
	}
	if ns == nsPing && iq.Type == stanza.Get && o.nick == nick {
		r.mu.Unlock()
		return iq.Result(nil), nil
	}
	to := r.occupants[nick]
	switch {
	case to == nil:
		r.mu.Unlock()
		return nil, stanza.ErrText(stanza.ItemNotFound, "no such occupant")
	case r.cfg.NoPM && o.role < roleModerator:
		r.mu.Unlock()
		return nil, stanza.ErrText(stanza.Forbidden, "private messages and iqs to occupants are not allowed in this room")
	}
	target := to.sessions[0] // one session answers, never several of a shared nick
	if ns == nsVCard && iq.Type == stanza.Get {
		target = to.bare()
	}
	from := r.occJID(o.nick)
	r.mu.Unlock()

	var b stanza.Builder
	b.Start("iq", "from", from.String(), "to", target.String(), "type", iq.Type.String(),
		"id", r.m.relayID(from, target, iq.From, iq.ID, nick))
	it := iq.Elem().Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		b.Raw(c.Raw())
	}
	ctx.Env.Send(stanza.MustParse(b.Bytes()))
	return nil, nil
}

// relayID is the id of an iq relayed from occupant JID from to target for
// asker: it carries the asker, its id and the nick asked, so the answer
// finds its way back with nothing kept in the room, and a MAC over all of
// it with the two addresses, so that no one else can make an answer that
// the room would pass on.
func (m *Module) relayID(from, target, asker jid.JID, id, nick string) string {
	payload := asker.String() + "\x00" + id + "\x00" + nick
	enc := base64.RawURLEncoding
	return "muc." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(m.relayMAC(from, target, payload))
}

func (m *Module) relayMAC(from, target jid.JID, payload string) []byte {
	mac := hmac.New(sha256.New, m.secret)
	mac.Write([]byte(from.String()))
	mac.Write([]byte{0})
	mac.Write([]byte(target.String()))
	mac.Write([]byte{0})
	mac.Write([]byte(payload))
	return mac.Sum(nil)[:16]
}

// relayAnswer passes an occupant's answer (result or error) to a relayed
// iq back to the asker, from the occupant JID that was asked. Answers whose
// id the room did not make for that sender are dropped (never answered: an
// error or result gets no error).
func (m *Module) relayAnswer(ctx *mod.Ctx, iq *stanza.Stanza) {
	rest, ok := strings.CutPrefix(iq.ID, "muc.")
	if !ok {
		return
	}
	p64, m64, ok := strings.Cut(rest, ".")
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p64)
	sum, err2 := enc.DecodeString(m64)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(sum, m.relayMAC(iq.To, iq.From, string(payload))) {
		m.h.Log().Debug("an iq answer to an occupant that the room did not relay", "from", iq.From.String(), "to", iq.To.String())
		return
	}
	parts := bytes.SplitN(payload, []byte{0}, 3)
	if len(parts) != 3 {
		return
	}
	asker, err := jid.Parse(string(parts[0]))
	if err != nil {
		return
	}
	from, err := iq.To.Bare().WithResource(string(parts[2]))
	if err != nil {
		return
	}
	var b stanza.Builder
	b.Start("iq", "from", from.String(), "to", asker.String(), "type", iq.Type.String(), "id", string(parts[1]))
	it := iq.Elem().Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		b.Raw(c.Raw())
	}
	ctx.Env.Send(stanza.MustParse(b.Bytes()))
}
