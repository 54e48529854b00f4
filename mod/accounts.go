package mod

import (
	"ignis/jid"
	"ignis/store"
)

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

// UserKey is the store's user part of a local account (store.UserKey), for
// code that has an Env rather than a Handle.
func UserKey(env Env, user jid.JID) string { return store.UserKey(env.Domain().Domain(), user) }

// UserJID is the bare JID of the account a store user part names.
func UserJID(env Env, key string) (jid.JID, error) {
	return store.UserOfKey(env.Domain().Domain(), key)
}

// IsLocalUser reports whether j is an account's JID (a localpart at a local domain).
func IsLocalUser(env Env, j jid.JID) bool { return j.Local() != "" && env.IsLocal(j) }
