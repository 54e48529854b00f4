package session

import (
	"log/slog"
	"testing"
)

// BenchmarkChatStanza is one chat message from a bound stream to another
// resource of the same account, over in-memory transports: parsed, counted,
// routed, delivered and written. The session's cost per stanza.
func BenchmarkChatStanza(b *testing.B) {
	cfg := testConfig(b)
	cfg.Logger = slog.New(slog.DiscardHandler)
	bind := func(res string) (*Stream, *memTransport) {
		tr := &memTransport{}
		s := New(cfg, tr)
		for _, p := range []string{header, plainAuth("alice", "wonderland"), header,
			"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + res + "</resource></bind></iq>"} {
			if err := s.Traffic([]byte(p)); err != nil {
				b.Fatal(err)
			}
		}
		tr.out.Reset()
		return s, tr
	}
	from, _ := bind("r1")
	to, toTr := bind("r2")
	msg := []byte("<message to='alice@localhost/r2' type='chat' id='m'><body>hello there</body></message>")
	b.ReportAllocs()
	for b.Loop() {
		if err := from.Traffic(msg); err != nil {
			b.Fatal(err)
		}
		to.Wakeup()
		if toTr.out.Len() == 0 {
			b.Fatal("nothing delivered")
		}
		toTr.out.Reset()
	}
}
