package last

import (
	"strings"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

func TestStatusText(t *testing.T) {
	long := strings.Repeat("é", MaxStatusBytes) // two bytes each
	for _, tc := range []struct {
		name, presence, want string
	}{
		{name: "none", presence: "<presence type='unavailable'/>", want: ""},
		{name: "escaped", presence: "<presence type='unavailable'><status>a &amp; b</status></presence>", want: "a & b"},
		{name: "first-of-several", presence: "<presence type='unavailable'><status>one</status><status xml:lang='fr'>un</status></presence>", want: "one"},
		{name: "other-namespace", presence: "<presence type='unavailable'><status xmlns='urn:example'>no</status></presence>", want: ""},
		{name: "cut-at-a-character", presence: "<presence type='unavailable'><status>x" + long + "</status></presence>", want: "x" + long[:MaxStatusBytes-2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := statusText(stanza.MustParse([]byte(tc.presence))); got != tc.want {
				t.Fatalf("statusText = %q (%d bytes), want %q (%d bytes)", got, len(got), tc.want, len(tc.want))
			}
		})
	}
}

type resource struct{ mod.Resource }

func (resource) JID() jid.JID { return jid.MustParse("bob@localhost/r") }

// TestStatusOnlyForAvailable: a session that never sent available presence
// leaves nothing behind when it sends unavailable presence.
func TestStatusOnlyForAvailable(t *testing.T) {
	m := New(mod.NewHandle("last", nil, jid.MustParse("localhost"), nil))
	res := &resource{}
	st := stanza.MustParse([]byte("<presence type='unavailable'><status>bye</status></presence>"))
	m.outbound(&mod.Ctx{From: res}, st)
	if len(m.status) != 0 {
		t.Fatalf("status kept for a session that was not available: %v", m.status)
	}
	m.available(&mod.Ctx{From: res}, res)
	m.outbound(&mod.Ctx{From: res}, st)
	if m.status[res] != "bye" {
		t.Fatalf("status of an available session: %q", m.status[res])
	}
}
