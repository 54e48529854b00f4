package register

import (
	"context"
	"errors"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/mod/modtest"
	"ignis/stanza"
)

// TestStopWaitsForChange: an account change runs on the module's handle, so
// the server's shutdown waits for it (the reply is sent before Stop
// returns, the store still open); once stopped, a change is refused with
// service-unavailable and holds no token.
func TestStopWaitsForChange(t *testing.T) {
	db := modtest.DB(t)
	if err := db.Accounts().Create("alice", "old-secret"); err != nil {
		t.Fatal(err)
	}
	env := &modtest.Env{}
	m, rt := modtest.Start(t, db, env, "register", func(h *mod.Handle) *Module { return New(h, Policy{}) })
	alice := modtest.Resource{J: jid.MustParse("alice@localhost/home")}
	change := func(id string) (*stanza.Stanza, error) {
		iq := stanza.MustParse([]byte("<iq type='set' id='" + id + "' from='alice@localhost/home'><query xmlns='jabber:iq:register'><username>alice</username><password>new-secret</password></query></iq>"))
		return m.set(&mod.Ctx{Env: env, Target: jid.MustParse("alice@localhost"), From: alice}, iq)
	}
	if reply, err := change("c1"); reply != nil || err != nil {
		t.Fatalf("change: %v, %v; want it to run on its own", reply, err)
	}
	if err := rt.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	sent := env.Sent()
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
