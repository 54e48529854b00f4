package offline

import (
	"context"
	"errors"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/mod/modtest"
	"ignis/stanza"
)

// TestStopWaitsForJobs: a user's jobs run on the module handle's Serial
// executor, so the server's shutdown waits for a retrieval queued before it
// (its messages and result are sent before Stop returns, the store still
// open); once stopped, a retrieval is refused with service-unavailable.
func TestStopWaitsForJobs(t *testing.T) {
	db := modtest.DB(t)
	const stored = 50
	for range stored {
		if _, err := db.Offline().Store("alice", []byte("<message from='bob@localhost/x' to='alice@localhost' type='chat'><body>hi</body></message>")); err != nil {
			t.Fatal(err)
		}
	}
	env := &modtest.Env{}
	m, rt := modtest.Start(t, db, env, "offline", func(h *mod.Handle) *Module { return New(h, Config{}) })
	alice := modtest.Resource{J: jid.MustParse("alice@localhost/home")}
	fetch := func(id string) (*stanza.Stanza, error) {
		iq := stanza.MustParse([]byte("<iq type='get' id='" + id + "' from='alice@localhost/home'><offline xmlns='" + NS + "'><fetch/></offline></iq>"))
		return m.get(&mod.Ctx{Env: env, Target: jid.MustParse("alice@localhost"), From: alice}, iq)
	}
	if reply, err := fetch("f1"); reply != nil || err != nil {
		t.Fatalf("fetch: %v, %v; want it queued", reply, err)
	}
	if err := rt.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	sent := env.Sent()
	if len(sent) != stored+1 || sent[stored].Type != stanza.Result || sent[stored].ID != "f1" {
		t.Fatalf("after Stop: %d stanzas sent, want %d messages and the result", len(sent), stored)
	}
	var se *stanza.Error
	if _, err := fetch("f2"); !errors.As(err, &se) || se.Cond != stanza.ServiceUnavailable {
		t.Fatalf("fetch after Stop: %v, want service-unavailable", err)
	}
}
