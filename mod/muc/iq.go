package muc

import (
	"slices"
	"strconv"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/xmlscan"
)

// iq answers iqs to rooms and occupants (disco of the service itself is
// mod/disco's, from the Service's identities, features and items).
func (m *Module) iq(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if iq.Type == stanza.Result || iq.Type == stanza.TypeError {
		if iq.To.Resource() != "" {
			m.relayAnswer(ctx, iq) // an occupant's answer to a relayed iq
		}
		return nil, nil
	}
	p := iq.Payload()
	ns, local := string(p.NS()), string(p.Local())
	if iq.To.Local() == "" {
		if ns == nsPing && iq.Type == stanza.Get {
			return iq.Result(nil), nil
		}
		return nil, stanza.Err(stanza.ServiceUnavailable)
	}
	r := m.lookup(iq.To.Bare())
	if r == nil {
		return nil, stanza.ErrText(stanza.ItemNotFound, "no such room")
	}
	if iq.To.Resource() != "" {
		return r.occupantIQ(ctx, iq, ns)
	}
	switch {
	case ns == nsInfo && local == "query" && iq.Type == stanza.Get && hasNode(p, nodeRoomUser):
		return r.reservedNick(iq), nil
	case ns == nsInfo && local == "query" && iq.Type == stanza.Get:
		return r.info(iq)
	case ns == nsItems && local == "query" && iq.Type == stanza.Get:
		return r.itemsOf(iq)
	case ns == nsPing && iq.Type == stanza.Get:
		return iq.Result(nil), nil
	case ns == NSOwner && local == "query":
		out, res, err := r.ownerIQ(iq)
		m.afterLeave(r)
		m.send(ctx.Env, out)
		return res, err
	case ns == NSAdmin && local == "query":
		return m.underLock(ctx, r, r.adminIQ, iq)
	case ns == nsMAM && local == "query" && iq.Type == stanza.Set:
		return m.mam(ctx, r, iq)
	case ns == nsRegister && local == "query":
		return m.underLock(ctx, r, r.registerIQ, iq)
	}
	return nil, stanza.Err(stanza.ServiceUnavailable)
}

// underLock runs an iq handler of the room under r.mu, then sends what it
// produced and lets the room go if that emptied it.
func (m *Module) underLock(ctx *mod.Ctx, r *room, h func(*stanza.Stanza) ([]mod.Delivery, *stanza.Stanza, error), iq *stanza.Stanza) (*stanza.Stanza, error) {
	r.mu.Lock()
	out, res, err := h(iq)
	r.mu.Unlock()
	m.afterLeave(r)
	m.send(ctx.Env, out)
	return res, err
}

// info is disco#info of a room (§6.4): identity, muc_* features, roominfo form.
func (r *room) info(iq *stanza.Stanza) (*stanza.Stanza, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.locked && r.occupantAt(iq.From.String()) == nil {
		return nil, stanza.ErrText(stanza.ItemNotFound, "no such room")
	}
	pick := func(c bool, yes, no string) string {
		if c {
			return yes
		}
		return no
	}
	var b stanza.Builder
	b.Start("query", "xmlns", nsInfo)
	b.Element("identity", "", "category", "conference", "type", "text", "name", r.cfg.Name)
	for _, f := range []string{NS, nsInfo, nsOccID, "urn:xmpp:sid:0", nsMAM, nsRegister, nsMUCRegister, nsRequest,
		pick(r.cfg.Public, "muc_public", "muc_hidden"),
		pick(r.cfg.Persistent, "muc_persistent", "muc_temporary"),
		pick(r.cfg.MembersOnly, "muc_membersonly", "muc_open"),
		pick(r.cfg.Moderated, "muc_moderated", "muc_unmoderated"),
		pick(r.cfg.Password != "", "muc_passwordprotected", "muc_unsecured"),
		pick(r.cfg.WhoisAnyone, "muc_nonanonymous", "muc_semianonymous")} {
		b.Element("feature", "", "var", f)
	}
	b.Start("x", "xmlns", nsData, "type", "result")
	field := func(v, val string) { b.Start("field", "var", v).Element("value", val).End() }
	b.Start("field", "var", "FORM_TYPE", "type", "hidden").Element("value", nsRoomInfo).End()
	field("muc#roominfo_description", r.cfg.Desc)
	field("muc#roominfo_occupants", strconv.Itoa(len(r.occupants)))
	field("muc#roominfo_subject", r.subject)
	field("muc#roomconfig_roomname", r.cfg.Name)
	b.End()
	return iq.Result(b.Bytes()), nil
}

