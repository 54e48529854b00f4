package component

import (
	"testing"

	"ignis/stanza"
)

// TestNamespaceCrossing: a stanza's own declaration of its stream's
// namespace is dropped at the crossing; anything else passes unchanged.
func TestNamespaceCrossing(t *testing.T) {
	for _, tc := range []struct{ name, in, out string }{
		{"out/inherits", "<message to='a@gw.localhost'><body>x</body></message>", "<message to='a@gw.localhost'><body>x</body></message>"},
		{"out/declared", "<message xmlns='jabber:client' to='a@gw.localhost'><body>x</body></message>", "<message to='a@gw.localhost'><body>x</body></message>"},
		{"out/nested-kept", "<message to='a@gw.localhost'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'/></forwarded></message>",
			"<message to='a@gw.localhost'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'/></forwarded></message>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(outbound([]byte(tc.in))); got != tc.out {
				t.Fatalf("outbound(%s) = %s, want %s", tc.in, got, tc.out)
			}
		})
	}
	for _, tc := range []struct{ name, in, out string }{
		{"in/inherits", "<iq type='get' id='1' from='gw.localhost' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>", "<iq type='get' id='1' from='gw.localhost' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"},
		{"in/declared", `<iq xmlns="jabber:component:accept" type='get' id='1' from='gw.localhost' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`, "<iq type='get' id='1' from='gw.localhost' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := inbound(stanza.MustParse([]byte(tc.in)))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(st.Bytes()); got != tc.out || st.Kind != stanza.IQ || st.From.String() != "gw.localhost" {
				t.Fatalf("inbound(%s) = %s (%v from %v), want %s", tc.in, got, st.Kind, st.From, tc.out)
			}
		})
	}
}
