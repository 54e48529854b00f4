package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"ignis/scram"
)

// verify reports whether password matches user's stored keys for every hash.
func verify(t *testing.T, a *Accounts, user, password string) bool {
	t.Helper()
	prepared, err := scram.Prepare(password)
	if err != nil {
		t.Fatal(err)
	}
	all := true
	for _, h := range scram.All {
		k, err := a.Keys(user, h)
		if err != nil {
			t.Fatalf("Keys(%q, %s): %v", user, h.Name(), err)
		}
		if !k.VerifyPassword(h, prepared) {
			all = false
		}
	}
	return all
}

func TestAccounts(t *testing.T) {
	a := openTest(t, nil).Accounts()
	type step struct {
		name     string
		op       string // create, get, setpw, delete, verify
		user     string
		password string
		want     error // for verify: nil means "matches", errMismatch "does not"
	}
	errMismatch := errors.New("password does not match")
	steps := []step{
		{name: "GetMissing", op: "get", user: "alice", want: ErrNotFound},
		{name: "SetPasswordMissing", op: "setpw", user: "alice", password: "x", want: ErrNotFound},
		{name: "DeleteMissing", op: "delete", user: "alice", want: ErrNotFound},
		{name: "Create", op: "create", user: "alice", password: "correct horse"},
		{name: "Get", op: "get", user: "alice"},
		{name: "CreateAgain", op: "create", user: "alice", password: "other", want: ErrExists},
		{name: "RightPassword", op: "verify", user: "alice", password: "correct horse"},
		{name: "WrongPassword", op: "verify", user: "alice", password: "battery staple", want: errMismatch},
		{name: "CreateSecondUser", op: "create", user: "bob", password: "b0b"},
		{name: "UsersAreSeparate", op: "verify", user: "bob", password: "correct horse", want: errMismatch},
		{name: "SetPassword", op: "setpw", user: "alice", password: "battery staple"},
		{name: "NewPasswordWorks", op: "verify", user: "alice", password: "battery staple"},
		{name: "OldPasswordFails", op: "verify", user: "alice", password: "correct horse", want: errMismatch},
		{name: "Delete", op: "delete", user: "alice"},
		{name: "GetDeleted", op: "get", user: "alice", want: ErrNotFound},
		{name: "DeleteDeleted", op: "delete", user: "alice", want: ErrNotFound},
		{name: "OtherUserSurvives", op: "get", user: "bob"},
		{name: "CreateAfterDelete", op: "create", user: "alice", password: "fresh"},
		{name: "RecreatedHasNewPassword", op: "verify", user: "alice", password: "fresh"},
		{name: "UnicodePassword", op: "create", user: "zoë", password: "pässwörd ☃"},
		{name: "UnicodePasswordWorks", op: "verify", user: "zoë", password: "pässwörd ☃"},
		{name: "EmptyUser", op: "create", user: "", password: "x", want: ErrInvalidUser},
		{name: "NULInUser", op: "get", user: "a\x00b", want: ErrInvalidUser},
		{name: "LongUser", op: "create", user: strings.Repeat("u", 1024), password: "x", want: ErrInvalidUser},
		{name: "LongestUser", op: "create", user: strings.Repeat("u", 1023), password: "x"},
	}
	for _, s := range steps {
		var err error
		switch s.op {
		case "create":
			err = a.Create(s.user, s.password)
		case "get":
			var acc Account
			acc, err = a.Get(s.user)
			if err == nil && acc.User != s.user {
				t.Fatalf("%s: Get returned user %q", s.name, acc.User)
			}
		case "setpw":
			err = a.SetPassword(s.user, s.password)
		case "delete":
			err = a.Delete(s.user)
		case "verify":
			if !verify(t, a, s.user, s.password) {
				err = errMismatch
			}
		default:
			t.Fatalf("%s: unknown op %q", s.name, s.op)
		}
		if !errors.Is(err, s.want) || (err != nil && s.want == nil) {
			t.Fatalf("%s: %s(%q) = %v; want %v", s.name, s.op, s.user, err, s.want)
		}
	}
}

