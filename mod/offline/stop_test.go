package offline

import (
	"context"
	"errors"
	"log/slog"
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
	rt := mod.NewRuntime(db, jid.MustParse("localhost"), slog.New(slog.DiscardHandler))
	m := New(rt.Handle("offline"), Config{})
	env := &modtest.Env{}
	ctx := context.Background()
	if err := rt.Start(ctx, env, []mod.Module{m}); err != nil {
		t.Fatal(err)
	}
	alice := modtest.Resource{J: jid.MustParse("alice@localhost/home")}
	fetch := func(id string) (*stanza.Stanza, error) {
		iq := stanza.MustParse([]byte("<iq type='get' id='" + id + "' from='alice@localhost/home'><offline xmlns='" + NS + "'><fetch/></offline></iq>"))
		return m.get(&mod.Ctx{Env: env, Target: jid.MustParse("alice@localhost"), From: alice}, iq)
	}
	if reply, err := fetch("f1"); reply != nil || err != nil {
		t.Fatalf("fetch: %v, %v; want it queued", reply, err)
	}
	if err := rt.Stop(ctx); err != nil {
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
