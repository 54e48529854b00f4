// Package private is private XML storage (XEP-0049): a user keeps elements of
// their own namespaces on the server, e.g. bookmarks, and gets them back.
//
// Each child of <query xmlns='jabber:iq:private'/> is stored as raw XML under
// its namespace and local name. A stored element must stand alone (declare
// the prefixes it uses), so it can be placed in any reply as is.
package private

import (
	"errors"
	"log/slog"

	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
	"ignis/xmlscan"
)

// NS is the private XML storage namespace.
const NS = "jabber:iq:private"

// DefaultMaxBytes bounds the payload of one set.
const DefaultMaxBytes = 64 << 10

var (
	errNotOwn     = stanza.ErrText(stanza.Forbidden, "private storage is only for its owner")
	errEmpty      = stanza.ErrText(stanza.BadRequest, "the query needs a child element")
	errReserved   = stanza.ErrText(stanza.NotAcceptable, "namespace reserved")
	errTooLarge   = stanza.ErrText(stanza.NotAcceptable, "private data too large")
	errStandalone = stanza.ErrText(stanza.BadRequest, "each element must declare its namespace and the prefixes it uses")
)

// Module is the private XML storage feature.
type Module struct {
	DB       *store.DB
	Log      *slog.Logger
	MaxBytes int // largest <query/> of a set, in bytes; 0 means DefaultMaxBytes
}

// New returns the module over h's store.
func New(h *mod.Handle) *Module { return &Module{DB: h.DB(), Log: h.Log()} }

func (m *Module) Name() string { return "private" }

func (m *Module) Register(r *mod.Registry) {
	if m.MaxBytes == 0 {
		m.MaxBytes = DefaultMaxBytes
	}
	r.IQ(mod.ToAccount, stanza.Get, NS, "query", m.get)
	r.IQ(mod.ToAccount, stanza.Set, NS, "query", m.set)
	r.Feature(mod.ToServer|mod.ToAccount, NS)
}

// reserved are namespaces nobody may store under (XEP-0049 §3): the
// protocol's own and those of the stream.
func reserved(ns string) bool {
	switch ns {
	case NS, stanza.NSClient, "jabber:server", "":
		return true
	}
	return false
}

// own reports whether the sender addressed their own account (XEP-0049 §3:
// nobody reads or writes another user's private data).
func own(ctx *mod.Ctx) bool { return ctx.From != nil && ctx.From.JID().Bare() == ctx.Target }

// items checks the query's children; it returns them with their stored form.
func (m *Module) items(ctx *mod.Ctx, iq *stanza.Stanza) ([]store.PrivateItem, error) {
	if !own(ctx) {
		return nil, errNotOwn
	}
	var items []store.PrivateItem
	it := iq.Payload().Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		ns := string(c.NS())
		if reserved(ns) {
			return nil, errReserved
		}
		e, err := xmlscan.ParseElem(c.Raw(), "")
		if err != nil || string(e.NS()) != ns {
			return nil, errStandalone
		}
		items = append(items, store.PrivateItem{NS: ns, Local: string(c.Local()), XML: c.Raw()})
	}
	if len(items) == 0 {
		return nil, errEmpty
	}
	return items, nil
}

// get answers with each asked element as stored, or as asked (empty) when
// nothing is stored under its name.
func (m *Module) get(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	items, err := m.items(ctx, iq)
	if err != nil {
		return nil, err
	}
	var b stanza.Builder
	b.Start("query", "xmlns", NS)
	for _, it := range items {
		v, err := m.DB.Private().Get(mod.UserKey(ctx.Env, ctx.Target), it.NS, it.Local)
		switch {
		case errors.Is(err, store.ErrNotFound):
			b.Element(it.Local, "", "xmlns", it.NS)
		case err != nil:
			return nil, err
		default:
			b.Raw(v)
		}
	}
	return iq.Result(b.Bytes()), nil
}

// set stores every child in one batch and answers once it is on disk.
func (m *Module) set(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if own(ctx) && len(iq.Payload().Raw()) > m.MaxBytes {
		return nil, errTooLarge
	}
	items, err := m.items(ctx, iq)
	if err != nil {
		return nil, err
	}
	env, user := ctx.Env, mod.UserKey(ctx.Env, ctx.Target)
	m.DB.Private().SetAsync(user, items, func(err error) { mod.AnswerStored(env, m.Log, iq, err) })
	return nil, nil
}
