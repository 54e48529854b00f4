package store

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// fakeClock is a settable clock for the archive's id generator.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

var archiveT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testArchive opens a store on fs with the archive on a fake clock.
func testArchive(t *testing.T, fs vfs.FS) (*Archive, *fakeClock) {
	t.Helper()
	a := openTest(t, fs).Archive()
	c := &fakeClock{t: archiveT0}
	a.st.now = c.now
	return a, c
}

func archiveMsg(n int) []byte {
	return fmt.Appendf(nil, "<message type='chat' id='m%d'><body>%d</body></message>", n, n)
}

func ids(p ArchivePage) []uint64 {
	out := make([]uint64, len(p.Entries))
	for i, e := range p.Entries {
		out[i] = e.ID
	}
	return out
}

func TestArchiveIDFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var nums []uint64
	for range 1000 {
		nums = append(nums, r.Uint64()>>r.IntN(64))
	}
	nums = append(nums, 0, 1, math.MaxUint64)
	strs := make([]string, len(nums))
	for i, n := range nums {
		s := FormatArchiveID(n)
		if len(s) != 13 {
			t.Fatalf("FormatArchiveID(%d) = %q, want 13 characters", n, s)
		}
		if back, ok := ParseArchiveID(s); !ok || back != n {
			t.Fatalf("ParseArchiveID(%q) = %d, %v; want %d", s, back, ok, n)
		}
		strs[i] = s
	}
	slices.Sort(nums)
	sort.Strings(strs)
	for i := range nums {
		if strs[i] != FormatArchiveID(nums[i]) {
			t.Fatalf("string order differs from id order at %d", i)
		}
	}
	for _, bad := range []string{"", "0", "0000000000000000", "0000000000001", "zzzzzzzzzzzzz", "00000000000-0", "fvvvvvvvvvvvv"} {
		if id, ok := ParseArchiveID(bad); ok {
			t.Errorf("ParseArchiveID(%q) = %d, want rejection", bad, id)
		}
	}
	at := ArchiveIDAt(archiveT0)
	if got := ArchiveIDTime(at); !got.Equal(archiveT0) {
		t.Fatalf("ArchiveIDTime(ArchiveIDAt(t)) = %v, want %v", got, archiveT0)
	}
	if ArchiveIDAt(time.Unix(0, 0)) != 0 || ArchiveIDAt(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)) != math.MaxUint64 {
		t.Fatal("ArchiveIDAt does not clamp")
	}
}

// TestArchiveIDsMonotonic: ids only grow, whatever the clock does, also
// across a restart with the clock set back, and they follow the clock.
func TestArchiveIDsMonotonic(t *testing.T) {
	fs := vfs.NewMem()
	a, c := testArchive(t, fs)
	var prev uint64
	for i := range 100 {
		switch i {
		case 30:
			c.t = c.t.Add(-time.Hour) // the clock goes back
		case 60:
			c.t = c.t.Add(2 * time.Hour)
		}
		id, err := a.Append("alice", ArchiveOutbound, "bob@localhost", archiveMsg(i))
		if err != nil {
			t.Fatal(err)
		}
		if id <= prev {
			t.Fatalf("append %d: id %d after %d", i, id, prev)
		}
		if i == 60 && !ArchiveIDTime(id).Equal(c.t) {
			t.Fatalf("id time %v, want the clock's %v", ArchiveIDTime(id), c.t)
		}
		prev = id
	}
	if err := a.db.Close(); err != nil {
		t.Fatal(err)
	}
	// a new process whose clock is a day behind
	a2, c2 := testArchive(t, fs)
	c2.t = archiveT0.Add(-24 * time.Hour)
	id, err := a2.Append("alice", ArchiveInbound, "bob@localhost", archiveMsg(100))
	if err != nil || id <= prev {
		t.Fatalf("after a restart: id %d, %v; want above %d", id, err, prev)
	}
}

