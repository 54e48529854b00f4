package im

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"ignis/jid"
	"ignis/stanza"
	"ignis/store"
)

func openTest(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(&store.Options{FS: vfs.NewMem(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// The nine states of RFC 6121 Appendix A.1, as items.
var subStates = []struct {
	name string
	it   store.RosterItem
}{
	{"None", store.RosterItem{}},
	{"None+PendingOut", store.RosterItem{Ask: true}},
	{"None+PendingIn", store.RosterItem{PendingIn: []byte("s")}},
	{"None+PendingOut+In", store.RosterItem{Ask: true, PendingIn: []byte("s")}},
	{"To", store.RosterItem{Sub: store.SubTo}},
	{"To+PendingIn", store.RosterItem{Sub: store.SubTo, PendingIn: []byte("s")}},
	{"From", store.RosterItem{Sub: store.SubFrom}},
	{"From+PendingOut", store.RosterItem{Sub: store.SubFrom, Ask: true}},
	{"Both", store.RosterItem{Sub: store.SubBoth}},
}

func stateName(it store.RosterItem) string {
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
				it := s.it
				it.PendingIn = slices.Clone(it.PendingIn)
				var pass bool
				if tb.inbound {
					pass = ApplyInbound(&it, tb.typ, []byte("s"))
				} else {
					pass = ApplyOutbound(&it, tb.typ)
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
	r := openTest(t).Roster()
	romeo, juliet, benvolio := jid.MustParse("romeo@localhost"), jid.MustParse("juliet@localhost"), jid.MustParse("benvolio@localhost")
	step := func(from, to jid.JID, typ stanza.Type) Effects {
		t.Helper()
		tx := r.Begin(from.Local(), to.Local())
		eff := Local{Tx: tx, ContactExists: true}.Subscription(from, to, typ, nil)
		if _, err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		return eff
	}
	state := func(user, contact jid.JID) store.RosterItem {
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
	if it := state(juliet, romeo); it.Hidden || it.Sub != store.SubFrom || it.PendingIn != nil {
		t.Fatalf("juliet's item for romeo after approving: %+v", it)
	}
	if it := state(romeo, juliet); it.Sub != store.SubTo || it.Ask {
		t.Fatalf("romeo's item for juliet after approval: %+v", it)
	}
	if len(eff) != 2 || eff[0].Kind != Deliver || eff[1].Kind != SendPresence || !eff[1].From.Equal(juliet) {
		t.Fatalf("effects of subscribed: %+v", eff)
	}
	// pre-approval
	step(juliet, benvolio, stanza.Subscribed)
	if it := state(juliet, benvolio); !it.Approved || it.Sub != store.SubNone {
		t.Fatalf("pre-approved item: %+v", it)
	}
	eff = step(benvolio, juliet, stanza.Subscribe)
	if it := state(benvolio, juliet); it.Sub != store.SubTo || it.Ask {
		t.Fatalf("benvolio's item after a pre-approved request: %+v", it)
	}
	if it := state(juliet, benvolio); it.Approved || it.Sub != store.SubFrom {
		t.Fatalf("juliet's item after a pre-approved request: %+v", it)
	}
	if len(eff) != 2 || eff[0].Kind != Deliver || !eff[0].To.Equal(benvolio) || eff[0].Stanza.Type != stanza.Subscribed || eff[1].Kind != SendPresence {
		t.Fatalf("effects of a pre-approved subscribe: %+v", eff)
	}
	// removal cancels both ways
	tx := r.Begin("juliet", "romeo")
	if _, ok := (Local{Tx: tx, ContactExists: true}).Remove(juliet, romeo); !ok {
		t.Fatal("Remove found nothing")
	}
	if _, err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if it := state(romeo, juliet); it.Sub != store.SubNone {
		t.Fatalf("romeo's item after juliet removed him: %+v", it)
	}
	if _, err := r.Get("juliet", "romeo@localhost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removed item: %v", err)
	}
}
