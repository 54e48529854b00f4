package register

import (
	"errors"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// Who may ask for the registration form before logging in, by policy and
// by where the client connects from; the rest get service-unavailable.
func TestPolicy(t *testing.T) {
	tests := []struct {
		name     string
		policy   Policy
		loopback bool
		want     bool
	}{
		{"off, remote", Policy{}, false, false},
		{"off, loopback", Policy{}, true, false},
		{"loopback only, remote", Policy{Loopback: true}, false, false},
		{"loopback only, loopback", Policy{Loopback: true}, true, true},
		{"anyone, remote", Policy{Anyone: true}, false, true},
		{"anyone, loopback", Policy{Anyone: true, Loopback: true}, true, true},
	}
	iq := stanza.MustParse([]byte("<iq type='get' id='r1'><query xmlns='jabber:iq:register'/></iq>"))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := New(nil, tc.policy, jid.MustParse("localhost"))
			reply, err := m.preAuthGet(&mod.Ctx{Loopback: tc.loopback}, iq)
			switch {
			case tc.want && (err != nil || reply == nil):
				t.Fatalf("form refused: %v", err)
			case !tc.want && !errors.Is(err, errDisabled):
				t.Fatalf("got %v, %v; want service-unavailable", reply, err)
			}
			// the stream feature follows the same rule
			r := mod.NewRegistry(m)
			offered := false
			r.StreamFeatures(false, mod.StreamInfo{Loopback: tc.loopback}, func(x []byte) { offered = string(x) == registerFeatureXML })
			if offered != tc.want {
				t.Fatalf("stream feature offered: %v, want %v", offered, tc.want)
			}
		})
	}
}

const registerFeatureXML = "<register xmlns='" + NSFeature + "'/>"
