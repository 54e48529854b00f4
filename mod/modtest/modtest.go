// Package modtest holds fakes for feature modules' unit tests: an Env that
// records what a module sends and a Resource that takes everything. Only
// tests import it.
package modtest

import (
	"sync"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// Env is a mod.Env for the domain localhost with no sessions; it records
// every stanza sent.
type Env struct {
	mu   sync.Mutex
	sent []*stanza.Stanza
}

func (e *Env) Send(st *stanza.Stanza) {
	e.mu.Lock()
	e.sent = append(e.sent, st)
	e.mu.Unlock()
}

// Sent returns a copy of what was sent so far, in order.
func (e *Env) Sent() []*stanza.Stanza {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*stanza.Stanza(nil), e.sent...)
}

func (e *Env) Resources(jid.JID, func(mod.Resource) bool) {}
func (e *Env) Domain() jid.JID                            { return jid.MustParse("localhost") }
func (e *Env) Lookup(jid.JID) mod.Resource                { return nil }
func (e *Env) IsLocal(d jid.JID) bool                     { return d.Domain() == "localhost" }
func (e *Env) Resend(mod.Resource, *stanza.Stanza)        {}

// Resource is an available session at J with priority 0 that takes every
// offer.
type Resource struct{ J jid.JID }

func (r Resource) JID() jid.JID                                      { return r.J }
func (r Resource) Available() bool                                   { return true }
func (r Resource) Priority() int8                                    { return 0 }
func (r Resource) LastPresence() *stanza.Stanza                      { return nil }
func (r Resource) Offer(*stanza.Stanza) bool                         { return true }
func (r Resource) OfferConfirmed(*stanza.Stanza, func(ok bool)) bool { return true }
func (r Resource) Close(*stanza.StreamError)                         {}

var (
	_ mod.Env      = (*Env)(nil)
	_ mod.Resource = Resource{}
)
