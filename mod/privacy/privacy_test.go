package privacy

import (
	"errors"
	"strings"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/mod/modtest"
	"ignis/stanza"
	"ignis/store"
)

func newTest(t *testing.T) (*Module, *store.DB) {
	t.Helper()
	h, db := modtest.Handle(t, "privacy")
	return New(h), db
}

func TestJIDMatches(t *testing.T) {
	for _, tc := range []struct {
		value, j string
		want     bool
	}{
		{"juliet@example.com/balcony", "juliet@example.com/balcony", true},
		{"juliet@example.com/balcony", "juliet@example.com/garden", false},
		{"juliet@example.com", "juliet@example.com/garden", true},
		{"juliet@example.com", "juliet@example.com", true},
		{"example.com/bot", "example.com/bot", true},
		{"example.com/bot", "juliet@example.com/bot", false},
		{"example.com", "juliet@example.com/balcony", true},
		{"example.com", "example.com", true},
		{"example.com", "juliet@example.org", false},
	} {
		t.Run(tc.value+"~"+tc.j, func(t *testing.T) {
			if got := jidMatches(tc.value, jid.MustParse(tc.j)); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func parseList(t *testing.T, xml string) ([]store.PrivacyItem, error) {
	t.Helper()
	iq := stanza.MustParse([]byte("<iq type='set' id='x'><query xmlns='jabber:iq:privacy'>" + xml + "</query></iq>"))
	return parseItems(iq.Payload().Child("list", NS))
}

func TestParseItems(t *testing.T) {
	items, err := parseList(t, "<list name='l'>"+
		"<item action='allow' order='20'/>"+
		"<item type='jid' value='Eve@LocalHost' action='deny' order='3'><message/><presence-in/></item>"+
		"<item type='subscription' value='both' action='allow' order='10'/>"+
		"</list>")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 || items[0].Value != "eve@localhost" || items[0].Stanzas != store.PrivacyMessage|store.PrivacyPresenceIn ||
		items[1].Type != store.PrivacySubscription || !items[2].Allow || items[2].Type != store.PrivacyFallThrough {
		t.Fatalf("items %+v", items)
	}
	for _, bad := range []string{
		"<list name='l'><item action='allow'/></list>",           // no order
		"<list name='l'><item action='maybe' order='1'/></list>", // bad action
		"<list name='l'><item type='color' value='x' action='deny' order='1'/></list>",
		"<list name='l'><item type='jid' action='deny' order='1'/></list>", // no value
		"<list name='l'><item type='subscription' value='some' action='deny' order='1'/></list>",
		"<list name='l'><item action='deny' order='1'><pizza/></item></list>",
		"<list name='l'><item action='deny' order='1'/><item action='allow' order='1'/></list>",
		"<list name='l'><item action='deny' order='-1'/></list>",
	} {
		if _, err := parseList(t, bad); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// TestDenies runs lists against stanzas: first match decides, kinds select
// items, groups and subscriptions come from the roster and shared groups.
func TestDenies(t *testing.T) {
	m, db := newTest(t)
	if _, err := db.Roster().Put("alice", store.RosterItem{JID: "bob@localhost", Groups: []string{"Friends"}, Sub: store.SubBoth}); err != nil {
		t.Fatal(err)
	}
	g := db.Groups()
	for _, err := range []error{g.Create("staff", "Staff"), g.AddMember("staff", "alice"), g.AddMember("staff", "carol")} {
		if err != nil {
			t.Fatal(err)
		}
	}
	list := func(xml string) store.PrivacyList {
		items, err := parseList(t, "<list name='l'>"+xml+"</list>")
		if err != nil {
			t.Fatal(err)
		}
		return store.PrivacyList{Name: "l", Items: items}
	}
	for _, tc := range []struct {
		name  string
		list  string
		kind  store.PrivacyStanzas
		other string
		deny  bool
	}{
		{"no items", "", store.PrivacyMessage, "eve@localhost", false},
		{"deny jid, message", "<item type='jid' value='eve@localhost' action='deny' order='1'/>", store.PrivacyMessage, "eve@localhost/x", true},
		{"deny jid, other jid", "<item type='jid' value='eve@localhost' action='deny' order='1'/>", store.PrivacyMessage, "bob@localhost/x", false},
		{"deny messages only, iq passes", "<item type='jid' value='eve@localhost' action='deny' order='1'><message/></item>", store.PrivacyIQ, "eve@localhost", false},
		{"deny messages only, message", "<item type='jid' value='eve@localhost' action='deny' order='1'><message/></item>", store.PrivacyMessage, "eve@localhost", true},
		{"specific item skipped for kind 0", "<item action='deny' order='1'><presence-out/></item>", 0, "eve@localhost", false},
		{"order decides", "<item action='deny' order='2'/><item type='jid' value='eve@localhost' action='allow' order='1'/>", store.PrivacyMessage, "eve@localhost", false},
		{"group from roster", "<item type='group' value='Friends' action='deny' order='1'/>", store.PrivacyMessage, "bob@localhost", true},
		{"group, not in it", "<item type='group' value='Friends' action='deny' order='1'/>", store.PrivacyMessage, "eve@localhost", false},
		{"group from shared group", "<item type='group' value='Staff' action='deny' order='1'/>", store.PrivacyMessage, "carol@localhost/r", true},
		{"subscription both", "<item type='subscription' value='both' action='deny' order='1'/>", store.PrivacyMessage, "bob@localhost", true},
		{"subscription none, stranger", "<item type='subscription' value='none' action='deny' order='1'/>", store.PrivacyMessage, "eve@localhost", true},
		{"subscription none, contact", "<item type='subscription' value='none' action='deny' order='1'/>", store.PrivacyMessage, "bob@localhost", false},
		{"subscription both, shared group", "<item type='subscription' value='both' action='deny' order='1'/>", store.PrivacyMessage, "carol@localhost", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.denies("alice", list(tc.list), tc.kind, jid.MustParse(tc.other)); got != tc.deny {
				t.Fatalf("denies = %v, want %v", got, tc.deny)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	m, db := newTest(t)
	items, err := parseList(t, "<list name='block-eve'><item type='jid' value='eve@localhost' action='deny' order='1'><message/><presence-out/></item></list>")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Privacy().PutList("alice", store.PrivacyList{Name: "block-eve", Items: items}); err != nil {
		t.Fatal(err)
	}
	if err := db.Privacy().SetDefault("alice", "block-eve"); err != nil {
		t.Fatal(err)
	}
	m = New(m.h) // started with the lists on disk (written past the module, they would be unknown to it)
	home := &modtest.Resource{J: jid.MustParse("alice@localhost/home")}
	env := &modtest.Env{Res: map[string][]mod.Resource{"alice@localhost": {home}}}
	srv, sess := &mod.Ctx{Env: env}, &mod.Ctx{Env: env, From: home}
	for _, tc := range []struct {
		name string
		ctx  *mod.Ctx
		dir  mod.Direction
		user string
		xml  string
		want mod.Verdict
		cond stanza.Condition
	}{
		{"in/message from denied", srv, mod.Inbound, "alice@localhost", "<message from='eve@localhost/x' to='alice@localhost/home'/>", mod.Bounce, stanza.ServiceUnavailable},
		{"in/iq from denied passes (messages only)", srv, mod.Inbound, "alice@localhost", "<iq type='get' id='1' from='eve@localhost/x' to='alice@localhost/home'><q xmlns='x'/></iq>", mod.Pass, 0},
		{"in/presence from denied passes (no presence-in)", srv, mod.Inbound, "alice@localhost", "<presence from='eve@localhost/x' to='alice@localhost/home'/>", mod.Pass, 0},
		{"in/server-made error passes", srv, mod.Inbound, "alice@localhost", "<message type='error' from='eve@localhost' to='alice@localhost/home'/>", mod.Pass, 0},
		{"in/eve gets no broadcast from alice", srv, mod.Inbound, "eve@localhost", "<presence from='alice@localhost/home' to='eve@localhost/x'/>", mod.Drop, 0},
		{"in/eve gets alice's messages", srv, mod.Inbound, "eve@localhost", "<message from='alice@localhost/home' to='eve@localhost/x'/>", mod.Pass, 0},
		{"out/directed presence to denied", sess, mod.Outbound, "alice@localhost", "<presence from='alice@localhost/home' to='eve@localhost'/>", mod.Drop, 0},
		{"out/message to denied passes (incoming only)", sess, mod.Outbound, "alice@localhost", "<message from='alice@localhost/home' to='eve@localhost'/>", mod.Pass, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, e := m.filter(tc.ctx, stanza.MustParse([]byte(tc.xml)), tc.dir, jid.MustParse(tc.user))
			if v != tc.want || (tc.cond != 0 && (e == nil || e.Cond != tc.cond)) {
				t.Fatalf("verdict %d %v, want %d %s", v, e, tc.want, tc.cond)
			}
		})
	}
}

func TestFilterNoListsAllocs(t *testing.T) {
	m, _ := newTest(t)
	env := &modtest.Env{}
	ctx := &mod.Ctx{Env: env}
	st := stanza.MustParse([]byte("<presence from='bob@localhost/x' to='alice@localhost/home'/>"))
	alice := jid.MustParse("alice@localhost")
	m.filter(ctx, st, mod.Inbound, alice)
	if n := testing.AllocsPerRun(100, func() {
		if v, _ := m.filter(ctx, st, mod.Inbound, alice); v != mod.Pass {
			t.Fatal("not passed")
		}
	}); n != 0 {
		t.Fatalf("%v allocations per stanza, want 0", n)
	}
}

// TestIQ drives the protocol: set lists, default and active, conflicts,
// pushes, removal.
func TestIQ(t *testing.T) {
	m, _ := newTest(t)
	home, phone := &modtest.Resource{J: jid.MustParse("alice@localhost/home")}, &modtest.Resource{J: jid.MustParse("alice@localhost/phone")}
	env := &modtest.Env{Res: map[string][]mod.Resource{"alice@localhost": {home, phone}}, Signal: make(chan struct{}, 64)}
	target := jid.MustParse("alice@localhost")
	call := func(from *modtest.Resource, typ, query string) (*stanza.Stanza, error) {
		t.Helper()
		iq := stanza.MustParse([]byte("<iq type='" + typ + "' id='q' from='" + from.J.String() + "'><query xmlns='jabber:iq:privacy'>" + query + "</query></iq>"))
		h := m.get
		if typ == "set" {
			h = m.set
		}
		env.Reset()
		reply, err := h(&mod.Ctx{Env: env, From: from, Target: target}, iq)
		if reply == nil && err == nil {
			// stored asynchronously: the result, then maybe pushes
			env.Wait(t, 1)
			reply = env.Sent()[0]
		}
		return reply, err
	}
	wantCond := func(err error, c stanza.Condition) {
		t.Helper()
		var se *stanza.Error
		if !errors.As(err, &se) || se.Cond != c {
			t.Fatalf("err %v, want %s", err, c)
		}
	}

	if r, err := call(home, "set", "<list name='a'><item type='jid' value='eve@localhost' action='deny' order='1'/></list>"); err != nil || r.Type != stanza.Result {
		t.Fatalf("set list: %v %v", r, err)
	}
	env.Wait(t, 2) // pushes to both resources
	if _, err := call(home, "set", "<list name='b'><item action='allow' order='1'/></list>"); err != nil {
		t.Fatal(err)
	}
	env.Wait(t, 2)
	r, err := call(home, "get", "<list name='a'/>")
	if err != nil || !strings.Contains(string(r.Bytes()), "<list name='a'><item type='jid' value='eve@localhost' action='deny' order='1'/></list>") {
		t.Fatalf("get list: %v %v", r, err)
	}
	_, err = call(home, "get", "<list name='nope'/>")
	wantCond(err, stanza.ItemNotFound)
	_, err = call(home, "get", "<list name='a'/><list name='b'/>")
	wantCond(err, stanza.BadRequest)

	// phone makes b active; home has none, so the default is in use by home
	if _, err := call(phone, "set", "<active name='b'/>"); err != nil {
		t.Fatal(err)
	}
	_, err = call(phone, "set", "<active name='nope'/>")
	wantCond(err, stanza.ItemNotFound)
	_, err = call(phone, "set", "<default name='a'/>")
	wantCond(err, stanza.Conflict)
	if r, err := call(home, "set", "<default name='a'/>"); err != nil || r.Type != stanza.Result {
		t.Fatalf("home sets the default: %v %v", r, err)
	}
	r, err = call(phone, "get", "")
	if err != nil || !strings.Contains(string(r.Bytes()), "<active name='b'/><default name='a'/><list name='a'/><list name='b'/>") {
		t.Fatalf("names: %v %v", r, err)
	}
	// b is phone's active list: home cannot remove it; a is home's default:
	// phone cannot remove it either
	_, err = call(home, "set", "<list name='b'/>")
	wantCond(err, stanza.Conflict)
	_, err = call(phone, "set", "<list name='a'/>")
	wantCond(err, stanza.Conflict)
	if r, err := call(home, "set", "<list name='a'/>"); err != nil || r.Type != stanza.Result {
		t.Fatalf("removing the default: %v %v", r, err)
	}
	env.Wait(t, 2)
	if l := m.lookup("alice"); l.def != "" || len(l.named) != 1 {
		t.Fatalf("after removal: %+v", l)
	}
	_, err = call(&modtest.Resource{J: jid.MustParse("bob@localhost/x")}, "get", "")
	wantCond(err, stanza.ServiceUnavailable)
}