func TestAccountContents(t *testing.T) {
	a := openTest(t, nil).Accounts()
	before := time.Now().Add(-time.Second)
	if err := a.Create("carol", "secret"); err != nil {
		t.Fatal(err)
	}
	acc, err := a.Get("carol")
	if err != nil {
		t.Fatal(err)
	}
	if acc.Created.Before(before) || acc.Created.After(time.Now()) {
		t.Errorf("Created = %v; want about now", acc.Created)
	}
	salts := map[string]bool{}
	for h := range scram.NumHashes {
		k := acc.Keys[h]
		if k.Iter != scram.DefaultIterations {
			t.Errorf("%s: Iter = %d", scram.Hash(h).Name(), k.Iter)
		}
		if len(k.StoredKey) != scram.Hash(h).Size() || len(k.ServerKey) != scram.Hash(h).Size() {
			t.Errorf("%s: key lengths %d, %d", scram.Hash(h).Name(), len(k.StoredKey), len(k.ServerKey))
		}
		salts[string(k.Salt)] = true
	}
	if len(salts) != scram.NumHashes {
		t.Errorf("salts are shared between hashes")
	}

	if err := a.SetPassword("carol", "another"); err != nil {
		t.Fatal(err)
	}
	after, err := a.Get("carol")
	if err != nil {
		t.Fatal(err)
	}
	if !after.Created.Equal(acc.Created) {
		t.Errorf("SetPassword changed Created: %v → %v", acc.Created, after.Created)
	}
	if bytes.Equal(after.Keys[scram.SHA256].Salt, acc.Keys[scram.SHA256].Salt) {
		t.Errorf("SetPassword kept the old salt")
	}
	if _, err := a.Keys("carol", scram.Hash(scram.NumHashes)); err == nil {
		t.Errorf("Keys with an unknown hash succeeded")
	}
}

