// Package vcard stores and serves users' vCards (XEP-0054, vcard-temp).
//
// A user sets only their own vCard and gets anyone's. The vCard is stored as
// the raw <vCard xmlns='vcard-temp'>…</vCard> element the user sent (DESIGN
// §6: store serialized bytes, not a tree), after checking that it stands
// alone: it must declare every namespace prefix it uses, so that it can be
// placed in any reply as is.
package vcard

import (
	"errors"
	"log/slog"

	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
	"ignis/xmlscan"
)

// NS is the vcard-temp namespace.
const NS = "vcard-temp"

// DefaultMaxBytes bounds a stored vCard, base64 photo included.
const DefaultMaxBytes = 64 << 10

var (
	errTooLarge   = stanza.ErrText(stanza.NotAcceptable, "vCard too large")
	errNotOwn     = stanza.ErrText(stanza.Forbidden, "only the owner may set a vCard")
	errStandalone = stanza.ErrText(stanza.BadRequest, "the vCard must declare the namespace prefixes it uses")
	// XEP-0054 §3.3: another user's missing vCard and a missing user get the
	// same error, so that nobody can harvest account names.
	errNoVCard = stanza.Err(stanza.ServiceUnavailable)
)

// Module is the vCard feature.
type Module struct {
	DB       *store.DB
	Log      *slog.Logger
	MaxBytes int // largest vCard accepted, in bytes; 0 means DefaultMaxBytes
}

// New returns the module over h's store.
func New(h *mod.Handle) *Module { return &Module{DB: h.DB(), Log: h.Log()} }

func (m *Module) Name() string { return "vcard" }

func (m *Module) Register(r *mod.Registry) {
	if m.MaxBytes == 0 {
		m.MaxBytes = DefaultMaxBytes
	}
	r.IQ(mod.ToAccount, stanza.Get, NS, "vCard", m.get)
	r.IQ(mod.ToAccount, stanza.Set, NS, "vCard", m.set)
	r.Feature(mod.ToServer|mod.ToAccount, NS)
}

func (m *Module) get(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	own := ctx.From != nil && ctx.From.JID().Bare() == ctx.Target
	v, err := m.DB.VCards().Get(mod.UserKey(ctx.Env, ctx.Target))
	switch {
	case errors.Is(err, store.ErrNotFound) && own:
		var b stanza.Builder
		b.Element("vCard", "", "xmlns", NS)
		return iq.Result(b.Bytes()), nil
	case errors.Is(err, store.ErrNotFound):
		return nil, errNoVCard
	case err != nil:
		return nil, err
	}
	return iq.Result(v), nil
}

// set stores the vCard and answers once it is on disk (DESIGN §6), from the
// store's writer goroutine.
func (m *Module) set(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if ctx.From == nil || ctx.From.JID().Bare() != ctx.Target {
		return nil, errNotOwn
	}
	raw := iq.Payload().Raw()
	if len(raw) > m.MaxBytes {
		return nil, errTooLarge
	}
	if e, err := xmlscan.ParseElem(raw, ""); err != nil || string(e.NS()) != NS {
		return nil, errStandalone
	}
	env, user := ctx.Env, mod.UserKey(ctx.Env, ctx.Target)
	m.DB.VCards().SetAsync(user, raw, func(err error) { mod.AnswerStored(env, m.Log, iq, err) })
	return nil, nil
}
