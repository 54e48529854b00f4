// Package privacy implements privacy lists (XEP-0016): named, ordered lists
// of allow/deny rules a user keeps on the server, matched by JID, roster
// group or subscription, for incoming messages, iqs and presence and for
// outgoing presence. One list may be the user's default; each session may
// make another list active for itself.
//
// Lists are stored in the store's privacy table and cached per user in
// memory; a filter applies them on every delivery. Blocking (XEP-0191) is a
// separate feature with its own filter: both apply.
package privacy

import (
	"cmp"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
	"ignis/xmlscan"
)

// NS is the privacy lists namespace.
const NS = "jabber:iq:privacy"

var (
	errNotOwn      = stanza.Err(stanza.ServiceUnavailable)
	errOneChild    = stanza.ErrText(stanza.BadRequest, "exactly one of active, default or list is expected")
	errNoList      = stanza.Err(stanza.ItemNotFound)
	errInUse       = stanza.ErrText(stanza.Conflict, "the list is in use by another resource")
	errBadItem     = stanza.ErrText(stanza.BadRequest, "invalid privacy list item")
	errDupOrder    = stanza.ErrText(stanza.BadRequest, "two items have the same order")
	errNoName      = stanza.ErrText(stanza.BadRequest, "the list needs a name")
	errInDenied    = stanza.Err(stanza.ServiceUnavailable) // what a denied sender learns (XEP-0016 §2.12)
	errOutDenied   = stanza.Err(stanza.NotAcceptable)      // what the user learns (XEP-0016 §2.13)
	errBadJIDValue = stanza.ErrText(stanza.BadRequest, "an item's jid value is not a valid JID")
)

// Module is the privacy lists feature. Create it with New.
type Module struct {
	db *store.DB
	// h: the store user of an account is h.User (virtual hosts);
	// replies run on its goroutines (shutdown waits)
	h   *mod.Handle
	log *slog.Logger

	// users: each user's lists, loaded on first use and replaced whole
	// by each change once it is on disk
	users mod.UserCache[*lists]

	mu     sync.RWMutex       // guards active
	active map[string]session // active lists, by full JID

	pushID atomic.Uint64
	denier mod.Denier
}

// session is a resource's active list. res tells a later session bound to
// the same full JID from the one that chose the list.
type session struct {
	res  mod.Resource
	name string
}

// lists is one user's privacy lists, immutable once built.
type lists struct {
	def   string                       // the default list's name, or ""
	named map[string]store.PrivacyList // items sorted by order
}

var noLists = &lists{}

// New returns the privacy module over db for the server's domain.
func New(h *mod.Handle) *Module {
	m := &Module{db: h.DB(), h: h, log: h.Log(), active: map[string]session{}}
	// only the users with stored lists get an entry in users: most have
	// none (if listing them fails, every user is cached instead)
	if users, err := m.db.Privacy().Users(); err != nil {
		m.log.Error("privacy: listing the users with lists", "err", err)
	} else {
		m.users.OnlyFor(noLists, users)
	}
	return m
}

func (m *Module) Name() string { return "privacy" }

func (m *Module) Register(r *mod.Registry) {
	r.IQ(mod.ToAccount, stanza.Get, NS, "query", m.get)
	r.IQ(mod.ToAccount, stanza.Set, NS, "query", m.set)
	r.Feature(mod.ToServer, NS)
	r.Filter(m.filter)
	r.OnUnavailable(m.gone)
}

// lookup returns user's lists, loading them on first use. A store failure is
// logged and yields no lists: filtering fails open.
func (m *Module) lookup(user string) *lists {
	return m.users.Get(user, func() (*lists, bool) {
		def, all, err := m.db.Privacy().Load(user)
		if err != nil {
			m.log.Error("privacy: loading lists", "user", user, "err", err)
			return noLists, false
		}
		if len(all) == 0 && def == "" {
			return noLists, true
		}
		l := &lists{def: def, named: make(map[string]store.PrivacyList, len(all))}
		for _, pl := range all {
			l.named[pl.Name] = pl
		}
		return l, true
	})
}

