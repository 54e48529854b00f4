package mod

import "ignis/jid"

// AccountEvent is a change an administrator made to a local account while
// the server runs.
type AccountEvent uint8

const (
	// AccountDeleted: the account and its data are gone.
	AccountDeleted AccountEvent = iota + 1
	// PasswordChanged: the account's password was set anew.
	PasswordChanged
)

// AccountHook is told about an account change; user is the account's bare JID.
type AccountHook func(ctx *Ctx, ev AccountEvent, user jid.JID)

// OnAccount registers h for account changes.
func (r *Registry) OnAccount(h AccountHook) { r.account = append(r.account, h) }

// RunAccount tells every account hook, in registration order.
func (r *Registry) RunAccount(ctx *Ctx, ev AccountEvent, user jid.JID) {
	for _, h := range r.account {
		h(ctx, ev, user)
	}
}
