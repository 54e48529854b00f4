package blocking

import (
	"strings"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/mod/modtest"
	"ignis/stanza"
	"ignis/store"
)

func TestSetBlocks(t *testing.T) {
	s := newSet([]string{"eve@localhost", "bob@localhost/phone", "spam.example", "localhost/bot"})
	for _, tc := range []struct {
		name string
		from string
		want bool
	}{
		{name: "bare item, bare from", from: "eve@localhost", want: true},
		{name: "bare item, full from", from: "eve@localhost/home", want: true},
		{name: "full item, same resource", from: "bob@localhost/phone", want: true},
		{name: "full item, other resource", from: "bob@localhost/laptop", want: false},
		{name: "full item, bare from", from: "bob@localhost", want: false},
		{name: "domain item, user there", from: "x@spam.example/r", want: true},
		{name: "domain item, the domain", from: "spam.example", want: true},
		{name: "domain item, subdomain", from: "a@sub.spam.example", want: false},
		{name: "domain/resource item", from: "localhost/bot", want: true},
		{name: "domain/resource item, user with that resource", from: "carol@localhost/bot", want: false},
		{name: "domain/resource item, other resource", from: "localhost/other", want: false},
		{name: "unrelated", from: "carol@localhost", want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.blocks(jid.MustParse(tc.from)); got != tc.want {
				t.Fatalf("blocks(%s) = %v, want %v", tc.from, got, tc.want)
			}
		})
	}
	if emptySet.blocks(jid.MustParse("eve@localhost")) {
		t.Fatal("the empty set blocks")
	}
}

func TestSetWith(t *testing.T) {
	s := newSet([]string{"b@x", "d@x"}).with([]string{"a@x", "c@x"}, []string{"d@x"}, false)
	if got := strings.Join(s.sorted, " "); got != "a@x b@x c@x" {
		t.Fatalf("with: %s", got)
	}
	if s.with(nil, nil, true) != emptySet {
		t.Fatal("with all did not empty")
	}
}

func newTestModule(t *testing.T) (*Module, *store.DB) {
	t.Helper()
	h, db := modtest.Handle(t, "blocking")
	return New(h), db
}

func TestFilter(t *testing.T) {
	m, db := newTestModule(t)
	if err := db.Blocklist().Block("alice", []string{"eve@localhost"}); err != nil {
		t.Fatal(err)
	}
	m = New(m.h) // started with the list on disk (written past the module, it would be unknown to it)
	alice := jid.MustParse("alice@localhost")
	aliceRes := modtest.Resource{J: jid.MustParse("alice@localhost/home")}
	env := &modtest.Env{}
	fromSession := &mod.Ctx{Env: env, From: aliceRes}
	fromServer := &mod.Ctx{Env: env}
	for _, tc := range []struct {
		name     string
		ctx      *mod.Ctx
		dir      mod.Direction
		user     jid.JID
		xml      string
		want     mod.Verdict
		wantCond stanza.Condition
		wantSent string
	}{
		{name: "in/message from blocked", ctx: fromServer, dir: mod.Inbound, user: alice,
			xml: "<message from='eve@localhost/x' to='alice@localhost/home'><body>hi</body></message>", want: mod.Bounce, wantCond: stanza.ServiceUnavailable},
		{name: "in/presence from blocked", ctx: fromServer, dir: mod.Inbound, user: alice,
			xml: "<presence from='eve@localhost/x' to='alice@localhost'/>", want: mod.Drop},
		{name: "in/iq get from blocked", ctx: fromServer, dir: mod.Inbound, user: alice,
			xml: "<iq type='get' id='1' from='eve@localhost/x' to='alice@localhost/home'><q xmlns='x'/></iq>", want: mod.Bounce, wantCond: stanza.ServiceUnavailable},
		{name: "in/iq result from blocked", ctx: fromServer, dir: mod.Inbound, user: alice,
			xml: "<iq type='result' id='1' from='eve@localhost/x' to='alice@localhost/home'/>", want: mod.Drop},
		{name: "in/server-made error from blocked passes", ctx: fromServer, dir: mod.Inbound, user: alice,
			xml: "<message type='error' from='eve@localhost' to='alice@localhost/home'/>", want: mod.Pass},
		{name: "in/message from other", ctx: fromServer, dir: mod.Inbound, user: alice,
			xml: "<message from='bob@localhost/x' to='alice@localhost/home'/>", want: mod.Pass},
		{name: "in/to blocked, from blocker's broadcast", ctx: fromServer, dir: mod.Inbound, user: jid.MustParse("eve@localhost"),
			xml: "<presence from='alice@localhost/home' to='eve@localhost/x'/>", want: mod.Drop},
		{name: "in/to blocked, blocker's unavailable passes", ctx: fromServer, dir: mod.Inbound, user: jid.MustParse("eve@localhost"),
			xml: "<presence type='unavailable' from='alice@localhost/home' to='eve@localhost/x'/>", want: mod.Pass},
		{name: "out/message to blocked", ctx: fromSession, dir: mod.Outbound, user: alice,
			xml: "<message id='m1' from='alice@localhost/home' to='eve@localhost'><body>hi</body></message>", want: mod.Drop,
			wantSent: "<message type='error' id='m1' from='eve@localhost' to='alice@localhost/home'><error type='cancel'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><blocked xmlns='urn:xmpp:blocking:errors'/></error></message>"},
		{name: "out/presence to blocked", ctx: fromSession, dir: mod.Outbound, user: alice,
			xml: "<presence from='alice@localhost/home' to='eve@localhost'/>", want: mod.Drop},
		{name: "out/message to other", ctx: fromSession, dir: mod.Outbound, user: alice,
			xml: "<message from='alice@localhost/home' to='bob@localhost'/>", want: mod.Pass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env.Reset()
			v, e := m.filter(tc.ctx, stanza.MustParse([]byte(tc.xml)), tc.dir, tc.user)
			if v != tc.want {
				t.Fatalf("verdict %d, want %d", v, tc.want)
			}
			if tc.wantCond != 0 && (e == nil || e.Cond != tc.wantCond) {
				t.Fatalf("error %v, want %s", e, tc.wantCond)
			}
			var sent string
			all := env.Sent()
			if len(all) == 1 {
				sent = string(all[0].Bytes())
			}
			if len(all) > 1 || sent != tc.wantSent {
				t.Fatalf("sent %d stanzas (%q), want %q", len(all), sent, tc.wantSent)
			}
		})
	}
}

