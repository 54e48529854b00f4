package muc

import (
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"sync"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/xmlscan"
)

// affiliation is a user's lasting relation to a room (XEP-0045 §5.2); the
// numbers are stored (store.RoomRecord.Affs).
type affiliation uint8

const (
	affNone affiliation = iota
	affOutcast
	affMember
	affAdmin
	affOwner
)

var affNames = [...]string{"none", "outcast", "member", "admin", "owner"}

func (a affiliation) String() string { return affNames[a] }

func parseAff(s string) (affiliation, bool) {
	for i, n := range affNames {
		if n == s {
			return affiliation(i), true
		}
	}
	return 0, false
}

// role is an occupant's privilege while in the room (XEP-0045 §5.1).
type role uint8

const (
	roleNone role = iota
	roleVisitor
	roleParticipant
	roleModerator
)

var roleNames = [...]string{"none", "visitor", "participant", "moderator"}

func (r role) String() string { return roleNames[r] }

func parseRole(s string) (role, bool) {
	for i, n := range roleNames {
		if n == s {
			return role(i), true
		}
	}
	return 0, false
}

// roomConfig is what the muc#roomconfig form sets (stored as JSON).
type roomConfig struct {
	Name          string `json:"name,omitempty"`
	Desc          string `json:"desc,omitempty"`
	Persistent    bool   `json:"persistent,omitempty"`
	Public        bool   `json:"public,omitempty"`
	MembersOnly   bool   `json:"members_only,omitempty"`
	Password      string `json:"password,omitempty"`
	Moderated     bool   `json:"moderated,omitempty"`
	MaxOccupants  int    `json:"max_occupants,omitempty"`
	WhoisAnyone   bool   `json:"whois_anyone,omitempty"`
	ChangeSubject bool   `json:"change_subject,omitempty"`
	History       int    `json:"history,omitempty"`
	NoPM          bool   `json:"no_pm,omitempty"`
	Invites       bool   `json:"invites,omitempty"`
}

// occupant is one nick in a room: a user's sessions that joined with it.
// Kept small (a room of thousands holds one per user): the nick is a
// string shared with the key of the room's map (and with the join's 'to'),
// the presence is the client's payload bytes, the bare JID is derived from
// a session, the occupant-id is kept as its raw bytes.
type occupant struct {
	nick     string
	sessions []jid.JID // all of one bare JID; empty only once it has left
	payload  []byte    // children of the last presence (show, status, caps…)
	role     role
	id       [occIDLen]byte // occupant-id (XEP-0421) before base64 (occID)
	tokens   float32
	slot     int32  // index in room.slots (listing.go)
	seq      uint32 // the room's join count when it joined (listing.go)
	last     int64  // Unix ns of the last refill of tokens
}

// bare is the user's bare JID (zero once the occupant has left).
func (o *occupant) bare() jid.JID {
	if len(o.sessions) == 0 {
		return jid.JID{}
	}
	return o.sessions[0].Bare()
}

// occID is the occupant-id as sent (XEP-0421).
func (o *occupant) occID() string { return base64.RawURLEncoding.EncodeToString(o.id[:]) }

// shown is an occupant's plain available presence without 'to', built at
// most once per fan-out for each of the two views ([0] without, [1] with
// the real JID) and shared by every recipient. Not kept on the occupant:
// that would triple its memory.
type shown struct {
	o *occupant
	v [2]*stanza.Stanza
}

// histEntry is a message kept for history on join.
type histEntry struct {
	at   time.Time
	st   *stanza.Stanza // as broadcast (no 'to')
	size int
}

