package muc

import (
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// Registration with a room (XEP-0045 §7.10) and the reserved-nick query
// (§7.12).
const (
	nsRegister    = "jabber:iq:register"
	nsMUCRegister = "http://jabber.org/protocol/muc#register"
	nodeRoomUser  = "x-roomuser-item" // disco#info node answering one's registered nick
	fieldRoomNick = "muc#register_roomnick"
)

var errReserved = stanza.ErrText(stanza.Conflict, "that nick is registered to another user")

// reg is what a room keeps of registered nicks and voice requests. The maps
// are made on first use: a room without either pays three nil maps.
type reg struct {
	nicks      map[string]string    // bare JID → registered nick (stored with the room)
	nickOwner  map[string]string    // registered nick → bare JID
	voiceAsked map[string]time.Time // bare JID → when it last asked for voice (voice.go)
}

// reserve registers nick for bare, replacing what bare had registered.
func (g *reg) reserve(bare, nick string) {
	if g.nicks == nil {
		g.nicks, g.nickOwner = map[string]string{}, map[string]string{}
	}
	g.unreserve(bare)
	g.nicks[bare], g.nickOwner[nick] = nick, bare
}

// unreserve drops bare's registration; it reports whether there was one.
func (g *reg) unreserve(bare string) bool {
	nick, ok := g.nicks[bare]
	if ok {
		delete(g.nicks, bare)
		delete(g.nickOwner, nick)
	}
	return ok
}

// reservedFor reports whether nick is registered to someone else than bare.
func (g *reg) reservedFor(nick string, bare jid.JID) bool {
	owner, ok := g.nickOwner[nick]
	return ok && owner != bare.String()
}

// registerIQ is jabber:iq:register on the room: the form (get), a nick
// registered (a set with the form) or the registration removed (<remove/>).
// Registering makes a member of a user without affiliation; in a
// members-only room only members register. Under r.mu.
func (r *room) registerIQ(iq *stanza.Stanza) ([]mod.Delivery, *stanza.Stanza, error) {
	bare := iq.From.Bare()
	a := r.aff(bare)
	switch {
	case r.locked && a != affOwner:
		return nil, nil, stanza.ErrText(stanza.ItemNotFound, "no such room")
	case a == affOutcast:
		return nil, nil, stanza.ErrText(stanza.Forbidden, "you are banned from this room")
	case r.cfg.MembersOnly && a < affMember:
		return nil, nil, stanza.ErrText(stanza.NotAllowed, "a members-only room takes registrations from its members only; an admin or an invitation makes you one")
	}
	if iq.Type == stanza.Get {
		return nil, iq.Result(r.registerForm(r.nicks[bare.String()])), nil
	}
	p := iq.Payload()
	if !p.Child("remove", nsRegister).IsZero() {
		if !r.unreserve(bare.String()) {
			return nil, nil, stanza.ErrText(stanza.ItemNotFound, "you have no nick registered with this room")
		}
		var out []mod.Delivery
		if a == affMember {
			out = r.setAff(bare, affNone, nil)
		}
		r.persist()
		r.m.h.Log().Info("room registration removed", "room", r.jid.String(), "user", bare.String())
		return out, iq.Result(nil), nil
	}
	x := p.Child("x", nsData)
	if x.IsZero() {
		return nil, nil, stanza.ErrText(stanza.BadRequest, "expected the "+nsMUCRegister+" form or <remove/>")
	}
	switch t, _ := x.Attr("type"); string(t) {
	case "cancel":
		return nil, iq.Result(nil), nil
	case "submit":
	default:
		return nil, nil, stanza.ErrText(stanza.BadRequest, "the form must be submit or cancel")
	}
	f := formFields(x)
	if t, ok := f["FORM_TYPE"]; ok && t != nsMUCRegister {
		return nil, nil, stanza.ErrText(stanza.BadRequest, "FORM_TYPE must be "+nsMUCRegister)
	}
	nick := f[fieldRoomNick]
	if nick == "" {
		return nil, nil, stanza.ErrText(stanza.NotAcceptable, "a nick ("+fieldRoomNick+") is required")
	}
	oj, err := r.jid.WithResource(nick)
	if err != nil {
		return nil, nil, stanza.ErrText(stanza.JIDMalformed, "that nick is not valid")
	}
	nick = oj.Resource() // as joins see it (prepared)
	_, had := r.nicks[bare.String()]
	switch o := r.occupants[nick]; {
	case o != nil && !o.bare().Equal(bare):
		return nil, nil, stanza.ErrText(stanza.Conflict, "that nick is in use by another occupant")
	case r.reservedFor(nick, bare):
		return nil, nil, errReserved
	case !had && len(r.nicks) >= r.m.cfg.MaxRegistrations:
		return nil, nil, stanza.ErrText(stanza.ResourceConstraint, "this room has as many registrations as it takes")
	}
	r.reserve(bare.String(), nick)
	var out []mod.Delivery
	if a < affMember {
		out = r.setAff(bare, affMember, nil)
	}
	r.persist()
	r.m.h.Log().Info("room registration", "room", r.jid.String(), "user", bare.String(), "nick", nick)
	return out, iq.Result(nil), nil
}

// registerForm is the registration form, with <registered/> and the nick
// for a user who has one (§7.10, XEP-0077 §3.1).
func (r *room) registerForm(nick string) []byte {
	var b stanza.Builder
	b.Start("query", "xmlns", nsRegister)
	if nick != "" {
		b.Element("registered", "")
		b.Element("username", nick)
	}
	b.Start("x", "xmlns", nsData, "type", "form")
	b.Element("title", "Registration with "+r.jid.String())
	b.Element("instructions", "Choose the nick this room keeps for you.")
	b.Start("field", "var", "FORM_TYPE", "type", "hidden").Element("value", nsMUCRegister).End()
	b.Start("field", "var", fieldRoomNick, "type", "text-single", "label", "Nick")
	b.Element("required", "")
	if nick != "" {
		b.Element("value", nick)
	}
	b.End()
	return b.Bytes()
}

// reservedNick answers disco#info with node x-roomuser-item: the asker's
// registered nick as the identity's name, or an empty query (§7.12).
func (r *room) reservedNick(iq *stanza.Stanza) *stanza.Stanza {
	r.mu.Lock()
	nick := r.nicks[iq.From.Bare().String()]
	r.mu.Unlock()
	var b stanza.Builder
	b.Start("query", "xmlns", nsInfo, "node", nodeRoomUser)
	if nick != "" {
		b.Element("identity", "", "category", "conference", "type", "text", "name", nick)
	}
	return iq.Result(b.Bytes())
}

// setAff gives bare affiliation a and applies it to its occupant: a ban
// (301) or the loss of membership of a members-only room (321) removes it,
// any other change is broadcast with the role the affiliation implies.
// Without membership a registered nick goes too. Under r.mu; the caller
// persists the room.
func (r *room) setAff(bare jid.JID, a affiliation, ex *extra) []mod.Delivery {
	k := bare.String()
	if a == affNone {
		delete(r.affs, k)
	} else {
		r.affs[k] = a
	}
	if a < affMember {
		r.unreserve(k)
	}
	var out []mod.Delivery
	for _, o := range r.occupants {
		if !o.bare().Equal(bare) {
			continue
		}
		switch {
		case a == affOutcast: // ban (§9.1)
			out = append(out, r.remove(o, ex, 301)...)
		case r.cfg.MembersOnly && a < affMember: // no longer a member (§9.4)
			out = append(out, r.remove(o, ex, 321)...)
		default:
			o.role = r.defaultRole(a)
			out = r.broadcastPresence(out, o, false, ex, nil, nil)
		}
	}
	return out
}