// itemsOf lists the occupants of a public room (§6.5) to its occupants.
func (r *room) itemsOf(iq *stanza.Stanza) (*stanza.Stanza, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b stanza.Builder
	b.Start("query", "xmlns", nsItems)
	if r.cfg.Public || r.occupantAt(iq.From.String()) != nil {
		for nick := range r.occupants {
			b.Element("item", "", "jid", r.occJID(nick).String())
		}
	}
	return iq.Result(b.Bytes()), nil
}

// ownerIQ: the configuration form (§10.1.3, §10.2), instant rooms
// (§10.1.2) and destruction (§10.9). It takes r.mu itself.
func (r *room) ownerIQ(iq *stanza.Stanza) ([]mod.Delivery, *stanza.Stanza, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.aff(iq.From.Bare()) != affOwner {
		return nil, nil, stanza.ErrText(stanza.Forbidden, "only owners configure the room")
	}
	p := iq.Payload()
	if iq.Type == stanza.Get {
		return nil, iq.Result(r.configForm()), nil
	}
	if d := p.Child("destroy", NSOwner); !d.IsZero() {
		return r.destroy(d), iq.Result(nil), nil
	}
	x := p.Child("x", nsData)
	if x.IsZero() {
		return nil, nil, stanza.ErrText(stanza.BadRequest, "expected a data form or destroy")
	}
	switch t, _ := x.Attr("type"); string(t) {
	case "cancel":
		if r.locked { // creation cancelled: the room goes (§10.1.3)
			return r.destroy(xmlscan.Elem{}), iq.Result(nil), nil
		}
		return nil, iq.Result(nil), nil
	case "submit":
	default:
		return nil, nil, stanza.ErrText(stanza.BadRequest, "the form must be submit or cancel")
	}
	was := r.cfg
	if err := r.applyForm(x); err != nil {
		return nil, nil, err
	}
	unlocked := r.locked
	r.locked = false
	var out []mod.Delivery
	if was.WhoisAnyone != r.cfg.WhoisAnyone || unlocked {
		code := "173" // now semi-anonymous
		if r.cfg.WhoisAnyone {
			code = "172"
		}
		if !unlocked {
			// one message, shared by every session (no 'to')
			var b stanza.Builder
			b.Start("message", "from", r.jid.String(), "type", "groupchat")
			b.Start("x", "xmlns", NSUser).Element("status", "", "code", code)
			shared := stanza.MustParse(b.Bytes())
			for _, v := range r.occupants {
				for _, s := range v.sessions {
					out = append(out, mod.Delivery{To: s, St: shared})
				}
			}
		}
	}
	if !r.cfg.Persistent && was.Persistent {
		r.m.rooms.DeleteAsync(r.m.key(r.jid), nil)
	}
	r.persist()
	return out, iq.Result(nil), nil
}

