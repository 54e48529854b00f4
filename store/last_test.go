package store

import (
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestLastActivities(t *testing.T) {
	mem := vfs.NewCrashableMem()
	db := openTest(t, mem)
	l := db.LastActivities()

	if _, err := l.Get("alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Put: %v, want ErrNotFound", err)
	}
	t0 := time.UnixMilli(1_700_000_000_123)
	if err := l.Put("alice", LastActivity{Time: t0, Status: "first"}); err != nil {
		t.Fatal(err)
	}
	second := LastActivity{Time: t0.Add(90 * time.Second), Status: "Heading <home> & \x00 ünïcode"}
	done := make(chan error, 1)
	l.PutAsync("alice", second, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	early := LastActivity{Time: time.UnixMilli(-5000)} // before 1970, no status
	if err := l.Put("al", early); err != nil {         // a prefix of alice: must not collide
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, user string
		want       LastActivity
	}{
		{name: "overwritten", user: "alice", want: second},
		{name: "prefix-user-empty-status", user: "al", want: early},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := l.Get(tc.user)
			if err != nil || !got.Time.Equal(tc.want.Time) || got.Status != tc.want.Status {
				t.Fatalf("Get(%s) = %+v, %v; want %+v", tc.user, got, err, tc.want)
			}
		})
	}
	if err := l.Put("", early); !errors.Is(err, ErrInvalidUser) {
		t.Fatalf("Put with an empty user: %v, want ErrInvalidUser", err)
	}
	bad := make(chan error, 1)
	l.PutAsync("", early, func(err error) { bad <- err })
	if err := <-bad; !errors.Is(err, ErrInvalidUser) {
		t.Fatalf("PutAsync with an empty user: %v, want ErrInvalidUser", err)
	}

	// a synced Put survives a crash
	crashed := openTest(t, mem.CrashClone(vfs.CrashCloneCfg{})).LastActivities()
	if got, err := crashed.Get("alice"); err != nil || got.Status != second.Status {
		t.Fatalf("after a crash: %+v, %v", got, err)
	}

	// deleting the account deletes its record, and only its own
	if err := db.Accounts().Create("al", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := db.Accounts().Delete("al"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Get("al"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record after account deletion: %v, want ErrNotFound", err)
	}
	if _, err := l.Get("alice"); err != nil {
		t.Fatalf("alice's record went with al's account: %v", err)
	}
}

func TestLastActivitiesCorrupt(t *testing.T) {
	db := openTest(t, nil)
	b := db.NewBatch()
	if err := b.Set(userKey(tableLast, "bob", ""), []byte{lastV1, 0, 0}, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	if _, err := db.LastActivities().Get("bob"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short value: %v, want ErrCorrupt", err)
	}
}