// room is a live room. Everything in it is guarded by mu.
type room struct {
	m           *Module
	mu          sync.Mutex
	jid         jid.JID
	cfg         roomConfig
	locked      bool // created and not yet configured (XEP-0045 §10.1)
	gone        bool // destroyed, or dropped when empty
	created     time.Time
	subject     string
	subjectFrom string
	affs        map[string]affiliation // bare JID → affiliation other than none
	reg                                // registered nicks and voice requests (register.go, voice.go)
	secret      []byte                 // keys occupant ids (XEP-0421); kept with a persistent room
	occupants   map[string]*occupant   // by nick
	sessions    map[string]*seat       // by full JID of each session: its occupant and link (pace.go)
	history     []histEntry
	pace        pacer // back-pressure (pace.go)
	// occupant lists being sent to newcomers (listing.go): how many, those
	// to start once the lock is left, and the presences they share
	listing int
	pending []*listing
	views   []cachedView        // by slot
	owing   map[string]*listing // full JID of a session → its listing in progress
	// the occupants by slot, so a listing is a cursor and a bitset over
	// them rather than a copy and a map (listing.go)
	slots []*occupant // nil: a slot free since its occupant left
	nfree int         // nil slots
	joins uint32      // joins so far (occupant.seq)
}

func (m *Module) newRoom(rj jid.JID) *room {
	r := &room{m: m, jid: rj, created: m.now(), affs: map[string]affiliation{},
		occupants: map[string]*occupant{}, sessions: map[string]*seat{}, secret: make([]byte, 32),
		cfg: roomConfig{Public: true, MaxOccupants: m.cfg.MaxOccupants, History: 20, Invites: true}}
	_, _ = rand.Read(r.secret)
	return r
}

func (r *room) aff(bare jid.JID) affiliation {
	if r.m.admins[bare.String()] {
		return affOwner
	}
	return r.affs[bare.String()]
}

func (r *room) occJID(nick string) jid.JID {
	j, _ := r.jid.WithResource(nick)
	return j
}

// defaultRole is the role a user joins with (XEP-0045 §5.1.2).
func (r *room) defaultRole(a affiliation) role {
	switch {
	case a >= affAdmin:
		return roleModerator
	case r.cfg.Moderated && a < affMember:
		return roleVisitor
	}
	return roleParticipant
}

// extra is what a presence about a change carries: in <item/> (actor,
// reason) and in <x/> (destroy).
type extra struct{ item, x []byte }

// presenceOf builds the presence of o as a recipient sees it: with the real
// JID for moderators or in a non-anonymous room; codes are status codes.
func (r *room) presenceOf(o *occupant, unavailable bool, to jid.JID, withJID bool, ex *extra, codes ...int) *stanza.Stanza {
	var b stanza.Builder
	b.Start("presence", "from", r.occJID(o.nick).String(), "to", to.String())
	if unavailable {
		b.Attr("type", "unavailable")
	} else {
		b.Raw(o.payload)
	}
	b.Start("x", "xmlns", NSUser)
	b.Start("item", "affiliation", r.aff(o.bare()).String(), "role", o.role.String())
	if withJID && len(o.sessions) > 0 {
		b.Attr("jid", o.sessions[0].String())
	}
	if ex != nil {
		b.Raw(ex.item)
	}
	b.End()
	if ex != nil {
		b.Raw(ex.x)
	}
	for _, c := range codes {
		b.Element("status", "", "code", strconv.Itoa(c))
	}
	b.End()
	b.Element("occupant-id", "", "xmlns", nsOccID, "id", o.occID())
	return stanza.MustParse(b.Bytes())
}

// shared returns the presence for recipient to, building the view on first use.
func (r *room) shared(sh *shown, to jid.JID, withJID bool) mod.Delivery {
	i := 0
	if withJID {
		i = 1
	}
	if sh.v[i] == nil {
		sh.v[i] = r.presenceOf(sh.o, false, jid.JID{}, withJID, nil)
	}
	return mod.Delivery{To: to, St: sh.v[i]}
}

// seesJID reports whether viewer may see real JIDs.
func (r *room) seesJID(viewer *occupant) bool {
	return r.cfg.WhoisAnyone || (viewer != nil && viewer.role == roleModerator)
}

