// Package broadcast is Openfire's broadcast service at broadcast.DOMAIN: a
// message to all@broadcast.DOMAIN reaches every online user of DOMAIN, one
// to GROUP@broadcast.DOMAIN every member of that shared group (store.Groups,
// the groups `ignis group` administers). Each local domain (virtual host)
// has its own instance: its all@ reaches that domain's users only, while
// shared groups are server-wide, so a group's broadcast reaches its members
// of every domain, whichever instance it is sent to.
//
// As Openfire's broadcast plugin does, the copies keep the sender's address
// as their from, so that a reply goes to the sender; each carries an XEP-0033
// <addresses/> naming the broadcast address it was sent to (type='to',
// delivered='true'), so that a client can tell a broadcast from a direct
// message. The sender does not get a copy.
//
// Delivery: all@ reaches the resources available at that moment and stores
// nothing (offline users would otherwise get every announcement ever made).
// A group's copies go to each member's bare JID like any message, so a
// member with no available resource gets it from offline storage at the next
// login, as Openfire's group broadcast does; a member who blocked the sender
// does not get it.
package broadcast

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// NSAddress is XEP-0033's namespace (extended stanza addressing).
const NSAddress = "http://jabber.org/protocol/address"

// All is the local part that addresses every online user.
const All = "all"

// Senders says who may broadcast.
type Senders string

const (
	Admins  Senders = "admins"  // only the server's admins (default)
	Members Senders = "members" // admins anywhere; a group's members to their group
	Anyone  Senders = "all"     // every local user, to all@ and to every group
)

// Config configures the service. Zero fields take defaults.
type Config struct {
	Enabled bool      // off: the module registers nothing
	Host    string    // the service's domain or label; default "broadcast" (broadcast.DOMAIN)
	Parent  string    // the local domain of this instance (a virtual host); "" the primary one
	Senders Senders   // default Admins
	Admins  []jid.JID // bare JIDs of the server's admins
	// MaxBytes bounds one broadcast message; default 16 KiB; over it the
	// sender gets <policy-violation/>.
	MaxBytes int
	// PerMinute is how many broadcasts one sender may make a minute (in
	// bursts of as many); default 10; past it <resource-constraint/>.
	PerMinute int
}

func (c *Config) ensureDefaults() {
	if c.Host == "" {
		c.Host = "broadcast"
	}
	if c.Senders == "" {
		c.Senders = Admins
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 16 << 10
	}
	if c.PerMinute == 0 {
		c.PerMinute = 10
	}
}

var (
	errForbidden   = stanza.ErrText(stanza.Forbidden, "you may not broadcast to this address")
	errNoGroup     = stanza.ErrText(stanza.ItemNotFound, "no such group; address all@ or a shared group")
	errTooLarge    = stanza.ErrText(stanza.PolicyViolation, "message too large for a broadcast")
	errTooMany     = stanza.ErrText(stanza.ResourceConstraint, "too many broadcasts; wait a minute")
	errUnavailable = stanza.Err(stanza.ServiceUnavailable)
)

// Module is the broadcast service.
type Module struct {
	h      *mod.Handle
	cfg    Config
	groups *store.Groups
	svc    *mod.Service
	rate   limiter
}

// New makes the service.
func New(h *mod.Handle, cfg Config) *Module {
	cfg.ensureDefaults()
	m := &Module{h: h, cfg: cfg, groups: h.DB().Groups()}
	m.rate.init(cfg.PerMinute)
	m.svc = &mod.Service{
		Host:       cfg.Host,
		Parent:     cfg.Parent,
		Identities: []mod.Identity{{Category: "component", Type: "generic", Name: "Broadcast service"}},
		Items:      m.items,
		Message:    m.message,
	}
	return m
}

func (m *Module) Name() string { return "broadcast" }

func (m *Module) Register(r *mod.Registry) {
	if m.cfg.Enabled {
		r.Service(m.svc)
	}
}

// Start begins the sweep of the senders' rate counters.
func (m *Module) Start(context.Context) error {
	if !m.cfg.Enabled {
		return nil
	}
	return m.h.Every(time.Minute, func(context.Context) { m.rate.sweep(time.Now()) })
}

// domain is the service's domain.
func (m *Module) domain() jid.JID {
	d, _ := m.svc.Domain(m.h.Domain()) // the router checked it at start-up
	return d
}

func (m *Module) admin(sender jid.JID) bool {
	return slices.ContainsFunc(m.cfg.Admins, sender.Equal)
}

// local reports whether sender is an account of this server, of any of its
// domains (group members are store users, m.h.User).
func (m *Module) local(sender jid.JID) bool {
	env := m.h.Env()
	return env != nil && mod.IsLocalUser(env, sender)
}

// mayAll: all@ is for admins, or for everyone with Senders = "all".
func (m *Module) mayAll(sender jid.JID) bool { return m.cfg.Senders == Anyone || m.admin(sender) }

// mayGroup: a group is for admins, everyone with "all", its members with "members".
func (m *Module) mayGroup(sender jid.JID, g store.Group) bool {
	switch {
	case m.cfg.Senders == Anyone || m.admin(sender):
		return true
	case m.cfg.Senders == Members && m.local(sender):
		_, ok := slices.BinarySearch(g.Members, m.h.User(sender))
		return ok
	}
	return false
}

