package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
	"ignis/store"
)

// rosterConn is a raw client that reads whole top-level elements, keeping
// what arrives after the one asked for.
type rosterConn struct {
	t    *testing.T
	name string
	c    net.Conn
	buf  []byte
	n    int // ids
}

func rosterLogin(t *testing.T, env *servertest.Env, user, resource string) *rosterConn {
	t.Helper()
	return &rosterConn{t: t, name: user + "/" + resource, c: rawLogin(t, env, user, "pw", resource)}
}

func (r *rosterConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("%s: send: %v", r.name, err)
	}
}

// next returns the next whole element the server sent.
func (r *rosterConn) next() string {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	chunk := make([]byte, 4096)
	for {
		if el, rest, ok := firstElement(r.buf); ok {
			r.buf = rest
			return el
		}
		n, err := r.c.Read(chunk)
		r.buf = append(r.buf, chunk[:n]...)
		if err != nil {
			r.t.Fatalf("%s: waiting for an element: %v (have %q)", r.name, err, r.buf)
		}
	}
}

// firstElement splits the first complete element off b.
func firstElement(b []byte) (el string, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '<')
	if i < 0 {
		return "", b, false
	}
	d := xml.NewDecoder(bytes.NewReader(b[i:]))
	depth := 0
	for {
		tok, err := d.RawToken()
		if err != nil {
			return "", b, false
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
		if depth == 0 {
			end := i + int(d.InputOffset())
			return string(b[i:end]), b[end:], true
		}
	}
}

// until reads elements up to the first containing every string of want and
// returns the ones before it and it.
func (r *rosterConn) until(want ...string) (before []string, got string) {
	r.t.Helper()
	for {
		el := r.next()
		match := true
		for _, w := range want {
			if !strings.Contains(el, w) {
				match = false
				break
			}
		}
		if match {
			return before, el
		}
		before = append(before, el)
	}
}

// iq sends an iq with a fresh id and returns everything received before its
// answer, and the answer.
func (r *rosterConn) iq(typ, to, payload string) (before []string, answer string) {
	r.t.Helper()
	r.n++
	id := r.name + "-" + strconv.Itoa(r.n)
	if to != "" {
		to = " to='" + to + "'"
	}
	r.send("<iq type='" + typ + "' id='" + id + "'" + to + ">" + payload + "</iq>")
	return r.until("<iq", "id='"+id+"'")
}

// sync returns what arrived up to now: a ping's answer comes after
// everything already queued for the session.
func (r *rosterConn) sync() []string {
	r.t.Helper()
	before, _ := r.iq("get", "localhost", "<ping xmlns='urn:xmpp:ping'/>")
	return before
}

// commitBarrier is sync for stored changes: a roster set's answer is sent
// after its commit, and commits report in order, so whatever an earlier
// subscription stanza from this session caused has been delivered.
func (r *rosterConn) commitBarrier() []string {
	r.t.Helper()
	before, ans := r.iq("set", "", "<query xmlns='jabber:iq:roster'><item jid='barrier@localhost'/></query>")
	if !strings.Contains(ans, "type='result'") {
		r.t.Fatalf("%s: barrier roster set: %s", r.name, ans)
	}
	return before
}

func addUsers(env *servertest.Env, users ...string) {
	for _, u := range users {
		env.AddUser(u, "pw")
	}
}

// subState names an item's state as RFC 6121 Appendix A does.
func subState(it store.RosterItem, found bool) string {
	if !found {
		return "None"
	}
	s := map[store.Subscription]string{store.SubNone: "None", store.SubTo: "To", store.SubFrom: "From", store.SubBoth: "Both"}[it.Sub]
	switch {
	case it.Ask && it.PendingIn != nil:
		s += "+PendingOut+In"
	case it.Ask:
		s += "+PendingOut"
	case it.PendingIn != nil:
		s += "+PendingIn"
	}
	return s
}