// broadcastPresence tells every occupant session about o (self gets 110
// plus selfCodes); codes go to everyone. What the others get is
// serialised once for each of the two views and shared.
func (r *room) broadcastPresence(out []mod.Delivery, o *occupant, unavailable bool, ex *extra, codes, selfCodes []int) []mod.Delivery {
	var views [2]*stanza.Stanza
	// a plain available presence is state: a session that is behind is
	// owed it (listing.go) instead of queueing one more
	state := !unavailable && ex == nil && len(codes) == 0
	now := r.m.now()
	for _, v := range r.occupants {
		for _, s := range v.sessions {
			if v == o {
				c := append(append(append([]int(nil), codes...), selfCodes...), 110)
				out = append(out, mod.To(r.presenceOf(o, unavailable, s, true, ex, c...)))
				continue
			}
			if state && r.owes(s, v, o, now) {
				continue
			}
			i := 0
			if r.seesJID(v) {
				i = 1
			}
			if views[i] == nil {
				views[i] = r.presenceOf(o, unavailable, jid.JID{}, i == 1, ex, codes...)
			}
			out = append(out, mod.Delivery{To: s, St: views[i]})
		}
	}
	return out
}

// presencePayload copies the children of a presence but the MUC ones.
func presencePayload(st *stanza.Stanza) []byte {
	var out []byte
	it := st.Elem().Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		switch string(c.NS()) {
		case NS, NSUser, nsOccID:
			continue
		}
		out = append(out, c.Raw()...)
	}
	return out
}

// joinRequest is the <x xmlns='…muc'/> of a join.
type joinRequest struct {
	password string
	hist     histLimit
}

type histLimit struct {
	maxChars, maxStanzas, seconds int // -1: not given
	since                         time.Time
}

func parseJoin(st *stanza.Stanza) (joinRequest, bool) {
	jr := joinRequest{hist: histLimit{-1, -1, -1, time.Time{}}}
	x := st.Elem().Child("x", NS)
	if x.IsZero() {
		return jr, false
	}
	if p := x.Child("password", NS); !p.IsZero() {
		jr.password = string(p.AppendText(nil))
	}
	if h := x.Child("history", NS); !h.IsZero() {
		num := func(name string) int {
			v, ok := h.Attr(name)
			if !ok {
				return -1
			}
			n, err := strconv.Atoi(string(v))
			if err != nil || n < 0 {
				return -1
			}
			return n
		}
		jr.hist.maxChars, jr.hist.maxStanzas, jr.hist.seconds = num("maxchars"), num("maxstanzas"), num("seconds")
		if v, ok := h.Attr("since"); ok {
			if t, err := time.Parse(time.RFC3339Nano, string(v)); err == nil {
				jr.hist.since = t
			}
		}
	}
	return jr, true
}

// presence handles every presence sent to the service.
func (m *Module) presence(ctx *mod.Ctx, st *stanza.Stanza) {
	to, from := st.To, st.From
	if to.Local() == "" || from.IsZero() {
		return // presence to the service itself means nothing
	}
	if st.Type == stanza.TypeError {
		m.errorFrom(ctx, st)
		return
	}
	if st.Type != stanza.TypeNone && st.Type != stanza.Unavailable {
		return // subscriptions to a room are not served
	}
	r := m.lookup(to.Bare())
	if st.Type == stanza.Unavailable {
		if r == nil {
			return
		}
		b := m.outBuf()
		r.mu.Lock()
		out := r.leave(b.s, from, presencePayload(st))
		r.mu.Unlock()
		m.afterLeave(r)
		m.sendBuf(ctx.Env, b, out)
		return
	}
	if to.Resource() == "" {
		m.bounce(ctx, st, stanza.ErrText(stanza.JIDMalformed, "a nick is needed to join a room"))
		return
	}
	created := false
	if r == nil {
		var err *stanza.Error
		if r, created, err = m.create(ctx, to.Bare(), from); err != nil {
			m.bounce(ctx, st, err)
			return
		}
	}
	r.mu.Lock()
	if r.gone {
		r.mu.Unlock()
		m.forget(r)
		m.presence(ctx, st) // destroyed meanwhile: start over
		return
	}
	b := m.outBuf()
	out, err := r.join(b.s, from, to.Resource(), st, created)
	var rest []*listing // the occupant list's remainder, once out is sent
	if err == nil {
		r.link(from, ctx.From)
		rest = r.takeLists(ctx.Env)
	}
	r.mu.Unlock()
	if err != nil {
		m.bounce(ctx, st, err)
		if created {
			m.afterLeave(r)
		}
		return
	}
	m.sendBuf(ctx.Env, b, out)
	m.startLists(rest)
}

