package session

import (
	"testing"

	"ignis/stanza"
)

func TestCanWait(t *testing.T) {
	for _, tc := range []struct {
		name string
		xml  string
		want bool
	}{
		{"available presence", "<presence from='a@x/r'><show>away</show></presence>", true},
		{"unavailable presence", "<presence from='a@x/r' type='unavailable'/>", true},
		{"subscription request", "<presence from='a@x' type='subscribe'/>", false},
		{"chat state only", "<message from='a@x/r' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", true},
		{"body with chat state", "<message from='a@x/r' type='chat'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>", false},
		{"empty message", "<message from='a@x/r'/>", false},
		{"error message", "<message from='a@x/r' type='error'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", false},
		{"iq", "<iq from='a@x/r' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := canWait(stanza.MustParse([]byte(tc.xml))); got != tc.want {
				t.Fatalf("canWait = %v, want %v", got, tc.want)
			}
		})
	}
}
