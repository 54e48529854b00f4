package stanza

import (
	"sync"
	"testing"
)

func TestClass(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want Class
	}{
		{"empty", "<message/>", 0},
		{"body", "<message><body>hi</body><thread>t</thread></message>", ClassBody | ClassThread},
		{"subject", "<message><subject>s</subject></message>", ClassClientOther},
		{"chat state", "<message><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", ClassChatState},
		{"receipt and marker", "<message><request xmlns='urn:xmpp:receipts'/><displayed xmlns='urn:xmpp:chat-markers:0' id='1'/></message>", ClassReceipt | ClassMarker},
		{"hints", "<message><store xmlns='urn:xmpp:hints'/><no-store xmlns='urn:xmpp:hints'/><no-copy xmlns='urn:xmpp:hints'/></message>", ClassHintStore | ClassHintNoStore | ClassHintNoCopy},
		{"no permanent store", "<message><no-permanent-storage xmlns='urn:xmpp:hints'/></message>", ClassHintNoPermStore},
		{"unknown hint", "<message><bogus xmlns='urn:xmpp:hints'/></message>", ClassHintOther},
		{"carbons", "<message><private xmlns='urn:xmpp:carbons:2'/><sent xmlns='urn:xmpp:carbons:2'/></message>", ClassCarbonPrivate | ClassCarbon},
		{"carbons enable is other", "<message><enable xmlns='urn:xmpp:carbons:2'/></message>", ClassOther},
		{"muc", "<message><x xmlns='http://jabber.org/protocol/muc#user'/></message>", ClassMUCUser},
		{"delay sid offline", "<message><delay xmlns='urn:xmpp:delay' stamp='x'/><stanza-id xmlns='urn:xmpp:sid:0' id='1' by='a@b'/><offline xmlns='http://jabber.org/protocol/offline'/></message>", ClassDelay | ClassStanzaID | ClassOffline},
		{"other", "<message><x xmlns='jabber:x:oob'/></message>", ClassOther},
		{"grandchildren ignored", "<message><x xmlns='jabber:x:oob'><body>no</body></x></message>", ClassOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := MustParse([]byte(tt.xml))
			if got := s.Class(); got != tt.want {
				t.Errorf("Class() = %b, want %b", got, tt.want)
			}
			if got := s.Class(); got != tt.want { // cached
				t.Errorf("second Class() = %b, want %b", got, tt.want)
			}
		})
	}
}

// A classification computed before a readdressing is carried over, and
// concurrent first calls agree (run with -race).
func TestClassShared(t *testing.T) {
	s := MustParse([]byte("<message><body>x</body></message>"))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if s.Class() != ClassBody {
				t.Error("wrong class")
			}
			_ = s.Readdressed(s.To)
		})
	}
	wg.Wait()
	if c := s.Readdressed(s.To).Class(); c != ClassBody {
		t.Errorf("readdressed Class() = %b", c)
	}
}

func BenchmarkClassCached(b *testing.B) {
	s := MustParse([]byte("<message to='a@b'><body>hello</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>"))
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Class()
	}
}
