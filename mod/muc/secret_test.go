package muc

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/store"
)

// TestOccupantIDSecret: a room stored before rooms kept an occupant-id
// secret gets one at start, stored at once, so a user's occupant id in it
// is the same at the next start; two rooms give one user unrelated ids.
func TestOccupantIDSecret(t *testing.T) {
	db, err := store.Open(&store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Rooms().Put(&store.RoomRecord{Name: "old", Config: json.RawMessage(`{"persistent":true}`)}); err != nil {
		t.Fatal(err)
	}
	start := func() *Module {
		m := New(mod.NewHandle("muc", db, jid.MustParse("localhost"), slog.New(slog.NewTextHandler(io.Discard, nil))), Config{})
		if err := m.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return m
	}
	const user = "alice@localhost"
	first := start().lookup(jid.MustParse("old@conference.localhost"))
	second := start().lookup(jid.MustParse("old@conference.localhost"))
	if first == nil || second == nil {
		t.Fatal("the stored room was not loaded")
	}
	if a, b := first.occupantID(user), second.occupantID(user); a != b {
		t.Fatalf("occupant id %q at the first start, %q at the second", a, b)
	}
	other := first.m.newRoom(jid.MustParse("new@conference.localhost"))
	if other.occupantID(user) == first.occupantID(user) {
		t.Fatal("two rooms gave a user the same occupant id")
	}
	if rec, err := db.Rooms().Get("old"); err != nil || len(rec.Secret) != 32 {
		t.Fatalf("stored secret: %v, %v", rec, err)
	}
}
