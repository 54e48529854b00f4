package muc

import (
	"time"
	"unicode/utf8"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// message handles every message sent to the service.
func (m *Module) message(ctx *mod.Ctx, st *stanza.Stanza) {
	if st.Type == stanza.TypeError {
		m.errorFrom(ctx, st)
		return
	}
	if st.To.Local() == "" {
		m.bounce(ctx, st, stanza.Err(stanza.ServiceUnavailable))
		return
	}
	r := m.lookup(st.To.Bare())
	if r == nil {
		m.bounce(ctx, st, stanza.ErrText(stanza.ItemNotFound, "no such room"))
		return
	}
	var out []mod.Delivery
	var err *stanza.Error
	r.mu.Lock()
	switch {
	case st.To.Resource() != "":
		out, err = r.private(st)
	case st.Type == stanza.Groupchat:
		out, err = r.groupchat(st)
	default:
		out, err = r.direct(st)
	}
	r.mu.Unlock()
	if err != nil {
		m.bounce(ctx, st, err)
		return
	}
	m.send(ctx.Env, out)
}

// allow takes a token of o's message bucket (MessageRate, MessageBurst).
func (r *room) allow(o *occupant) bool {
	now := r.m.now().UnixNano()
	// a clock set back refills nothing
	o.tokens += float32(time.Duration(max(now-o.last, 0)).Seconds() * r.m.cfg.MessageRate)
	o.last = now
	if b := float32(r.m.cfg.MessageBurst); o.tokens > b {
		o.tokens = b
	}
	if o.tokens < 1 {
		return false
	}
	o.tokens--
	return true
}

// groupchat reflects a message to every occupant with the room's stanza-id
// and the sender's occupant-id (XEP-0045 §7.4, XEP-0359, XEP-0421). The
// message is serialised once: every delivery shares its bytes.
func (r *room) groupchat(st *stanza.Stanza) ([]mod.Delivery, *stanza.Error) {
	o := r.occupantAt(st.From.String())
	if o == nil {
		return nil, stanza.ErrText(stanza.NotAcceptable, "only occupants may send messages to the room")
	}
	e := st.Elem()
	subj := e.Child("subject", stanza.NSClient)
	body := e.Child("body", stanza.NSClient)
	switch {
	case o.role < roleParticipant:
		return nil, stanza.ErrText(stanza.Forbidden, "visitors may not speak in this room")
	case !subj.IsZero() && body.IsZero() && o.role < roleModerator && !r.cfg.ChangeSubject:
		return nil, stanza.ErrText(stanza.Forbidden, "only moderators may change the subject")
	case r.congested():
		return nil, stanza.ErrText(stanza.ResourceConstraint, "the room's occupants are behind; try again shortly")
	case !r.allow(o):
		return nil, stanza.ErrText(stanza.ResourceConstraint, "too many messages; slow down")
	}
	var inner []byte
	it := e.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		ns, local := string(c.NS()), string(c.Local())
		if (ns == stanza.NSStanzaID && local == "stanza-id") || ns == nsOccID {
			continue // the room's own, never the sender's
		}
		inner = append(inner, c.Raw()...)
	}
	var b stanza.Builder
	b.Start("message", "from", r.occJID(o.nick).String(), "type", "groupchat", "id", st.ID)
	b.Raw(inner)
	b.Element("occupant-id", "", "xmlns", nsOccID, "id", o.occID())
	// archived as everyone sees it (no real JID); the archive hands out the
	// id before the write is on disk
	id, err := r.m.archive.AppendAsync(r.m.key(r.jid), store.ArchiveInbound, r.occJID(o.nick).String(), b.Bytes(), nil)
	b.Reset()
	b.Start("message", "from", r.occJID(o.nick).String(), "type", "groupchat", "id", st.ID)
	b.Raw(inner)
	b.Element("occupant-id", "", "xmlns", nsOccID, "id", o.occID())
	if err != nil {
		r.m.h.Log().Error("archiving a room message", "room", r.jid.String(), "err", err)
	} else {
		b.Element("stanza-id", "", "xmlns", stanza.NSStanzaID, "id", store.FormatArchiveID(id), "by", r.jid.String())
	}
	shared := stanza.MustParse(b.Bytes())
	if !subj.IsZero() && body.IsZero() {
		r.subject, r.subjectFrom = string(subj.AppendText(nil)), o.nick
		r.persist()
	} else if h := min(r.cfg.History, r.m.cfg.MaxHistory); h > 0 {
		if len(r.history) >= h {
			copy(r.history, r.history[len(r.history)-h+1:])
			r.history = r.history[:h-1]
		}
		r.history = append(r.history, histEntry{at: r.m.now(), st: shared, size: utf8.RuneCount(shared.Bytes())})
	}
	out := make([]mod.Delivery, 0, len(r.sessions))
	for _, v := range r.occupants {
		for _, s := range v.sessions {
			out = append(out, mod.Delivery{To: s, St: shared})
		}
	}
	return out, nil
}

