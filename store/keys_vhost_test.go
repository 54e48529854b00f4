package store

import (
	"testing"

	"ignis/jid"
)

// TestUserKeyVHosts: the primary domain's accounts keep their localpart
// keys; another domain's are its bare JID, which never equals a
// localpart; UserOfKey gives the account back.
func TestUserKeyVHosts(t *testing.T) {
	for _, tc := range []struct{ jid, key string }{
		{"alice@localhost", "alice"},
		{"alice@localhost/phone", "alice"},
		{"alice@example.net", "alice@example.net"},
		{"Alice@Example.NET/r", "alice@example.net"},
	} {
		j := jid.MustParse(tc.jid)
		key := UserKey("localhost", j)
		if key != tc.key {
			t.Errorf("UserKey(%s) = %q, want %q", tc.jid, key, tc.key)
			continue
		}
		back, err := UserOfKey("localhost", key)
		if err != nil || !back.Equal(j.Bare()) {
			t.Errorf("UserOfKey(%q) = %v %v, want %s", key, back, err, j.Bare())
		}
	}
	for _, bad := range []string{"alice@localhost", "@example.net", "alice@example.net/r", "example.net@"} {
		if j, err := UserOfKey("localhost", bad); err == nil {
			t.Errorf("UserOfKey(%q) = %s, want an error", bad, j)
		}
	}
}

// TestVHostAccountsApart: the same localpart on two domains is two
// accounts with their own password and their own per-user data.
func TestVHostAccountsApart(t *testing.T) {
	db := openTest(t, nil)
	a, b := UserKey("localhost", jid.MustParse("alice@localhost")), UserKey("localhost", jid.MustParse("alice@example.net"))
	if err := db.Accounts().Create(a, "one"); err != nil {
		t.Fatal(err)
	}
	if err := db.Accounts().Create(b, "two"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Roster().Put(b, RosterItem{JID: "bob@example.net", Sub: SubBoth}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Roster().Get(a, "bob@example.net"); err == nil {
		t.Fatal("the primary alice sees the vhost alice's roster item")
	}
	if err := db.Accounts().Delete(a); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Roster().Get(b, "bob@example.net"); err != nil {
		t.Fatalf("deleting the primary alice took the vhost alice's roster: %v", err)
	}
}

// TestRoomKeyVHosts: a room of the primary domain's service keeps its
// localpart key; a room of a vhost's service is keyed by its bare JID;
// RoomOfKey gives the room back.
func TestRoomKeyVHosts(t *testing.T) {
	const primary = "conference.localhost"
	for _, tc := range []struct{ room, key string }{
		{"dev@conference.localhost", "dev"},
		{"dev@conference.example.net", "dev@conference.example.net"},
		{"Dev@Conference.Example.NET", "dev@conference.example.net"},
	} {
		j := jid.MustParse(tc.room)
		if key := RoomKey(primary, j); key != tc.key {
			t.Errorf("RoomKey(%s) = %q, want %q", tc.room, key, tc.key)
			continue
		}
		back, err := RoomOfKey(primary, tc.key)
		if err != nil || !back.Equal(j) {
			t.Errorf("RoomOfKey(%q) = %v %v, want %s", tc.key, back, err, j)
		}
	}
	for _, bad := range []string{"dev@conference.localhost", "@conference.example.net", "dev@conference.example.net/r"} {
		if j, err := RoomOfKey(primary, bad); err == nil {
			t.Errorf("RoomOfKey(%q) = %s, want an error", bad, j)
		}
	}
}
