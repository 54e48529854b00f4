package muc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// countEnv is a mod.Env that counts what the room sends.
type countEnv struct{ sent atomic.Int64 }

func (e *countEnv) Send(*stanza.Stanza)                        { e.sent.Add(1) }
func (e *countEnv) Resources(jid.JID, func(mod.Resource) bool) {}
func (e *countEnv) Domain() jid.JID                            { return jid.MustParse("localhost") }
func (e *countEnv) IsLocal(d jid.JID) bool                     { return d.Domain() == "localhost" }
func (e *countEnv) Lookup(jid.JID) mod.Resource                { return nil }
func (e *countEnv) Resend(mod.Resource, *stanza.Stanza)        {}
func (e *countEnv) SendTo(jid.JID, *stanza.Stanza)             { e.sent.Add(1) }

func newTestModule(tb testing.TB, cfg Config) (*Module, *countEnv) {
	tb.Helper()
	db, err := store.Open(&store.Options{Dir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	m := New(mod.NewHandle("muc", db, jid.MustParse("localhost"), slog.New(slog.NewTextHandler(io.Discard, nil))), cfg)
	if err := m.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return m, &countEnv{}
}

func presenceTo(from, to string) *stanza.Stanza {
	return stanza.MustParse([]byte("<presence from='" + from + "' to='" + to + "'><x xmlns='" + NS + "'><history maxstanzas='0'/></x></presence>"))
}

// fill makes room@conference.localhost with n occupants (u0 owns it).
func fill(tb testing.TB, m *Module, env mod.Env, n int) {
	tb.Helper()
	ctx := &mod.Ctx{Env: env}
	room := "room@conference.localhost"
	m.presence(ctx, presenceTo("u0@localhost/r", room+"/u0"))
	if _, err := m.iq(ctx, stanza.MustParse([]byte("<iq type='set' id='c' from='u0@localhost/r' to='"+room+"'><query xmlns='"+NSOwner+"'><x xmlns='jabber:x:data' type='submit'/></query></iq>"))); err != nil {
		tb.Fatal(err)
	}
	for i := 1; i < n; i++ {
		m.presence(ctx, presenceTo(fmt.Sprintf("u%d@localhost/r", i), fmt.Sprintf("%s/u%d", room, i)))
	}
	m.waitLists()
	if got := len(m.lookup(jid.MustParse(room)).occupants); got != n {
		tb.Fatalf("%d occupants, want %d", got, n)
	}
}

// TestHistoryLimits: the <history/> attributes of a join (XEP-0045 §7.2.14).
func TestHistoryLimits(t *testing.T) {
	m, _ := newTestModule(t, Config{})
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	r := m.newRoom(jid.MustParse("h@conference.localhost"))
	for i := range 5 {
		st := stanza.MustParse([]byte(fmt.Sprintf("<message from='h@conference.localhost/a' type='groupchat'><body>m%d</body></message>", i)))
		r.history = append(r.history, histEntry{at: now.Add(time.Duration(i-5) * time.Minute), st: st, size: len(st.Bytes())})
	}
	size := len(r.history[0].st.Bytes())
	for _, c := range []struct {
		name string
		h    histLimit
		want string
	}{
		{"all", histLimit{-1, -1, -1, time.Time{}}, "m0 m1 m2 m3 m4"},
		{"maxstanzas", histLimit{-1, 2, -1, time.Time{}}, "m3 m4"},
		{"maxstanzas-0", histLimit{-1, 0, -1, time.Time{}}, ""},
		{"maxchars", histLimit{size * 3, -1, -1, time.Time{}}, "m2 m3 m4"},
		{"seconds", histLimit{-1, -1, 150, time.Time{}}, "m3 m4"},
		{"since", histLimit{-1, -1, -1, now.Add(-4*time.Minute - time.Second)}, "m1 m2 m3 m4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, d := range r.historyFor(jid.MustParse("x@localhost/r"), c.h) {
				b := string(d.St.Bytes())
				if !strings.Contains(b, "<delay xmlns='urn:xmpp:delay' from='h@conference.localhost' stamp='") {
					t.Fatalf("no delay: %s", b)
				}
				i := strings.Index(b, "<body>")
				got = append(got, b[i+6:i+8])
			}
			if strings.Join(got, " ") != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestOccupantMemory reports the heap an occupant costs (N joins), all
// the room and the module keep of it: the record, the room's maps, the
// session's link (its sessions tell their backlog, as a client's do) and
// the module's note of the session's rooms.
func TestOccupantMemory(t *testing.T) {
	const n = 500
	m, env := newTestModule(t, Config{MaxOccupants: n})
	room := "room@conference.localhost"
	sessions := make([]*fakeSession, n)
	for i := range n {
		sessions[i] = &fakeSession{full: jid.MustParse(fmt.Sprintf("u%d@localhost/r", i))}
	}
	// the join stanza is made in the count: what the room keeps of it
	// (the nick is a part of its 'to') is the occupant's
	join := func(i int) {
		m.presence(&mod.Ctx{Env: env, From: sessions[i]}, presenceTo(sessions[i].full.String(), fmt.Sprintf("%s/u%d", room, i)))
	}
	join(0)
	if _, err := m.iq(&mod.Ctx{Env: env}, stanza.MustParse([]byte("<iq type='set' id='c' from='u0@localhost/r' to='"+room+"'><query xmlns='"+NSOwner+"'><x xmlns='jabber:x:data' type='submit'/></query></iq>"))); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 1; i < n; i++ {
		join(i)
	}
	m.waitLists()
	runtime.GC()
	runtime.GC() // what the first one's sweep freed (the lists' last parts)
	runtime.ReadMemStats(&after)
	r := m.lookup(jid.MustParse(room))
	if len(r.occupants) != n || r.pace.linked != n {
		t.Fatalf("%d occupants, %d links, want %d", len(r.occupants), r.pace.linked, n)
	}
	per := float64(after.HeapAlloc-before.HeapAlloc) / (n - 1)
	t.Logf("%.0f bytes per occupant (%d joins)", per, n-1)
	if per > 2048 {
		t.Errorf("%.0f bytes per occupant, want at most 2 KiB", per)
	}
	runtime.KeepAlive(m)
	runtime.KeepAlive(sessions)
}

// BenchmarkFanout: one groupchat message to a room of 1,000 occupants:
// built once, archived once, one delivery per occupant.
func BenchmarkFanout(b *testing.B) {
	const n = 1000
	m, env := newTestModule(b, Config{MaxOccupants: n, MessageRate: 1e9, MessageBurst: 1 << 30})
	fill(b, m, env, n)
	ctx := &mod.Ctx{Env: env}
	msg := stanza.MustParse([]byte("<message from='u1@localhost/r' to='room@conference.localhost' type='groupchat' id='x'><body>hello everyone</body></message>"))
	env.sent.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		m.message(ctx, msg)
	}
	el := time.Since(start)
	b.ReportMetric(float64(env.sent.Load())/el.Seconds(), "deliveries/s")
	if env.sent.Load() != int64(b.N*n) {
		b.Fatalf("%d deliveries, want %d", env.sent.Load(), b.N*n)
	}
}
