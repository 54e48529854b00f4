package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"ignis/jid"
	"ignis/stanza"
)

func TestRosterPutGetListDelete(t *testing.T) {
	r := openTest(t, nil).Roster()
	if v, err := r.Version("romeo"); err != nil || v != 0 {
		t.Fatalf("Version of a new roster = %d, %v; want 0", v, err)
	}
	if _, err := r.Get("romeo", "juliet@localhost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing item: %v, want ErrNotFound", err)
	}
	items := []RosterItem{
		{JID: "juliet@localhost", Name: "Juliet", Groups: []string{"Capulets", "Friends"}, Sub: SubBoth},
		{JID: "nurse@localhost", Sub: SubNone, Ask: true},
		{JID: "benvolio@localhost", Sub: SubFrom, Approved: true, PendingIn: []byte("<presence type='subscribe'/>")},
	}
	for i, it := range items {
		v, err := r.Put("romeo", it)
		if err != nil || v != uint64(i+1) {
			t.Fatalf("Put #%d = %d, %v; want version %d", i, v, err, i+1)
		}
	}
	got, err := r.Get("romeo", "juliet@localhost")
	if err != nil || got.Name != "Juliet" || !slices.Equal(got.Groups, items[0].Groups) || got.Sub != SubBoth {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	var listed []RosterItem
	ver, err := r.List("romeo", func(it RosterItem) bool { listed = append(listed, it); return true })
	if err != nil || ver != 3 || len(listed) != 3 {
		t.Fatalf("List = %d items, version %d, %v", len(listed), ver, err)
	}
	if b := listed[0]; b.JID != "benvolio@localhost" || !b.Approved || string(b.PendingIn) != "<presence type='subscribe'/>" || b.Sub != SubFrom {
		t.Fatalf("first listed = %+v", b)
	}
	// a write nobody can see (only the pending request changes) keeps the version
	b := listed[0]
	b.PendingIn = nil
	if v, err := r.Put("romeo", b); err != nil || v != 3 {
		t.Fatalf("invisible Put = %d, %v; want version 3", v, err)
	}
	if v, err := r.Delete("romeo", "nurse@localhost"); err != nil || v != 4 {
		t.Fatalf("Delete = %d, %v; want version 4", v, err)
	}
	if v, err := r.Delete("romeo", "nobody@localhost"); err != nil || v != 4 {
		t.Fatalf("Delete of a missing item = %d, %v; want version 4", v, err)
	}
	if _, err := r.Get("romeo", "nurse@localhost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted item: %v", err)
	}
	// another user's roster is separate
	if v, err := r.Version("rom"); err != nil || v != 0 {
		t.Fatalf("Version(rom) = %d, %v", v, err)
	}
}

func TestRosterAsyncAndWatch(t *testing.T) {
	r := openTest(t, nil).Roster()
	var mu sync.Mutex
	var seen []string
	r.Watch(func(user string, ver uint64, cs []RosterChange) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			seen = append(seen, fmt.Sprintf("%s v%d %s removed=%v", user, ver, c.Item.JID, c.Removed))
		}
	})
	const n = 50
	var wg sync.WaitGroup
	vers := make(chan uint64, n)
	for i := range n {
		wg.Add(1)
		r.PutAsync("romeo", RosterItem{JID: fmt.Sprintf("c%02d@localhost", i)}, func(v uint64, err error) {
			if err != nil {
				t.Error(err)
			}
			vers <- v
			wg.Done()
		})
	}
	wg.Wait()
	close(vers)
	var got []uint64
	for v := range vers {
		got = append(got, v)
	}
	slices.Sort(got)
	for i, v := range got {
		if v != uint64(i+1) {
			t.Fatalf("versions %v: want 1..%d, each once", got, n)
		}
	}
	if v, _ := r.Version("romeo"); v != n {
		t.Fatalf("Version = %d, want %d", v, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Fatalf("watcher saw %d changes, want %d", len(seen), n)
	}
}

