package muc

import (
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/xmlscan"
)

// nsRequest is the FORM_TYPE of voice requests and their approval
// (XEP-0045 §7.13, §8.6).
const nsRequest = "http://jabber.org/protocol/muc#request"

// voiceForm handles a data form an occupant sends the room in a message: a
// visitor's voice request or a moderator's answer to one. Under r.mu.
func (r *room) voiceForm(st *stanza.Stanza, x xmlscan.Elem) ([]mod.Delivery, *stanza.Error) {
	o := r.occupantAt(st.From.String())
	if o == nil {
		return nil, stanza.ErrText(stanza.NotAcceptable, "only occupants may request voice")
	}
	f := formFields(x)
	if f["FORM_TYPE"] != nsRequest {
		return nil, stanza.ErrText(stanza.BadRequest, "the room takes only "+nsRequest+" forms in messages")
	}
	switch t, _ := x.Attr("type"); string(t) {
	case "submit":
	case "cancel": // a moderator skipping a request
		return nil, nil
	default:
		return nil, stanza.ErrText(stanza.BadRequest, "the form must be submit or cancel")
	}
	_, answer := f["muc#request_allow"]
	if _, nick := f["muc#roomnick"]; answer || nick {
		return r.answerVoice(o, f)
	}
	return r.requestVoice(o, st.From)
}

// requestVoice sends a visitor's request to every moderator as the
// approval form (§7.13), at most one per visitor each VoiceInterval.
func (r *room) requestVoice(o *occupant, from jid.JID) ([]mod.Delivery, *stanza.Error) {
	if o.role != roleVisitor {
		return nil, stanza.ErrText(stanza.NotAllowed, "only visitors request voice")
	}
	now, every := r.m.now(), r.m.cfg.VoiceInterval
	k := o.bare().String()
	if last, ok := r.voiceAsked[k]; ok && now.Sub(last) < every {
		return nil, stanza.ErrText(stanza.ResourceConstraint, "voice was asked for already; wait before asking again")
	}
	if r.voiceAsked == nil {
		r.voiceAsked = map[string]time.Time{}
	}
	for b, at := range r.voiceAsked { // the map holds only those waiting
		if now.Sub(at) >= every {
			delete(r.voiceAsked, b)
		}
	}
	r.voiceAsked[k] = now

	var b stanza.Builder
	b.Start("message", "from", r.jid.String())
	b.Start("x", "xmlns", nsData, "type", "form")
	b.Element("title", "Voice request")
	b.Element("instructions", "To grant voice to this occupant, set \"Grant voice\" and submit the form; cancel it to skip the request.")
	b.Start("field", "var", "FORM_TYPE", "type", "hidden").Element("value", nsRequest).End()
	b.Start("field", "var", "muc#role", "type", "list-single", "label", "Requested role").Element("value", "participant")
	b.Start("option", "label", "Participant").Element("value", "participant").End().End()
	b.Start("field", "var", "muc#jid", "type", "jid-single", "label", "User").Element("value", from.String()).End()
	b.Start("field", "var", "muc#roomnick", "type", "text-single", "label", "Nick").Element("value", o.nick).End()
	b.Start("field", "var", "muc#request_allow", "type", "boolean", "label", "Grant voice").Element("value", "false").End()
	shared := stanza.MustParse(b.Bytes())
	var out []mod.Delivery
	for _, v := range r.occupants {
		if v.role != roleModerator {
			continue
		}
		for _, s := range v.sessions {
			out = append(out, mod.Delivery{To: s, St: shared})
		}
	}
	r.m.h.Log().Info("voice requested", "room", r.jid.String(), "nick", o.nick, "moderators", len(out))
	return out, nil
}

// answerVoice applies a moderator's answer to a voice request (§8.6):
// granted, the visitor becomes a participant and everyone is told; denied
// or already done, nothing happens.
func (r *room) answerVoice(actor *occupant, f map[string]string) ([]mod.Delivery, *stanza.Error) {
	if actor.role < roleModerator {
		return nil, stanza.ErrText(stanza.Forbidden, "only moderators answer voice requests")
	}
	o := r.occupants[f["muc#roomnick"]]
	if o == nil {
		return nil, stanza.ErrText(stanza.ItemNotFound, "no such occupant")
	}
	if v := f["muc#jid"]; v != "" {
		if j, err := jid.Parse(v); err != nil || !j.Bare().Equal(o.bare()) {
			return nil, stanza.ErrText(stanza.ItemNotFound, "that occupant is not the one who asked")
		}
	}
	if !formBool(f["muc#request_allow"]) || o.role != roleVisitor {
		return nil, nil
	}
	delete(r.voiceAsked, o.bare().String())
	o.role = roleParticipant
	r.m.h.Log().Info("voice granted", "room", r.jid.String(), "nick", o.nick, "by", actor.nick)
	return r.broadcastPresence(nil, o, false, reasonXML("", actor), nil, nil), nil
}