// change applies edit to a copy of user's cached lists, once the change is
// on disk.
func (m *Module) change(user string, edit func(*lists)) {
	m.users.Change(user, func(cur *lists) *lists {
		n := &lists{def: cur.def, named: make(map[string]store.PrivacyList, len(cur.named)+1)}
		for k, v := range cur.named {
			n.named[k] = v
		}
		edit(n)
		return n
	})
}

// gone forgets a session's active list, and the user's lists when their
// last session goes away.
func (m *Module) gone(ctx *mod.Ctx, res mod.Resource) {
	full := res.JID()
	m.mu.Lock()
	if s, ok := m.active[full.String()]; ok && s.res == res {
		delete(m.active, full.String())
	}
	m.mu.Unlock()
	if mod.LastSession(ctx.Env, res) {
		m.users.Forget(m.h.User(full))
	}
}

// activeName returns the active list of the session bound to full, if that
// session chose one.
func (m *Module) activeName(env mod.Env, full jid.JID) (string, bool) {
	if full.IsZero() || full.IsBare() {
		return "", false
	}
	m.mu.RLock()
	if len(m.active) == 0 {
		m.mu.RUnlock()
		return "", false
	}
	s, ok := m.active[full.String()]
	m.mu.RUnlock()
	if !ok {
		return "", false
	}
	if env.Lookup(full) != s.res {
		// the session that chose it is gone (it never sent presence, so
		// gone was not called): forget it
		m.mu.Lock()
		if cur, ok := m.active[full.String()]; ok && cur.res == s.res {
			delete(m.active, full.String())
		}
		m.mu.Unlock()
		return "", false
	}
	return s.name, true
}

// applicable returns the list that governs user's resource full (zero or
// bare: the user as a whole): its active list, else the default list.
func (m *Module) applicable(env mod.Env, user string, full jid.JID) (store.PrivacyList, bool) {
	l := m.lookup(user)
	name, ok := m.activeName(env, full)
	if !ok {
		name = l.def
	}
	if name == "" {
		return store.PrivacyList{}, false
	}
	pl, ok := l.named[name]
	return pl, ok
}

// own reports whether the sender addressed their own account.
func own(ctx *mod.Ctx) bool { return ctx.From != nil && ctx.From.JID().Bare() == ctx.Target }

// — iq handlers —

func (m *Module) get(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if !own(ctx) {
		return nil, errNotOwn
	}
	user := m.h.User(ctx.Target)
	l := m.lookup(user)
	children := childList(iq.Payload())
	var b stanza.Builder
	b.Start("query", "xmlns", NS)
	switch {
	case len(children) == 0: // the names (XEP-0016 §2.3)
		if name, ok := m.activeName(ctx.Env, ctx.From.JID()); ok {
			b.Element("active", "", "name", name)
		}
		if l.def != "" {
			b.Element("default", "", "name", l.def)
		}
		names := make([]string, 0, len(l.named))
		for n := range l.named {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			b.Element("list", "", "name", n)
		}
	case len(children) == 1 && string(children[0].Local()) == "list": // one list (§2.4)
		name, _ := children[0].Attr("name")
		pl, ok := l.named[string(name)]
		if !ok {
			return nil, errNoList
		}
		appendList(&b, pl)
	default:
		return nil, errOneChild
	}
	return iq.Result(b.Bytes()), nil
}

func (m *Module) set(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if !own(ctx) {
		return nil, errNotOwn
	}
	children := childList(iq.Payload())
	if len(children) != 1 {
		return nil, errOneChild
	}
	c := children[0]
	name, hasName := c.Attr("name")
	switch string(c.Local()) {
	case "active":
		return m.setActive(ctx, iq, string(name), hasName)
	case "default":
		return m.setDefault(ctx, iq, string(name), hasName)
	case "list":
		if !hasName || len(name) == 0 {
			return nil, errNoName
		}
		return m.setList(ctx, iq, string(name), c)
	}
	return nil, errOneChild
}

