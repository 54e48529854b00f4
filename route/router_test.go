package route

import (
	"strings"
	"sync"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// endpoint is a bound resource that records deliveries.
type endpoint struct {
	j        jid.JID
	avail    bool
	prio     int8
	mu       sync.Mutex
	got      []string
	replaced bool
}

func (e *endpoint) JID() jid.JID                                           { return e.j }
func (e *endpoint) Available() bool                                        { return e.avail }
func (e *endpoint) Priority() int8                                         { return e.prio }
func (e *endpoint) Replaced()                                              { e.replaced = true }
func (e *endpoint) LastPresence() *stanza.Stanza                           { return nil }
func (e *endpoint) Close(*stanza.StreamError)                              {}
func (e *endpoint) Offer(st *stanza.Stanza) bool                           { return e.Deliver(st) }
func (e *endpoint) OfferConfirmed(st *stanza.Stanza, done func(bool)) bool { return true }
func (e *endpoint) Deliver(st *stanza.Stanza) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, string(st.Bytes()))
	return true
}

type echoModule struct{}

func (echoModule) Name() string { return "echo" }
func (echoModule) Register(r *mod.Registry) {
	r.IQ(mod.ToServer, stanza.Get, "urn:test", "q", func(_ *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
		return iq.Result(nil), nil
	})
	r.IQ(mod.ToServer, stanza.Set, "urn:test", "q", func(_ *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
		return nil, stanza.Err(stanza.NotAllowed)
	})
}

func newRouter(t *testing.T) (*Router, map[string]*endpoint) {
	r := New(Config{Domain: jid.MustParse("localhost")}, mod.NewRegistry(echoModule{}))
	eps := map[string]*endpoint{}
	for _, e := range []*endpoint{
		{j: jid.MustParse("alice@localhost/a1"), avail: true, prio: 5},
		{j: jid.MustParse("alice@localhost/a2"), avail: true, prio: 5},
		{j: jid.MustParse("alice@localhost/low"), avail: true, prio: 1},
		{j: jid.MustParse("alice@localhost/neg"), avail: true, prio: -1},
		{j: jid.MustParse("alice@localhost/away"), avail: false},
		{j: jid.MustParse("bob@localhost/b"), avail: true},
		{j: jid.MustParse("carol@localhost/neg"), avail: true, prio: -5},
	} {
		if err := r.Bind(e); err != nil {
			t.Fatal(err)
		}
		eps[e.j.String()] = e
	}
	return r, eps
}

