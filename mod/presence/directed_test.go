package presence

import (
	"fmt"
	"runtime"
	"slices"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// res is a session as the tracking keys it: only its identity matters.
type res struct{ j jid.JID }

func (r *res) JID() jid.JID                                      { return r.j }
func (r *res) Available() bool                                   { return true }
func (r *res) Priority() int8                                    { return 0 }
func (r *res) LastPresence() *stanza.Stanza                      { return nil }
func (r *res) Close(*stanza.StreamError)                         {}
func (r *res) Offer(*stanza.Stanza) bool                         { return true }
func (r *res) OfferConfirmed(*stanza.Stanza, func(ok bool)) bool { return true }

func TestDirectedSet(t *testing.T) {
	a, b, c := jid.MustParse("room@conference.localhost/a"), jid.MustParse("x@example.net"), jid.MustParse("y@example.net/r")
	type op struct {
		add    bool
		to     jid.JID
		wantOK bool
	}
	tests := []struct {
		name string
		ops  []op
		want []jid.JID
	}{
		{"none", nil, nil},
		{"one", []op{{true, a, true}}, []jid.JID{a}},
		{"again", []op{{true, a, true}, {true, a, true}}, []jid.JID{a}},
		{"three", []op{{true, a, true}, {true, b, true}, {true, c, true}}, []jid.JID{a, b, c}},
		{"past the cap", []op{{true, a, true}, {true, b, true}, {true, c, true}, {true, jid.MustParse("z@x"), false}}, []jid.JID{a, b, c}},
		{"a known one at the cap", []op{{true, a, true}, {true, b, true}, {true, c, true}, {true, b, true}}, []jid.JID{a, b, c}},
		{"first removed", []op{{true, a, true}, {true, b, true}, {true, c, true}, {false, a, true}}, []jid.JID{c, b}},
		{"middle removed", []op{{true, a, true}, {true, b, true}, {true, c, true}, {false, b, true}}, []jid.JID{a, c}},
		{"only removed", []op{{true, a, true}, {false, a, true}}, nil},
		{"unknown removed", []op{{true, a, true}, {false, b, true}}, []jid.JID{a}},
		{"room after removal", []op{{true, a, true}, {true, b, true}, {true, c, true}, {false, c, true}, {true, jid.MustParse("z@x"), true}}, []jid.JID{a, b, jid.MustParse("z@x")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d directed
			r := &res{j: jid.MustParse("u@localhost/r")}
			for _, o := range tc.ops {
				if o.add {
					if ok := d.add(r, o.to, 3); ok != o.wantOK {
						t.Fatalf("add %v: %v, want %v", o.to, ok, o.wantOK)
					}
				} else {
					d.remove(r, o.to)
				}
			}
			if n := d.count(r); n != len(tc.want) {
				t.Errorf("count %d, want %d", n, len(tc.want))
			}
			if got := d.take(r); !slices.Equal(got, tc.want) {
				t.Errorf("took %v, want %v", got, tc.want)
			}
			if d.count(r) != 0 || len(d.one) != 0 || len(d.more) != 0 {
				t.Errorf("left after take: %v %v", d.one, d.more)
			}
		})
	}
}

// TestDirectedMemory reports what tracking costs a session that sent
// directed presence to one room (the common case: a group chat occupant).
// The target JIDs are made beforehand: their strings belong to the stanzas
// that were routed, not to the tracking.
func TestDirectedMemory(t *testing.T) {
	const n = 1000
	m := &Module{cfg: Config{MaxDirected: 1000}}
	sessions := make([]mod.Resource, n)
	targets := make([]jid.JID, n)
	for i := range n {
		sessions[i] = &res{j: jid.MustParse(fmt.Sprintf("user%d@localhost/r", i))}
		targets[i] = jid.MustParse(fmt.Sprintf("room@conference.localhost/user%d", i))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		m.directed.add(sessions[i], targets[i], m.cfg.MaxDirected)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.0f bytes per session with one directed presence (%d sessions)", per, n)
	if per > 128 {
		t.Errorf("%.0f bytes per session, want at most 128", per)
	}
	runtime.KeepAlive(m)
	runtime.KeepAlive(sessions)
	runtime.KeepAlive(targets)
}
