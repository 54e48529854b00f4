package offline

import (
	"testing"

	"ignis/stanza"
)

func TestWithChild(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{name: "body", in: "<message to='a@x'><body>hi</body></message>",
			want: "<message to='a@x'><body>hi</body><c/></message>"},
		{name: "selfClosing", in: "<message to='a@x' />",
			want: "<message to='a@x' ><c/></message>"},
		{name: "prefixed", in: "<cl:message xmlns:cl='jabber:client' to='a@x'/>",
			want: "<cl:message xmlns:cl='jabber:client' to='a@x'><c/></cl:message>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := withChild(stanza.MustParse([]byte(tc.in)), []byte("<c/>"))
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if _, err := stanza.Parse(got); err != nil {
				t.Fatalf("result does not parse: %v", err)
			}
		})
	}
}

func TestInspect(t *testing.T) {
	m := &Module{}
	for _, tc := range []struct {
		name, in string
		want     content
	}{
		{name: "body", in: "<message><body>x</body><thread>t</thread></message>", want: content{body: true}},
		{name: "chatState", in: "<message><active xmlns='http://jabber.org/protocol/chatstates'/></message>", want: content{}},
		{name: "receipt", in: "<message><received xmlns='urn:xmpp:receipts' id='1'/></message>", want: content{payload: true}},
		{name: "hints", in: "<message><store xmlns='urn:xmpp:hints'/><no-store xmlns='urn:xmpp:hints'/></message>", want: content{storeHint: true, noStore: true}},
		{name: "ourDelay", in: "<message><delay xmlns='urn:xmpp:delay' from='localhost' stamp='2026-01-01T00:00:00Z'/></message>", want: content{ourDelay: true}},
		{name: "otherDelay", in: "<message><delay xmlns='urn:xmpp:delay' from='elsewhere' stamp='2026-01-01T00:00:00Z'/></message>", want: content{}},
		{name: "subject", in: "<message><subject>s</subject></message>", want: content{payload: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.inspect(stanza.MustParse([]byte(tc.in)), "localhost"); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