// private forwards a message to an occupant's sessions (§7.5).
func (r *room) private(st *stanza.Stanza) ([]mod.Delivery, *stanza.Error) {
	o := r.occupantAt(st.From.String())
	switch {
	case o == nil:
		return nil, stanza.ErrText(stanza.NotAcceptable, "only occupants may send private messages")
	case st.Type == stanza.Groupchat:
		return nil, stanza.ErrText(stanza.BadRequest, "a groupchat message goes to the room")
	case r.cfg.NoPM && o.role < roleModerator:
		return nil, stanza.ErrText(stanza.Forbidden, "private messages are not allowed in this room")
	}
	to := r.occupants[st.To.Resource()]
	if to == nil {
		return nil, stanza.ErrText(stanza.ItemNotFound, "no such occupant")
	}
	var b stanza.Builder
	b.Start("message", "from", r.occJID(o.nick).String(), "type", st.Type.String(), "id", st.ID)
	it := st.Elem().Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		b.Raw(c.Raw())
	}
	b.Element("x", "", "xmlns", NSUser)
	b.Element("occupant-id", "", "xmlns", nsOccID, "id", o.occID())
	shared := stanza.MustParse(b.Bytes())
	out := make([]mod.Delivery, 0, len(to.sessions))
	for _, s := range to.sessions {
		out = append(out, mod.Delivery{To: s, St: shared})
	}
	return out, nil
}

// direct handles a message to the room that is not groupchat: mediated
// invitations and declines (§7.8.2), voice requests and their answers
// (voice.go).
func (r *room) direct(st *stanza.Stanza) ([]mod.Delivery, *stanza.Error) {
	if form := st.Elem().Child("x", nsData); !form.IsZero() {
		return r.voiceForm(st, form)
	}
	x := st.Elem().Child("x", NSUser)
	if x.IsZero() {
		return nil, stanza.ErrText(stanza.NotAcceptable, "send groupchat messages to the room")
	}
	if inv := x.Child("invite", NSUser); !inv.IsZero() {
		return r.invite(st)
	}
	if dec := x.Child("decline", NSUser); !dec.IsZero() {
		v, _ := dec.Attr("to")
		to, err := jid.Parse(string(v))
		if err != nil || len(v) == 0 {
			return nil, stanza.ErrText(stanza.JIDMalformed, "decline needs a 'to'")
		}
		reason := dec.Child("reason", NSUser)
		var b stanza.Builder
		b.Start("message", "from", r.jid.String(), "to", to.String(), "id", st.ID)
		b.Start("x", "xmlns", NSUser).Start("decline", "from", st.From.Bare().String())
		if !reason.IsZero() {
			b.Element("reason", string(reason.AppendText(nil)))
		}
		return []mod.Delivery{mod.To(stanza.MustParse(b.Bytes()))}, nil
	}
	return nil, stanza.ErrText(stanza.BadRequest, "unknown muc#user request")
}

func (r *room) invite(st *stanza.Stanza) ([]mod.Delivery, *stanza.Error) {
	o := r.occupantAt(st.From.String())
	a := r.aff(st.From.Bare())
	switch {
	case o == nil:
		return nil, stanza.ErrText(stanza.NotAcceptable, "only occupants may invite")
	case !r.cfg.Invites && o.role < roleModerator:
		return nil, stanza.ErrText(stanza.Forbidden, "invitations are not allowed in this room")
	case r.cfg.MembersOnly && a < affAdmin && !r.cfg.Invites:
		return nil, stanza.ErrText(stanza.Forbidden, "only admins invite to this room")
	}
	inv := st.Elem().Child("x", NSUser).Child("invite", NSUser)
	v, _ := inv.Attr("to")
	to, err := jid.Parse(string(v))
	if err != nil || len(v) == 0 {
		return nil, stanza.ErrText(stanza.JIDMalformed, "invite needs a 'to'")
	}
	if r.cfg.MembersOnly && r.aff(to.Bare()) < affMember {
		r.affs[to.Bare().String()] = affMember // an invitation makes a member (§7.8.2)
		r.persist()
	}
	reason := inv.Child("reason", NSUser)
	var b stanza.Builder
	b.Start("message", "from", r.jid.String(), "to", to.String(), "id", st.ID)
	b.Start("x", "xmlns", NSUser).Start("invite", "from", st.From.Bare().String())
	if !reason.IsZero() {
		b.Element("reason", string(reason.AppendText(nil)))
	}
	b.End()
	if r.cfg.Password != "" {
		b.Element("password", r.cfg.Password)
	}
	return []mod.Delivery{mod.To(stanza.MustParse(b.Bytes()))}, nil
}
