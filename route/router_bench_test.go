package route

import (
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
