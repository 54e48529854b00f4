// Package register is in-band registration (XEP-0077): creating an account
// from an unauthenticated stream, and, once logged in, changing one's
// password or deleting one's account.
//
// Account creation is on only when the server's configuration says so, for
// everyone or for clients on this machine (loopback addresses); where it is
// off the stream feature is not offered and registration requests get
// service-unavailable (XEP-0077 §3.1). Changing one's password and deleting
// one's account stay available to a logged-in user either way, as in Prosody:
// they concern an account that already exists, and the user has proved who
// they are.
//
// Creating an account costs a key derivation per SCRAM hash and an fsync.
// Before authentication the reply must go back on the very stream that asked,
// which only the stream's own loop can write to, so the creation runs there,
// synchronously: a few milliseconds, for a rare request. Once logged in, the
// work runs on its own goroutine and the reply goes out through Env.Send.
package register

import (
	"context"
	"errors"
	"log/slog"

	"ignis/jid"
	"ignis/mod"
	"ignis/scram"
	"ignis/stanza"
	"ignis/store"
	"ignis/xmlscan"
)

// Namespaces of XEP-0077.
const (
	NS        = "jabber:iq:register"
	NSFeature = "http://jabber.org/features/iq-register"
)

const instructions = "Choose a username and password for use with this server."

var (
	errDisabled       = stanza.ErrText(stanza.ServiceUnavailable, "in-band registration is disabled")
	errNeedTLS        = stanza.ErrText(stanza.PolicyViolation, "encryption (STARTTLS or direct TLS) is required to register")
	errBusy           = stanza.ErrText(stanza.ResourceConstraint, "too many account changes at once; try again")
	errConflict       = stanza.ErrText(stanza.Conflict, "this username is taken")
	errIncomplete     = stanza.ErrText(stanza.NotAcceptable, "a username and a non-empty password are required")
	errBadUsername    = stanza.ErrText(stanza.NotAcceptable, "this username is not allowed")
	errBadPassword    = stanza.ErrText(stanza.NotAcceptable, "this password is not allowed")
	errNoPassword     = stanza.ErrText(stanza.BadRequest, "a non-empty password is required")
	errNotYours       = stanza.ErrText(stanza.NotAuthorized, "you may change only your own account")
	errRemoveUnauthed = stanza.ErrText(stanza.NotAuthorized, "log in to remove an account")
)

// maxBusy bounds the account changes (key derivations and fsyncs) running
// at once, whoever asks; more get resource-constraint, to retry.
const maxBusy = 4

// Module is the in-band registration feature.
type Module struct {
	// h: the store user of an account is h.User (virtual hosts);
	// account changes run on its goroutines (shutdown waits)
	h      *mod.Handle
	db     *store.DB
	policy Policy
	domain jid.JID
	log    *slog.Logger
	busy   chan struct{} // a token per account change running; cap maxBusy
}

// Policy says who may create accounts before authentication.
type Policy struct {
	Anyone   bool // every client
	Loopback bool // clients connecting from a loopback address
	// AllowPlain lets clients register on an unencrypted stream, where the
	// password would cross the network in clear. Off, such a stream is not
	// offered the feature and a request gets policy-violation (as Prosody's
	// require_encryption).
	AllowPlain bool
}

func (p Policy) allows(loopback bool) bool { return p.Anyone || p.Loopback && loopback }

// check says whether a pre-authentication request may create an account on
// this stream, and if not, the error it gets.
func (p Policy) check(secure, loopback bool) *stanza.Error {
	switch {
	case !p.allows(loopback):
		return errDisabled
	case !secure && !p.AllowPlain:
		return errNeedTLS
	}
	return nil
}

// New returns the feature; domain is the server's domain, for preparing
// usernames.
func New(h *mod.Handle, policy Policy) *Module {
	return &Module{h: h, db: h.DB(), policy: policy, domain: h.Domain(), log: h.Log(), busy: make(chan struct{}, maxBusy)}
}