func stateItem(contact, state string) (store.RosterItem, bool) {
	it := store.RosterItem{JID: contact}
	base, rest, _ := strings.Cut(state, "+")
	switch base {
	case "None":
		if rest == "" {
			return it, false
		}
	case "To":
		it.Sub = store.SubTo
	case "From":
		it.Sub = store.SubFrom
	case "Both":
		it.Sub = store.SubBoth
	}
	switch rest {
	case "PendingOut":
		it.Ask = true
	case "PendingIn":
		it.PendingIn = []byte("<presence from='" + contact + "' type='subscribe'/>")
	case "PendingOut+In":
		it.Ask, it.PendingIn = true, []byte("<presence from='"+contact+"' type='subscribe'/>")
	}
	return it, true
}

var appendixStates = []string{"None", "None+PendingOut", "None+PendingIn", "None+PendingOut+In", "To", "To+PendingIn", "From", "From+PendingOut", "Both"}

// TestSubscriptionStateTables drives every row of RFC 6121 Appendix A.2
// (the user's server, outbound) and A.3 (the contact's server, inbound)
// over real sockets: romeo sends the subscription stanza to juliet, and the
// test checks the new state of the side under test (from the store) and
// whether juliet's client received the stanza.
func TestSubscriptionStateTables(t *testing.T) {
	env := servertest.Start(t)
	addUsers(env, "romeo", "juliet")
	romeo, juliet := rosterLogin(t, env, "romeo", "orchard"), rosterLogin(t, env, "juliet", "balcony")
	for _, c := range []*rosterConn{romeo, juliet} {
		c.send("<presence/>")
		c.until("<presence")
	}
	db := env.Srv.DB().Roster()
	set := func(user, contact, state string) {
		t.Helper()
		it, ok := stateItem(contact, state)
		var err error
		if ok {
			_, err = db.Put(user, it)
		} else {
			_, err = db.Delete(user, contact)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	get := func(user, contact string) string {
		t.Helper()
		it, err := db.Get(user, contact)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return subState(it, err == nil)
	}
	// Each row: the new state ("" = no state change) and whether the
	// stanza goes on (routed for A.2, delivered for A.3).
	type row struct {
		next string
		pass bool
	}
	tables := []struct {
		name    string
		typ     string
		inbound bool
		other   string // the state of the side not under test; chosen so that the stanza is routed (A.3) or shows whether it was (A.2)
		rows    [9]row
	}{
		{"A.2.1", "subscribe", false, "None", [9]row{
			{"None+PendingOut", true}, {"", true}, {"None+PendingOut+In", true}, {"", true},
			{"", true}, {"", true}, {"From+PendingOut", true}, {"", true}, {"", true}}},
		{"A.2.2", "unsubscribe", false, "From", [9]row{
			{"", true}, {"None", true}, {"", true}, {"None+PendingIn", true},
			{"None", true}, {"None+PendingIn", true}, {"", true}, {"From", true}, {"From", true}}},
		{"A.2.3", "subscribed", false, "None+PendingOut", [9]row{
			{"", false}, {"", false}, {"From", true}, {"From+PendingOut", true},
			{"", false}, {"Both", true}, {"", false}, {"", false}, {"", false}}},
		{"A.2.4", "unsubscribed", false, "None+PendingOut", [9]row{
			{"", false}, {"", false}, {"None", true}, {"None+PendingOut", true},
			{"", false}, {"To", true}, {"None", true}, {"None+PendingOut", true}, {"To", true}}},
		{"A.3.1", "subscribe", true, "None", [9]row{
			{"None+PendingIn", true}, {"None+PendingOut+In", true}, {"", false}, {"", false},
			{"To+PendingIn", true}, {"", false}, {"", false}, {"", false}, {"", false}}},
		{"A.3.2", "unsubscribe", true, "None", [9]row{
			{"", false}, {"", false}, {"None", true}, {"None+PendingOut", true},
			{"", false}, {"To", true}, {"None", true}, {"None+PendingOut", true}, {"To", true}}},
		{"A.3.3", "subscribed", true, "None+PendingIn", [9]row{
			{"", false}, {"To", true}, {"", false}, {"To+PendingIn", true},
			{"", false}, {"", false}, {"", false}, {"Both", true}, {"", false}}},
		{"A.3.4", "unsubscribed", true, "From", [9]row{
			{"", false}, {"None", true}, {"", false}, {"None+PendingIn", true},
			{"None", true}, {"None+PendingIn", true}, {"", false}, {"From", true}, {"From", true}}},
	}
	var golden strings.Builder
	for _, tb := range tables {
		for i, state := range appendixStates {
			t.Run(tb.name+"-"+tb.typ+"/"+state, func(t *testing.T) {
				romeoState, julietState := state, tb.other
				if tb.inbound {
					romeoState, julietState = tb.other, state
				}
				set("romeo", "juliet@localhost", romeoState)
				set("juliet", "romeo@localhost", julietState)
				romeo.send("<presence to='juliet@localhost' type='" + tb.typ + "'/>")
				romeoGot := romeo.commitBarrier()
				julietGot := juliet.sync()
				want := tb.rows[i]
				if want.next == "" {
					want.next = state
				}
				side, contact := "romeo", "juliet@localhost"
				if tb.inbound {
					side, contact = "juliet", "romeo@localhost"
				}
				transcript(&golden, tb.name+" "+tb.typ+" in "+state, romeoState, julietState, romeoGot, julietGot,
					get("romeo", "juliet@localhost"), get("juliet", "romeo@localhost"))
				if got := get(side, contact); got != want.next {
					t.Errorf("%s's state: %s, want %s", side, got, want.next)
				}
				delivered := false
				for _, el := range julietGot {
					if strings.HasPrefix(el, "<presence") && strings.Contains(el, "from='romeo@localhost'") && strings.Contains(el, "type='"+tb.typ+"'") {
						delivered = true
					}
				}
				if delivered != want.pass {
					t.Errorf("juliet received the %s: %v, want %v (got %q)", tb.typ, delivered, want.pass, julietGot)
				}
				// A.3.1 "*" rows: a subscriber's request is answered by the server
				if tb.inbound && tb.typ == "subscribe" && strings.HasPrefix(state, "From") || tb.inbound && tb.typ == "subscribe" && state == "Both" {
					answered := false
					for _, el := range romeoGot {
						answered = answered || strings.Contains(el, "from='juliet@localhost'") && strings.Contains(el, "type='subscribed'")
					}
					if !answered || get("romeo", "juliet@localhost") != "To" {
						t.Errorf("romeo got no automatic subscribed (got %q, state %s)", romeoGot, get("romeo", "juliet@localhost"))
					}
				}
			})
		}
	}
	checkGolden(t, "subscription_states.golden", golden.String())
}

// TestPreApproval: RFC 6121 §3.4. juliet pre-approves romeo, who is not in
// her roster; his later request is approved by the server without reaching
// her client, and he gets her presence.
func TestPreApproval(t *testing.T) {
	env := servertest.Start(t)
	addUsers(env, "romeo", "juliet")
	juliet := rosterLogin(t, env, "juliet", "balcony")
	if feats := rawFeatures(t, env); !strings.Contains(feats, "urn:xmpp:features:pre-approval") || !strings.Contains(feats, "urn:xmpp:features:rosterver") {
		t.Fatalf("stream features lack pre-approval or rosterver: %s", feats)
	}
	juliet.iq("get", "", "<query xmlns='jabber:iq:roster'/>")
	juliet.send("<presence/>")
	juliet.until("<presence")
	juliet.send("<presence to='romeo@localhost' type='subscribed'/>")
	if got := juliet.commitBarrier(); !containsAll(got, "<iq", "type='set'", "jid='romeo@localhost'", "approved='true'", "subscription='none'") {
		t.Fatalf("juliet got %q; want a roster push of the pre-approved item", got)
	}
	it, err := env.Srv.DB().Roster().Get("juliet", "romeo@localhost")
	if err != nil || !it.Approved || it.Sub != store.SubNone {
		t.Fatalf("juliet's item for romeo: %+v, %v; want pre-approved", it, err)
	}
	romeo := rosterLogin(t, env, "romeo", "orchard")
	romeo.send("<presence/>")
	romeo.until("<presence")
	romeo.send("<presence to='juliet@localhost' type='subscribe'/>")
	got := romeo.commitBarrier()
	if !containsAll(got, "from='juliet@localhost'", "type='subscribed'") || !containsAll(got, "from='juliet@localhost/balcony'") {
		t.Fatalf("romeo got %q; want subscribed and juliet's presence", got)
	}
	for _, el := range juliet.sync() {
		if strings.Contains(el, "type='subscribe'") {
			t.Fatalf("juliet's client got the pre-approved request: %s", el)
		}
	}
	if it, _ := env.Srv.DB().Roster().Get("juliet", "romeo@localhost"); it.Sub != store.SubFrom || it.Approved {
		t.Fatalf("juliet's item for romeo after the request: %+v", it)
	}
}

func containsAll(els []string, want ...string) bool {
	for _, el := range els {
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(el, w)
		}
		if ok {
			return true
		}
	}
	return false
}

// rawFeatures returns the stream features after authentication.
func rawFeatures(t *testing.T, env *servertest.Env) string {
	t.Helper()
	c := env.DialTLS()
	io.WriteString(c, header)
	readUntil(t, c, "</stream:features>")
	io.WriteString(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+
		base64.StdEncoding.EncodeToString([]byte("\x00juliet\x00pw"))+"</auth>")
	readUntil(t, c, "<success")
	io.WriteString(c, header)
	return readUntil(t, c, "</stream:features>")
}

// presenceFrom reports whether els hold a presence from from of type typ
// ("" for available).
func presenceFrom(els []string, from, typ string) bool {
	for _, el := range els {
		if !strings.HasPrefix(el, "<presence") || !strings.Contains(el, "from='"+from+"'") {
			continue
		}
		if typ == "" && !strings.Contains(el, "type=") || typ != "" && strings.Contains(el, "type='"+typ+"'") {
			return true
		}
	}
	return false
}

// TestRosterAndPresence: romeo and juliet subscribe to each other through
// their clients; roster pushes reach romeo's second resource; each sees the
// other come and go, also when a connection just drops; a request to an
// offline user waits for her next logins.
func TestRosterAndPresence(t *testing.T) {
	env := servertest.Start(t)
	addUsers(env, "romeo", "juliet", "benvolio")
	romeo := rosterLogin(t, env, "romeo", "orchard")
	garden := rosterLogin(t, env, "romeo", "garden")
	juliet := rosterLogin(t, env, "juliet", "balcony")
	for _, c := range []*rosterConn{romeo, garden, juliet} {
		_, ans := c.iq("get", "", "<query xmlns='jabber:iq:roster'/>")
		if !strings.Contains(ans, "type='result'") || !strings.Contains(ans, "jabber:iq:roster") || strings.Contains(ans, "<item") {
			t.Fatalf("%s: empty roster get: %s", c.name, ans)
		}
		c.send("<presence/>")
		c.until("<presence", "from='"+c.name[:strings.Index(c.name, "/")]+"@localhost/"+c.name[strings.Index(c.name, "/")+1:]+"'")
	}
	garden.sync()
	romeo.sync()

	// RFC 6121 §2.3: adding an item pushes it to every interested resource
	before, ans := romeo.iq("set", "", "<query xmlns='jabber:iq:roster'><item jid='juliet@localhost' name='Juliet'><group>Capulets</group></item></query>")
	if !strings.Contains(ans, "type='result'") || !containsAll(before, "type='set'", "jid='juliet@localhost'", "name='Juliet'", "<group>Capulets</group>", "ver='1'") {
		t.Fatalf("roster set: pushes %q, answer %s", before, ans)
	}
	if _, push := garden.until("<iq", "type='set'", "jid='juliet@localhost'"); !strings.Contains(push, "subscription='none'") {
		t.Fatalf("garden's push: %s", push)
	}

	// §3.1: romeo asks, juliet approves
	romeo.send("<presence to='juliet@localhost' type='subscribe'/>")
	if _, req := juliet.until("<presence", "type='subscribe'"); !strings.Contains(req, "from='romeo@localhost'") {
		t.Fatalf("juliet's request: %s", req)
	}
	garden.until("<iq", "ask='subscribe'")
	juliet.send("<presence to='romeo@localhost' type='subscribed'/>")
	if got := juliet.commitBarrier(); !containsAll(got, "<iq", "jid='romeo@localhost'", "subscription='from'") {
		t.Fatalf("juliet's push after approving: %q", got)
	}
	got := romeo.commitBarrier()
	if !containsAll(got, "<iq", "jid='juliet@localhost'", "subscription='to'") || !presenceFrom(got, "juliet@localhost", "subscribed") || !presenceFrom(got, "juliet@localhost/balcony", "") {
		t.Fatalf("romeo after juliet approved: %q", got)
	}
	// and back
	juliet.send("<presence to='romeo@localhost' type='subscribe'/>")
	romeo.until("<presence", "from='juliet@localhost'", "type='subscribe'")
	romeo.send("<presence to='juliet@localhost' type='subscribed'/>")
	romeo.commitBarrier()
	if got := juliet.commitBarrier(); !presenceFrom(got, "romeo@localhost/orchard", "") || !presenceFrom(got, "romeo@localhost/garden", "") {
		t.Fatalf("juliet after romeo approved: %q", got)
	}
	for user, contact := range map[string]string{"romeo": "juliet@localhost", "juliet": "romeo@localhost"} {
		if it, err := env.Srv.DB().Roster().Get(user, contact); err != nil || it.Sub != store.SubBoth || it.Ask {
			t.Fatalf("%s's item: %+v, %v; want both", user, it, err)
		}
	}

	// a presence change reaches the subscriber
	juliet.send("<presence><show>away</show></presence>")
	if _, p := romeo.until("<presence", "from='juliet@localhost/balcony'"); !strings.Contains(p, "<show>away</show>") {
		t.Fatalf("romeo got %s", p)
	}
	// juliet leaves cleanly, comes back, then her connection drops
	juliet.send("</stream:stream>")
	readAll(t, juliet.c)
	romeo.until("<presence", "from='juliet@localhost/balcony'", "type='unavailable'")
	juliet = rosterLogin(t, env, "juliet", "balcony")
	juliet.send("<presence/>")
	// the probe on romeo's behalf: juliet gets both of romeo's resources
	got = juliet.sync()
	for !presenceFrom(got, "romeo@localhost/orchard", "") || !presenceFrom(got, "romeo@localhost/garden", "") {
		more := juliet.sync()
		if len(more) == 0 {
			t.Fatalf("juliet's initial presence got %q; want romeo's resources' presence", got)
		}
		got = append(got, more...)
	}
	romeo.until("<presence", "from='juliet@localhost/balcony'")
	juliet.c.Close() // no </stream:stream>
	romeo.until("<presence", "from='juliet@localhost/balcony'", "type='unavailable'")
	garden.until("<presence", "from='juliet@localhost/balcony'", "type='unavailable'")

	// §3.1.3: a request to an offline user is delivered at her next logins
	benvolio := rosterLogin(t, env, "benvolio", "street")
	benvolio.send("<presence to='juliet@localhost' type='subscribe'/>")
	benvolio.commitBarrier()
	for range 2 {
		j := rosterLogin(t, env, "juliet", "tomb")
		j.send("<presence/>")
		if _, req := j.until("<presence", "type='subscribe'"); !strings.Contains(req, "from='benvolio@localhost'") {
			t.Fatalf("stored request: %s", req)
		}
		j.send("</stream:stream>")
		readAll(t, j.c)
	}
	// the request does not show in the roster
	j := rosterLogin(t, env, "juliet", "tomb")
	if _, ans := j.iq("get", "", "<query xmlns='jabber:iq:roster'/>"); strings.Contains(ans, "benvolio") || !strings.Contains(ans, "romeo@localhost") {
		t.Fatalf("juliet's roster: %s", ans)
	}
	// removing romeo cancels both subscriptions (§2.5.2)
	_, ans = j.iq("set", "", "<query xmlns='jabber:iq:roster'><item jid='romeo@localhost' subscription='remove'/></query>")
	if !strings.Contains(ans, "type='result'") {
		t.Fatalf("remove: %s", ans)
	}
	got = romeo.commitBarrier()
	if !presenceFrom(got, "juliet@localhost", "unsubscribe") || !presenceFrom(got, "juliet@localhost", "unsubscribed") || !containsAll(got, "<iq", "jid='juliet@localhost'", "subscription='none'") {
		t.Fatalf("romeo after juliet removed him: %q", got)
	}
}

// TestRosterSetErrors: RFC 6121 §2.3.3 and the roster size limit.
func TestRosterSetErrors(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Roster.MaxItems = 2 })
	addUsers(env, "romeo", "juliet")
	r := rosterLogin(t, env, "romeo", "orchard")
	item := func(s string) string { return "<query xmlns='jabber:iq:roster'>" + s + "</query>" }
	for _, tc := range []struct{ name, payload, to, cond string }{
		{"two-items", item("<item jid='a@localhost'/><item jid='b@localhost'/>"), "", "bad-request"},
		{"no-item", item(""), "", "bad-request"},
		{"bad-jid", item("<item jid='@@'/>"), "", "jid-malformed"},
		{"own-jid", item("<item jid='romeo@localhost'/>"), "", "not-allowed"},
		{"empty-group", item("<item jid='a@localhost'><group/></item>"), "", "not-acceptable"},
		{"long-name", item("<item jid='a@localhost' name='" + strings.Repeat("n", 2000) + "'/>"), "", "not-acceptable"},
		{"same-group-twice", item("<item jid='a@localhost'><group>g</group><group>g</group></item>"), "", "bad-request"},
		{"remove-missing", item("<item jid='nobody@localhost' subscription='remove'/>"), "", "item-not-found"},
		{"someone-else's", item("<item jid='a@localhost'/>"), "juliet@localhost", "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ans := r.iq("set", tc.to, tc.payload)
			wantError(t, ans, tc.cond)
		})
	}
	for _, c := range []string{"a", "b"} {
		if _, ans := r.iq("set", "", item("<item jid='"+c+"@localhost'/>")); !strings.Contains(ans, "type='result'") {
			t.Fatalf("adding %s: %s", c, ans)
		}
	}
	_, ans := r.iq("set", "", item("<item jid='c@localhost'/>"))
	wantError(t, ans, "not-allowed")
	// changing an item already there is fine at the limit
	if _, ans := r.iq("set", "", item("<item jid='a@localhost' name='A'/>")); !strings.Contains(ans, "type='result'") {
		t.Fatalf("renaming at the limit: %s", ans)
	}
}