// configForm is the muc#roomconfig form with the room's values.
func (r *room) configForm() []byte {
	c := &r.cfg
	var b stanza.Builder
	b.Start("query", "xmlns", NSOwner).Start("x", "xmlns", nsData, "type", "form")
	b.Element("title", "Configuration of "+r.jid.String())
	b.Start("field", "var", "FORM_TYPE", "type", "hidden").Element("value", nsConfig).End()
	boolean := func(v, label string, on bool) {
		val := "0"
		if on {
			val = "1"
		}
		b.Start("field", "var", v, "type", "boolean", "label", label).Element("value", val).End()
	}
	text := func(v, typ, label, val string) {
		b.Start("field", "var", v, "type", typ, "label", label).Element("value", val).End()
	}
	text("muc#roomconfig_roomname", "text-single", "Name", c.Name)
	text("muc#roomconfig_roomdesc", "text-single", "Description", c.Desc)
	boolean("muc#roomconfig_persistentroom", "Persistent", c.Persistent)
	boolean("muc#roomconfig_publicroom", "Listed in the directory", c.Public)
	boolean("muc#roomconfig_membersonly", "Members only", c.MembersOnly)
	boolean("muc#roomconfig_passwordprotectedroom", "Password protected", c.Password != "")
	text("muc#roomconfig_roomsecret", "text-private", "Password", c.Password)
	boolean("muc#roomconfig_moderatedroom", "Moderated", c.Moderated)
	// list-single as XEP-0045's form registry has it: a client checking
	// field types (aioxmpp's ConfigurationForm) refuses a text-single one
	b.Start("field", "var", "muc#roomconfig_maxusers", "type", "list-single", "label", "Maximum occupants")
	b.Element("value", strconv.Itoa(r.maxOccupants()))
	for _, n := range maxUsersOptions(r.maxOccupants(), r.m.cfg.MaxOccupants) {
		b.Start("option").Element("value", strconv.Itoa(n)).End()
	}
	b.End()
	whois := "moderators"
	if c.WhoisAnyone {
		whois = "anyone"
	}
	b.Start("field", "var", "muc#roomconfig_whois", "type", "list-single", "label", "Who may see real JIDs")
	b.Element("value", whois)
	b.Start("option").Element("value", "moderators").End()
	b.Start("option").Element("value", "anyone").End()
	b.End()
	boolean("muc#roomconfig_changesubject", "Occupants may change the subject", c.ChangeSubject)
	text("muc#maxhistoryfetch", "text-single", "Messages kept for history", strconv.Itoa(c.History))
	pm := "anyone"
	if c.NoPM {
		pm = "none"
	}
	b.Start("field", "var", "muc#roomconfig_allowpm", "type", "list-single", "label", "Private messages")
	b.Element("value", pm)
	b.Start("option").Element("value", "anyone").End()
	b.Start("option").Element("value", "none").End()
	b.End()
	boolean("muc#roomconfig_allowinvites", "Occupants may invite", c.Invites)
	return b.Bytes()
}

// maxUsersOptions are the choices offered for muc#roomconfig_maxusers:
// XEP-0045's usual steps up to the service's limit, the room's current
// value and the limit itself, ascending.
func maxUsersOptions(current, limit int) []int {
	var out []int
	for _, n := range []int{10, 20, 30, 50, 100, 200, 500, 1000} {
		if n < limit {
			out = append(out, n)
		}
	}
	out = append(out, limit)
	if current < limit && !slices.Contains(out, current) {
		out = append(out, current)
		slices.Sort(out)
	}
	return out
}

// applyForm reads a submitted muc#roomconfig form; an empty one accepts
// the defaults (an instant room).
func (r *room) applyForm(x xmlscan.Elem) error {
	c := r.cfg
	pwSet := false
	it := x.Children()
	for f, ok := it.Next(); ok; f, ok = it.Next() {
		if string(f.Local()) != "field" {
			continue
		}
		name, _ := f.Attr("var")
		val := ""
		if v := f.Child("value", nsData); !v.IsZero() {
			val = string(v.AppendText(nil))
		}
		on := val == "1" || val == "true"
		switch string(name) {
		case "FORM_TYPE":
			if val != nsConfig {
				return stanza.ErrText(stanza.BadRequest, "FORM_TYPE must be "+nsConfig)
			}
		case "muc#roomconfig_roomname":
			c.Name = val
		case "muc#roomconfig_roomdesc":
			c.Desc = val
		case "muc#roomconfig_persistentroom":
			c.Persistent = on
		case "muc#roomconfig_publicroom":
			c.Public = on
		case "muc#roomconfig_membersonly":
			c.MembersOnly = on
		case "muc#roomconfig_passwordprotectedroom":
			if !on {
				c.Password = ""
			}
			pwSet = on
		case "muc#roomconfig_roomsecret":
			c.Password = val
		case "muc#roomconfig_moderatedroom":
			c.Moderated = on
		case "muc#roomconfig_maxusers":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return stanza.ErrText(stanza.NotAcceptable, "maxusers must be a positive number")
			}
			c.MaxOccupants = min(n, r.m.cfg.MaxOccupants)
		case "muc#roomconfig_whois":
			switch val {
			case "anyone":
				c.WhoisAnyone = true
			case "moderators", "":
				c.WhoisAnyone = false
			default:
				return stanza.ErrText(stanza.NotAcceptable, "whois is anyone or moderators")
			}
		case "muc#roomconfig_changesubject":
			c.ChangeSubject = on
		case "muc#maxhistoryfetch", "muc#roomconfig_historylength":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return stanza.ErrText(stanza.NotAcceptable, "history length must be a number")
			}
			c.History = min(n, r.m.cfg.MaxHistory)
		case "muc#roomconfig_allowpm":
			c.NoPM = val == "none"
		case "muc#roomconfig_allowinvites":
			c.Invites = on
		}
	}
	if pwSet && c.Password == "" {
		return stanza.ErrText(stanza.NotAcceptable, "a password-protected room needs a password")
	}
	r.cfg = c
	if len(r.history) > c.History {
		r.history = append(r.history[:0], r.history[len(r.history)-c.History:]...)
	}
	return nil
}