// acquire takes a token for an account change without waiting.
func (m *Module) acquire() bool {
	select {
	case m.busy <- struct{}{}:
		return true
	default:
		return false
	}
}

func (m *Module) release() { <-m.busy }

func (m *Module) Name() string { return "register" }

func (m *Module) Register(r *mod.Registry) {
	if m.policy.Anyone || m.policy.Loopback {
		var b stanza.Builder
		b.Element("register", "", "xmlns", NSFeature)
		r.StreamFeatureIf(false, string(b.Bytes()), func(si mod.StreamInfo) bool { return m.policy.check(si.Secure, si.Loopback) == nil })
	}
	// registered even when disabled, so that the request gets
	// service-unavailable rather than a not-authorized stream error
	r.IQ(mod.PreAuth, stanza.Get, NS, "query", m.preAuthGet)
	r.IQ(mod.PreAuth, stanza.Set, NS, "query", m.preAuthSet)
	// after authentication, addressed to one's own account (no 'to') or to
	// the server (XEP-0077 §3.3 example)
	r.IQ(mod.ToAccount|mod.ToServer, stanza.Get, NS, "query", m.get)
	r.IQ(mod.ToAccount|mod.ToServer, stanza.Set, NS, "query", m.set)
	r.Feature(mod.ToServer, NS)
}

// fields are what a registration query carries.
type fields struct {
	username, password string
	hasUser            bool
	remove             bool
}

func parse(q xmlscan.Elem) fields {
	var f fields
	it := q.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		if string(c.NS()) != NS {
			continue // x:data forms and the like are not supported
		}
		switch string(c.Local()) {
		case "username":
			f.username, f.hasUser = string(c.AppendText(nil)), true
		case "password":
			f.password = string(c.AppendText(nil))
		case "remove":
			f.remove = true
		}
	}
	return f
}

func (m *Module) preAuthGet(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if err := m.policy.check(ctx.Secure, ctx.Loopback); err != nil {
		return nil, err
	}
	var b stanza.Builder
	b.Start("query", "xmlns", NS)
	b.Element("instructions", instructions)
	b.Element("username", "")
	b.Element("password", "")
	return iq.Result(b.Bytes()), nil
}

// preAuthSet creates the account, on the stream's loop (see the package doc).
func (m *Module) preAuthSet(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if err := m.policy.check(ctx.Secure, ctx.Loopback); err != nil {
		return nil, err
	}
	f := parse(iq.Payload())
	if f.remove {
		return nil, errRemoveUnauthed
	}
	if f.username == "" || f.password == "" {
		return nil, errIncomplete // XEP-0077 §3.1: required information missing
	}
	domain := m.domain // a stream to a virtual host registers there
	if !ctx.Target.IsZero() {
		domain = ctx.Target
	}
	user, err := jid.New(f.username, domain.Domain(), "")
	if err != nil {
		return nil, errBadUsername
	}
	if _, err := scram.Prepare(f.password); err != nil {
		return nil, errBadPassword
	}
	if !m.acquire() {
		return nil, errBusy
	}
	defer m.release()
	switch err := m.db.Accounts().Create(m.h.User(user), f.password); {
	case errors.Is(err, store.ErrExists):
		return nil, errConflict
	case errors.Is(err, store.ErrInvalidUser):
		return nil, errBadUsername
	case err != nil:
		return nil, err
	}
	m.log.Info("register: account created", "user", m.h.User(user))
	return iq.Result(nil), nil
}

// self returns the account a logged-in request is about, which must be the
// sender's own.
func self(ctx *mod.Ctx) (jid.JID, bool) {
	if ctx.From == nil {
		return jid.JID{}, false
	}
	bare := ctx.From.JID().Bare()
	if ctx.Target.Local() != "" && ctx.Target != bare {
		return jid.JID{}, false
	}
	return bare, true
}

