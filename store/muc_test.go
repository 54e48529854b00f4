package store

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestRooms: a room record (registered nicks and occupant-id secret too) round-trips, is listed, and is deleted with its
// archive; the room archive and the users' archive do not see each other.
func TestRooms(t *testing.T) {
	db := openTest(t, vfs.NewMem())
	rs := db.Rooms()
	for _, name := range []string{"lobby", "attic"} {
		rec := &RoomRecord{Name: name, Config: json.RawMessage(`{"persistent":true}`),
			Affs: map[string]uint8{"alice@localhost": 4}, Subject: "s " + name, SubjFrom: "Alice",
			Nicks: map[string]string{"bob@localhost": "Bobby"}, Secret: []byte{1, 2, 3}}
		if err := rs.Put(rec); err != nil {
			t.Fatal(err)
		}
	}
	got, err := rs.Get("lobby")
	if err != nil || got.Subject != "s lobby" || got.Affs["alice@localhost"] != 4 || string(got.Config) != `{"persistent":true}` ||
		got.Nicks["bob@localhost"] != "Bobby" || string(got.Secret) != "\x01\x02\x03" {
		t.Fatalf("Get: %+v, %v", got, err)
	}
	var names []string
	if err := rs.List(func(r *RoomRecord) bool { names = append(names, r.Name); return true }); err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || names[0] != "attic" || names[1] != "lobby" {
		t.Fatalf("List: %v", names)
	}

	ra := db.RoomArchive()
	id, err := ra.Append("lobby", ArchiveInbound, "lobby@conference.localhost/Alice", []byte("<message><body>hi</body></message>"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Archive().Get("lobby", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a user's archive sees the room's entry: %v", err)
	}
	page, err := ra.Query("lobby", ArchiveQuery{Limit: 10, With: "lobby@conference.localhost/Alice"})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].ID != id {
		t.Fatalf("room archive by sender: %+v, %v", page, err)
	}

	done := make(chan error, 1)
	rs.DeleteAsync("lobby", func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Get("lobby"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after delete: %v", err)
	}
	if _, err := ra.Get("lobby", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the archive of a deleted room: %v", err)
	}
	if _, err := rs.Get("attic"); err != nil {
		t.Fatalf("the other room: %v", err)
	}
}
