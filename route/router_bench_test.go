package route

import (
	"strconv"
	"sync/atomic"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// sink is a bound resource that only counts what it is handed.
type sink struct {
	j jid.JID
	n atomic.Int64
}

func (e *sink) JID() jid.JID                                           { return e.j }
func (e *sink) Available() bool                                        { return true }
func (e *sink) Priority() int8                                         { return 0 }
func (e *sink) Replaced()                                              {}
func (e *sink) LastPresence() *stanza.Stanza                           { return nil }
func (e *sink) Close(*stanza.StreamError)                              {}
func (e *sink) Offer(st *stanza.Stanza) bool                           { return e.Deliver(st) }
func (e *sink) OfferConfirmed(st *stanza.Stanza, done func(bool)) bool { return true }
func (e *sink) Deliver(*stanza.Stanza) bool                            { e.n.Add(1); return true }

type deliveredHook struct{}

func (deliveredHook) Name() string { return "delivered" }
func (deliveredHook) Register(r *mod.Registry) {
	r.OnDelivered(func(*mod.Ctx, *stanza.Stanza, []mod.Resource) {}) // as carbons is, always
}

// BenchmarkRouteChat routes one-to-one chat messages addressed to a bare
// JID with one resource online: the path of every chat message.
//
//	go test -run '^$' -bench RouteChat -benchmem ./route/
func BenchmarkRouteChat(b *testing.B) {
	r := New(Config{Domain: jid.MustParse("localhost")}, mod.NewRegistry(deliveredHook{}))
	from := &sink{j: jid.MustParse("alice@localhost/a")}
	to := &sink{j: jid.MustParse("bob@localhost/b")}
	for _, e := range []Endpoint{from, to} {
		if err := r.Bind(e); err != nil {
			b.Fatal(err)
		}
	}
	// as the session hands it over: from stamped while copied out of the
	// read buffer (stanza.FromFrameAs), so routing copies nothing
	st := stanza.MustParse([]byte("<message type='chat' to='bob@localhost' id='m1'><body>hello</body></message>")).WithAddrs(from.JID(), jid.MustParse("bob@localhost"))
	b.ReportAllocs()
	for b.Loop() {
		r.Route(from, st)
	}
	if to.n.Load() == 0 {
		b.Fatal("nothing delivered")
	}
}

// BenchmarkFanOut delivers one groupchat message from a room to 1,000
// local occupant sessions, as a room's broadcast does: a header per
// receiver (Readdressed, the old way) against the one shared stanza
// (SendTo). Reported per delivery.
//
//	go test -run '^$' -bench FanOut -benchmem ./route/
func BenchmarkFanOut(b *testing.B) {
	const n = 1000
	r := New(Config{Domain: jid.MustParse("localhost")}, mod.NewRegistry(deliveredHook{}))
	to := make([]jid.JID, n)
	for i := range to {
		e := &sink{j: jid.MustParse("u" + strconv.Itoa(i) + "@localhost/r")}
		if err := r.Bind(e); err != nil {
			b.Fatal(err)
		}
		to[i] = e.j
	}
	st := stanza.MustParse([]byte("<message from='room@conference.localhost/nick' type='groupchat' id='m1'><body>hello</body></message>"))
	for _, bc := range []struct {
		name string
		send func(to jid.JID)
	}{
		{"readdressed", func(to jid.JID) { r.Send(st.Readdressed(to)) }},
		{"shared", func(to jid.JID) { r.SendTo(to, st) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				bc.send(to[i%n])
				i++
			}
		})
	}
}