// get tells a logged-in user that they are registered (XEP-0077 §3.1).
func (m *Module) get(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	acct, ok := self(ctx)
	if !ok {
		return nil, errNotYours
	}
	var b stanza.Builder
	b.Start("query", "xmlns", NS)
	b.Element("registered", "")
	b.Element("username", acct.Local())
	return iq.Result(b.Bytes()), nil
}

// set changes the password (XEP-0077 §3.3) or deletes the account (§3.2).
// Both block for an fsync (and the change for key derivation), so they run
// on a goroutine of the module (shutdown waits for it) and reply through Env.Send.
func (m *Module) set(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	acct, ok := self(ctx)
	if !ok {
		return nil, errNotYours
	}
	f := parse(iq.Payload())
	if f.remove {
		if !m.acquire() {
			return nil, errBusy
		}
		env := ctx.Env
		return nil, m.async(func() { m.remove(env, acct, iq) })
	}
	if f.hasUser {
		u, err := jid.New(f.username, acct.Domain(), "")
		if err != nil || u.Local() != acct.Local() {
			return nil, errNotYours
		}
	}
	if f.password == "" {
		return nil, errNoPassword
	}
	if _, err := scram.Prepare(f.password); err != nil {
		return nil, errBadPassword
	}
	if !m.acquire() {
		return nil, errBusy
	}
	env := ctx.Env
	return nil, m.async(func() { m.changePassword(env, acct, f.password, iq) })
}

// async runs an account change, holding a token, on a goroutine of the
// module; once the module stops, the change is refused and the token given back.
func (m *Module) async(fn func()) error {
	if err := m.h.Go(func(context.Context) { fn() }); err != nil {
		m.release()
		return stanza.Err(stanza.ServiceUnavailable) // shutting down
	}
	return nil
}

func (m *Module) changePassword(env mod.Env, acct jid.JID, password string, iq *stanza.Stanza) {
	defer m.release()
	if err := m.db.Accounts().SetPassword(m.h.User(acct), password); err != nil {
		m.fail(env, iq, "changing the password", acct, err)
		return
	}
	m.log.Info("register: password changed", "user", m.h.User(acct))
	env.Send(iq.Result(nil))
}

// remove deletes the account with everything it owns, answers, then ends
// every session of the account with a not-authorized stream error, as
// XEP-0077 §3.2 asks, where sessions can be ended (see closer).
func (m *Module) remove(env mod.Env, acct jid.JID, iq *stanza.Stanza) {
	defer m.release()
	if err := m.db.Accounts().Delete(m.h.User(acct)); err != nil {
		m.fail(env, iq, "deleting the account", acct, err)
		return
	}
	m.log.Info("register: account deleted", "user", m.h.User(acct))
	env.Send(iq.Result(nil))
	var sessions []closer
	env.Resources(acct, func(r mod.Resource) bool {
		if c, ok := r.(closer); ok {
			sessions = append(sessions, c)
		}
		return true
	})
	for _, c := range sessions {
		c.Close(stanza.StreamErr(stanza.StreamNotAuthorized, "account deleted"))
	}
}

// closer is a session that can be ended with a stream error. mod.Resource
// does not offer it yet; sessions that implement it (after the reply already
// queued to them) are closed on account deletion, the others stay open until
// they end, unable to log in again.
type closer interface {
	Close(se *stanza.StreamError)
}

func (m *Module) fail(env mod.Env, iq *stanza.Stanza, what string, acct jid.JID, err error) {
	m.log.Error("register: "+what+" failed", "user", m.h.User(acct), "err", err)
	cond := stanza.InternalServerError
	if errors.Is(err, store.ErrNotFound) {
		cond = stanza.ItemNotFound // deleted meanwhile by another session
	}
	if reply := iq.ErrorReply(stanza.Err(cond)); reply != nil {
		env.Send(reply)
	}
}