// TestDelivery checks RFC 6121 §8.5 / RFC 6120 §10 rules: which resources
// receive a stanza bob sends, and what bob gets back.
func TestDelivery(t *testing.T) {
	for _, tc := range []struct {
		name string
		send string
		want map[string]string // resource → substring delivered ("" = nothing)
	}{
		{name: "chat to bare: highest priority, all equal ones",
			send: "<message to='alice@localhost' type='chat'><body>x</body></message>",
			want: map[string]string{"alice@localhost/a1": "<body>x", "alice@localhost/a2": "<body>x", "alice@localhost/low": "", "alice@localhost/neg": "", "alice@localhost/away": ""}},
		{name: "headline to bare: every non-negative available",
			send: "<message to='alice@localhost' type='headline'><body>h</body></message>",
			want: map[string]string{"alice@localhost/a1": "h", "alice@localhost/low": "h", "alice@localhost/neg": "", "alice@localhost/away": ""}},
		{name: "to full JID: that resource only, from stamped",
			send: "<message to='alice@localhost/away' from='evil@localhost'><body>f</body></message>",
			want: map[string]string{"alice@localhost/away": "from='bob@localhost/b'", "alice@localhost/a1": ""}},
		{name: "to unknown resource: as to the bare JID",
			send: "<message to='alice@localhost/gone' type='chat'><body>g</body></message>",
			want: map[string]string{"alice@localhost/a1": "<body>g", "alice@localhost/gone": ""}},
		{name: "only negative priority: not delivered, bounced",
			send: "<message to='carol@localhost' type='chat' id='c1'><body>n</body></message>",
			want: map[string]string{"carol@localhost/neg": "", "bob@localhost/b": "<service-unavailable"}},
		{name: "iq to unknown resource bounces",
			send: "<iq to='alice@localhost/gone' type='get' id='i1'><query xmlns='urn:x'/></iq>",
			want: map[string]string{"bob@localhost/b": "<service-unavailable"}},
		{name: "iq to server: handler result",
			send: "<iq to='localhost' type='get' id='i2'><q xmlns='urn:test'/></iq>",
			want: map[string]string{"bob@localhost/b": "<iq type='result' id='i2' from='localhost' to='bob@localhost/b'/>"}},
		{name: "iq to server: handler error",
			send: "<iq to='localhost' type='set' id='i3'><q xmlns='urn:test'/></iq>",
			want: map[string]string{"bob@localhost/b": "<not-allowed"}},
		{name: "iq to server: unknown namespace",
			send: "<iq to='localhost' type='get' id='i4'><q xmlns='urn:nobody'/></iq>",
			want: map[string]string{"bob@localhost/b": "<service-unavailable"}},
		{name: "iq to server: known namespace, unknown element",
			send: "<iq to='localhost' type='get' id='i5'><other xmlns='urn:test'/></iq>",
			want: map[string]string{"bob@localhost/b": "<feature-not-implemented"}},
		{name: "iq without to falls back to server handlers",
			send: "<iq type='get' id='i6'><q xmlns='urn:test'/></iq>",
			want: map[string]string{"bob@localhost/b": "<iq type='result' id='i6' to='bob@localhost/b'/>"}},
		{name: "remote domain: no s2s",
			send: "<message to='juliet@example.net' id='r1'><body>r</body></message>",
			want: map[string]string{"bob@localhost/b": "<remote-server-not-found"}},
		{name: "error is never answered",
			send: "<message to='nobody@localhost' type='error' id='e1'/>",
			want: map[string]string{"bob@localhost/b": ""}},
		{name: "presence to bare: available resources",
			send: "<presence to='alice@localhost'/>",
			want: map[string]string{"alice@localhost/a1": "<presence", "alice@localhost/neg": "<presence", "alice@localhost/away": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, eps := newRouter(t)
			st, err := stanza.Parse([]byte(tc.send))
			if err != nil {
				t.Fatal(err)
			}
			r.Route(eps["bob@localhost/b"], st)
			for res, want := range tc.want {
				e := eps[res]
				got := ""
				if e != nil {
					got = strings.Join(e.got, "\n")
				}
				if want == "" && got != "" {
					t.Errorf("%s got %q, want nothing", res, got)
				}
				if want != "" && !strings.Contains(got, want) {
					t.Errorf("%s got %q, want %q", res, got, want)
				}
			}
		})
	}
}

// TestBindConflict: Replace hands back the old endpoint; Refuse fails.
func TestBindConflict(t *testing.T) {
	tbl := NewTable()
	a := &endpoint{j: jid.MustParse("alice@localhost/x")}
	b := &endpoint{j: jid.MustParse("alice@localhost/x")}
	if old, err := tbl.Bind(a, Replace); old != nil || err != nil {
		t.Fatal(old, err)
	}
	if _, err := tbl.Bind(b, Refuse); err != ErrConflict {
		t.Fatalf("Refuse: %v", err)
	}
	if old, _ := tbl.Bind(b, Replace); old != a {
		t.Fatal("Replace did not return the old endpoint")
	}
	tbl.Unbind(a) // no longer bound: must not remove b
	if tbl.Lookup(a.j) != b || tbl.Count() != 1 {
		t.Fatal("unbinding a replaced endpoint removed the new one")
	}
	tbl.Unbind(b)
	if tbl.Count() != 0 {
		t.Fatal("not empty")
	}
}

// TestBindAtMost: past the cap a bind is refused, and replacing a resource
// of the same name does not count as one more.
func TestBindAtMost(t *testing.T) {
	tbl := NewTable()
	for _, tc := range []struct {
		res  string
		want error
	}{{"a", nil}, {"b", nil}, {"c", ErrTooManySessions}, {"a", nil}} {
		_, err := tbl.BindAtMost(&endpoint{j: jid.MustParse("u@d/" + tc.res)}, Replace, 2)
		if err != tc.want {
			t.Errorf("bind %s: got %v, want %v", tc.res, err, tc.want)
		}
	}
}