func TestFilterEmptyListAllocs(t *testing.T) {
	m, _ := newTestModule(t)
	env := &modtest.Env{}
	ctx := &mod.Ctx{Env: env}
	st := stanza.MustParse([]byte("<message from='bob@localhost/x' to='alice@localhost/home'><body>hi</body></message>"))
	alice := jid.MustParse("alice@localhost")
	m.filter(ctx, st, mod.Inbound, alice) // loads both users' (empty) lists
	if n := testing.AllocsPerRun(100, func() {
		if v, _ := m.filter(ctx, st, mod.Inbound, alice); v != mod.Pass {
			t.Fatal("not passed")
		}
	}); n != 0 {
		t.Fatalf("%v allocations per filtered stanza, want 0", n)
	}
}

func TestBlockPushesAndPersists(t *testing.T) {
	m, db := newTestModule(t)
	if _, err := db.Roster().Put("alice", store.RosterItem{JID: "eve@localhost", Sub: store.SubFrom}); err != nil {
		t.Fatal(err)
	}
	home, phone := modtest.Resource{J: jid.MustParse("alice@localhost/home")}, modtest.Resource{J: jid.MustParse("alice@localhost/phone")}
	env := &modtest.Env{Res: map[string][]mod.Resource{"alice@localhost": {home, phone}}, Signal: make(chan struct{}, 16)}
	ctx := &mod.Ctx{Env: env, From: home, Target: jid.MustParse("alice@localhost")}
	iq := stanza.MustParse([]byte("<iq type='set' id='b1' from='alice@localhost/home'><block xmlns='urn:xmpp:blocking'><item jid='Eve@LocalHost'/></block></iq>"))
	m.lookup("alice")
	reply, err := m.block(ctx, iq)
	if reply != nil || err != nil {
		t.Fatalf("block answered at once: %v %v", reply, err)
	}
	// wait for the result, two pushes and the unavailable presences to eve (two resources)
	env.Wait(t, 5)
	got := map[string]int{}
	for _, st := range env.Sent() {
		switch {
		case st.Kind == stanza.IQ && st.Type == stanza.Result && st.ID == "b1":
			got["result"]++
		case st.Kind == stanza.IQ && st.Type == stanza.Set && strings.Contains(string(st.Bytes()), "<item jid='eve@localhost'/>"):
			got["push"]++
		case st.Kind == stanza.Presence && st.Type == stanza.Unavailable && st.To.String() == "eve@localhost":
			got["unavailable"]++
		}
	}
	if got["result"] != 1 || got["push"] != 2 || got["unavailable"] != 2 {
		t.Fatalf("sent %v", got)
	}
	if l, _ := db.Blocklist().Get("alice"); len(l) != 1 || l[0] != "eve@localhost" {
		t.Fatalf("stored %v", l)
	}
	if !m.lookup("alice").blocks(jid.MustParse("eve@localhost/x")) {
		t.Fatal("cache not updated")
	}
	if _, err := m.block(&mod.Ctx{Env: env, From: modtest.Resource{J: jid.MustParse("bob@localhost/x")}, Target: jid.MustParse("alice@localhost")}, iq); err == nil {
		t.Fatal("bob changed alice's blocklist")
	}
}