// startAt runs a server on data folder dir, its configuration changed by
// edit; stop stops it.
func startAt(t *testing.T, dir string, edit ...func(*server.Config)) (env *servertest.Env, stop func()) {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Data = dir
	cfg.Listen.C2S = "off"
	cfg.Listen.C2STLS = "127.0.0.1:0"
	for _, e := range edit {
		e(&cfg)
	}
	srv, err := server.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	env = &servertest.Env{T: t, Srv: srv, Cfg: cfg, TLSAddr: srv.Addrs()[0].String()}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	}
	t.Cleanup(stop)
	return env, stop
}

// TestRosterVersioning: XEP-0237. A get with the current version gets an
// empty result; after a restart the version and the roster are unchanged.
func TestRosterVersioning(t *testing.T) {
	dir := t.TempDir()
	env, stop := startAt(t, dir)
	addUsers(env, "romeo", "juliet")
	r := rosterLogin(t, env, "romeo", "orchard")
	for i, c := range []string{"juliet", "nurse", "tybalt"} {
		_, ans := r.iq("set", "", "<query xmlns='jabber:iq:roster'><item jid='"+c+"@localhost' name='"+c+"'/></query>")
		if !strings.Contains(ans, "type='result'") {
			t.Fatalf("set %d: %s", i, ans)
		}
	}
	_, full := r.iq("get", "", "<query xmlns='jabber:iq:roster' ver=''/>")
	if !strings.Contains(full, "ver='3'") || strings.Count(full, "<item") != 3 {
		t.Fatalf("versioned get: %s", full)
	}
	_, same := r.iq("get", "", "<query xmlns='jabber:iq:roster' ver='3'/>")
	if !strings.Contains(same, "type='result'") || strings.Contains(same, "query") {
		t.Fatalf("get with the current version: %s; want an empty result", same)
	}
	_, old := r.iq("get", "", "<query xmlns='jabber:iq:roster' ver='2'/>")
	if old != strings.Replace(full, r.name+"-4", r.name+"-6", 1) {
		t.Fatalf("get with an old version: %s; want the whole roster %s", old, full)
	}
	r.c.Close()
	stop()

	env, _ = startAt(t, dir)
	r = rosterLogin(t, env, "romeo", "orchard")
	_, same = r.iq("get", "", "<query xmlns='jabber:iq:roster' ver='3'/>")
	if !strings.Contains(same, "type='result'") || strings.Contains(same, "query") {
		t.Fatalf("after the restart, get with the version: %s; want an empty result", same)
	}
	_, again := r.iq("get", "", "<query xmlns='jabber:iq:roster' ver=''/>")
	if strings.Replace(again, r.name+"-2", r.name+"-4", 1) != full {
		t.Fatalf("after the restart the roster is\n%s\nwant\n%s", again, full)
	}
}