func TestAccountsListCount(t *testing.T) {
	a := openTest(t, nil).Accounts()
	users := []string{"mallory", "al", "alice", "bob", "Ålice", "z", "alice2"}
	for _, u := range users {
		if err := a.Create(u, "pw"); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := a.List(func(u string) bool { got = append(got, u); return true }); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(users)
	slices.Sort(want) // byte order
	if !slices.Equal(got, want) {
		t.Errorf("List = %q; want %q", got, want)
	}

	got = got[:0]
	if err := a.List(func(u string) bool { got = append(got, u); return len(got) < 3 }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want[:3]) {
		t.Errorf("List stopped early = %q; want %q", got, want[:3])
	}

	if n, err := a.Count(); err != nil || n != len(users) {
		t.Errorf("Count = %d, %v; want %d", n, err, len(users))
	}
	if err := a.Delete("alice"); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Count(); err != nil || n != len(users)-1 {
		t.Errorf("Count after Delete = %d, %v; want %d", n, err, len(users)-1)
	}
}

// TestAccountsDeleteClearsUserTables checks that Delete removes the user's
// keys in the per-user tables, and nobody else's.
func TestAccountsDeleteClearsUserTables(t *testing.T) {
	db := openTest(t, nil)
	a := db.Accounts()
	for _, u := range []string{"al", "alice", "bob"} {
		if err := a.Create(u, "pw"); err != nil {
			t.Fatal(err)
		}
	}
	b := db.NewBatch()
	for _, tbl := range perUserTables {
		for _, u := range []string{"al", "alice", "bob"} {
			if err := b.Set(userPrefix(tbl, u, 0), []byte("v"), nil); err != nil {
				t.Fatal(err)
			}
			if err := b.Set(append(userPrefix(tbl, u, 8), 0, 0, 0, 0, 0, 0, 0, 1), []byte("v"), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete("al"); err != nil {
		t.Fatal(err)
	}
	for _, tbl := range perUserTables {
		for _, u := range []string{"al", "alice", "bob"} {
			lo, hi := userSpan(tbl, u)
			n := countRange(t, db, lo, hi)
			if want := map[bool]int{true: 0, false: 2}[u == "al"]; n != want {
				t.Errorf("table %#x user %q: %d keys; want %d", tbl, u, n, want)
			}
		}
	}
}

func TestAccountsConcurrentCreate(t *testing.T) {
	a := openTest(t, nil).Accounts()
	const n = 16
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		wins, conflicts int
		others          []error
	)
	for i := range n {
		wg.Go(func() {
			err := a.Create("dave", fmt.Sprintf("password %d", i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrExists):
				conflicts++
			default:
				others = append(others, err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || conflicts != n-1 || len(others) > 0 {
		t.Fatalf("%d wins, %d ErrExists, other errors %v; want 1, %d, none", wins, conflicts, others, n-1)
	}
}

// TestAccountsDurable acknowledges account changes, then crashes: a copy of
// the file system with only synced data (and with some unsynced data, as a
// real crash may leave) must hold every acknowledged change.
func TestAccountsDurable(t *testing.T) {
	mem := vfs.NewCrashableMem()
	db := openTest(t, mem)
	a := db.Accounts()
	const n = 24
	for i := range n {
		if err := a.Create(fmt.Sprintf("user%02d", i), fmt.Sprintf("pw%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i += 3 {
		if err := a.SetPassword(fmt.Sprintf("user%02d", i), "changed"); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < n; i += 3 {
		if err := a.Delete(fmt.Sprintf("user%02d", i)); err != nil {
			t.Fatal(err)
		}
	}

	for _, pct := range []int{0, 50, 100} {
		t.Run(fmt.Sprintf("unsynced=%d%%", pct), func(t *testing.T) {
			cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: pct}
			if pct > 0 {
				cfg.RNG = rand.New(rand.NewPCG(1, uint64(pct)))
			}
			a := openTest(t, mem.CrashClone(cfg)).Accounts()
			for i := range n {
				user := fmt.Sprintf("user%02d", i)
				_, err := a.Get(user)
				switch i % 3 {
				case 0:
					if err != nil || !verify(t, a, user, "changed") {
						t.Errorf("%s: changed password lost (err %v)", user, err)
					}
				case 1:
					if !errors.Is(err, ErrNotFound) {
						t.Errorf("%s: deleted account is back (err %v)", user, err)
					}
				case 2:
					if err != nil || !verify(t, a, user, fmt.Sprintf("pw%d", i)) {
						t.Errorf("%s: account lost (err %v)", user, err)
					}
				}
			}
			if c, err := a.Count(); err != nil || c != n-n/3 {
				t.Errorf("Count = %d, %v; want %d", c, err, n-n/3)
			}
		})
	}
}

func TestAccountCodec(t *testing.T) {
	acc := Account{Created: time.UnixMilli(1_700_000_000_123).UTC()}
	for h := range scram.NumHashes {
		acc.Keys[h] = scram.Derive(scram.Hash(h), "pw", scram.NewSalt(), 4096)
	}
	v := appendAccount(nil, &acc)
	got, err := decodeAccount(v)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(acc.Created) {
		t.Errorf("Created %v; want %v", got.Created, acc.Created)
	}
	for h := range scram.NumHashes {
		g, w := got.Keys[h], acc.Keys[h]
		if g.Iter != w.Iter || !bytes.Equal(g.Salt, w.Salt) || !bytes.Equal(g.StoredKey, w.StoredKey) || !bytes.Equal(g.ServerKey, w.ServerKey) {
			t.Errorf("%s keys differ", scram.Hash(h).Name())
		}
	}
	stored := slices.Clone(got.Keys[scram.SHA1].StoredKey)
	clear(v) // decoded slices must not alias the value
	if !bytes.Equal(got.Keys[scram.SHA1].StoredKey, stored) {
		t.Errorf("decoded keys alias the value")
	}

	v = appendAccount(nil, &acc)
	bad := map[string][]byte{
		"Empty":         nil,
		"Version2":      append([]byte{2}, v[1:]...),
		"Truncated":     v[:len(v)-1],
		"Trailing":      append(slices.Clone(v), 0),
		"TooManyHashes": {accountV1, 0, 9},
		"UnknownHash":   {accountV1, 0, 1, 7, 1, 0, 0, 0},
	}
	for name, b := range bad {
		if _, err := decodeAccount(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decode error %v; want ErrCorrupt", name, err)
		}
	}
}

// FuzzDecodeAccount: decoding never panics, and what decodes re-encodes to a
// value that decodes to the same account.
func FuzzDecodeAccount(f *testing.F) {
	acc := Account{Created: time.UnixMilli(1_700_000_000_000)}
	for h := range scram.NumHashes {
		acc.Keys[h] = scram.Derive(scram.Hash(h), "pw", []byte("salt"), 4096)
	}
	f.Add(appendAccount(nil, &acc))
	f.Add([]byte{accountV1, 0, 0})
	f.Fuzz(func(t *testing.T, v []byte) {
		a, err := decodeAccount(v)
		if err != nil {
			return
		}
		v2 := appendAccount(nil, &a)
		b, err := decodeAccount(v2)
		if err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if !bytes.Equal(appendAccount(nil, &b), v2) {
			t.Fatalf("round trip unstable")
		}
	})
}
