package carbons

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

func TestEligible(t *testing.T) {
	for _, tc := range []struct {
		name     string
		msg      string
		received bool
		want     bool
	}{
		{name: "chat", msg: "<message type='chat'><body>hi</body></message>", want: true},
		{name: "chat/empty", msg: "<message type='chat'/>", want: true},
		{name: "normal/body", msg: "<message><body>hi</body></message>", want: true},
		{name: "normal-typed/body", msg: "<message type='normal'><body>hi</body></message>", want: true},
		{name: "normal/no-body", msg: "<message><subject>s</subject></message>", want: false},
		{name: "normal/body-other-ns", msg: "<message><body xmlns='urn:example'>hi</body></message>", want: false},
		{name: "normal/chat-state", msg: "<message><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", want: true},
		{name: "normal/receipt", msg: "<message><received xmlns='urn:xmpp:receipts' id='x'/></message>", want: true},
		{name: "normal/marker", msg: "<message><displayed xmlns='urn:xmpp:chat-markers:0' id='x'/></message>", want: true},
		{name: "headline", msg: "<message type='headline'><body>news</body></message>", want: false},
		{name: "groupchat", msg: "<message type='groupchat'><body>room</body></message>", want: false},
		{name: "error", msg: "<message type='error'><body>hi</body><error type='cancel'/></message>", want: false},
		{name: "private", msg: "<message type='chat'><body>hi</body><private xmlns='urn:xmpp:carbons:2'/></message>", want: false},
		{name: "no-copy", msg: "<message type='chat'><body>hi</body><no-copy xmlns='urn:xmpp:hints'/></message>", want: false},
		{name: "carbon/sent", msg: "<message type='chat'><sent xmlns='urn:xmpp:carbons:2'/></message>", want: false},
		{name: "carbon/received", msg: "<message type='chat'><received xmlns='urn:xmpp:carbons:2'/></message>", want: false},
		{name: "muc-pm/sent", msg: "<message type='chat'><body>pm</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>", want: true},
		{name: "muc-pm/received", msg: "<message type='chat'><body>pm</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>", received: true, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := stanza.MustParse([]byte(tc.msg))
			if got := eligible(st.Type, st.Class(), tc.received); got != tc.want {
				t.Fatalf("eligible = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWrap(t *testing.T) {
	user, to := jid.MustParse("alice@localhost"), jid.MustParse("alice@localhost/b")
	for _, tc := range []struct {
		name, msg, want string
	}{
		{
			name: "inherits",
			msg:  "<message from='bob@localhost/x' to='alice@localhost/a' type='chat' id='1'><body>a &amp; b</body></message>",
			want: "<message from='alice@localhost' to='alice@localhost/b' type='chat'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>" +
				"<message xmlns='jabber:client' from='bob@localhost/x' to='alice@localhost/a' type='chat' id='1'><body>a &amp; b</body></message>" +
				"</forwarded></received></message>",
		},
		{
			name: "declares",
			msg:  "<message xmlns='jabber:client' to='alice@localhost/a'><body>hi</body></message>",
			want: "<message from='alice@localhost' to='alice@localhost/b'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>" +
				"<message xmlns='jabber:client' to='alice@localhost/a'><body>hi</body></message>" +
				"</forwarded></received></message>",
		},
		{
			name: "prefixed",
			msg:  "<c:message xmlns:c='jabber:client' to='alice@localhost/a'><c:body>hi</c:body></c:message>",
			want: "<message from='alice@localhost' to='alice@localhost/b'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>" +
				"<c:message xmlns='jabber:client' xmlns:c='jabber:client' to='alice@localhost/a'><c:body>hi</c:body></c:message>" +
				"</forwarded></received></message>",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := stanza.MustParse([]byte(tc.msg))
			c, err := wrap("received", user, to, st.Type, st.Elem())
			if err != nil {
				t.Fatal(err)
			}
			if got := string(c.Bytes()); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			inner := c.Elem().Child("received", NS).Child("forwarded", NSForward).Child("message", stanza.NSClient)
			if inner.IsZero() {
				t.Fatal("the forwarded message is not in jabber:client")
			}
			if body := inner.Child("body", stanza.NSClient); body.IsZero() {
				t.Fatal("the forwarded body is not in jabber:client")
			}
		})
	}
}

// res is a session for the state tests.
type res struct {
	j     jid.JID
	avail bool
}

func (r *res) JID() jid.JID                                           { return r.j }
func (r *res) Available() bool                                        { return r.avail }
func (r *res) Priority() int8                                         { return 0 }
func (r *res) LastPresence() *stanza.Stanza                           { return nil }
func (r *res) Close(*stanza.StreamError)                              {}
func (r *res) Offer(st *stanza.Stanza) bool                           { return true }
func (r *res) OfferConfirmed(st *stanza.Stanza, done func(bool)) bool { return true }
func newRes(s string) *res                                            { return &res{j: jid.MustParse(s), avail: true} }
func (e *env) Domain() jid.JID                                        { return jid.MustParse("localhost") }
func (e *env) IsLocal(d jid.JID) bool                                 { return d.Domain() == "localhost" }
func (e *env) Resources(jid.JID, func(mod.Resource) bool)             {}

// env is a session table and an outbox.
type env struct {
	mu    sync.Mutex
	bound map[string]*res
	sent  []*stanza.Stanza
}

func newEnv(rs ...*res) *env {
	e := &env{bound: map[string]*res{}}
	for _, r := range rs {
		e.bound[r.j.String()] = r
	}
	return e
}

func (e *env) Send(st *stanza.Stanza) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sent = append(e.sent, st)
}

func (e *env) Lookup(full jid.JID) mod.Resource {
	if r, ok := e.bound[full.String()]; ok {
		return r
	}
	return nil
}

// take returns the 'to' of each stanza sent since the last call.
func (e *env) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, st := range e.sent {
		out = append(out, st.To.String())
	}
	e.sent = nil
	return out
}

func TestSessions(t *testing.T) {
	a, b, c := newRes("alice@localhost/a"), newRes("alice@localhost/b"), newRes("alice@localhost/c")
	bob := newRes("bob@localhost/x")
	e := newEnv(a, b, c, bob)
	m := &Module{}
	m.Register(mod.NewRegistry())

	toggle := func(r *res, on bool) {
		t.Helper()
		local := "disable"
		if on {
			local = "enable"
		}
		iq := stanza.MustParse([]byte("<iq type='set' id='t'><"+local+" xmlns='urn:xmpp:carbons:2'/></iq>")).WithAddrs(r.j, jid.JID{})
		if _, err := m.toggle(&mod.Ctx{Env: e, From: r, Target: r.j.Bare()}, iq, on); err != nil {
			t.Fatal(err)
		}
	}
	chat := stanza.MustParse([]byte("<message type='chat' to='alice@localhost/a'><body>hi</body></message>")).WithAddrs(bob.j, a.j)
	deliver := func() string {
		m.received(&mod.Ctx{Env: e, From: bob}, chat, []mod.Resource{a})
		return strings.Join(e.take(), " ")
	}

	toggle(b, true)
	toggle(c, true)
	if got := deliver(); got != "alice@localhost/b alice@localhost/c" {
		t.Fatalf("copies to %q, want b and c", got)
	}
	c.avail = false
	if got := deliver(); got != "alice@localhost/b" {
		t.Fatalf("copies to %q, want b only (c is unavailable)", got)
	}
	c.avail = true
	toggle(c, false)
	if got := deliver(); got != "alice@localhost/b" {
		t.Fatalf("copies to %q, want b only (c disabled)", got)
	}

	// a new session bound to b's full JID starts with carbons off
	b2 := newRes("alice@localhost/b")
	e.bound[b2.j.String()] = b2
	if got := deliver(); got != "" {
		t.Fatalf("copies to %q, want none", got)
	}
	if n := m.mu.n; n != 0 {
		t.Fatalf("%d sessions remembered, want the replaced one forgotten", n)
	}

	// unavailable presence keeps carbons; the end of the session drops them
	toggle(b2, true)
	m.gone(&mod.Ctx{Env: e}, b2)
	if m.mu.n != 1 {
		t.Fatal("unavailable presence dropped carbons")
	}
	delete(e.bound, b2.j.String())
	m.gone(&mod.Ctx{Env: e}, b2)
	if m.mu.n != 0 || len(m.mu.byBare) != 0 {
		t.Fatal("an ended session is still remembered")
	}

	// sessions that end without a hook are swept as others enable
	for i := range 200 {
		r := newRes("u" + strconv.Itoa(i) + "@localhost/r")
		e.bound[r.j.String()] = r
		toggle(r, true)
		delete(e.bound, r.j.String())
	}
	if m.mu.n > 66 {
		t.Fatalf("%d sessions remembered after 200 ended", m.mu.n)
	}
}

func (e *env) Resend(mod.Resource, *stanza.Stanza) {}

func (e *env) SendTo(to jid.JID, st *stanza.Stanza) {
	if !st.To.Equal(to) {
		st = st.Readdressed(to)
	}
	e.Send(st)
}
