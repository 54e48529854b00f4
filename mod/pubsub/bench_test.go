package pubsub

import (
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

type fakeRes struct{ j jid.JID }

func (r fakeRes) JID() jid.JID                                   { return r.j }
func (r fakeRes) Available() bool                                { return true }
func (r fakeRes) Priority() int8                                 { return 0 }
func (r fakeRes) LastPresence() *stanza.Stanza                   { return nil }
func (r fakeRes) Offer(*stanza.Stanza) bool                      { return true }
func (r fakeRes) OfferConfirmed(*stanza.Stanza, func(bool)) bool { return true }
func (r fakeRes) Close(*stanza.StreamError)                      {}

// fakeEnv has one resource per bare JID and counts what is sent.
type fakeEnv struct {
	res  map[string]fakeRes
	sent int
}

func (e *fakeEnv) Send(*stanza.Stanza) { e.sent++ }
func (e *fakeEnv) Resources(bare jid.JID, fn func(mod.Resource) bool) {
	if r, ok := e.res[bare.String()]; ok {
		fn(r)
	}
}
func (e *fakeEnv) Domain() jid.JID                     { return jid.MustParse("localhost") }
func (e *fakeEnv) IsLocal(d jid.JID) bool              { return d.Domain() == "localhost" }
func (e *fakeEnv) Lookup(jid.JID) mod.Resource         { return nil }
func (e *fakeEnv) Resend(mod.Resource, *stanza.Stanza) {}
func (e *fakeEnv) SendTo(jid.JID, *stanza.Stanza)      { e.sent++ }

func newBenchModule(tb testing.TB) (*Module, *store.DB) {
	db, err := store.Open(&store.Options{FS: vfs.NewMem(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return New(mod.NewHandle("pubsub", db, jid.MustParse("localhost"), slog.New(slog.DiscardHandler)), Config{}), db
}

// BenchmarkNotifyFanout: one PEP publish notified to N contacts (each one
// available resource with +notify for the node, the owner's roster held in
// the cache as it is while the owner is online). Per op: one publish's
// whole fan-out.
func BenchmarkNotifyFanout(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run("contacts="+strconv.Itoa(n), func(b *testing.B) {
			m, db := newBenchModule(b)
			env := &fakeEnv{res: map[string]fakeRes{}}
			f := &capsFeatures{notify: []string{avatarNode}}
			for i := range n {
				c := "c" + strconv.Itoa(i) + "@localhost"
				if _, err := db.Roster().Put("alice", store.RosterItem{JID: c, Sub: store.SubBoth}); err != nil {
					b.Fatal(err)
				}
				full := jid.MustParse(c + "/r")
				env.res[c] = fakeRes{full}
				m.caps.byRes[full.String()] = &resCaps{ver: "v", f: f}
			}
			db.Roster().Hold("alice")
			sp := m.pepSpace(jid.MustParse("alice@localhost"))
			node := m.defaultNode(sp, avatarNode)
			item := store.PubsubItem{ID: "abc", XML: []byte("<metadata xmlns='urn:xmpp:avatar:metadata'><info id='abc' bytes='1000' type='image/png'/></metadata>")}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				m.notifyItem(env, sp, &node, item)
			}
			b.StopTimer()
			if env.sent != b.N*n {
				b.Fatalf("sent %d notifications, want %d", env.sent, b.N*n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/notification")
		})
	}
}

const avatarNode = "urn:xmpp:avatar:metadata"

// BenchmarkCapsMemory: heap held per available resource's caps record
// (sharing one verified entry) and per distinct verified entry (a typical
// client's 12 +notify nodes).
func BenchmarkCapsMemory(b *testing.B) {
	const k = 10000
	nodes := []string{"eu.siacs.conversations.axolotl.devicelist", "urn:xmpp:avatar:metadata", "urn:xmpp:avatar:data",
		"urn:xmpp:bookmarks:1", "storage:bookmarks", "http://jabber.org/protocol/nick", "http://jabber.org/protocol/tune",
		"http://jabber.org/protocol/mood", "http://jabber.org/protocol/activity", "urn:xmpp:omemo:2:devices",
		"urn:xmpp:mam:2", "http://jabber.org/protocol/geoloc"}
	fulls := make([]jid.JID, k)
	for i := range fulls {
		fulls[i] = jid.MustParse("user" + strconv.Itoa(i) + "@localhost/res")
	}
	for range b.N {
		var c caps
		c.init(k)
		shared := &capsFeatures{notify: nodes}
		before := heap()
		for _, j := range fulls {
			c.byRes[j.String()] = &resCaps{ver: "QgayPKawpkPSDYmwT/WM94uAlu0=", f: shared}
		}
		mid := heap()
		for i := range k {
			f := &capsFeatures{notify: make([]string, len(nodes))}
			for j, n := range nodes {
				f.notify[j] = string(append([]byte(nil), n...)) // each answer's own strings
			}
			c.store("ver"+strconv.Itoa(i)+"xxxxxxxxxxxxxxxxxxxxxx", f)
		}
		after := heap()
		b.ReportMetric(float64(mid-before)/k, "B/resource")
		b.ReportMetric(float64(after-mid)/k, "B/caps-entry")
		runtime.KeepAlive(&c)
	}
}

func heap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkItemMemory: what one stored PEP item costs the server's memory.
// users each publish one item (an avatar metadata, 120 B) to each of
// nodes nodes through the module, on a store in a real folder as the
// server runs it; per item: the Go heap held after a GC, and the process's
// RSS growth (Pebble's memtable and caches included, the pages of its files
// not). Items live in Pebble, not in Go maps, so the heap figure is what a
// node and its item leave in memory beyond the store.
func BenchmarkItemMemory(b *testing.B) {
	const users, nodes = 1000, 10
	for range b.N {
		b.StopTimer()
		db, err := store.Open(&store.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		m := New(mod.NewHandle("pubsub", db, jid.MustParse("localhost"), slog.New(slog.DiscardHandler)), Config{})
		env := &fakeEnv{res: map[string]fakeRes{}}
		iqs := make([]*stanza.Stanza, 0, users*nodes)
		for u := range users {
			for n := range nodes {
				iqs = append(iqs, stanza.MustParse([]byte("<iq type='set' id='p' from='user"+strconv.Itoa(u)+"@localhost/r'>"+
					"<pubsub xmlns='"+NS+"'><publish node='urn:test:"+strconv.Itoa(n)+"'><item id='current'>"+
					"<metadata xmlns='urn:xmpp:avatar:metadata'><info id='"+strconv.Itoa(u*nodes+n)+"' bytes='12345' type='image/png'/></metadata>"+
					"</item></publish></pubsub></iq>")))
			}
		}
		heap0, rss0 := heap(), rss(b)
		b.StartTimer()
		for _, iq := range iqs {
			if _, err := m.handle(env, m.pepSpace(iq.From.Bare()), iq); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		heap1, rss1 := heap(), rss(b)
		k := float64(users * nodes)
		b.ReportMetric((float64(heap1)-float64(heap0))/k, "heap-B/item")
		b.ReportMetric(float64(rss1-rss0)/k, "rss-B/item")
		runtime.KeepAlive(iqs)
		db.Close()
	}
}

// rss is the process's resident set, from /proc/self/statm (Linux).
func rss(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		tb.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
