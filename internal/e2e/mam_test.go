package e2e

import (
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// Message Archive Management (XEP-0313) and stanza-ids (XEP-0359) over
// real sessions whose incoming stanzas are decoded one by one.

type mamSID struct {
	ID string `xml:"id,attr"`
	By string `xml:"by,attr"`
}

type mamStanza struct {
	XMLName  xml.Name
	Type     string   `xml:"type,attr"`
	ID       string   `xml:"id,attr"`
	From     string   `xml:"from,attr"`
	To       string   `xml:"to,attr"`
	Body     string   `xml:"body"`
	StanzaID []mamSID `xml:"urn:xmpp:sid:0 stanza-id"`
	Result   *struct {
		QueryID   string `xml:"queryid,attr"`
		ID        string `xml:"id,attr"`
		Forwarded struct {
			Delay struct {
				Stamp string `xml:"stamp,attr"`
			} `xml:"urn:xmpp:delay delay"`
			Message struct {
				From string `xml:"from,attr"`
				To   string `xml:"to,attr"`
				Body string `xml:"body"`
			} `xml:"jabber:client message"`
		} `xml:"urn:xmpp:forward:0 forwarded"`
	} `xml:"urn:xmpp:mam:2 result"`
	Fin *struct {
		Complete string `xml:"complete,attr"`
		Set      struct {
			First struct {
				Index string `xml:"index,attr"`
				ID    string `xml:",chardata"`
			} `xml:"first"`
			Last  string `xml:"last"`
			Count string `xml:"count"`
		} `xml:"http://jabber.org/protocol/rsm set"`
	} `xml:"urn:xmpp:mam:2 fin"`
	Prefs *struct {
		Default string   `xml:"default,attr"`
		Never   []string `xml:"never>jid"`
	} `xml:"urn:xmpp:mam:2 prefs"`
	Form *struct {
		Fields []struct {
			Var string `xml:"var,attr"`
		} `xml:"jabber:x:data x>field"`
	} `xml:"urn:xmpp:mam:2 query"`
	Disco *struct {
		Features []struct {
			Var string `xml:"var,attr"`
		} `xml:"feature"`
	} `xml:"http://jabber.org/protocol/disco#info query"`
	Error *struct {
		Inner string `xml:",innerxml"`
	} `xml:"error"`
}

// sid returns the stanza-id by by, or "".
func (s mamStanza) sid(by string) string {
	for _, x := range s.StanzaID {
		if x.By == by {
			return x.ID
		}
	}
	return ""
}

type mamClient struct {
	net.Conn
	jid, bare string
	in        chan mamStanza
	end       chan error
}

func mamLogin(t *testing.T, env *servertest.Env, user, resource string) *mamClient {
	t.Helper()
	c := &mamClient{Conn: rawLogin(t, env, user, "pw", resource), jid: user + "@localhost/" + resource,
		bare: user + "@localhost", in: make(chan mamStanza, 1024), end: make(chan error, 1)}
	_ = c.SetReadDeadline(time.Time{})
	go decodeAll(c.Conn, c.in, c.end)
	c.send(t, "<presence/>")
	for {
		s := c.next(t, true)
		if s.XMLName.Local == "presence" && s.From == c.jid {
			return c
		}
	}
}

func (c *mamClient) send(t *testing.T, x string) {
	t.Helper()
	if _, err := io.WriteString(c, x); err != nil {
		t.Fatalf("%s: send: %v", c.jid, err)
	}
}

// next returns the next stanza (presences only when withPresence).
func (c *mamClient) next(t *testing.T, withPresence bool) mamStanza {
	t.Helper()
	for {
		select {
		case s := <-c.in:
			if withPresence || s.XMLName.Local != "presence" {
				return s
			}
		case err := <-c.end:
			t.Fatalf("%s: stream ended: %v", c.jid, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: nothing within 10 s", c.jid)
		}
	}
}

// iq sends an iq and returns what arrived until its answer, which is last.
func (c *mamClient) iq(t *testing.T, typ, id, to, payload string) []mamStanza {
	t.Helper()
	if to != "" {
		to = " to='" + to + "'"
	}
	c.send(t, "<iq type='"+typ+"' id='"+id+"'"+to+">"+payload+"</iq>")
	var got []mamStanza
	for {
		s := c.next(t, false)
		got = append(got, s)
		if s.XMLName.Local == "iq" && s.ID == id {
			return got
		}
	}
}

// mamPage is a query's outcome.
type mamPage struct {
	bodies, ids, froms []string
	fin                mamStanza
}

// query runs a MAM query with the given form fields and RSM set content.
func (c *mamClient) query(t *testing.T, id, form, set string) mamPage {
	t.Helper()
	p := "<query xmlns='urn:xmpp:mam:2' queryid='" + id + "'>"
	if form != "" {
		p += "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>" + form + "</x>"
	}
	if set != "" {
		p += "<set xmlns='http://jabber.org/protocol/rsm'>" + set + "</set>"
	}
	got := c.iq(t, "set", id, "", p+"</query>")
	var r mamPage
	for _, s := range got[:len(got)-1] {
		if s.Result == nil || s.Result.QueryID != id || s.To != c.jid {
			t.Fatalf("%s: query %s: unexpected %+v", c.jid, id, s)
		}
		if _, err := time.Parse(time.RFC3339Nano, s.Result.Forwarded.Delay.Stamp); err != nil {
			t.Fatalf("result without a valid delay stamp: %q", s.Result.Forwarded.Delay.Stamp)
		}
		r.bodies = append(r.bodies, s.Result.Forwarded.Message.Body)
		r.ids = append(r.ids, s.Result.ID)
		r.froms = append(r.froms, s.Result.Forwarded.Message.From)
	}
	r.fin = got[len(got)-1]
	if r.fin.Type != "result" || r.fin.Fin == nil {
		t.Fatalf("%s: query %s answered %+v", c.jid, id, r.fin)
	}
	return r
}

func (r mamPage) check(t *testing.T, name string, bodies []string, complete string) {
	t.Helper()
	if !slices.Equal(r.bodies, bodies) || r.fin.Fin.Complete != complete {
		t.Fatalf("%s: got %q complete=%s, want %q complete=%s", name, r.bodies, r.fin.Fin.Complete, bodies, complete)
	}
	if n := len(r.ids); n > 0 && (r.fin.Fin.Set.First.ID != r.ids[0] || r.fin.Fin.Set.Last != r.ids[n-1]) {
		t.Fatalf("%s: first/last %s/%s, results %v", name, r.fin.Fin.Set.First.ID, r.fin.Fin.Set.Last, r.ids)
	}
}

func withField(j string) string { return "<field var='with'><value>" + j + "</value></field>" }

func TestMAM(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Archive.Enabled = true })
	for _, u := range []string{"alice", "bob", "carol"} {
		env.AddUser(u, "pw")
	}
	alice := mamLogin(t, env, "alice", "a")
	bob := mamLogin(t, env, "bob", "b")

	// a conversation, each message received before the next is sent
	var bodies []string
	sidOf := map[string]string{} // body → stanza-id alice's archive gave it, as she received it
	for i := range 6 {
		from, to := alice, bob
		if i%2 == 1 {
			from, to = bob, alice
		}
		body := fmt.Sprintf("m%d", i)
		bodies = append(bodies, body)
		from.send(t, "<message to='"+to.bare+"' type='chat' id='"+body+"'><body>"+body+"</body>"+
			"<stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='"+to.bare+"'/></message>")
		got := to.next(t, false)
		if got.Body != body || got.From != from.jid {
			t.Fatalf("%s received %+v, want %s from %s", to.jid, got, body, from.jid)
		}
		// the recipient's server stamps its own stanza-id and drops the forged one
		if len(got.StanzaID) != 1 || got.sid(to.bare) == "" || got.sid(to.bare) == "forged" {
			t.Fatalf("%s: stanza-ids %+v, want one by %s", body, got.StanzaID, to.bare)
		}
		if to == alice {
			sidOf[body] = got.sid(alice.bare)
		}
	}
	// not archived: a no-store hint, a headline, a chat state
	alice.send(t, "<message to='bob@localhost' type='chat'><body>secret</body><no-store xmlns='urn:xmpp:hints'/></message>")
	alice.send(t, "<message to='bob@localhost' type='headline'><body>news</body></message>")
	alice.send(t, "<message to='bob@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	for _, want := range []string{"secret", "news", ""} {
		if got := bob.next(t, false); got.Body != want || len(got.StanzaID) != 0 {
			t.Fatalf("bob received %+v, want body %q without a stanza-id", got, want)
		}
	}

	t.Run("all", func(t *testing.T) {
		r := alice.query(t, "all", "", "")
		r.check(t, "all", bodies, "true")
		if r.fin.Fin.Set.Count != "6" || r.fin.Fin.Set.First.Index != "0" {
			t.Fatalf("count %q index %q, want 6 and 0", r.fin.Fin.Set.Count, r.fin.Fin.Set.First.Index)
		}
		for i, b := range r.bodies {
			wantFrom := alice.jid
			if i%2 == 1 {
				wantFrom = bob.jid
				if r.ids[i] != sidOf[b] {
					t.Fatalf("%s: archive id %s, but delivered with stanza-id %s", b, r.ids[i], sidOf[b])
				}
			}
			if r.froms[i] != wantFrom {
				t.Fatalf("%s: from %s, want %s", b, r.froms[i], wantFrom)
			}
		}
		if !slices.IsSorted(r.ids) {
			t.Fatalf("ids not sorted: %v", r.ids)
		}
		// bob's archive has the same conversation
		bob.query(t, "bob-all", "", "").check(t, "bob's archive", bodies, "true")
	})

	t.Run("paging-forward", func(t *testing.T) {
		r := alice.query(t, "f1", "", "<max>2</max>")
		r.check(t, "page 1", bodies[:2], "false")
		r = alice.query(t, "f2", "", "<max>2</max><after>"+r.fin.Fin.Set.Last+"</after>")
		r.check(t, "page 2", bodies[2:4], "false")
		r = alice.query(t, "f3", "", "<max>2</max><after>"+r.fin.Fin.Set.Last+"</after>")
		r.check(t, "page 3", bodies[4:], "true")
	})

	t.Run("paging-backward", func(t *testing.T) {
		r := alice.query(t, "b1", "", "<max>2</max><before/>")
		r.check(t, "last page", bodies[4:], "false")
		r = alice.query(t, "b2", "", "<max>2</max><before>"+r.fin.Fin.Set.First.ID+"</before>")
		r.check(t, "page before", bodies[2:4], "false")
		r = alice.query(t, "b3", "", "<max>2</max><before>"+r.fin.Fin.Set.First.ID+"</before>")
		r.check(t, "first page", bodies[:2], "true")
	})

	t.Run("unknown-after", func(t *testing.T) {
		got := alice.iq(t, "set", "bad", "", "<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><after>0000000000000</after></set></query>")
		if e := got[len(got)-1]; e.Type != "error" || e.Error == nil || !strings.Contains(e.Error.Inner, "item-not-found") {
			t.Fatalf("query after an unknown id: %+v", e)
		}
	})

	t.Run("not-others-archive", func(t *testing.T) {
		got := alice.iq(t, "set", "other", "bob@localhost", "<query xmlns='urn:xmpp:mam:2'/>")
		if e := got[len(got)-1]; e.Type != "error" || e.Error == nil || !strings.Contains(e.Error.Inner, "forbidden") {
			t.Fatalf("query of bob's archive: %+v", e)
		}
	})

	// carol is offline: the message is stored offline with alice's…carol's stanza-id
	alice.send(t, "<message to='carol@localhost' type='chat' id='c1'><body>to-carol</body></message>")

	t.Run("with", func(t *testing.T) {
		alice.query(t, "w-carol", withField("carol@localhost"), "").check(t, "with carol", []string{"to-carol"}, "true")
		r := alice.query(t, "w-bob", withField("bob@localhost"), "<max>4</max>")
		r.check(t, "with bob", bodies[:4], "false")
		if r.fin.Fin.Set.Count != "" {
			t.Fatalf("with bob: count %q for a partial page, want none (not counted)", r.fin.Fin.Set.Count)
		}
		// a full JID: only what came from or went to that resource (alice wrote to the bare JID)
		alice.query(t, "w-bob-res", withField("bob@localhost/b"), "").check(t, "with bob/b", []string{"m1", "m3", "m5"}, "true")
		alice.query(t, "w-bob-other", withField("bob@localhost/other"), "").check(t, "with bob/other", nil, "true")
	})

	t.Run("offline-stanza-id", func(t *testing.T) {
		carol := mamLogin(t, env, "carol", "c")
		got := carol.next(t, false)
		if got.Body != "to-carol" || got.sid("carol@localhost") == "" {
			t.Fatalf("carol's offline message: %+v", got)
		}
		r := carol.query(t, "c-all", "", "")
		r.check(t, "carol's archive", []string{"to-carol"}, "true")
		if r.ids[0] != got.sid("carol@localhost") {
			t.Fatalf("carol's archive id %s, offline message stanza-id %s", r.ids[0], got.sid("carol@localhost"))
		}
	})

	t.Run("prefs-never", func(t *testing.T) {
		got := alice.iq(t, "get", "p0", "", "<prefs xmlns='urn:xmpp:mam:2'/>")
		if p := got[len(got)-1].Prefs; p == nil || p.Default != "always" {
			t.Fatalf("default prefs: %+v", got[len(got)-1])
		}
		got = alice.iq(t, "set", "p1", "", "<prefs xmlns='urn:xmpp:mam:2' default='never'><always/><never><jid>eve@localhost</jid></never></prefs>")
		if p := got[len(got)-1].Prefs; p == nil || p.Default != "never" || !slices.Equal(p.Never, []string{"eve@localhost"}) {
			t.Fatalf("set prefs answered %+v", got[len(got)-1])
		}
		got = alice.iq(t, "get", "p2", "", "<prefs xmlns='urn:xmpp:mam:2'/>")
		if p := got[len(got)-1].Prefs; p == nil || p.Default != "never" {
			t.Fatalf("prefs after set: %+v", got[len(got)-1])
		}
		alice.send(t, "<message to='bob@localhost' type='chat'><body>unarchived-1</body></message>")
		if m := bob.next(t, false); m.Body != "unarchived-1" || m.sid(bob.bare) == "" {
			t.Fatalf("bob (who archives) received %+v", m)
		}
		bob.send(t, "<message to='alice@localhost' type='chat'><body>unarchived-2</body></message>")
		if m := alice.next(t, false); m.Body != "unarchived-2" || len(m.StanzaID) != 0 {
			t.Fatalf("alice (who does not archive) received %+v", m)
		}
		r := alice.query(t, "after-never", "", "")
		r.check(t, "alice after never", append(slices.Clone(bodies), "to-carol"), "true")
		r = bob.query(t, "bob-after-never", "", "")
		r.check(t, "bob's archive", append(slices.Clone(bodies), "unarchived-1", "unarchived-2"), "true")
	})

	t.Run("discovery", func(t *testing.T) {
		got := alice.iq(t, "get", "form", "", "<query xmlns='urn:xmpp:mam:2'/>")
		f := got[len(got)-1].Form
		if f == nil {
			t.Fatalf("form request answered %+v", got[len(got)-1])
		}
		var vars []string
		for _, x := range f.Fields {
			vars = append(vars, x.Var)
		}
		for _, v := range []string{"FORM_TYPE", "with", "start", "end"} {
			if !slices.Contains(vars, v) {
				t.Fatalf("form fields %v lack %s", vars, v)
			}
		}
		got = alice.iq(t, "get", "disco", "alice@localhost", "<query xmlns='http://jabber.org/protocol/disco#info'/>")
		d := got[len(got)-1].Disco
		if d == nil {
			t.Fatalf("disco#info answered %+v", got[len(got)-1])
		}
		var feats []string
		for _, x := range d.Features {
			feats = append(feats, x.Var)
		}
		for _, v := range []string{"urn:xmpp:mam:2", "urn:xmpp:mam:2#extended", "urn:xmpp:sid:0"} {
			if !slices.Contains(feats, v) {
				t.Fatalf("account features %v lack %s", feats, v)
			}
		}
	})
}
