package route

import (
	"strings"
	"sync"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// seenModule records, per hook, the receiver the rules were given
// (ctx.To) and what the offline hook was handed.
type seenModule struct {
	mu      sync.Mutex
	filters []string // ctx.To of each inbound filter call
	stored  []string // bytes the undeliverable hook took
}

func (*seenModule) Name() string { return "seen" }
func (m *seenModule) Register(r *mod.Registry) {
	r.Filter(func(ctx *mod.Ctx, st *stanza.Stanza, dir mod.Direction, user jid.JID) (mod.Verdict, *stanza.Error) {
		if dir != mod.Inbound {
			return mod.Pass, nil
		}
		m.mu.Lock()
		m.filters = append(m.filters, ctx.To.String())
		m.mu.Unlock()
		if ctx.To.Local() == "blocker" {
			return mod.Bounce, stanza.Err(stanza.ServiceUnavailable)
		}
		return mod.Pass, nil
	})
	r.OnUndeliverable(func(ctx *mod.Ctx, st *stanza.Stanza) bool {
		m.mu.Lock()
		m.stored = append(m.stored, string(st.Bytes()))
		m.mu.Unlock()
		return true
	})
}

// TestSendTo: one stanza without 'to' sent to several receivers reaches a
// local session as the very same bytes, while every rule that needs the
// receiver gets it: the filters (ctx.To), offline storage, a bounce, and
// the link to another server each see a copy with the 'to' written in.
func TestSendTo(t *testing.T) {
	seen := &seenModule{}
	r := New(Config{Domain: jid.MustParse("localhost")}, mod.NewRegistry(seen))
	bob := &endpoint{j: jid.MustParse("bob@localhost/b"), avail: true}
	blocker := &endpoint{j: jid.MustParse("blocker@localhost/x"), avail: true}
	room := &endpoint{j: jid.MustParse("alice@localhost/a"), avail: true} // gets the bounces
	for _, e := range []*endpoint{bob, blocker, room} {
		if err := r.Bind(e); err != nil {
			t.Fatal(err)
		}
	}
	link := &remote{}
	if err := r.AddRemote(jid.MustParse("remote.example"), link); err != nil {
		t.Fatal(err)
	}
	shared := stanza.MustParse([]byte("<message from='alice@localhost/a' type='chat' id='s1'><body>hi</body></message>"))
	for _, tc := range []struct {
		name, to string
		check    func(t *testing.T)
	}{
		{"local session: the shared bytes", "bob@localhost/b", func(t *testing.T) {
			if len(bob.got) != 1 || bob.got[0] != string(shared.Bytes()) {
				t.Fatalf("bob got %q", bob.got)
			}
		}},
		{"filters read the receiver", "blocker@localhost/x", func(t *testing.T) {
			if len(blocker.got) != 0 {
				t.Fatalf("blocker got %q", blocker.got)
			}
			// the bounce comes from the receiver's address
			if len(room.got) != 1 || !strings.Contains(room.got[0], "from='blocker@localhost/x' to='alice@localhost/a'") {
				t.Fatalf("sender got %q", room.got)
			}
		}},
		{"offline storage keeps an addressed copy", "carol@localhost", func(t *testing.T) {
			if len(seen.stored) != 1 || !strings.Contains(seen.stored[0], "to='carol@localhost'") {
				t.Fatalf("stored %q", seen.stored)
			}
		}},
		{"gone resource: the bare JID's rules, addressed", "carol@localhost/gone", func(t *testing.T) {
			if len(seen.stored) != 2 || !strings.Contains(seen.stored[1], "to='carol@localhost'") {
				t.Fatalf("stored %q", seen.stored)
			}
		}},
		{"another server gets the 'to'", "dave@remote.example/r", func(t *testing.T) {
			if len(link.got) != 1 || !strings.Contains(link.got[0], "to='dave@remote.example/r'") {
				t.Fatalf("link got %q", link.got)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.SendTo(jid.MustParse(tc.to), shared)
			tc.check(t)
		})
	}
	if got := strings.Join(seen.filters, " "); !strings.Contains(got, "bob@localhost/b") || !strings.Contains(got, "blocker@localhost/x") {
		t.Fatalf("the filters saw %q, not each receiver", got)
	}
	if strings.Contains(string(shared.Bytes()), " to=") || !shared.To.IsZero() {
		t.Fatalf("the shared stanza changed: %s", shared.Bytes())
	}
}