// transcript appends one row of the state tables to a golden transcript:
// the stanza, the states before, what each client received (ids and roster
// versions masked) and the states after.
func transcript(w *strings.Builder, row, romeoBefore, julietBefore string, romeoGot, julietGot []string, romeoAfter, julietAfter string) {
	fmt.Fprintf(w, "== %s (romeo %s, juliet %s)\n", row, romeoBefore, julietBefore)
	for _, el := range romeoGot {
		fmt.Fprintf(w, "romeo  <- %s\n", maskVolatile(el))
	}
	for _, el := range julietGot {
		fmt.Fprintf(w, "juliet <- %s\n", maskVolatile(el))
	}
	fmt.Fprintf(w, "after: romeo %s, juliet %s\n", romeoAfter, julietAfter)
}

var volatileAttr = regexp.MustCompile(`\b(id|ver)='[^']*'`)

// maskVolatile hides what differs between runs: generated ids and versions.
func maskVolatile(el string) string { return volatileAttr.ReplaceAllString(el, "$1='*'") }

var update = flag.Bool("update", false, "rewrite golden transcripts in testdata")

// checkGolden compares got with testdata/name, or writes it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/e2e -run %s -update to create it)", err, t.Name())
	}
	if string(want) != got {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs in length: got %d lines, want %d", path, len(gl), len(wl))
	}
}

