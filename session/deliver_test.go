package session

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"

	"ignis/jid"
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

// otherResource is another resource of alice's, available, that collects
// what the router hands it.
type otherResource struct {
	mu  sync.Mutex
	got []string // ids
}

func (o *otherResource) JID() jid.JID                                   { return jid.MustParse("alice@localhost/other") }
func (o *otherResource) Available() bool                                { return true }
func (o *otherResource) Priority() int8                                 { return 0 }
func (o *otherResource) Replaced()                                      {}
func (o *otherResource) LastPresence() *stanza.Stanza                   { return nil }
func (o *otherResource) Close(*stanza.StreamError)                      {}
func (o *otherResource) Offer(st *stanza.Stanza) bool                   { return o.Deliver(st) }
func (o *otherResource) OfferConfirmed(*stanza.Stanza, func(bool)) bool { return false }
func (o *otherResource) Deliver(st *stanza.Stanza) bool {
	o.mu.Lock()
	o.got = append(o.got, st.ID)
	o.mu.Unlock()
	return true
}

func (o *otherResource) ids() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.got)
}

// TestLiveMessagesRoutedAgain: without XEP-0198, the chat messages with a
// body that the kernel had not taken when the connection closed are routed
// again (here to alice's other resource), in order; those it took, and
// stanzas not worth it (presence, a chat state), are not. A stream the
// server ends waits for its connection to be gone before judging.
func TestLiveMessagesRoutedAgain(t *testing.T) {
	const (
		from = "from='bob@localhost/b' to='alice@localhost/r'"
		pres = "<presence " + from + " id='p'/>"
		cs   = "<message type='chat' " + from + " id='cs'><active xmlns='http://jabber.org/protocol/chatstates'/></message>"
	)
	msg := func(id string) string {
		return "<message type='chat' " + from + " id='" + id + "'><body>hi</body></message>"
	}
	for _, tc := range []struct {
		name   string
		in     []string
		taken  int  // index of the last stanza the kernel took; -1: none
		server bool // the server ends the stream (else the connection drops)
		want   []string
	}{
		{name: "all taken", in: []string{msg("m1"), msg("m2")}, taken: 1},
		{name: "none taken", in: []string{msg("m1"), msg("m2")}, taken: -1, want: []string{"m1", "m2"}},
		{name: "the first taken", in: []string{msg("m1"), msg("m2"), msg("m3")}, taken: 0, want: []string{"m2", "m3"}},
		{name: "only messages with a body", in: []string{pres, cs, msg("m1")}, taken: -1, want: []string{"m1"}},
		{name: "ended by the server", in: []string{msg("m1"), msg("m2")}, taken: 0, server: true, want: []string{"m2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			other := &otherResource{}
			if err := cfg.Router.Bind(other); err != nil {
				t.Fatal(err)
			}
			s, tr := login(t, cfg, true)
			tr.lag = true
			tr.flushed = tr.sent
			for i, raw := range tc.in {
				if !s.Deliver(stanza.MustParse([]byte(raw))) {
					t.Fatalf("%s refused", raw)
				}
				s.Wakeup()
				if i <= tc.taken {
					tr.flushed = tr.sent
				}
			}
			if tc.server {
				s.Close(stanza.StreamErr(stanza.StreamPolicyViolation, ""))
				s.Wakeup()
				if got := other.ids(); len(got) != 0 {
					t.Fatalf("routed again while the connection drains: %v", got)
				}
			}
			s.Closed(nil)
			if got := other.ids(); !slices.Equal(got, tc.want) {
				t.Fatalf("routed again %v, want %v", got, tc.want)
			}
			if s.inbox.offers.written != nil {
				t.Fatalf("%d entries kept after the end", len(s.inbox.offers.written))
			}
		})
	}
}

// TestLateDeliveriesInOrder: messages delivered to a stream after it left
// the route table (the router looked it up just before) are routed again,
// off the caller's goroutine, in the order they came, and Shutdown waits
// for them.
func TestLateDeliveriesInOrder(t *testing.T) {
	cfg := testConfig(t)
	other := &otherResource{}
	if err := cfg.Router.Bind(other); err != nil {
		t.Fatal(err)
	}
	s, _ := login(t, cfg, true)
	s.Closed(nil)
	var want []string
	for i := range 200 {
		id := "m" + strconv.Itoa(i)
		want = append(want, id)
		st := stanza.MustParse([]byte("<message type='chat' from='bob@localhost/b' to='alice@localhost/r' id='" + id + "'><body>hi</body></message>"))
		if !s.Deliver(st) {
			t.Fatalf("%s refused by an unbound stream", id)
		}
	}
	if _, err := cfg.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := other.ids(); !slices.Equal(got, want) {
		t.Fatalf("routed again %d, want %d in order: %v", len(got), len(want), got)
	}
}

// TestLiveMessagesForgotten: once the kernel took what was written, the
// stream keeps nothing (an idle stream holds no array).
func TestLiveMessagesForgotten(t *testing.T) {
	cfg := testConfig(t)
	s, tr := login(t, cfg, true)
	tr.lag = true
	tr.flushed = tr.sent
	s.Deliver(stanza.MustParse([]byte("<message type='chat' to='alice@localhost/r' id='m1'><body>hi</body></message>")))
	s.Wakeup()
	if len(s.inbox.offers.written) != 1 {
		t.Fatalf("%d kept while unflushed, want 1", len(s.inbox.offers.written))
	}
	tr.flushed = tr.sent
	s.Wakeup() // as the transport's flush notice does
	if s.inbox.offers.written != nil {
		t.Fatalf("%d kept once flushed, want none", len(s.inbox.offers.written))
	}
}
