// Package modtest holds fakes for feature modules' unit tests: a store in
// memory, an Env that records what a module sends and a Resource that takes
// everything. Only
// tests import it.
package modtest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// DB is an empty store in memory, closed when the test ends.
func DB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(&store.Options{FS: vfs.NewMem(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Handle is a stand-alone handle for module name over DB(t), for the
// domain localhost, logging nowhere.
func Handle(t testing.TB, name string) (*mod.Handle, *store.DB) {
	t.Helper()
	db := DB(t)
	return mod.NewHandle(name, db, jid.MustParse("localhost"), slog.New(slog.DiscardHandler)), db
}

// Start builds a module with a handle of a runtime over db for the domain
// localhost and starts it with env. The test stops the runtime itself
// (what stop tests are about).
func Start[M mod.Module](t testing.TB, db *store.DB, env mod.Env, name string, build func(*mod.Handle) M) (M, *mod.Runtime) {
	t.Helper()
	rt := mod.NewRuntime(db, jid.MustParse("localhost"), slog.New(slog.DiscardHandler))
	m := build(rt.Handle(name))
	if err := rt.Start(context.Background(), env, []mod.Module{m}); err != nil {
		t.Fatal(err)
	}
	return m, rt
}

// Env is a mod.Env for the domain localhost whose sessions are Res; it
// records every stanza sent.
type Env struct {
	// Res are the bound sessions by bare JID, for Resources and Lookup.
	Res map[string][]mod.Resource
	// Signal, if not nil, gets a token per stanza sent (see Wait).
	Signal chan struct{}

	mu   sync.Mutex
	sent []*stanza.Stanza
}

func (e *Env) Send(st *stanza.Stanza) {
	e.mu.Lock()
	e.sent = append(e.sent, st)
	e.mu.Unlock()
	if e.Signal != nil {
		e.Signal <- struct{}{}
	}
}

// SendTo records st as routed to to (Sent shows it with that 'to').
func (e *Env) SendTo(to jid.JID, st *stanza.Stanza) {
	if !st.To.Equal(to) {
		st = st.Readdressed(to)
	}
	e.Send(st)
}

// Sent returns a copy of what was sent so far, in order.
func (e *Env) Sent() []*stanza.Stanza {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*stanza.Stanza(nil), e.sent...)
}

// Reset forgets what was sent.
func (e *Env) Reset() {
	e.mu.Lock()
	e.sent = nil
	e.mu.Unlock()
}

// Wait waits for n more tokens on Signal: stanzas a module sends from its
// own goroutine once a change is on disk.
func (e *Env) Wait(t testing.TB, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for i := range n {
		select {
		case <-e.Signal:
		case <-timeout:
			t.Fatalf("only %d of %d stanzas sent", i, n)
		}
	}
}

func (e *Env) Resources(bare jid.JID, fn func(mod.Resource) bool) {
	for _, r := range e.Res[bare.String()] {
		if !fn(r) {
			return
		}
	}
}

func (e *Env) Lookup(full jid.JID) mod.Resource {
	for _, r := range e.Res[full.Bare().String()] {
		if r.JID() == full {
			return r
		}
	}
	return nil
}

func (e *Env) Domain() jid.JID                     { return jid.MustParse("localhost") }
func (e *Env) IsLocal(d jid.JID) bool              { return d.Domain() == "localhost" }
func (e *Env) Resend(mod.Resource, *stanza.Stanza) {}

// Resource is an available session at J with priority 0 that takes every
// offer. Use *Resource where sessions at the same JID must differ.
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