// fillArchive appends n messages to alice, alternating contacts bob and
// carol and directions, one minute apart from archiveT0; it returns the ids.
func fillArchive(t *testing.T, a *Archive, c *fakeClock, n int) []uint64 {
	t.Helper()
	var out []uint64
	for i := range n {
		c.t = archiveT0.Add(time.Duration(i) * time.Minute)
		with, dir := "bob@localhost", ArchiveInbound
		if i%2 == 1 {
			with, dir = "carol@localhost", ArchiveOutbound
		}
		id, err := a.Append("alice", dir, with, archiveMsg(i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

func TestArchiveQuery(t *testing.T) {
	a, c := testArchive(t, nil)
	all := fillArchive(t, a, c, 10)
	// another user's archive must never show
	if _, err := a.Append("al", ArchiveInbound, "bob@localhost", archiveMsg(99)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append("alicea", ArchiveInbound, "bob@localhost", archiveMsg(98)); err != nil {
		t.Fatal(err)
	}
	var bob, carol []uint64
	for i, id := range all {
		if i%2 == 0 {
			bob = append(bob, id)
		} else {
			carol = append(carol, id)
		}
	}
	minute := func(i int) uint64 { return ArchiveIDAt(archiveT0.Add(time.Duration(i) * time.Minute)) }

	for _, tc := range []struct {
		name     string
		q        ArchiveQuery
		want     []uint64
		complete bool
		count    int
		index    int
	}{
		{name: "all", q: ArchiveQuery{Limit: 50, CountLimit: 100}, want: all, complete: true, count: 10, index: 0},
		{name: "first-page", q: ArchiveQuery{Limit: 3, CountLimit: 100}, want: all[:3], count: 10, index: 0},
		{name: "next-page", q: ArchiveQuery{Limit: 3, After: all[2], CountLimit: 100}, want: all[3:6], count: 10, index: 3},
		{name: "last-forward-page", q: ArchiveQuery{Limit: 3, After: all[6]}, want: all[7:], complete: true, count: -1, index: -1},
		{name: "latest-page", q: ArchiveQuery{Limit: 3, FromEnd: true, CountLimit: 100}, want: all[7:], count: 10, index: 7},
		{name: "page-before", q: ArchiveQuery{Limit: 3, FromEnd: true, Before: all[7], CountLimit: 100}, want: all[4:7], count: 10, index: 4},
		{name: "first-backward-page", q: ArchiveQuery{Limit: 3, FromEnd: true, Before: all[2], CountLimit: 100}, want: all[:2], complete: true, count: 10, index: 0},
		{name: "with-bob", q: ArchiveQuery{With: "bob@localhost", Limit: 50, CountLimit: 100}, want: bob, complete: true, count: 5, index: 0},
		{name: "with-carol-latest", q: ArchiveQuery{With: "carol@localhost", Limit: 2, FromEnd: true, CountLimit: 100}, want: carol[3:], count: 5, index: 3},
		{name: "with-carol-after", q: ArchiveQuery{With: "carol@localhost", Limit: 2, After: carol[0], CountLimit: 100}, want: carol[1:3], count: 5, index: 1},
		{name: "with-nobody", q: ArchiveQuery{With: "dave@localhost", Limit: 50, CountLimit: 100}, complete: true, count: 0, index: -1},
		{name: "time-range", q: ArchiveQuery{MinID: minute(2), MaxID: minute(5), Limit: 50, CountLimit: 100}, want: all[2:5], complete: true, count: 3, index: 0},
		{name: "time-range-with", q: ArchiveQuery{With: "bob@localhost", MinID: minute(2), MaxID: minute(7), Limit: 50, CountLimit: 100}, want: []uint64{all[2], all[4], all[6]}, complete: true, count: 3, index: 0},
		{name: "time-range-paged", q: ArchiveQuery{MinID: minute(2), MaxID: minute(9), Limit: 2, After: all[3], CountLimit: 100}, want: all[4:6], count: 7, index: 2},
		{name: "count-over-limit", q: ArchiveQuery{Limit: 2, CountLimit: 5}, want: all[:2], count: -1, index: -1},
		{name: "count-only", q: ArchiveQuery{Limit: 0, CountLimit: 100}, complete: true, count: 10, index: -1},
		{name: "empty-range", q: ArchiveQuery{MinID: minute(5), MaxID: minute(5), Limit: 5, CountLimit: 100}, complete: true, count: 0, index: -1},
		{name: "after-last", q: ArchiveQuery{After: all[9], Limit: 5}, complete: true, count: -1, index: -1},
		{name: "filter", q: ArchiveQuery{Limit: 2, Filter: func(e *ArchiveEntry) bool { return e.Dir == ArchiveOutbound }, CountLimit: 100}, want: carol[:2], count: -1, index: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Query("alice", tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(p); !slices.Equal(got, tc.want) {
				t.Fatalf("ids %v, want %v", got, tc.want)
			}
			if p.Complete != tc.complete || p.Count != tc.count || p.Index != tc.index {
				t.Fatalf("complete %v count %d index %d; want %v %d %d", p.Complete, p.Count, p.Index, tc.complete, tc.count, tc.index)
			}
		})
	}

	// what an entry holds
	e, err := a.Get("alice", all[3])
	if err != nil {
		t.Fatal(err)
	}
	if e.Dir != ArchiveOutbound || e.With != "carol@localhost" || string(e.Raw) != string(archiveMsg(3)) ||
		!e.Time().Equal(archiveT0.Add(3*time.Minute)) {
		t.Fatalf("entry 3: %+v at %v", e, e.Time())
	}
	if _, err := a.Get("alice", all[3]+1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing id: %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "a\x00b"} {
		if _, err := a.AppendAsync("alice", ArchiveInbound, bad, nil, nil); !errors.Is(err, ErrInvalidArchiveContact) {
			t.Errorf("contact %q: %v", bad, err)
		}
	}
	if _, err := a.AppendAsync("", ArchiveInbound, "bob@localhost", nil, nil); !errors.Is(err, ErrInvalidUser) {
		t.Errorf("empty user: %v", err)
	}
}

// TestArchiveSettle: entries appended asynchronously are all visible to a
// query made after Settle, in append order.
func TestArchiveSettle(t *testing.T) {
	a, _ := testArchive(t, nil)
	var want []uint64
	for i := range 200 {
		id, err := a.AppendAsync("alice", ArchiveInbound, "bob@localhost", archiveMsg(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	if err := a.Settle("alice"); err != nil {
		t.Fatal(err)
	}
	if err := a.Settle("nobody"); err != nil {
		t.Fatal(err)
	}
	p, err := a.Query("alice", ArchiveQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p); !slices.Equal(got, want) {
		t.Fatalf("after Settle: %d entries, want %d in order", len(got), len(want))
	}
}

// TestArchiveRetention: DeleteBefore removes exactly the older entries of
// every user, and their by-contact index entries.
func TestArchiveRetention(t *testing.T) {
	a, c := testArchive(t, nil)
	var all []uint64
	for i := range 10 {
		c.t = archiveT0.Add(time.Duration(i) * time.Minute)
		with, dir := "bob@localhost", ArchiveInbound
		if i%2 == 1 {
			with, dir = "carol@localhost", ArchiveOutbound
		}
		id, err := a.Append("alice", dir, with, archiveMsg(i))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, id)
		if i >= 1 && i <= 4 { // and bob's at minutes 1 to 4
			if _, err := a.Append("bob", ArchiveInbound, "alice@localhost", archiveMsg(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := a.DeleteBefore(archiveT0.Add(4*time.Minute + time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// ranges: alice, bob (entries); alice-bob, alice-carol, bob-alice (index)
	if n != 5 {
		t.Fatalf("DeleteBefore deleted %d ranges, want 5", n)
	}
	p, err := a.Query("alice", ArchiveQuery{Limit: 50, CountLimit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(p), all[5:]) || p.Count != 5 {
		t.Fatalf("alice after retention: %v (count %d), want %v", ids(p), p.Count, all[5:])
	}
	p, err = a.Query("alice", ArchiveQuery{With: "bob@localhost", Limit: 50, CountLimit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(p), []uint64{all[6], all[8]}) || p.Count != 2 {
		t.Fatalf("alice with bob after retention: %v (count %d, so index entries remain)", ids(p), p.Count)
	}
	p, err = a.Query("bob", ArchiveQuery{With: "alice@localhost", Limit: 50, CountLimit: 100})
	if err != nil || len(p.Entries) != 0 || p.Count != 0 {
		t.Fatalf("bob after retention: %v, %v (count %d)", ids(p), err, p.Count)
	}
	// nothing older left: a second run deletes nothing
	if n, err := a.DeleteBefore(archiveT0.Add(4*time.Minute + time.Second)); err != nil || n != 0 {
		t.Fatalf("second run: %d, %v", n, err)
	}
}

// TestArchiveRetentionBatches: more users than one batch holds.
func TestArchiveRetentionBatches(t *testing.T) {
	a, c := testArchive(t, nil)
	const users = 2100
	for i := range users {
		if _, err := a.AppendAsync(fmt.Sprintf("u%04d", i), ArchiveInbound, "x@localhost", archiveMsg(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	c.t = c.t.Add(time.Hour)
	if _, err := a.Append("u0000", ArchiveInbound, "x@localhost", archiveMsg(0)); err != nil {
		t.Fatal(err)
	}
	n, err := a.DeleteBefore(archiveT0.Add(time.Minute))
	if err != nil || n != 2*users {
		t.Fatalf("DeleteBefore: %d, %v; want %d ranges", n, err, 2*users)
	}
	for _, u := range []string{"u0000", "u1500", "u2099"} {
		p, err := a.Query(u, ArchiveQuery{Limit: 5, CountLimit: 5})
		want := 0
		if u == "u0000" {
			want = 1
		}
		if err != nil || p.Count != want {
			t.Fatalf("%s: count %d, %v; want %d", u, p.Count, err, want)
		}
	}
}

func TestArchivePrefs(t *testing.T) {
	fs := vfs.NewCrashableMem()
	a, _ := testArchive(t, fs)
	p, err := a.Prefs("alice")
	if err != nil || p.Default != ArchiveAlways || p.Always != nil || p.Never != nil {
		t.Fatalf("default prefs: %+v, %v", p, err)
	}
	want := ArchivePrefs{Default: ArchiveRoster, Always: []string{"bob@localhost"}, Never: []string{"eve@localhost", "spam@example.org"}}
	if err := a.SetPrefs("alice", want); err != nil {
		t.Fatal(err)
	}
	if p, err := a.Prefs("alice"); err != nil || p.Default != want.Default || !slices.Equal(p.Always, want.Always) || !slices.Equal(p.Never, want.Never) {
		t.Fatalf("prefs: %+v, %v; want %+v", p, err, want)
	}
	for name, bad := range map[string]ArchivePrefs{
		"default":  {Default: 7},
		"nul":      {Never: []string{"a\x00b"}},
		"empty":    {Always: []string{""}},
		"too-many": {Never: make([]string, maxPrefsJIDs+1)},
	} {
		if err := a.SetPrefs("alice", bad); err == nil {
			t.Errorf("%s: SetPrefs accepted %+v", name, bad)
		}
	}
	crashed := openTest(t, fs.CrashClone(vfs.CrashCloneCfg{})).Archive()
	if p, err := crashed.Prefs("alice"); err != nil || p.Default != want.Default || !slices.Equal(p.Never, want.Never) {
		t.Fatalf("after a crash: %+v, %v", p, err)
	}
	if _, err := decodePrefs([]byte{archivePrefsFormat, 0, 1, 5, 'a'}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated prefs: %v", err)
	}
}

// TestArchiveCrash: every acknowledged append survives a crash; the ids
// handed out after the restart are above them.
func TestArchiveCrash(t *testing.T) {
	mem := vfs.NewCrashableMem()
	a, _ := testArchive(t, mem)
	var acked []uint64
	for i := range 50 {
		id, err := a.Append("alice", ArchiveInbound, "bob@localhost", archiveMsg(i))
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, id)
	}
	// more, not waited for: may or may not survive, but never a gap before them
	for i := range 50 {
		if _, err := a.AppendAsync("alice", ArchiveInbound, "bob@localhost", archiveMsg(100+i), nil); err != nil {
			t.Fatal(err)
		}
	}
	crashed := openTest(t, mem.CrashClone(vfs.CrashCloneCfg{})).Archive()
	p, err := crashed.Query("alice", ArchiveQuery{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	got := ids(p)
	if len(got) < len(acked) || !slices.Equal(got[:len(acked)], acked) {
		t.Fatalf("after a crash: %d entries, want the %d acknowledged first", len(got), len(acked))
	}
	wp, err := crashed.Query("alice", ArchiveQuery{With: "bob@localhost", Limit: 200})
	if err != nil || !slices.Equal(ids(wp), got) {
		t.Fatalf("index after a crash: %d entries, %v; want %d", len(wp.Entries), err, len(got))
	}
	id, err := crashed.Append("alice", ArchiveInbound, "bob@localhost", archiveMsg(0))
	if err != nil || id <= got[len(got)-1] {
		t.Fatalf("append after a crash: %d, %v", id, err)
	}
}

func TestArchiveKeys(t *testing.T) {
	k := archiveWithKey("alice", "bob@localhost", 42)
	u, w, id, ok := parseArchiveWithKey(k)
	if !ok || u != "alice" || w != "bob@localhost" || id != 42 {
		t.Fatalf("parseArchiveWithKey = %q %q %d %v", u, w, id, ok)
	}
	lo, hi := archiveWithSpan("alice", "bob@localhost")
	if string(k) < string(lo) || string(k) >= string(hi) {
		t.Fatal("index key outside its span")
	}
	if _, _, _, ok := parseArchiveWithKey(userSeqKey(tableArchive, "alice", 1)); ok {
		t.Fatal("parsed an entry key as an index key")
	}
	u, seq, ok := parseUserSeqKey(tableArchive, userSeqKey(tableArchive, "alice", 7))
	if !ok || u != "alice" || seq != 7 {
		t.Fatalf("parseUserSeqKey = %q %d %v", u, seq, ok)
	}
}
