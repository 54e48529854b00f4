package register

import (
	"errors"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// Who may ask for the registration form before logging in, by policy and
// by where the client connects from and whether the stream is encrypted;
// the rest get service-unavailable, or policy-violation without TLS.
func TestPolicy(t *testing.T) {
	tests := []struct {
		name     string
		policy   Policy
		loopback bool
		plain    bool
		want     *stanza.Error // nil: allowed
	}{
		{"off, remote", Policy{}, false, false, errDisabled},
		{"off, loopback", Policy{}, true, false, errDisabled},
		{"loopback only, remote", Policy{Loopback: true}, false, false, errDisabled},
		{"loopback only, loopback", Policy{Loopback: true}, true, false, nil},
		{"anyone, remote", Policy{Anyone: true}, false, false, nil},
		{"anyone, loopback", Policy{Anyone: true, Loopback: true}, true, false, nil},
		{"loopback, plain", Policy{Loopback: true}, true, true, errNeedTLS},
		{"anyone, plain", Policy{Anyone: true}, false, true, errNeedTLS},
		{"off, plain", Policy{}, false, true, errDisabled},
		{"plain allowed", Policy{Loopback: true, AllowPlain: true}, true, true, nil},
	}
	iq := stanza.MustParse([]byte("<iq type='get' id='r1'><query xmlns='jabber:iq:register'/></iq>"))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := New(mod.NewHandle("register", nil, jid.MustParse("localhost"), nil), tc.policy)
			reply, err := m.preAuthGet(&mod.Ctx{Loopback: tc.loopback, Secure: !tc.plain}, iq)
			switch {
			case tc.want == nil && (err != nil || reply == nil):
				t.Fatalf("form refused: %v", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got %v, %v; want %v", reply, err, tc.want)
			}
			// the stream feature follows the same rule
			r := mod.NewRegistry(m)
			offered := false
			r.StreamFeatures(false, mod.StreamInfo{Loopback: tc.loopback, Secure: !tc.plain}, func(x []byte) { offered = string(x) == registerFeatureXML })
			if offered != (tc.want == nil) {
				t.Fatalf("stream feature offered: %v, want %v", offered, tc.want == nil)
			}
		})
	}
}

const registerFeatureXML = "<register xmlns='" + NSFeature + "'/>"
