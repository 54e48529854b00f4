package bench

import "testing"

// qualify declares jabber:client on top-level stanzas only, once.
func TestQualify(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<presence/>", "<presence xmlns='jabber:client'/>"},
		{"<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq><presence/>", "<iq xmlns='jabber:client' type='get' id='r'><query xmlns='jabber:iq:roster'/></iq><presence xmlns='jabber:client'/>"},
		{"<message to='a'><body>x</body><message/></message>", "<message xmlns='jabber:client' to='a'><body>x</body><message/></message>"},
		{"<enable xmlns='urn:xmpp:sm:3'/><r xmlns='urn:xmpp:sm:3'/>", "<enable xmlns='urn:xmpp:sm:3'/><r xmlns='urn:xmpp:sm:3'/>"},
		{"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>"},
	} {
		if got := string(qualify([]byte(tc.in))); got != tc.want {
			t.Errorf("qualify(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
