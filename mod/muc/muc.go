// Package muc is multi-user chat (XEP-0045) as a service at conference.DOMAIN:
// rooms created on first join (locked until the owner configures them),
// occupants with nicks shared by a user's sessions, subject, groupchat with
// XEP-0359 stanza-ids and XEP-0421 occupant-ids, private messages, the
// room configuration form, affiliations and roles (kick, ban, voice),
// mediated invitations, history on join (XEP-0203 delay), the room archive
// (XEP-0313), XEP-0410 self-ping, voice requests (voice.go), nicks
// registered with a room (register.go) and iqs relayed to occupants
// (relay.go). Persistent rooms, their affiliations, registered nicks and
// occupant-id secrets are kept in the store (store/muc.go).
//
// Ownership: the module's room map is guarded by Module.mu; everything of a
// room by room.mu. Stanzas a room sends are collected under its lock and sent
// after it is released: routing may bounce an error back into the room.
package muc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// Namespaces of XEP-0045 and the extensions a room speaks.
const (
	NS         = "http://jabber.org/protocol/muc"
	NSUser     = stanza.NSMUCUser
	NSAdmin    = "http://jabber.org/protocol/muc#admin"
	NSOwner    = "http://jabber.org/protocol/muc#owner"
	nsData     = "jabber:x:data"
	nsInfo     = "http://jabber.org/protocol/disco#info"
	nsItems    = "http://jabber.org/protocol/disco#items"
	nsPing     = "urn:xmpp:ping"
	nsOccID    = "urn:xmpp:occupant-id:0" // XEP-0421
	nsMAM      = "urn:xmpp:mam:2"
	nsRSM      = "http://jabber.org/protocol/rsm"
	nsForward  = stanza.NSForward
	nsConfig   = "http://jabber.org/protocol/muc#roomconfig"
	nsRoomInfo = "http://jabber.org/protocol/muc#roominfo"
)

// Config is the service's configuration ([muc] in the server's TOML).
type Config struct {
	Host string // a label put in front of the domain ("conference") or a whole domain
	// Parent is the local domain this instance of the service belongs to
	// (a virtual host's conference.example.net); empty is the primary
	// domain. Each instance keeps its own rooms (store.RoomKey).
	Parent string
	// MaxRoomsPerUser caps the rooms one user owns; 0 = no limit.
	MaxRoomsPerUser int
	// MaxOccupants is the default and the ceiling of a room's max occupants.
	MaxOccupants int
	// MaxHistory caps the messages a room keeps for history on join.
	MaxHistory int
	// MessageRate (messages a second) and MessageBurst limit one occupant's
	// groupchat messages; past them the message gets resource-constraint.
	MessageRate  float64
	MessageBurst int
	// BusyOutput (bytes held for a client) and BusyShare (of a room's
	// sessions) are the room's back-pressure (pace.go): while more than
	// BusyShare of its sessions, and more than one, hold over BusyOutput,
	// groupchat messages get resource-constraint. BusyShare 1 turns it off.
	BusyOutput int
	BusyShare  float64
	// JoinWindow is how many bytes of a newcomer's occupant list may wait
	// on its connection at once; the rest follows as it drains (listing.go).
	JoinWindow int
	// PresenceBacklog: while a session holds more than this many bytes for
	// its client, the room's presence updates to it are coalesced (the
	// latest of each occupant, sent as it drains: listing.go).
	PresenceBacklog int
	// Create says who may create rooms: "local" (accounts of the server,
	// the default), "admins" (Admins only) or "anyone".
	Create string
	Admins []jid.JID // bare JIDs ([admin] jids) that own every room and may always create
	// VoiceInterval is how long a visitor waits between two voice requests
	// (XEP-0045 §7.13); sooner ones get resource-constraint.
	VoiceInterval time.Duration
	// MaxRegistrations caps the nicks registered with one room (§7.10).
	MaxRegistrations int
	// ReleaseAfterJoins: after a wave of at least this many joins, quiet
	// for a second, the freed heap goes back to the OS once (release.go);
	// 0 = never.
	ReleaseAfterJoins int
}

func (c *Config) defaults() {
	if c.Host == "" {
		c.Host = "conference"
	}
	if c.MaxOccupants <= 0 {
		c.MaxOccupants = 200
	}
	if c.MaxHistory <= 0 {
		c.MaxHistory = 50
	}
	if c.MessageRate <= 0 {
		c.MessageRate = 5
	}
	if c.MessageBurst <= 0 {
		c.MessageBurst = 20
	}
	if c.VoiceInterval <= 0 {
		c.VoiceInterval = time.Minute
	}
	if c.MaxRegistrations <= 0 {
		c.MaxRegistrations = 1000
	}
	if c.Create == "" {
		c.Create = "local"
	}
	if c.BusyOutput <= 0 {
		c.BusyOutput = 64 << 10
	}
	if c.BusyShare <= 0 {
		c.BusyShare = 0.1
	}
	if c.JoinWindow <= 0 {
		c.JoinWindow = 128 << 10
	}
	if c.PresenceBacklog <= 0 {
		c.PresenceBacklog = 16 << 10
	}
}