// TestRosterTxnReadsInFlight: a transaction sees what earlier ones
// submitted before it is on disk.
func TestRosterTxnReadsInFlight(t *testing.T) {
	r := openTest(t, nil).Roster()
	tx := r.Begin("romeo")
	tx.Put("romeo", RosterItem{JID: "juliet@localhost", Ask: true})
	done := make(chan error, 1)
	tx.CommitAsync(func(err error) { done <- err })
	tx2 := r.Begin("romeo")
	it, ok, err := tx2.Get("romeo", "juliet@localhost")
	if err != nil || !ok || !it.Ask {
		t.Fatalf("second transaction read %+v, %v, %v", it, ok, err)
	}
	it.Sub = SubTo
	it.Ask = false
	tx2.Put("romeo", it)
	if _, err := tx2.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := r.Get("romeo", "juliet@localhost")
	if err != nil || got.Sub != SubTo || got.Ask {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if v, _ := r.Version("romeo"); v != 2 {
		t.Fatalf("Version = %d, want 2", v)
	}
}

// TestRosterDurable: acknowledged roster changes and the version survive a
// crash that loses everything unsynced.
func TestRosterDurable(t *testing.T) {
	mem := vfs.NewCrashableMem()
	r := openTest(t, mem).Roster()
	for i := range 10 {
		if _, err := r.Put("juliet", RosterItem{JID: fmt.Sprintf("c%d@localhost", i), Name: "n", Sub: SubBoth}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Delete("juliet", "c3@localhost"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	r.PutAsync("juliet", RosterItem{JID: "late@localhost"}, func(_ uint64, err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r2 := openTest(t, mem.CrashClone(vfs.CrashCloneCfg{})).Roster()
	n := 0
	ver, err := r2.List("juliet", func(it RosterItem) bool {
		n++
		if it.JID == "c3@localhost" {
			t.Errorf("deleted item is back")
		}
		return true
	})
	if err != nil || ver != 12 || n != 10 {
		t.Fatalf("after the crash: %d items, version %d, %v; want 10 items, version 12", n, ver, err)
	}
}

func TestRosterItemEncoding(t *testing.T) {
	for _, it := range []RosterItem{
		{},
		{Name: "x", Groups: []string{"a", ""}, Sub: SubTo, Ask: true, Approved: true, Hidden: true, PendingIn: []byte{}},
		{PendingIn: []byte("<presence/>"), Sub: SubFrom},
	} {
		got, err := decodeRosterItem(appendRosterItem(nil, &it))
		if err != nil || !sameItem(got, it) {
			t.Errorf("round trip of %+v = %+v, %v", it, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 0, 5, 'a'}, {1, 0, 0, 200}, {1, 0, 0, 0, 9}} {
		if _, err := decodeRosterItem(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decode %x: %v, want ErrCorrupt", bad, err)
		}
	}
}

// The nine states of RFC 6121 Appendix A.1, as items.
var subStates = []struct {
	name string
	it   RosterItem
}{
	{"None", RosterItem{}},
	{"None+PendingOut", RosterItem{Ask: true}},
	{"None+PendingIn", RosterItem{PendingIn: []byte("s")}},
	{"None+PendingOut+In", RosterItem{Ask: true, PendingIn: []byte("s")}},
	{"To", RosterItem{Sub: SubTo}},
	{"To+PendingIn", RosterItem{Sub: SubTo, PendingIn: []byte("s")}},
	{"From", RosterItem{Sub: SubFrom}},
	{"From+PendingOut", RosterItem{Sub: SubFrom, Ask: true}},
	{"Both", RosterItem{Sub: SubBoth}},
}

func stateName(it RosterItem) string {
	for _, s := range subStates {
		if s.it.Sub == it.Sub && s.it.Ask == it.Ask && (s.it.PendingIn == nil) == (it.PendingIn == nil) {
			return s.name
		}
	}
	return fmt.Sprintf("%+v", it)
}

// TestSubscriptionTables checks every row of RFC 6121 Appendix A.2 (outbound)
// and A.3 (inbound): whether the stanza goes on, and the new state. "=" is
// "no state change".
func TestSubscriptionTables(t *testing.T) {
	type row struct {
		pass bool
		next string
	}
	tables := []struct {
		name    string
		inbound bool
		typ     stanza.Type
		rows    []row // in subStates order
	}{
		{"A.2.1 outbound subscribe", false, stanza.Subscribe, []row{
			{true, "None+PendingOut"}, {true, "="}, {true, "None+PendingOut+In"}, {true, "="},
			{true, "="}, {true, "="}, {true, "From+PendingOut"}, {true, "="}, {true, "="}}},
		{"A.2.2 outbound unsubscribe", false, stanza.Unsubscribe, []row{
			{true, "="}, {true, "None"}, {true, "="}, {true, "None+PendingIn"},
			{true, "None"}, {true, "None+PendingIn"}, {true, "="}, {true, "From"}, {true, "From"}}},
		{"A.2.3 outbound subscribed", false, stanza.Subscribed, []row{
			{false, "="}, {false, "="}, {true, "From"}, {true, "From+PendingOut"},
			{false, "="}, {true, "Both"}, {false, "="}, {false, "="}, {false, "="}}},
		{"A.2.4 outbound unsubscribed", false, stanza.Unsubscribed, []row{
			{false, "="}, {false, "="}, {true, "None"}, {true, "None+PendingOut"},
			{false, "="}, {true, "To"}, {true, "None"}, {true, "None+PendingOut"}, {true, "To"}}},
		{"A.3.1 inbound subscribe", true, stanza.Subscribe, []row{
			{true, "None+PendingIn"}, {true, "None+PendingOut+In"}, {false, "="}, {false, "="},
			{true, "To+PendingIn"}, {false, "="}, {false, "="}, {false, "="}, {false, "="}}},
		{"A.3.2 inbound unsubscribe", true, stanza.Unsubscribe, []row{
			{false, "="}, {false, "="}, {true, "None"}, {true, "None+PendingOut"},
			{false, "="}, {true, "To"}, {true, "None"}, {true, "None+PendingOut"}, {true, "To"}}},
		{"A.3.3 inbound subscribed", true, stanza.Subscribed, []row{
			{false, "="}, {true, "To"}, {false, "="}, {true, "To+PendingIn"},
			{false, "="}, {false, "="}, {false, "="}, {true, "Both"}, {false, "="}}},
		{"A.3.4 inbound unsubscribed", true, stanza.Unsubscribed, []row{
			{false, "="}, {true, "None"}, {false, "="}, {true, "None+PendingIn"},
			{true, "None"}, {true, "None+PendingIn"}, {false, "="}, {true, "From"}, {true, "From"}}},
	}
	for _, tb := range tables {
		for i, s := range subStates {
			t.Run(tb.name+"/"+s.name, func(t *testing.T) {
				it := cloneItem(s.it)
				var pass bool
				if tb.inbound {
					pass = it.Inbound(tb.typ, []byte("s"))
				} else {
					pass = it.Outbound(tb.typ)
				}
				want := tb.rows[i]
				next := want.next
				if next == "=" {
					next = s.name
				}
				if pass != want.pass || stateName(it) != next {
					t.Fatalf("passed on %v, state %s; want %v, %s", pass, stateName(it), want.pass, next)
				}
			})
		}
	}
}

// TestSubscriptionBothSides runs a whole exchange in transactions: romeo
// asks, juliet (not in his roster) gets the request stored, approves, and
// both rosters end as RFC 6121 §3.1 says; then juliet pre-approves a
// request from benvolio that he then makes.
func TestSubscriptionBothSides(t *testing.T) {
	r := openTest(t, nil).Roster()
	romeo, juliet, benvolio := jid.MustParse("romeo@localhost"), jid.MustParse("juliet@localhost"), jid.MustParse("benvolio@localhost")
	step := func(from, to jid.JID, typ stanza.Type) []Effect {
		t.Helper()
		tx := r.Begin(from.Local(), to.Local())
		tx.Subscription(from, to, typ, nil, true)
		eff := tx.Effects()
		if _, err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		return eff
	}
	state := func(user, contact jid.JID) RosterItem {
		t.Helper()
		it, err := r.Get(user.Local(), contact.String())
		if err != nil {
			t.Fatalf("%s's item for %s: %v", user, contact, err)
		}
		return it
	}
	eff := step(romeo, juliet, stanza.Subscribe)
	if len(eff) != 1 || eff[0].Kind != Deliver || !eff[0].To.Equal(juliet) || eff[0].Stanza.Type != stanza.Subscribe {
		t.Fatalf("effects of subscribe: %+v", eff)
	}
	if it := state(juliet, romeo); !it.Hidden || it.PendingIn == nil {
		t.Fatalf("juliet's item for romeo: %+v; want a hidden pending request", it)
	}
	if v, _ := r.Version("juliet"); v != 0 {
		t.Fatalf("a pending request bumped juliet's version to %d", v)
	}
	eff = step(juliet, romeo, stanza.Subscribed)
	if it := state(juliet, romeo); it.Hidden || it.Sub != SubFrom || it.PendingIn != nil {
		t.Fatalf("juliet's item for romeo after approving: %+v", it)
	}
	if it := state(romeo, juliet); it.Sub != SubTo || it.Ask {
		t.Fatalf("romeo's item for juliet after approval: %+v", it)
	}
	if len(eff) != 2 || eff[0].Kind != Deliver || eff[1].Kind != SendPresence || !eff[1].From.Equal(juliet) {
		t.Fatalf("effects of subscribed: %+v", eff)
	}
	// pre-approval
	step(juliet, benvolio, stanza.Subscribed)
	if it := state(juliet, benvolio); !it.Approved || it.Sub != SubNone {
		t.Fatalf("pre-approved item: %+v", it)
	}
	eff = step(benvolio, juliet, stanza.Subscribe)
	if it := state(benvolio, juliet); it.Sub != SubTo || it.Ask {
		t.Fatalf("benvolio's item after a pre-approved request: %+v", it)
	}
	if it := state(juliet, benvolio); it.Approved || it.Sub != SubFrom {
		t.Fatalf("juliet's item after a pre-approved request: %+v", it)
	}
	if len(eff) != 2 || eff[0].Kind != Deliver || !eff[0].To.Equal(benvolio) || eff[0].Stanza.Type != stanza.Subscribed || eff[1].Kind != SendPresence {
		t.Fatalf("effects of a pre-approved subscribe: %+v", eff)
	}
	// removal cancels both ways
	tx := r.Begin("juliet", "romeo")
	if !tx.Remove(juliet, romeo, true, true) {
		t.Fatal("Remove found nothing")
	}
	if _, err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if it := state(romeo, juliet); it.Sub != SubNone {
		t.Fatalf("romeo's item after juliet removed him: %+v", it)
	}
	if _, err := r.Get("juliet", "romeo@localhost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed item: %v", err)
	}
}
