// Package account ends the sessions an account change leaves without
// authority, as Prosody's mod_c2s does: a deleted account's sessions end with
// <not-authorized/> ("Account deleted"), and a password change ends the
// account's sessions with <reset/> (RFC 6120 §4.9.3.16: the client
// authenticates again, with the new password).
package account

import (
	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// Module is the account-change feature.
type Module struct{ h *mod.Handle }

// New returns the module.
func New(h *mod.Handle) *Module { return &Module{h: h} }

func (m *Module) Name() string { return "account" }

func (m *Module) Register(r *mod.Registry) { r.OnAccount(m.changed) }

func (m *Module) changed(ctx *mod.Ctx, ev mod.AccountEvent, user jid.JID) {
	var se *stanza.StreamError
	switch ev {
	case mod.AccountDeleted:
		se = stanza.StreamErr(stanza.StreamNotAuthorized, "Account deleted")
	case mod.PasswordChanged:
		se = stanza.StreamErr(stanza.Reset, "Password changed")
	default:
		return
	}
	n := 0
	ctx.Env.Resources(user.Bare(), func(res mod.Resource) bool {
		res.Close(se)
		n++
		return true
	})
	if n > 0 {
		m.h.Log().Info("sessions ended", "user", user.String(), "why", se.Text, "sessions", n)
	}
}
