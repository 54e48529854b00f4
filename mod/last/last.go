// Package last answers last activity queries (XEP-0012, jabber:iq:last):
// the server's uptime when asked at its domain (§5), and, when asked at a
// user's bare JID, how long ago the user logged out and the status text of
// their last unavailable presence (§3). A query to a full JID is the
// client's to answer; the router delivers it.
//
// The server answers for a user only to those allowed to see the user's
// presence (§3, §8): the user themself, or a contact the user's roster gives
// a subscription "from" or "both", unless the user blocks them (XEP-0191).
// Everyone else gets <forbidden/>, whether or not the account exists, so the
// query reveals nothing about accounts to strangers.
package last

import (
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// NS is the last activity namespace.
const NS = "jabber:iq:last"

// MaxStatusBytes bounds the status text kept with a logout; a longer one is
// cut at a character boundary.
const MaxStatusBytes = 1024

var (
	// XEP-0012 §3: not authorized to view the user's presence.
	errForbidden = stanza.Err(stanza.Forbidden)
	// Allowed, but the user has not logged out since the account was made:
	// the XEP names no condition; item-not-found says "no such record"
	// (RFC 6120 §8.3.3.7) without suggesting the service is missing.
	errNoRecord = stanza.ErrText(stanza.ItemNotFound, "no last activity recorded")
)

// Module is the last activity feature.
type Module struct {
	h     *mod.Handle // the store user of an account: h.User (virtual hosts)
	db    *store.DB
	log   *slog.Logger
	start time.Time
	now   func() time.Time

	// mu guards the two maps below. Both are written on the loops of the
	// sessions they are about and read by queries from any loop.
	mu sync.Mutex
	// status: each available session, with the status text of the
	// undirected unavailable presence it is sending, seen by the outbound
	// presence hook just before the OnUnavailable hook takes the entry.
	// Only available sessions have an entry, so it is bounded by them and
	// emptied when they go.
	status map[mod.Resource]string
	// pending: records submitted to the store but not yet committed, so
	// that a query right after a logout sees it (the write is asynchronous).
	pending map[string]store.LastActivity
}

// New returns the last activity feature; the server's uptime counts from now.
func New(h *mod.Handle) *Module {
	return &Module{h: h, db: h.DB(), log: h.Log(), start: time.Now(), now: time.Now,
		status: map[mod.Resource]string{}, pending: map[string]store.LastActivity{}}
}

func (m *Module) Name() string { return "last" }

func (m *Module) Register(r *mod.Registry) {
	r.IQ(mod.ToServer, stanza.Get, NS, "query", m.uptime)
	r.IQ(mod.ToAccount, stanza.Get, NS, "query", m.user)
	r.Feature(mod.ToServer|mod.ToAccount, NS)
	r.OnAvailable(m.available)
	r.OutboundPresence(m.outbound)
	r.OnUnavailable(m.unavailable)
}

// reply is <query xmlns='jabber:iq:last' seconds='n'>text</query>.
func reply(iq *stanza.Stanza, seconds int64, text string) *stanza.Stanza {
	var b stanza.Builder
	b.Element("query", text, "xmlns", NS, "seconds", strconv.FormatInt(max(seconds, 0), 10))
	return iq.Result(b.Bytes())
}

// uptime answers a query to the server (XEP-0012 §5): seconds since start,
// no text.
func (m *Module) uptime(_ *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	return reply(iq, int64(m.now().Sub(m.start)/time.Second), ""), nil
}

// user answers a query to a user's bare JID (XEP-0012 §3).
func (m *Module) user(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if ctx.From == nil {
		return nil, errForbidden // the server asks nobody about anybody
	}
	target := ctx.Target
	ok, err := m.allowed(target, ctx.From.JID())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errForbidden
	}
	// §3: a user with an available resource is online: 0 seconds, no text
	online := false
	ctx.Env.Resources(target, func(r mod.Resource) bool {
		online = r.Available()
		return !online
	})
	if online {
		return reply(iq, 0, ""), nil
	}
	user := m.h.User(target)
	m.mu.Lock()
	a, ok := m.pending[user]
	m.mu.Unlock()
	if !ok {
		a, err = m.db.LastActivities().Get(user)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, errNoRecord
		case err != nil:
			return nil, err
		}
	}
	return reply(iq, int64(m.now().Sub(a.Time)/time.Second), a.Status), nil
}

// allowed reports whether asker may see target's presence: target themself,
// or a contact with a subscription from target that target does not block.
func (m *Module) allowed(target, asker jid.JID) (bool, error) {
	if asker.Bare().Equal(target) {
		return true, nil
	}
	it, err := m.db.Roster().Get(m.h.User(target), asker.Bare().String())
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidUser):
		return false, nil
	case err != nil:
		return false, err
	}
	if it.Hidden || it.Sub&store.SubFrom == 0 {
		return false, nil
	}
	blocked, err := m.db.Blocklist().Get(m.h.User(target))
	if err != nil {
		return false, err
	}
	for _, b := range blocked {
		if b == asker.String() || b == asker.Bare().String() || b == asker.Domain() {
			return false, nil
		}
	}
	return true, nil
}

// available starts tracking a session that sent initial presence.
func (m *Module) available(_ *mod.Ctx, res mod.Resource) {
	m.mu.Lock()
	m.status[res] = ""
	m.mu.Unlock()
}

// outbound notes the status text of a session's undirected unavailable
// presence, for the OnUnavailable hook that follows it on the same loop.
// It never handles the presence.
func (m *Module) outbound(ctx *mod.Ctx, st *stanza.Stanza) bool {
	if ctx.From == nil || !st.To.IsZero() || st.Type != stanza.Unavailable {
		return false
	}
	text := statusText(st)
	m.mu.Lock()
	if _, ok := m.status[ctx.From]; ok {
		m.status[ctx.From] = text
	}
	m.mu.Unlock()
	return false
}

// unavailable records the logout (the session was available and no longer
// is: unavailable presence, stream closed or connection lost). The record
// is not acknowledged to anyone, so it is written without waiting.
func (m *Module) unavailable(_ *mod.Ctx, res mod.Resource) {
	user := m.h.User(res.JID())
	a := store.LastActivity{Time: m.now()}
	m.mu.Lock()
	a.Status = m.status[res]
	delete(m.status, res)
	m.pending[user] = a
	m.mu.Unlock()
	m.db.LastActivities().PutAsync(user, a, func(err error) {
		if err != nil {
			m.log.Error("storing last activity", "user", user, "err", err)
		}
		m.mu.Lock()
		if p, ok := m.pending[user]; ok && p.Time.Equal(a.Time) && p.Status == a.Status {
			delete(m.pending, user) // a later logout may have replaced it
		}
		m.mu.Unlock()
	})
}

// statusText is the text of the presence's first <status/>, cut to
// MaxStatusBytes.
func statusText(st *stanza.Stanza) string {
	s := st.Elem().Child("status", stanza.NSClient)
	if s.IsZero() {
		return ""
	}
	text := s.AppendText(nil)
	if len(text) > MaxStatusBytes {
		text = text[:MaxStatusBytes]
		for len(text) > 0 && !utf8.Valid(text) {
			text = text[:len(text)-1]
		}
	}
	return string(text)
}