// setActive chooses (or, without a name, declines) the session's active
// list (XEP-0016 §2.5). It is per session and not stored.
func (m *Module) setActive(ctx *mod.Ctx, iq *stanza.Stanza, name string, hasName bool) (*stanza.Stanza, error) {
	full := ctx.From.JID()
	if !hasName || name == "" {
		m.mu.Lock()
		delete(m.active, full.String())
		m.mu.Unlock()
		return iq.Result(nil), nil
	}
	if _, ok := m.lookup(m.h.User(full)).named[name]; !ok {
		return nil, errNoList
	}
	m.mu.Lock()
	m.active[full.String()] = session{res: ctx.From, name: name}
	m.mu.Unlock()
	return iq.Result(nil), nil
}

// defaultInUse reports whether a resource of the user other than the
// sender is governed by the default list (it has no active list).
func (m *Module) defaultInUse(ctx *mod.Ctx) bool {
	inUse := false
	ctx.Env.Resources(ctx.Target, func(r mod.Resource) bool {
		if r != ctx.From {
			if _, ok := m.activeName(ctx.Env, r.JID()); !ok {
				inUse = true
			}
		}
		return !inUse
	})
	return inUse
}

// setDefault changes or declines the default list (XEP-0016 §2.6).
func (m *Module) setDefault(ctx *mod.Ctx, iq *stanza.Stanza, name string, hasName bool) (*stanza.Stanza, error) {
	user := m.h.User(ctx.Target)
	l := m.lookup(user)
	if !hasName {
		name = ""
	}
	if name != "" {
		if _, ok := l.named[name]; !ok {
			return nil, errNoList
		}
	}
	if name == l.def {
		return iq.Result(nil), nil
	}
	if m.defaultInUse(ctx) {
		return nil, errInUse
	}
	env := ctx.Env
	m.db.Privacy().SetDefaultAsync(user, name, func(err error) {
		if err == nil {
			m.change(user, func(l *lists) { l.def = name })
		}
		m.h.ReplyStored(env, iq, err, nil)
	})
	return nil, nil
}

// setList creates, replaces or (without items) removes a list (XEP-0016
// §2.7-§2.9), then pushes the list's name to every resource.
func (m *Module) setList(ctx *mod.Ctx, iq *stanza.Stanza, name string, c xmlscan.Elem) (*stanza.Stanza, error) {
	user := m.h.User(ctx.Target)
	l := m.lookup(user)
	items, err := parseItems(c)
	if err != nil {
		return nil, err
	}
	env, bare := ctx.Env, ctx.Target
	push := func() { m.push(env, bare, name) }
	if len(items) == 0 {
		if _, ok := l.named[name]; !ok {
			return nil, errNoList
		}
		if m.inUseElsewhere(ctx, l, name) {
			return nil, errInUse
		}
		isDef := l.def == name
		m.db.Privacy().DeleteListAsync(user, name, isDef, func(err error) {
			if err == nil {
				m.change(user, func(l *lists) {
					delete(l.named, name)
					if isDef {
						l.def = ""
					}
				})
				m.mu.Lock()
				for full, s := range m.active { // the sender's own active list, if it was this one
					if s.name == name && s.res.JID().Bare() == bare {
						delete(m.active, full)
					}
				}
				m.mu.Unlock()
			}
			m.h.ReplyStored(env, iq, err, push)
		})
		return nil, nil
	}
	pl := store.PrivacyList{Name: name, Items: items}
	m.db.Privacy().PutListAsync(user, pl, func(err error) {
		if err == nil {
			m.change(user, func(l *lists) { l.named[name] = pl })
		}
		m.h.ReplyStored(env, iq, err, push)
	})
	return nil, nil
}

// inUseElsewhere reports whether list name governs a resource of the user
// other than the sender: as its active list, or as the default list of a
// resource without one.
func (m *Module) inUseElsewhere(ctx *mod.Ctx, l *lists, name string) bool {
	inUse := false
	ctx.Env.Resources(ctx.Target, func(r mod.Resource) bool {
		if r == ctx.From {
			return true
		}
		a, ok := m.activeName(ctx.Env, r.JID())
		inUse = (ok && a == name) || (!ok && l.def == name)
		return !inUse
	})
	return inUse
}

