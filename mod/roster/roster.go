// Package roster serves a user's roster (RFC 6121 §2): roster get with
// roster versioning (XEP-0237), roster set to add, update and remove items,
// and roster pushes to the user's interested resources.
//
// Subscription states change in mod/presence; both packages write through
// store.Roster, whose watcher tells this package of every change once it is
// on disk, so every change, whoever made it, is pushed from one place.
package roster

import (
	"errors"
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"ignis/im"
	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// NS is the roster namespace.
const NS = "jabber:iq:roster"

// NSVer is the roster versioning stream feature (XEP-0237 §3).
const NSVer = "urn:xmpp:features:rosterver"

// Limits on what a roster set may hold (RFC 6121 §2.3.3 leaves them to the
// server; past them the set gets <not-acceptable/>).
const (
	maxNameBytes  = 1023
	maxGroupBytes = 1023
	maxGroups     = 64

	// DefaultMaxItems is the roster size when New is given zero.
	DefaultMaxItems = 1000
)

var (
	errMultipleItems = stanza.ErrText(stanza.BadRequest, "a roster set carries exactly one item")
	errDupGroup      = stanza.ErrText(stanza.BadRequest, "a group is listed twice")
	errNoJID         = stanza.ErrText(stanza.BadRequest, "the item has no jid")
	errBadJID        = stanza.ErrText(stanza.JIDMalformed, "the item's jid is not a valid JID")
	errSelf          = stanza.ErrText(stanza.NotAllowed, "your own JID cannot be in your roster")
	errFull          = stanza.ErrText(stanza.NotAllowed, "the roster is full")
	errLongName      = stanza.ErrText(stanza.NotAcceptable, "the item's name is too long")
	errBadGroup      = stanza.ErrText(stanza.NotAcceptable, "a group name is empty or too long")
	errManyGroups    = stanza.ErrText(stanza.NotAcceptable, "too many groups")
	errNotYours      = stanza.Err(stanza.Forbidden)
	errNoItem        = stanza.Err(stanza.ItemNotFound)
)

// Module is the roster feature.
type Module struct {
	h        *mod.Handle // the store user of an account: h.User (virtual hosts)
	db       *store.DB
	roster   *store.Roster
	maxItems int
	pushes   atomic.Uint64 // push iq ids

	// mu guards interested: per user (localpart), the sessions that asked
	// for the roster, which are the ones roster pushes go to (RFC 6121
	// §2.1.6), with the Env to reach them. Entries for sessions that ended
	// are dropped at the user's next push or unavailable presence.
	mu         sync.Mutex
	interested map[string][]listener
}

type listener struct {
	res mod.Resource
	env mod.Env
}

// New returns the roster feature over db; maxItems ≤ 0 means DefaultMaxItems.
func New(h *mod.Handle, cfg Config) *Module {
	maxItems := cfg.MaxItems
	if maxItems <= 0 {
		maxItems = DefaultMaxItems
	}
	db := h.DB()
	return &Module{h: h, db: db, roster: db.Roster(), maxItems: maxItems, interested: map[string][]listener{}}
}

// Config is the module's configuration ([roster] in the server's).
type Config struct {
	MaxItems int // items per roster; <= 0: DefaultMaxItems
}

func (m *Module) Name() string { return "roster" }

func (m *Module) Register(r *mod.Registry) {
	r.IQ(mod.ToAccount, stanza.Get, NS, "query", m.get)
	r.IQ(mod.ToAccount, stanza.Set, NS, "query", m.set)
	r.StreamFeature(true, "<ver xmlns='"+NSVer+"'/>")
	r.OnUnavailable(m.unavailable)
	m.roster.Watch(m.push)
}

// owner returns the user whose roster the iq is about: only the user's own
// sessions may read or change it (RFC 6121 §2.1.5).
func owner(ctx *mod.Ctx) (jid.JID, error) {
	if ctx.From == nil {
		return jid.JID{}, errNotYours
	}
	self := ctx.From.JID().Bare()
	if !ctx.Target.Equal(self) {
		return jid.JID{}, errNotYours
	}
	return self, nil
}

// get answers a roster get (RFC 6121 §2.1.3). With a 'ver' equal to the
// current version the answer is empty (XEP-0237 §4, RFC 6121 §2.6.3).
func (m *Module) get(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	self, err := owner(ctx)
	if err != nil {
		return nil, err
	}
	m.listen(m.h.User(self), ctx)
	clientVer, versioned := iq.Payload().Attr("ver")
	var items []store.RosterItem
	ver, err := m.roster.List(m.h.User(self), func(it store.RosterItem) bool {
		if !it.Hidden {
			items = append(items, it)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	items, shared, err := m.withSharedGroups(self, items)
	if err != nil {
		return nil, err
	}
	v := store.FormatVersion(ver)
	if shared != 0 {
		// shared groups change without a roster version bump: their state
		// is part of the version the client caches
		v += "-" + strconv.FormatUint(shared, 36)
	}
	if versioned && string(clientVer) == v {
		return iq.Result(nil), nil
	}
	var b stanza.Builder
	b.Start("query", "xmlns", NS)
	if versioned {
		b.Attr("ver", v)
	}
	for i := range items {
		appendItem(&b, &items[i], false)
	}
	return iq.Result(b.Bytes()), nil
}

// withSharedGroups adds the members of the user's shared roster groups, as
// Openfire does: each appears with subscription both under the group's
// display name, merged with the user's own item for the same contact. It
// returns a hash of what the groups contributed (0 for none).
func (m *Module) withSharedGroups(self jid.JID, items []store.RosterItem) ([]store.RosterItem, uint64, error) {
	groups, err := m.db.Groups().GroupsOf(m.h.User(self))
	if err != nil || len(groups) == 0 {
		return items, 0, err
	}
	index := make(map[string]int, len(items))
	for i := range items {
		index[items[i].JID] = i
	}
	h := fnv.New64a()
	for _, g := range groups {
		for _, member := range g.Members {
			if member == m.h.User(self) {
				continue
			}
			c, err := m.h.UserJID(member)
			if err != nil {
				continue
			}
			h.Write([]byte(g.Display + "\x00" + member + "\x00"))
			i, ok := index[c.String()]
			if !ok {
				i = len(items)
				index[c.String()] = i
				items = append(items, store.RosterItem{JID: c.String()})
			}
			it := &items[i]
			it.Sub, it.Ask = store.SubBoth, false
			if !slices.Contains(it.Groups, g.Display) {
				it.Groups = append(it.Groups, g.Display)
			}
		}
	}
	return items, h.Sum64() | 1, nil
}

// set adds, changes or removes one item (RFC 6121 §2.3–§2.5). The result
// is sent once the change is on disk, after the pushes.
func (m *Module) set(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	self, err := owner(ctx)
	if err != nil {
		return nil, err
	}
	req, err := parseSet(iq)
	if err != nil {
		return nil, err
	}
	if req.jid.Equal(self) {
		return nil, errSelf
	}
	env := ctx.Env
	contact := req.jid
	if req.remove {
		return nil, m.remove(env, iq, self, contact)
	}
	tx := m.roster.Begin(m.h.User(self))
	it, ok, err := tx.Get(m.h.User(self), contact.String())
	if err != nil {
		tx.Abort()
		return nil, err
	}
	if !ok || it.Hidden {
		n, err := tx.Count(m.h.User(self))
		if err != nil {
			tx.Abort()
			return nil, err
		}
		if n >= m.maxItems {
			tx.Abort()
			return nil, errFull
		}
	}
	// the client sets name and groups; subscription, ask and approved are
	// the server's (RFC 6121 §2.1.2: other values in a set are ignored)
	it.JID, it.Name, it.Groups, it.Hidden = contact.String(), req.name, req.groups, false
	tx.Put(m.h.User(self), it)
	tx.CommitAsync(func(err error) { mod.AnswerStored(env, m.h.Log(), iq, err) })
	return nil, nil
}

// remove removes an item and cancels the subscriptions it carried both
// ways (RFC 6121 §2.5.2), on the contact's side too when it is local.
func (m *Module) remove(env mod.Env, iq *stanza.Stanza, self, contact jid.JID) error {
	local := mod.IsLocalUser(env, contact)
	users := []string{m.h.User(self)}
	exists := false
	if local {
		users = append(users, m.h.User(contact))
		_, err := m.db.Accounts().Get(m.h.User(contact))
		switch {
		case err == nil:
			exists = true
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	tx := m.roster.Begin(users...)
	var effects im.Effects
	var ok bool
	if local {
		effects, ok = im.Local{Tx: im.Hosted{Roster: tx, Primary: m.h.Domain().Domain()}, ContactExists: exists}.Remove(self, contact)
	} else {
		effects, ok = im.Remove(tx, self, contact) // its Routes go to the contact's server
	}
	if !ok {
		tx.Abort()
		return errNoItem // RFC 6121 §2.5.3
	}
	tx.CommitAsync(func(err error) {
		mod.AnswerStored(env, m.h.Log(), iq, err)
		if err == nil {
			mod.SendEffects(env, effects)
		}
	})
	return nil
}

type setReq struct {
	jid    jid.JID
	name   string
	groups []string
	remove bool
}

// parseSet checks a roster set's one item (RFC 6121 §2.3.3).
func parseSet(iq *stanza.Stanza) (setReq, error) {
	var req setReq
	q := iq.Payload()
	items := q.Children()
	n := 0
	for c, ok := items.Next(); ok; c, ok = items.Next() {
		if string(c.Local()) != "item" || string(c.NS()) != NS {
			continue
		}
		if n++; n > 1 {
			return req, errMultipleItems
		}
		j, ok := c.Attr("jid")
		if !ok {
			return req, errNoJID
		}
		parsed, err := jid.Parse(string(j))
		if err != nil {
			return req, errBadJID
		}
		req.jid = parsed.Bare()
		if s, _ := c.Attr("subscription"); string(s) == "remove" {
			req.remove = true
			continue
		}
		name, _ := c.Attr("name")
		if len(name) > maxNameBytes {
			return req, errLongName
		}
		req.name = string(name)
		gs := c.Children()
		for g, ok := gs.Next(); ok; g, ok = gs.Next() {
			if string(g.Local()) != "group" || string(g.NS()) != NS {
				continue
			}
			name := string(g.AppendText(nil))
			switch {
			case name == "" || len(name) > maxGroupBytes:
				return req, errBadGroup
			case len(req.groups) >= maxGroups:
				return req, errManyGroups
			}
			for _, have := range req.groups {
				if have == name {
					return req, errDupGroup
				}
			}
			req.groups = append(req.groups, name)
		}
	}
	if n == 0 {
		return req, errMultipleItems
	}
	return req, nil
}

// appendItem writes one roster item (RFC 6121 §2.1.2); removed gives the
// push of a removal (§2.5.2).
func appendItem(b *stanza.Builder, it *store.RosterItem, removed bool) {
	if removed {
		b.Start("item", "jid", it.JID, "subscription", "remove").End()
		return
	}
	b.Start("item", "jid", it.JID, "name", it.Name, "subscription", it.Sub.String())
	if it.Ask {
		b.Attr("ask", "subscribe")
	}
	if it.Approved {
		b.Attr("approved", "true")
	}
	for _, g := range it.Groups {
		b.Element("group", g)
	}
	b.End()
}

// listen records ctx.From as an interested resource of user.
func (m *Module) listen(user string, ctx *mod.Ctx) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.interested[user] {
		if l.res == ctx.From {
			return
		}
	}
	m.interested[user] = append(m.interested[user], listener{res: ctx.From, env: ctx.Env})
}

// live returns user's interested resources that are still bound, dropping
// the others.
func (m *Module) live(user string) []listener {
	m.mu.Lock()
	defer m.mu.Unlock()
	ls := m.interested[user]
	keep := ls[:0]
	for _, l := range ls {
		if l.env.Lookup(l.res.JID()) == l.res {
			keep = append(keep, l)
		}
	}
	clear(ls[len(keep):])
	if len(keep) == 0 {
		delete(m.interested, user)
		return nil
	}
	m.interested[user] = keep
	return append([]listener(nil), keep...)
}

func (m *Module) unavailable(ctx *mod.Ctx, res mod.Resource) { m.live(m.h.User(res.JID())) }

// push sends each change to the user's interested resources, one item per
// push (RFC 6121 §2.1.6), with the new version. It runs once the change is
// on disk, on the store's writer goroutine.
func (m *Module) push(user string, ver uint64, changes []store.RosterChange) {
	ls := m.live(user)
	if len(ls) == 0 {
		return
	}
	v := store.FormatVersion(ver)
	for _, c := range changes {
		var q stanza.Builder
		q.Start("query", "xmlns", NS, "ver", v)
		appendItem(&q, &c.Item, c.Removed)
		payload := q.Bytes()
		for _, l := range ls {
			var b stanza.Builder
			b.Start("iq", "type", "set", "id", "push"+strconv.FormatUint(m.pushes.Add(1), 10), "to", l.res.JID().String())
			b.Raw(payload)
			l.env.Send(stanza.MustParse(b.Bytes()))
		}
	}
}