// Module is the group chat service.
type Module struct {
	h       *mod.Handle
	cfg     Config
	rooms   store.Rooms
	archive *store.Archive
	secret  []byte // keys the ids of iqs relayed to occupants
	svc     *mod.Service
	primary string // the primary domain's instance's domain: store.RoomKey's
	admins  map[string]bool
	now     func() time.Time

	mu     sync.Mutex
	domain jid.JID                 // the service's domain, once started
	byName map[string]*room        // live rooms by localpart
	where  mod.Sets[string, *room] // full JID of an occupant session → its rooms (mostly one: kept inline)

	lists lists // occupant lists being sent to newcomers (listing.go)

	rel  releaser  // returns the heap after a wave of joins (release.go)
	outs sync.Pool // *outBuf: the fan-outs of joins and leaves
}

// New returns the service over h's store.
func New(h *mod.Handle, cfg Config) *Module {
	cfg.defaults()
	m := &Module{h: h, cfg: cfg, now: time.Now, byName: map[string]*room{},
		admins: map[string]bool{}, secret: make([]byte, 32)}
	_, _ = rand.Read(m.secret)
	for _, a := range cfg.Admins {
		m.admins[a.Bare().String()] = true
	}
	if h.DB() != nil {
		m.rooms, m.archive = h.DB().Rooms(), h.DB().RoomArchive()
	}
	if d, err := (&mod.Service{Host: cfg.Host}).Domain(h.Domain()); err == nil { // else Start fails
		m.primary = d.Domain()
	}
	m.svc = &mod.Service{
		Host:       cfg.Host,
		Parent:     cfg.Parent,
		Identities: []mod.Identity{{Category: "conference", Type: "text", Name: "Chatrooms"}},
		Features:   []string{NS, nsInfo, nsItems, nsPing, nsOccID, "urn:xmpp:sid:0", nsMAM},
		Items:      m.items,
		Message:    m.message,
		Presence:   m.presence,
		IQ:         m.iq,
	}
	return m
}

func (m *Module) Name() string { return "muc" }

func (m *Module) Register(r *mod.Registry) {
	r.Service(m.svc)
	r.OnUnavailable(m.sessionGone)
}

// Start loads the persistent rooms.
func (m *Module) Start(context.Context) error {
	d, err := m.svc.Domain(m.h.Domain())
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.domain = d
	m.mu.Unlock()
	if m.h.DB() == nil {
		return nil
	}
	var unkeyed []*room
	err = m.rooms.List(func(rec *store.RoomRecord) bool {
		rj, err := store.RoomOfKey(m.primary, rec.Name)
		if err == nil && rj.Domain() != d.Domain() {
			return true // a room of another domain's instance
		}
		if err == nil {
			// the name as this server spells it now (jid.New checks it)
			rj, err = jid.New(rj.Local(), d.Domain(), "")
		}
		if err != nil {
			if m.cfg.Parent == "" { // one instance reports it
				m.h.Log().Warn("stored room with a bad name", "room", rec.Name)
			}
			return true
		}
		r := m.newRoom(rj)
		if err := json.Unmarshal(rec.Config, &r.cfg); err != nil {
			m.h.Log().Error("stored room configuration", "room", rec.Name, "err", err)
			return true
		}
		for k, v := range rec.Affs {
			r.affs[k] = affiliation(v)
		}
		r.subject, r.subjectFrom = rec.Subject, rec.SubjFrom
		for bare, nick := range rec.Nicks {
			r.reserve(bare, nick)
		}
		if len(rec.Secret) == len(r.secret) {
			r.secret = rec.Secret
		} else {
			unkeyed = append(unkeyed, r)
		}
		m.byName[rj.Local()] = r
		return true
	})
	// rooms stored before rooms kept a secret keep the new one from now on
	for _, r := range unkeyed {
		if err == nil {
			err = m.rooms.Put(r.record())
		}
	}
	return err
}

// items lists the public rooms (disco#items of the service).
func (m *Module) items(*mod.Ctx) []mod.Item {
	m.mu.Lock()
	rooms := make([]*room, 0, len(m.byName))
	for _, r := range m.byName {
		rooms = append(rooms, r)
	}
	m.mu.Unlock()
	var out []mod.Item
	for _, r := range rooms {
		r.mu.Lock()
		if r.cfg.Public && !r.locked && !r.gone {
			out = append(out, mod.Item{JID: r.jid.String(), Name: r.cfg.Name})
		}
		r.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].JID < out[j].JID })
	return out
}

