// Package mam keeps each account's archive of one-to-one messages and
// answers queries on it: Message Archive Management (XEP-0313,
// urn:xmpp:mam:2, with the #extended fields), paged with Result Set
// Management (XEP-0059), filtered with a data form (XEP-0004). Messages
// delivered to an account carry the id they were archived under as a
// XEP-0359 stanza-id.
//
// What is archived (XEP-0313 §5.1.1, XEP-0334): messages of type chat or
// normal (or without a type) that carry a body or a <store/> hint, and no
// <no-store/> or <no-permanent-store/> hint; a copy in the sender's archive
// when a local session sends it, and one in the recipient's when it is about
// to reach a local account (delivered or stored offline). Errors, headlines
// and groupchat messages are not archived. The account's preferences
// (XEP-0313 §6) decide per contact.
//
// Nothing here blocks an event loop: appends are submitted to the store's
// group-commit writer (ids are allocated in memory, so the stanza-id is known
// before the commit), and queries run on a goroutine of their own and answer
// through the session. Old messages are deleted by a background goroutine
// when a retention is configured.
package mam

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// Namespaces.
const (
	NS         = "urn:xmpp:mam:2"
	NSExtended = "urn:xmpp:mam:2#extended" // before-id, after-id, ids, flip-page
	NSSID      = stanza.NSStanzaID         // XEP-0359

	nsRSM     = "http://jabber.org/protocol/rsm"
	nsForward = stanza.NSForward
	nsData    = "jabber:x:data"
)

// Page sizes (RSM <max/>).
const (
	defaultMax = 50
	maxMax     = 250

	// countLimit: result sets up to this size are counted for RSM <count/>
	// and <first index/> (both optional). 0: only when the page holds the
	// whole result set, which is free; a counting scan reads the entries'
	// values too, so even 1000 would cost ten times a page (store
	// BenchmarkArchiveQuery), and a query must stay O(page).
	countLimit = 0

	// maxQueries bounds the queries running at once; more wait their turn.
	maxQueries = 4
)

var (
	errOthers     = stanza.ErrText(stanza.Forbidden, "only one's own archive can be queried")
	errInternal   = stanza.Err(stanza.InternalServerError)
	errNotInPage  = stanza.ErrText(stanza.ItemNotFound, "no such archive id")
	errBadPrefs   = stanza.ErrText(stanza.BadRequest, "malformed archiving preferences")
	errBadDefault = stanza.ErrText(stanza.BadRequest, "default must be always, never or roster")
)

// Module is the archive feature. Its fields are set by New; its methods run
// on event loops and goroutines of its own and are safe for concurrent use.
type Module struct {
	db        *store.DB
	ar        *store.Archive
	enabled   bool
	retention time.Duration
	log       *slog.Logger
	h         *mod.Handle
	queries   chan struct{} // a token per running query
}

// Config is the module's configuration ([archive] in the server's).
type Config struct {
	Enabled   bool          // with false the module registers nothing
	Retention time.Duration // > 0: messages older than that are deleted, checked hourly
}

// New returns the module over h's store. With cfg.Retention > 0, messages
// older than that are deleted hourly (and once at start); 0 keeps them forever.
func New(h *mod.Handle, cfg Config) *Module {
	db := h.DB()
	return &Module{db: db, ar: db.Archive(), enabled: cfg.Enabled, retention: cfg.Retention,
		log: h.Log(), h: h, queries: make(chan struct{}, maxQueries)}
}

func (m *Module) Name() string { return "mam" }

func (m *Module) Register(r *mod.Registry) {
	if !m.enabled {
		return
	}
	r.OutboundMessage(m.outbound)
	r.InboundMessage(m.inbound)
	r.IQ(mod.ToAccount, stanza.Set, NS, "query", m.query)
	r.IQ(mod.ToAccount, stanza.Get, NS, "query", m.form)
	r.IQ(mod.ToAccount, stanza.Get, NS, "prefs", m.getPrefs)
	r.IQ(mod.ToAccount, stanza.Set, NS, "prefs", m.setPrefs)
	r.Feature(mod.ToAccount, NS)
	r.Feature(mod.ToAccount, NSExtended)
	r.Feature(mod.ToAccount, NSSID)
}

// Start begins the retention sweep, if any.
func (m *Module) Start(context.Context) error {
	if !m.enabled || m.retention <= 0 {
		return nil
	}
	return m.h.Every(time.Hour, m.expire)
}

// expire deletes messages older than the retention.
func (m *Module) expire(context.Context) {
	n, err := m.ar.DeleteBefore(time.Now().Add(-m.retention))
	switch {
	case errors.Is(err, store.ErrClosed):
	case err != nil:
		m.log.Error("archive retention", "err", err)
	case n > 0:
		m.log.Debug("archive retention", "ranges", n)
	}
}

// owner checks that an iq is about the sender's own archive and returns
// the sender's bare JID.
func owner(ctx *mod.Ctx) (jid.JID, error) {
	if ctx.From == nil {
		return jid.JID{}, errOthers
	}
	self := ctx.From.JID().Bare()
	if ctx.Target.Local() != "" && !ctx.Target.Equal(self) {
		return jid.JID{}, errOthers
	}
	return self, nil
}

// stamp is an XEP-0082 date-time in UTC with microseconds.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// reply answers iq on a goroutine of the module: a result with payload, or
// the error.
func (m *Module) reply(env mod.Env, iq *stanza.Stanza, payload []byte, err error) {
	var se *stanza.Error
	switch {
	case err == nil:
		env.Send(iq.Result(payload))
		return
	case errors.As(err, &se):
	case errors.Is(err, store.ErrNotFound):
		se = errNotInPage
	default:
		m.log.Error("archive", "err", err)
		se = errInternal
	}
	if r := iq.ErrorReply(se); r != nil {
		env.Send(r)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
