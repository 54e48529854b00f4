package session

import (
	"log/slog"
	"testing"

	"ignis/stanza"
)

// BenchmarkDeliverChat is one chat message delivered to a bound session
// without XEP-0198 and written out on its loop: the session's share of the
// path of every chat message.
//
//	go test -run '^$' -bench DeliverChat -benchmem ./session/
func BenchmarkDeliverChat(b *testing.B) {
	cfg := testConfig(b)
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, tr := login(b, cfg, true)
	st := stanza.MustParse([]byte("<message type='chat' from='bob@localhost/b' to='alice@localhost/r' id='m1'><body>hello</body></message>"))
	b.ReportAllocs()
	for b.Loop() {
		if !s.Deliver(st) {
			b.Fatal("refused")
		}
		s.Wakeup()
		tr.out.Reset()
	}
}