// destroy removes every occupant with <destroy/> (alternate venue and
// reason) and forgets the room (§10.9).
func (r *room) destroy(d xmlscan.Elem) []mod.Delivery {
	var ex *extra
	if !d.IsZero() {
		var b stanza.Builder
		alt, _ := d.Attr("jid")
		b.Start("destroy", "jid", string(alt))
		if reason := d.Child("reason", NSOwner); !reason.IsZero() {
			b.Element("reason", string(reason.AppendText(nil)))
		}
		ex = &extra{x: b.Bytes()}
	}
	return r.destroyWith(ex, nil)
}

// destroyWith removes every occupant, telling them ex, and forgets the
// room; deleted (if not nil) hears when the store has let it go. Under r.mu.
func (r *room) destroyWith(ex *extra, deleted func(error)) []mod.Delivery {
	var out []mod.Delivery
	for _, o := range r.occupants {
		out = append(out, r.remove(o, ex)...)
	}
	r.gone = true
	r.m.rooms.DeleteAsync(r.m.key(r.jid), deleted)
	r.m.h.Log().Info("room destroyed", "room", r.jid.String())
	return out
}

// adminIQ: lists (get) and changes (set) of roles and affiliations (§8, §9). Under r.mu.
func (r *room) adminIQ(iq *stanza.Stanza) ([]mod.Delivery, *stanza.Stanza, error) {
	actor := r.occupantAt(iq.From.String())
	aa := r.aff(iq.From.Bare())
	items := iq.Payload().Children()
	if iq.Type == stanza.Get {
		it, ok := items.Next()
		if !ok || string(it.Local()) != "item" {
			return nil, nil, stanza.ErrText(stanza.BadRequest, "expected an item")
		}
		var b stanza.Builder
		b.Start("query", "xmlns", NSAdmin)
		if v, ok := it.Attr("affiliation"); ok {
			want, ok := parseAff(string(v))
			if !ok || want == affNone {
				return nil, nil, stanza.ErrText(stanza.BadRequest, "unknown affiliation")
			}
			if aa < affAdmin {
				return nil, nil, stanza.ErrText(stanza.Forbidden, "only admins see affiliation lists")
			}
			for k, a := range r.affs {
				if a != want {
					continue
				}
				if nick := r.nicks[k]; nick != "" { // registered (§9.5)
					b.Element("item", "", "affiliation", a.String(), "jid", k, "nick", nick)
				} else {
					b.Element("item", "", "affiliation", a.String(), "jid", k)
				}
			}
		} else if v, ok := it.Attr("role"); ok {
			want, ok := parseRole(string(v))
			if !ok || want == roleNone {
				return nil, nil, stanza.ErrText(stanza.BadRequest, "unknown role")
			}
			if actor == nil || actor.role < roleModerator {
				return nil, nil, stanza.ErrText(stanza.Forbidden, "only moderators see role lists")
			}
			for _, o := range r.occupants {
				if o.role == want {
					b.Element("item", "", "role", o.role.String(), "nick", o.nick,
						"affiliation", r.aff(o.bare()).String(), "jid", o.sessions[0].String())
				}
			}
		} else {
			return nil, nil, stanza.ErrText(stanza.BadRequest, "an item needs a role or an affiliation")
		}
		return nil, iq.Result(b.Bytes()), nil
	}
	// set: every item is checked before any is applied
	type change struct {
		o      *occupant
		bare   jid.JID
		role   role
		aff    affiliation
		isAff  bool
		reason string
	}
	var changes []change
	for it, ok := items.Next(); ok; it, ok = items.Next() {
		if string(it.Local()) != "item" {
			continue
		}
		var c change
		if rs := it.Child("reason", NSAdmin); !rs.IsZero() {
			c.reason = string(rs.AppendText(nil))
		}
		if v, ok := it.Attr("affiliation"); ok {
			a, ok := parseAff(string(v))
			if !ok {
				return nil, nil, stanza.ErrText(stanza.BadRequest, "unknown affiliation")
			}
			jv, _ := it.Attr("jid")
			j, err := jid.Parse(string(jv))
			if err != nil || len(jv) == 0 {
				return nil, nil, stanza.ErrText(stanza.JIDMalformed, "an affiliation change needs a jid")
			}
			c.isAff, c.aff, c.bare = true, a, j.Bare()
			cur := r.aff(c.bare)
			switch {
			case aa < affAdmin:
				return nil, nil, stanza.ErrText(stanza.Forbidden, "only admins change affiliations")
			case aa == affAdmin && (a >= affAdmin || cur >= affAdmin):
				return nil, nil, stanza.ErrText(stanza.NotAllowed, "only owners change admins and owners")
			case cur == affOwner && a != affOwner && c.bare.Equal(iq.From.Bare()) && r.owners() == 1:
				return nil, nil, stanza.ErrText(stanza.Conflict, "the last owner cannot step down")
			}
		} else if v, ok := it.Attr("role"); ok {
			ro, ok := parseRole(string(v))
			if !ok {
				return nil, nil, stanza.ErrText(stanza.BadRequest, "unknown role")
			}
			nv, _ := it.Attr("nick")
			o := r.occupants[string(nv)]
			if o == nil {
				return nil, nil, stanza.ErrText(stanza.ItemNotFound, "no such occupant")
			}
			ta := r.aff(o.bare())
			switch {
			case actor == nil || actor.role < roleModerator:
				return nil, nil, stanza.ErrText(stanza.Forbidden, "only moderators change roles")
			case ro == roleModerator && aa < affAdmin:
				return nil, nil, stanza.ErrText(stanza.NotAllowed, "only admins grant moderation")
			case ta > aa || (ta >= affAdmin && ro < roleModerator):
				return nil, nil, stanza.ErrText(stanza.NotAllowed, "that occupant's affiliation is above yours")
			}
			c.o, c.role = o, ro
		} else {
			return nil, nil, stanza.ErrText(stanza.BadRequest, "an item needs a role or an affiliation")
		}
		changes = append(changes, c)
	}
	var out []mod.Delivery
	for _, c := range changes {
		ex := reasonXML(c.reason, actor)
		if !c.isAff {
			if c.role == roleNone { // kick (§8.2)
				out = append(out, r.remove(c.o, ex, 307)...)
				continue
			}
			c.o.role = c.role
			out = r.broadcastPresence(out, c.o, false, ex, nil, nil)
			continue
		}
		out = append(out, r.setAff(c.bare, c.aff, ex)...)
	}
	r.persist()
	return out, iq.Result(nil), nil
}

func (r *room) owners() int {
	n := 0
	for _, a := range r.affs {
		if a == affOwner {
			n++
		}
	}
	return n
}

func reasonXML(reason string, actor *occupant) *extra {
	if reason == "" && actor == nil {
		return nil
	}
	var b stanza.Builder
	if actor != nil {
		b.Element("actor", "", "nick", actor.nick)
	}
	if reason != "" {
		b.Element("reason", reason)
	}
	return &extra{item: b.Bytes()}
}
