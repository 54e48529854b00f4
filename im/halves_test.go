package im

import (
	"slices"
	"strings"
	"testing"

	"ignis/jid"
	"ignis/stanza"
	"ignis/store"
)

// mapRoster is a Roster over a map, for one half alone.
type mapRoster map[[2]string]store.RosterItem

func (m mapRoster) Get(user, contact string) (store.RosterItem, bool, error) {
	it, ok := m[[2]string{user, contact}]
	it.PendingIn = slices.Clone(it.PendingIn)
	return it, ok, nil
}
func (m mapRoster) Put(user string, it store.RosterItem) { m[[2]string{user, it.JID}] = it }
func (m mapRoster) Delete(user, contact string)          { delete(m, [2]string{user, contact}) }

// romeosRoster holds romeo's item for juliet, if any.
func romeosRoster(item *store.RosterItem) mapRoster {
	r := mapRoster{}
	if item != nil {
		it := *item
		it.JID = juliet.String()
		r.Put("romeo", it)
	}
	return r
}

var (
	romeo  = jid.MustParse("romeo@localhost")
	juliet = jid.MustParse("juliet@remote.example")
)

// kinds renders effects as "kind from>to type" for comparison.
func kinds(eff Effects) string {
	var b []string
	for _, e := range eff {
		s := e.Kind.String() + " " + e.From.String() + ">" + e.To.String()
		if e.Stanza != nil {
			s += " " + e.Stanza.Type.String()
		}
		b = append(b, s)
	}
	return strings.Join(b, "; ")
}

func TestStateOf(t *testing.T) {
	for _, s := range subStates {
		if got := StateOf(s.it).String(); got != s.name {
			t.Errorf("StateOf(%s) = %s", s.name, got)
		}
	}
	// flags a state cannot have are ignored
	if got := StateOf(store.RosterItem{Sub: store.SubBoth, Ask: true, PendingIn: []byte("s")}); got != Both {
		t.Errorf("Both with flags: %s", got)
	}
}

// TestPreApproval: the column Appendix A leaves out (§3.4).
func TestPreApproval(t *testing.T) {
	tests := []struct {
		state    string
		approved bool
		typ      stanza.Type
		want     bool
	}{
		{"None", false, stanza.Subscribed, true},
		{"None+PendingOut", false, stanza.Subscribed, true},
		{"To", false, stanza.Subscribed, true},
		{"From", false, stanza.Subscribed, false},          // already a subscriber
		{"Both", false, stanza.Subscribed, false},          // already a subscriber
		{"None+PendingIn", true, stanza.Subscribed, false}, // an approval ends it
		{"None", true, stanza.Unsubscribed, false},
		{"To", true, stanza.Subscribe, true}, // kept
		{"None", true, stanza.Unsubscribe, true},
	}
	for _, tt := range tests {
		t.Run(tt.state+"/"+tt.typ.String(), func(t *testing.T) {
			var it store.RosterItem
			for _, s := range subStates {
				if s.name == tt.state {
					it = s.it
				}
			}
			it.Approved = tt.approved
			ApplyOutbound(&it, tt.typ)
			if it.Approved != tt.want {
				t.Errorf("approved = %v, want %v", it.Approved, tt.want)
			}
		})
	}
}

// TestUserSide runs the user's half alone, as for a contact on another
// server: what is routed there, and what the user's server sends itself.
func TestUserSide(t *testing.T) {
	tests := []struct {
		name  string
		item  *store.RosterItem // romeo's item for juliet; nil: none
		typ   stanza.Type
		want  string
		after string // romeo's state after; "" for no item
	}{
		{"subscribe from nothing", nil, stanza.Subscribe,
			"route romeo@localhost>juliet@remote.example subscribe", "None+PendingOut"},
		{"approve a request", &store.RosterItem{Hidden: true, PendingIn: []byte("<presence/>")}, stanza.Subscribed,
			"route romeo@localhost>juliet@remote.example subscribed; send-presence romeo@localhost>juliet@remote.example", "From"},
		{"pre-approve", nil, stanza.Subscribed, "", "None"},
		{"unsubscribed a subscriber", &store.RosterItem{Sub: store.SubBoth}, stanza.Unsubscribed,
			"send-unavailable romeo@localhost>juliet@remote.example; route romeo@localhost>juliet@remote.example unsubscribed", "To"},
		{"unsubscribed nothing", nil, stanza.Unsubscribed, "", ""},
		{"unsubscribe", &store.RosterItem{Sub: store.SubTo}, stanza.Unsubscribe,
			"route romeo@localhost>juliet@remote.example unsubscribe", "None"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := romeosRoster(tt.item)
			eff := Outbound(r, romeo, juliet, tt.typ, nil)
			if got := kinds(eff); got != tt.want {
				t.Errorf("effects %q, want %q", got, tt.want)
			}
			it, ok, _ := r.Get("romeo", juliet.String())
			if got := map[bool]string{true: StateOf(it).String()}[ok]; got != tt.after {
				t.Errorf("state after %q, want %q", got, tt.after)
			}
			for _, e := range eff {
				if e.Kind == Route && (!e.Stanza.From.Equal(romeo) || !e.Stanza.To.Equal(juliet)) {
					t.Errorf("routed stanza not stamped with bare JIDs: %s", e.Stanza.Bytes())
				}
			}
		})
	}
}

