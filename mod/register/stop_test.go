package register

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// recEnv records what the module sends.
type recEnv struct {
	mu   sync.Mutex
	sent []*stanza.Stanza
}

func (e *recEnv) Send(st *stanza.Stanza) {
	e.mu.Lock()
	e.sent = append(e.sent, st)
	e.mu.Unlock()
}
func (e *recEnv) Resources(jid.JID, func(mod.Resource) bool) {}
func (e *recEnv) Domain() jid.JID                            { return jid.MustParse("localhost") }
func (e *recEnv) Lookup(jid.JID) mod.Resource                { return nil }
func (e *recEnv) IsLocal(d jid.JID) bool                     { return d.Domain() == "localhost" }
func (e *recEnv) Resend(mod.Resource, *stanza.Stanza)        {}

type res struct{ j jid.JID }

func (r res) JID() jid.JID                                      { return r.j }
func (r res) Available() bool                                   { return true }
func (r res) Priority() int8                                    { return 0 }
func (r res) LastPresence() *stanza.Stanza                      { return nil }
func (r res) Offer(*stanza.Stanza) bool                         { return true }
func (r res) OfferConfirmed(*stanza.Stanza, func(ok bool)) bool { return true }
func (r res) Close(*stanza.StreamError)                         {}

// TestStopWaitsForChange: an account change runs on the module's handle, so
// the server's shutdown waits for it (the reply is sent before Stop
// returns, the store still open); once stopped, a change is refused with
// service-unavailable and holds no token.
func TestStopWaitsForChange(t *testing.T) {
	db, err := store.Open(&store.Options{FS: vfs.NewMem(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Accounts().Create("alice", "old-secret"); err != nil {
		t.Fatal(err)
	}
	rt := mod.NewRuntime(db, jid.MustParse("localhost"), slog.New(slog.DiscardHandler))
	m := New(rt.Handle("register"), Policy{})
	env := &recEnv{}
	ctx := context.Background()
	if err := rt.Start(ctx, env, []mod.Module{m}); err != nil {
		t.Fatal(err)
	}
	alice := res{jid.MustParse("alice@localhost/home")}
	change := func(id string) (*stanza.Stanza, error) {
		iq := stanza.MustParse([]byte("<iq type='set' id='" + id + "' from='alice@localhost/home'><query xmlns='jabber:iq:register'><username>alice</username><password>new-secret</password></query></iq>"))
		return m.set(&mod.Ctx{Env: env, Target: jid.MustParse("alice@localhost"), From: alice}, iq)
	}
	if reply, err := change("c1"); reply != nil || err != nil {
		t.Fatalf("change: %v, %v; want it to run on its own", reply, err)
	}
	if err := rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	env.mu.Lock()
	sent := env.sent
	env.mu.Unlock()
	if len(sent) != 1 || sent[0].Type != stanza.Result || sent[0].ID != "c1" {
		t.Fatalf("after Stop: sent %v, want the change's result", sent)
	}
	var se *stanza.Error
	if _, err := change("c2"); !errors.As(err, &se) || se.Cond != stanza.ServiceUnavailable {
		t.Fatalf("change after Stop: %v, want service-unavailable", err)
	}
	if n := len(m.busy); n != 0 {
		t.Fatalf("%d tokens held after a refused change", n)
	}
}
