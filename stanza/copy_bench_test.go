package stanza

import (
	"testing"

	"ignis/jid"
	"ignis/xmlscan"
)

// copier turns each scanned element into a Stanza from alice, the way a
// bound session does: two copies (FromFrame, then WithAddrs to stamp from)
// or one (FromFrameAs).
type copier struct {
	from jid.JID
	once bool
	sink *Stanza
}

func (c *copier) StreamOpen(*xmlscan.Frame) error { return nil }
func (c *copier) StreamClose() error              { return nil }
func (c *copier) Element(f *xmlscan.Frame) error {
	if c.once {
		c.sink, _, _ = FromFrameAs(f, c.from)
		return nil
	}
	st, _ := FromFrame(f)
	c.sink = st.WithAddrs(c.from, st.To)
	return nil
}

// BenchmarkStampCopy: a chat message out of the read buffer, from stamped.
//
//	go test -run '^$' -bench StampCopy -benchmem ./stanza/
func BenchmarkStampCopy(b *testing.B) {
	for _, once := range []bool{false, true} {
		name := "FromFrame+WithAddrs"
		if once {
			name = "FromFrameAs"
		}
		b.Run(name, func(b *testing.B) {
			var sc xmlscan.Scanner
			c := &copier{from: jid.MustParse("alice@localhost/a"), once: once}
			if err := sc.Feed([]byte("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"), c); err != nil {
				b.Fatal(err)
			}
			msg := []byte("<message type='chat' to='bob@localhost' id='m1'><body>hello</body></message>")
			b.ReportAllocs()
			for b.Loop() {
				if err := sc.Feed(msg, c); err != nil {
					b.Fatal(err)
				}
			}
			if c.sink == nil || !c.sink.From.Equal(c.from) {
				b.Fatal("not stamped")
			}
		})
	}
}