// occupantID is the XEP-0421 id of a user in the room: keyed by the room's
// secret, which a persistent room keeps, so it outlives restarts, and
// unrelated to the user's JID for anyone without the secret.
func (r *room) occupantID(bare string) (id [occIDLen]byte) {
	mac := hmac.New(sha256.New, r.secret)
	mac.Write([]byte(bare))
	copy(id[:], mac.Sum(nil))
	return id
}

// occIDLen is the bytes of the HMAC an occupant-id keeps (20 in base64).
const occIDLen = 15

// lookup returns the live room named by a room JID, or nil.
func (m *Module) lookup(rj jid.JID) *room {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byName[rj.Local()]
}

// send routes what a room produced, after its lock was released.
// Each delivery's stanza may be shared by many: SendTo routes it without a
// copy per receiver.
func (m *Module) send(env mod.Env, out []mod.Delivery) {
	for _, d := range out {
		env.SendTo(d.To, d.St)
	}
}

// outBuf is a fan-out's stanzas, reused: a join or a leave in a room of
// n makes n of them, and a slice grown to n for each is most of a wave's
// garbage beside the stanzas themselves.
type outBuf struct{ s []mod.Delivery }

// maxOutBuf is the biggest fan-out kept for reuse (a room of 16k).
const maxOutBuf = 1 << 14

func (m *Module) outBuf() *outBuf {
	if b, ok := m.outs.Get().(*outBuf); ok {
		return b
	}
	return &outBuf{}
}

// sendBuf sends out, which was made on b.s, and gives b back.
func (m *Module) sendBuf(env mod.Env, b *outBuf, out []mod.Delivery) {
	m.send(env, out)
	clear(out)
	if cap(out) <= maxOutBuf {
		b.s = out[:0]
		m.outs.Put(b)
	}
}

// track records in which rooms a session is (for its unavailability).
func (m *Module) track(full jid.JID, r *room, in bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if in {
		m.where.Add(full.String(), r, 0)
	} else {
		m.where.Remove(full.String(), r)
	}
}

// sessionGone removes a session that went unavailable from its rooms, for
// the case its unavailable presence did not reach them (never directed).
func (m *Module) sessionGone(ctx *mod.Ctx, res mod.Resource) {
	full := res.JID()
	m.mu.Lock()
	rooms := m.where.Values(full.String())
	m.mu.Unlock()
	for _, r := range rooms {
		b := m.outBuf()
		r.mu.Lock()
		out := r.leave(b.s, full, nil)
		r.mu.Unlock()
		m.afterLeave(r)
		m.sendBuf(ctx.Env, b, out)
	}
}

// afterLeave forgets an empty temporary room, or one destroyed.
func (m *Module) afterLeave(r *room) {
	r.mu.Lock()
	drop := len(r.occupants) == 0 && (!r.cfg.Persistent || r.gone)
	if drop && !r.gone && m.h.DB() != nil {
		// a temporary room's archive goes with it: a later room of that
		// name is another room. Submitted under the lock, so before
		// anything a new room of that name archives (it waits for gone).
		m.rooms.DeleteAsync(m.key(r.jid), nil)
	}
	if drop {
		r.gone = true
	}
	r.mu.Unlock()
	if drop {
		m.forget(r)
	}
}

// forget takes a room that is gone out of the map.
func (m *Module) forget(r *room) {
	m.mu.Lock()
	if m.byName[r.jid.Local()] == r {
		delete(m.byName, r.jid.Local())
	}
	m.mu.Unlock()
}

// key is a room's key in the store (store.RoomKey: the primary domain's
// rooms by localpart, as stored before per-domain services).
func (m *Module) key(rj jid.JID) string { return store.RoomKey(m.primary, rj) }

// persist stores a persistent room's configuration and affiliations (under r.mu).
func (r *room) persist() {
	m := r.m
	if m.h.DB() == nil || !r.cfg.Persistent || r.gone {
		return
	}
	rec := r.record()
	m.rooms.PutAsync(rec, func(err error) {
		if err != nil {
			m.h.Log().Error("storing a room", "room", rec.Name, "err", err)
		}
	})
}

// record is what the store keeps of the room (under r.mu).
func (r *room) record() *store.RoomRecord {
	cfg, _ := json.Marshal(&r.cfg)
	rec := &store.RoomRecord{Name: r.m.key(r.jid), Config: cfg, Affs: map[string]uint8{},
		Subject: r.subject, SubjFrom: r.subjectFrom, Created: r.created, Nicks: r.nicks, Secret: r.secret}
	for k, v := range r.affs {
		rec.Affs[k] = uint8(v)
	}
	return rec
}