// bounce answers st with an error from the address it was sent to.
func (m *Module) bounce(ctx *mod.Ctx, st *stanza.Stanza, e *stanza.Error) {
	if reply := st.ErrorReply(e); reply != nil {
		ctx.Env.Send(reply)
	}
}

// errorFrom handles an error an occupant's address returned: a session
// that is gone leaves its rooms (XEP-0045 §7.2.8 practice).
func (m *Module) errorFrom(ctx *mod.Ctx, st *stanza.Stanza) {
	if ctx.Env.Lookup(st.From) != nil {
		return
	}
	if r := m.lookup(st.To.Bare()); r != nil {
		b := m.outBuf()
		r.mu.Lock()
		out := r.leave(b.s, st.From, nil)
		r.mu.Unlock()
		m.afterLeave(r)
		m.sendBuf(ctx.Env, b, out)
	}
}

// create makes a new locked room owned by creator, if creator may.
func (m *Module) create(ctx *mod.Ctx, rj, creator jid.JID) (r *room, created bool, se *stanza.Error) {
	bare := creator.Bare()
	switch m.cfg.Create {
	case "admins":
		if !m.admins[bare.String()] {
			return nil, false, stanza.ErrText(stanza.NotAllowed, "only administrators create rooms here")
		}
	case "anyone":
	default:
		if !ctx.Env.IsLocal(creator) {
			return nil, false, stanza.ErrText(stanza.NotAllowed, "only local users create rooms here")
		}
	}
	// room locks are never taken under m.mu (a room takes m.mu under its
	// own in track): the count is made on a copy of the list
	if n := m.cfg.MaxRoomsPerUser; n > 0 && !m.admins[bare.String()] {
		m.mu.Lock()
		rooms := make([]*room, 0, len(m.byName))
		for _, x := range m.byName {
			rooms = append(rooms, x)
		}
		m.mu.Unlock()
		owned := 0
		for _, x := range rooms {
			x.mu.Lock()
			if !x.gone && x.affs[bare.String()] == affOwner {
				owned++
			}
			x.mu.Unlock()
		}
		if owned >= n {
			return nil, false, stanza.ErrText(stanza.ResourceConstraint, "you own too many rooms already")
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.byName[rj.Local()]; r != nil {
		return r, false, nil // someone was quicker
	}
	r = m.newRoom(rj)
	r.locked = true
	r.affs[bare.String()] = affOwner
	m.byName[rj.Local()] = r
	m.h.Log().Info("room created", "room", rj.String(), "owner", bare.String())
	return r, true, nil
}

// join handles an available presence from a session to room/nick.
// The stanzas to send are appended to out.
func (r *room) join(out []mod.Delivery, from jid.JID, nick string, st *stanza.Stanza, created bool) ([]mod.Delivery, *stanza.Error) {
	payload := presencePayload(st)
	if o := r.occupantAt(from.String()); o != nil {
		if o.nick == nick {
			o.payload = payload // a presence update
			return r.broadcastPresence(out, o, false, nil, nil, nil), nil
		}
		return r.changeNick(o, from, nick, payload)
	}
	bare := from.Bare()
	a := r.aff(bare)
	jr, _ := parseJoin(st)
	o := r.occupants[nick]
	switch {
	case r.locked && a != affOwner:
		return nil, stanza.ErrText(stanza.ItemNotFound, "the room is locked until its owner configures it")
	case a == affOutcast:
		return nil, stanza.ErrText(stanza.Forbidden, "you are banned from this room")
	case o != nil && !o.bare().Equal(bare):
		return nil, stanza.ErrText(stanza.Conflict, "that nick is taken")
	case r.reservedFor(nick, bare):
		return nil, errReserved
	case r.cfg.MembersOnly && a < affMember:
		return nil, stanza.ErrText(stanza.RegistrationRequired, "the room is for members only")
	case r.cfg.Password != "" && jr.password != r.cfg.Password && a < affOwner:
		return nil, stanza.ErrText(stanza.NotAuthorized, "a password is required")
	case o == nil && len(r.occupants) >= r.maxOccupants() && a < affAdmin:
		return nil, stanza.ErrText(stanza.ServiceUnavailable, "the room is full")
	}
	if o != nil {
		// another session of the same user joins the same nick: one occupant
		o.sessions = append(o.sessions, from)
		r.sessions[from.String()] = &seat{occ: o}
		r.m.track(from, r, true)
		tail := []mod.Delivery{mod.To(r.presenceOf(o, false, from, true, nil, r.selfCodes(false)...))}
		tail = append(tail, r.historyFor(from, jr.hist)...)
		return r.listFor(out, from, o, r.joins, append(tail, mod.To(r.subjectFor(from)))), nil
	}
	o = &occupant{nick: nick, sessions: []jid.JID{from}, role: r.defaultRole(a),
		id: r.occupantID(bare.String()), payload: payload,
		tokens: float32(r.m.cfg.MessageBurst), last: r.m.now().UnixNano()}
	// the occupant list first (as the newcomer's connection drains:
	// listFor), then everyone learns of the newcomer, whose own presence
	// (110) comes last (XEP-0045 §7.2.3)
	r.occupy(o)
	r.occupants[nick] = o
	r.sessions[from.String()] = &seat{occ: o}
	r.m.track(from, r, true)
	r.m.joined()
	sh := &shown{o: o}
	now := r.m.now()
	for _, v := range r.occupants {
		if v == o {
			continue
		}
		for _, s := range v.sessions {
			if !r.owes(s, v, o, now) {
				out = append(out, r.shared(sh, s, r.seesJID(v)))
			}
		}
	}
	tail := []mod.Delivery{mod.To(r.presenceOf(o, false, from, true, nil, r.selfCodes(created)...))}
	tail = append(tail, r.historyFor(from, jr.hist)...)
	return r.listFor(out, from, o, o.seq, append(tail, mod.To(r.subjectFor(from)))), nil
}

// selfCodes are the status codes of one's own presence on entering, 110 last.
func (r *room) selfCodes(created bool) []int {
	var c []int
	if r.cfg.WhoisAnyone {
		c = append(c, 100)
	}
	c = append(c, 170) // the room's messages are archived (XEP-0313)
	if created {
		c = append(c, 201)
	}
	return append(c, 110)
}

func (r *room) maxOccupants() int {
	if n := r.cfg.MaxOccupants; n > 0 && n < r.m.cfg.MaxOccupants {
		return n
	}
	return r.m.cfg.MaxOccupants
}

// changeNick: unavailable with 303 and the new nick, then the new presence (§7.6).
func (r *room) changeNick(o *occupant, from jid.JID, nick string, payload []byte) ([]mod.Delivery, *stanza.Error) {
	if r.occupants[nick] != nil {
		return nil, stanza.ErrText(stanza.Conflict, "that nick is taken")
	}
	if r.reservedFor(nick, o.bare()) {
		return nil, errReserved
	}
	// the <item/> of the 303 presence carries the new nick
	var out []mod.Delivery
	var views [2]*stanza.Stanza // what the others get, shared
	for _, v := range r.occupants {
		for _, s := range v.sessions {
			if v == o {
				out = append(out, mod.To(r.nickChanged(o, nick, s, true, []int{303, 110})))
				continue
			}
			i := 0
			if r.seesJID(v) {
				i = 1
			}
			if views[i] == nil {
				views[i] = r.nickChanged(o, nick, jid.JID{}, i == 1, []int{303})
			}
			out = append(out, mod.Delivery{To: s, St: views[i]})
		}
	}
	delete(r.occupants, o.nick)
	o.nick, o.payload = nick, payload
	r.occupants[nick] = o
	return r.broadcastPresence(out, o, false, nil, nil, nil), nil
}

func (r *room) nickChanged(o *occupant, nick string, to jid.JID, withJID bool, codes []int) *stanza.Stanza {
	var b stanza.Builder
	b.Start("presence", "from", r.occJID(o.nick).String(), "to", to.String(), "type", "unavailable")
	b.Start("x", "xmlns", NSUser)
	b.Start("item", "affiliation", r.aff(o.bare()).String(), "role", o.role.String(), "nick", nick)
	if withJID {
		b.Attr("jid", o.sessions[0].String())
	}
	b.End()
	for _, c := range codes {
		b.Element("status", "", "code", strconv.Itoa(c))
	}
	b.End()
	b.Element("occupant-id", "", "xmlns", nsOccID, "id", o.occID())
	return stanza.MustParse(b.Bytes())
}

// leave removes one session; the occupant goes when its last session does,
// and everyone is told (the leaver too). The stanzas are appended to out.
func (r *room) leave(out []mod.Delivery, from jid.JID, payload []byte) []mod.Delivery {
	o := r.occupantAt(from.String())
	if o == nil {
		return nil
	}
	r.unseat(from.String())
	r.m.track(from, r, false)
	for i, s := range o.sessions {
		if s.Equal(from) {
			o.sessions = append(o.sessions[:i], o.sessions[i+1:]...)
			break
		}
	}
	if len(o.sessions) > 0 {
		// that session alone is told it left
		return append(out, mod.To(r.presenceOf(o, true, from, true, nil, 110)))
	}
	o.payload, o.role = payload, roleNone
	o.sessions = []jid.JID{from}
	out = r.broadcastPresence(out, o, true, nil, nil, nil)
	o.sessions = nil
	delete(r.occupants, o.nick)
	r.vacate(o)
	return out
}

// remove takes an occupant out with every session (kick, ban, destroy),
// telling everyone with codes and extra in <x/>.
func (r *room) remove(o *occupant, ex *extra, codes ...int) []mod.Delivery {
	o.role = roleNone
	out := r.broadcastPresence(nil, o, true, ex, codes, nil)
	for _, s := range o.sessions {
		r.unseat(s.String())
		r.m.track(s, r, false)
	}
	delete(r.occupants, o.nick)
	r.vacate(o)
	return out
}

// subjectFor is the subject message sent last on entering (§7.2.15).
func (r *room) subjectFor(to jid.JID) *stanza.Stanza {
	from := r.jid
	if r.subjectFrom != "" {
		from = r.occJID(r.subjectFrom)
	}
	var b stanza.Builder
	b.Start("message", "from", from.String(), "to", to.String(), "type", "groupchat", "id", "subject")
	b.Start("subject").Text(r.subject).End()
	return stanza.MustParse(b.Bytes())
}

// historyFor is the history a joining session asked for (§7.2.14).
func (r *room) historyFor(to jid.JID, h histLimit) []mod.Delivery {
	n := len(r.history)
	if h.maxStanzas >= 0 && h.maxStanzas < n {
		n = h.maxStanzas
	}
	start := len(r.history) - n
	now := r.m.now()
	chars := 0
	for i := len(r.history) - 1; i >= start; i-- {
		e := r.history[i]
		if (h.seconds >= 0 && now.Sub(e.at) > time.Duration(h.seconds)*time.Second) ||
			(!h.since.IsZero() && !e.at.After(h.since)) {
			start = i + 1
			break
		}
		if chars += e.size; h.maxChars >= 0 && chars > h.maxChars {
			start = i + 1
			break
		}
	}
	out := make([]mod.Delivery, 0, len(r.history)-start)
	for _, e := range r.history[start:] {
		out = append(out, mod.Delivery{To: to, St: withDelay(e.st, r.jid, e.at)})
	}
	return out
}

// withDelay is a kept message (no 'to') with a XEP-0203 delay.
func withDelay(st *stanza.Stanza, by jid.JID, at time.Time) *stanza.Stanza {
	raw := st.Bytes()
	e, err := xmlscan.ParseElem(raw, stanza.NSClient)
	if err != nil || e.SelfClosing() {
		return st
	}
	var b stanza.Builder
	b.Element("delay", "", "xmlns", stanza.NSDelay, "from", by.String(), "stamp", at.UTC().Format("2006-01-02T15:04:05.000000Z"))
	end := len(raw) - len("</message>")
	out := make([]byte, 0, len(raw)+len(b.Bytes()))
	out = append(append(append(out, raw[:end]...), b.Bytes()...), raw[end:]...)
	n, err := stanza.Parse(out)
	if err != nil {
		return st
	}
	return n
}