// message takes a message addressed to the service. The checks that need
// no store run here, on the sender's loop; the rest and the fan-out run on
// the module's goroutine for that sender, in the order they were sent.
func (m *Module) message(ctx *mod.Ctx, st *stanza.Stanza) {
	if st.Type == stanza.TypeError {
		return
	}
	env := ctx.Env
	if ctx.From == nil {
		m.refuse(env, st, errForbidden) // only local users' sessions broadcast
		return
	}
	sender := st.From.Bare()
	switch {
	case st.To.Local() == "":
		m.refuse(env, st, errNoGroup)
		return
	case len(st.Bytes()) > m.cfg.MaxBytes:
		m.refuse(env, st, errTooLarge)
		return
	case m.cfg.Senders == Admins && !m.admin(sender):
		m.refuse(env, st, errForbidden)
		return
	}
	err := m.h.Serial(sender.String(), func(context.Context) { m.fanOut(env, st) })
	if err != nil {
		m.h.Log().Warn("broadcast not queued", "from", sender.String(), "err", err)
		m.refuse(env, st, stanza.Err(stanza.ResourceConstraint))
	}
}

// fanOut checks the sender's right to the address and sends the copies.
func (m *Module) fanOut(env mod.Env, st *stanza.Stanza) {
	sender := st.From.Bare()
	to := st.To.Local()
	var g store.Group
	if to == All {
		if !m.mayAll(sender) {
			m.refuse(env, st, errForbidden)
			return
		}
	} else {
		var err error
		g, err = m.groups.Get(to)
		switch {
		case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidGroup):
			m.refuse(env, st, errNoGroup)
			return
		case err != nil:
			m.h.Log().Error("broadcast: reading the group", "group", to, "err", err)
			m.refuse(env, st, stanza.Err(stanza.InternalServerError))
			return
		case !m.mayGroup(sender, g):
			m.refuse(env, st, errForbidden)
			return
		}
	}
	if !m.rate.allow(sender.String(), time.Now()) {
		m.refuse(env, st, errTooMany)
		return
	}
	out, err := m.stamped(st)
	if err != nil {
		m.refuse(env, st, stanza.Err(stanza.BadRequest))
		return
	}
	n := 0
	// one message without 'to', shared by every recipient's delivery
	out = out.WithAddrs(st.From, jid.JID{})
	if to == All {
		lister, ok := env.(mod.SessionLister)
		if !ok {
			m.refuse(env, st, errUnavailable)
			return
		}
		local := m.svc.ParentDomain(m.h.Domain()) // all@ is the users of the service's domain
		lister.EachResource(func(r mod.Resource) bool {
			if r.Available() && r.JID().Domain() == local && !r.JID().Bare().Equal(sender) {
				env.SendTo(r.JID(), out)
				n++
			}
			return true
		})
	} else {
		for _, u := range g.Members {
			j, err := m.h.UserJID(u)
			if err != nil || j.Equal(sender) {
				continue
			}
			env.SendTo(j, out)
			n++
		}
	}
	m.h.Log().Info("broadcast", "from", st.From.String(), "to", st.To.Bare().String(), "recipients", n)
}

// stamped is the message as recipients get it: the sender's, with an
// XEP-0033 address naming where it was broadcast.
func (m *Module) stamped(st *stanza.Stanza) (*stanza.Stanza, error) {
	var b stanza.Builder
	b.Start("addresses", "xmlns", NSAddress)
	b.Element("address", "", "type", "to", "jid", st.To.Bare().String(), "delivered", "true")
	b.End()
	raw, err := st.WithChild(b.Bytes())
	if err != nil {
		return nil, err
	}
	return stanza.Parse(raw)
}

// refuse answers the sender with an error from the service's address.
func (m *Module) refuse(env mod.Env, st *stanza.Stanza, e *stanza.Error) {
	if reply := st.ErrorReply(e); reply != nil && !st.From.IsZero() {
		env.Send(reply)
	}
}

// items lists what the asker may broadcast to (XEP-0030 disco#items of the
// service): all@ and the groups, each under its display name.
func (m *Module) items(ctx *mod.Ctx) []mod.Item {
	if ctx.From == nil {
		return nil
	}
	asker := ctx.From.JID().Bare()
	d := m.domain().Domain()
	var out []mod.Item
	if m.mayAll(asker) {
		out = append(out, mod.Item{JID: All + "@" + d, Name: "All online users"})
	}
	add := func(g store.Group) bool {
		// a group whose name is not a JID localpart as it stands cannot be addressed
		if j, err := jid.New(g.Name, d, ""); err == nil && j.Local() == g.Name && g.Name != All && m.mayGroup(asker, g) {
			out = append(out, mod.Item{JID: j.String(), Name: g.Display})
		}
		return true
	}
	switch {
	case m.cfg.Senders == Anyone || m.admin(asker):
		if err := m.groups.List(add); err != nil {
			m.h.Log().Error("broadcast: listing groups", "err", err)
		}
	case m.cfg.Senders == Members && m.local(asker):
		gs, err := m.groups.GroupsOf(m.h.User(asker))
		if err != nil {
			m.h.Log().Error("broadcast: listing groups", "err", err)
		}
		for _, g := range gs {
			add(g)
		}
	}
	return out
}

// limiter is a token bucket per sender: PerMinute broadcasts a minute, in
// bursts of as many.
type limiter struct {
	per   time.Duration // one token per
	burst float64
	mu    struct {
		sync.Mutex
		m map[string]*bucket
	}
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (l *limiter) init(perMinute int) {
	l.per = time.Minute / time.Duration(perMinute)
	l.burst = float64(perMinute)
	l.mu.m = map[string]*bucket{}
}

func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.mu.m[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.mu.m[key] = b
	}
	b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.last))/float64(l.per))
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets senders whose bucket has filled up again.
func (l *limiter) sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, b := range l.mu.m {
		if b.tokens+float64(now.Sub(b.last))/float64(l.per) >= l.burst {
			delete(l.mu.m, k)
		}
	}
}