// TestContactSide runs the contact's half alone: a stanza from a user of
// another server arriving for a local one.
func TestContactSide(t *testing.T) {
	tests := []struct {
		name   string
		item   *store.RosterItem // romeo's item for juliet; nil: none
		exists bool
		typ    stanza.Type
		want   string
		after  string
	}{
		{"request stored", nil, true, stanza.Subscribe,
			"deliver juliet@remote.example>romeo@localhost subscribe", "None+PendingIn"},
		{"no such account", nil, false, stanza.Subscribe,
			"route romeo@localhost>juliet@remote.example unsubscribed", ""},
		{"no such account, not a request", nil, false, stanza.Unsubscribe, "", ""},
		{"already subscribed", &store.RosterItem{Sub: store.SubFrom}, true, stanza.Subscribe,
			"route romeo@localhost>juliet@remote.example subscribed", "From"},
		{"pre-approved", &store.RosterItem{Approved: true}, true, stanza.Subscribe,
			"route romeo@localhost>juliet@remote.example subscribed; send-presence romeo@localhost>juliet@remote.example", "From"},
		{"request again", &store.RosterItem{PendingIn: []byte("<presence/>")}, true, stanza.Subscribe, "", "None+PendingIn"},
		{"approved", &store.RosterItem{Ask: true}, true, stanza.Subscribed,
			"deliver juliet@remote.example>romeo@localhost subscribed", "To"},
		{"unasked approval", nil, true, stanza.Subscribed, "", ""},
		{"subscriber leaves", &store.RosterItem{Sub: store.SubBoth}, true, stanza.Unsubscribe,
			"deliver juliet@remote.example>romeo@localhost unsubscribe; send-unavailable romeo@localhost>juliet@remote.example", "To"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := romeosRoster(tt.item)
			eff := Inbound(r, romeo, juliet, tt.typ, nil, tt.exists)
			if got := kinds(eff); got != tt.want {
				t.Errorf("effects %q, want %q", got, tt.want)
			}
			it, ok, _ := r.Get("romeo", juliet.String())
			if got := map[bool]string{true: StateOf(it).String()}[ok]; got != tt.after {
				t.Errorf("state after %q, want %q", got, tt.after)
			}
			if tt.name == "request stored" && (!it.Hidden || string(it.PendingIn) != string(eff[0].Stanza.Bytes())) {
				t.Errorf("the request is kept hidden, as delivered: %+v", it)
			}
		})
	}
}

// TestRemove: removing an item cancels what it carried, both ways, as
// stanzas for the contact's server.
func TestRemove(t *testing.T) {
	r := mapRoster{}
	r.Put("romeo", store.RosterItem{JID: juliet.String(), Sub: store.SubBoth})
	eff, ok := Remove(r, romeo, juliet)
	want := "send-unavailable romeo@localhost>juliet@remote.example; route romeo@localhost>juliet@remote.example unsubscribe; route romeo@localhost>juliet@remote.example unsubscribed"
	if !ok || kinds(eff) != want {
		t.Fatalf("Remove = %q, %v; want %q", kinds(eff), ok, want)
	}
	if _, ok, _ := r.Get("romeo", juliet.String()); ok {
		t.Error("item still there")
	}
	if _, ok := Remove(r, romeo, juliet); ok {
		t.Error("removed a missing item")
	}
}