// push tells every resource of user that list name changed (XEP-0016 §2.7).
func (m *Module) push(env mod.Env, user jid.JID, name string) {
	env.Resources(user, func(r mod.Resource) bool {
		var b stanza.Builder
		b.Start("iq", "type", "set", "id", "privacy-"+strconv.FormatUint(m.pushID.Add(1), 10), "to", r.JID().String())
		b.Start("query", "xmlns", NS)
		b.Element("list", "", "name", name)
		env.Send(stanza.MustParse(b.Bytes()))
		return true
	})
}

// childList returns the payload's child elements.
func childList(p xmlscan.Elem) []xmlscan.Elem {
	var out []xmlscan.Elem
	it := p.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		out = append(out, c)
	}
	return out
}

var stanzaBits = map[string]store.PrivacyStanzas{
	"message":      store.PrivacyMessage,
	"iq":           store.PrivacyIQ,
	"presence-in":  store.PrivacyPresenceIn,
	"presence-out": store.PrivacyPresenceOut,
}

// parseItems checks and converts a <list/>'s items, sorted by order.
func parseItems(list xmlscan.Elem) ([]store.PrivacyItem, error) {
	var items []store.PrivacyItem
	it := list.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		if string(c.Local()) != "item" {
			return nil, errBadItem
		}
		var pi store.PrivacyItem
		typ, hasType := c.Attr("type")
		value, hasValue := c.Attr("value")
		switch {
		case !hasType:
			pi.Type = store.PrivacyFallThrough
		case string(typ) == "jid":
			pi.Type = store.PrivacyJID
			j, err := jid.Parse(string(value))
			if err != nil {
				return nil, errBadJIDValue
			}
			value = []byte(j.String())
		case string(typ) == "group":
			pi.Type = store.PrivacyGroup
		case string(typ) == "subscription":
			pi.Type = store.PrivacySubscription
			switch string(value) {
			case "none", "to", "from", "both":
			default:
				return nil, errBadItem
			}
		default:
			return nil, errBadItem
		}
		if hasType != hasValue || (hasType && len(value) == 0) {
			return nil, errBadItem
		}
		pi.Value = string(value)
		switch a, _ := c.Attr("action"); string(a) {
		case "allow":
			pi.Allow = true
		case "deny":
		default:
			return nil, errBadItem
		}
		o, _ := c.Attr("order")
		n, err := strconv.ParseUint(string(o), 10, 32)
		if err != nil {
			return nil, errBadItem
		}
		pi.Order = uint32(n)
		kids := c.Children()
		for k, ok := kids.Next(); ok; k, ok = kids.Next() {
			bit, known := stanzaBits[string(k.Local())]
			if !known {
				return nil, errBadItem
			}
			pi.Stanzas |= bit
		}
		items = append(items, pi)
	}
	slices.SortStableFunc(items, func(a, b store.PrivacyItem) int { return cmp.Compare(a.Order, b.Order) })
	for i := 1; i < len(items); i++ {
		if items[i].Order == items[i-1].Order {
			return nil, errDupOrder
		}
	}
	return items, nil
}

var typeNames = [...]string{store.PrivacyJID: "jid", store.PrivacyGroup: "group", store.PrivacySubscription: "subscription"}

// appendList writes <list name=…> with its items.
func appendList(b *stanza.Builder, pl store.PrivacyList) {
	b.Start("list", "name", pl.Name)
	for _, it := range pl.Items {
		action := "deny"
		if it.Allow {
			action = "allow"
		}
		b.Start("item")
		if it.Type != store.PrivacyFallThrough {
			b.Attr("type", typeNames[it.Type]).Attr("value", it.Value)
		}
		b.Attr("action", action).Attr("order", strconv.FormatUint(uint64(it.Order), 10))
		for _, k := range [...]string{"message", "iq", "presence-in", "presence-out"} {
			if it.Stanzas&stanzaBits[k] != 0 {
				b.Element(k, "")
			}
		}
		b.End()
	}
	b.End()
}