// TestRosterCacheFollowsWrites: while romeo and juliet are available their
// rosters are served from memory; a subscription ended by a removal on
// romeo's side changes juliet's cached roster too, so her next presence no
// longer reaches him; the cache goes with the last session.
func TestRosterCacheFollowsWrites(t *testing.T) {
	env := servertest.Start(t)
	addUsers(env, "romeo", "juliet")
	romeo := rosterLogin(t, env, "romeo", "orchard")
	juliet := rosterLogin(t, env, "juliet", "balcony")
	for _, c := range []*rosterConn{romeo, juliet} {
		c.send("<presence/>")
		c.sync()
	}
	romeo.send("<presence to='juliet@localhost' type='subscribe'/>")
	juliet.until("<presence", "type='subscribe'")
	juliet.send("<presence to='romeo@localhost' type='subscribed'/>")
	juliet.commitBarrier()
	romeo.commitBarrier()
	roster := env.Srv.DB().Roster()
	if held, loaded := roster.Cached(); held != 2 || loaded != 2 {
		t.Fatalf("%d rosters held, %d loaded; want both", held, loaded)
	}

	juliet.send("<presence><show>away</show></presence>")
	if _, p := romeo.until("<presence", "from='juliet@localhost/balcony'"); !strings.Contains(p, "<show>away</show>") {
		t.Fatalf("romeo got %s", p)
	}
	// RFC 6121 §2.5.2: the removal unsubscribes romeo from juliet's presence
	if _, ans := romeo.iq("set", "", "<query xmlns='jabber:iq:roster'><item jid='juliet@localhost' subscription='remove'/></query>"); !strings.Contains(ans, "type='result'") {
		t.Fatalf("remove: %s", ans)
	}
	juliet.until("<presence", "from='romeo@localhost'", "type='unsubscribe'")
	juliet.commitBarrier()
	juliet.send("<presence><show>dnd</show></presence><message to='romeo@localhost/orchard' id='after'><body>after</body></message>")
	if before, _ := romeo.until("<message", "id='after'"); presenceFrom(before, "juliet@localhost/balcony", "") {
		t.Fatalf("juliet's presence reached romeo after he removed her: %q", before)
	}

	for _, c := range []*rosterConn{romeo, juliet} {
		c.send("</stream:stream>")
		readAll(t, c.c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for held, _ := roster.Cached(); held != 0; held, _ = roster.Cached() {
		if time.Now().After(deadline) {
			t.Fatalf("%d rosters still held after every session ended", held)
		}
		time.Sleep(time.Millisecond)
	}
}
