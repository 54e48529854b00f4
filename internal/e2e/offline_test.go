package e2e

import (
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// Offline storage (RFC 6121 §8.5.2.2, XEP-0160, XEP-0203, XEP-0013), over raw
// sessions whose incoming stanzas are decoded one by one, so tests can say
// exactly what arrived and in which order.

// offStanza is a received stanza with what these tests look at.
type offStanza struct {
	XMLName xml.Name
	Type    string `xml:"type,attr"`
	ID      string `xml:"id,attr"`
	From    string `xml:"from,attr"`
	To      string `xml:"to,attr"`
	Body    string `xml:"body"`
	Delay   *struct {
		From  string `xml:"from,attr"`
		Stamp string `xml:"stamp,attr"`
	} `xml:"urn:xmpp:delay delay"`
	Offline *struct {
		Item struct {
			Node string `xml:"node,attr"`
		} `xml:"item"`
	} `xml:"http://jabber.org/protocol/offline offline"`
	Error *struct {
		Type  string `xml:"type,attr"`
		Inner string `xml:",innerxml"`
	} `xml:"error"`
}

func (s offStanza) cond() string {
	if s.Error == nil {
		return ""
	}
	return s.Error.Type + " " + s.Error.Inner
}

// offClient is a raw session (rawLogin) with a decoder goroutine.
type offClient struct {
	net.Conn
	jid string
	in  chan offStanza
	end chan error
	// early holds what arrived before the session's own presence echo
	early []offStanza
}

func offLogin(t *testing.T, env *servertest.Env, user, resource string) *offClient {
	t.Helper()
	return offClientOn(rawLogin(t, env, user, "pw", resource), user+"@localhost/"+resource)
}

// offClientOn is an offClient over a session already bound to full.
func offClientOn(conn net.Conn, full string) *offClient {
	c := &offClient{Conn: conn, jid: full, in: make(chan offStanza, 4096), end: make(chan error, 1)}
	_ = c.SetReadDeadline(time.Time{})
	go decodeAll(c.Conn, c.in, c.end)
	return c
}

func (c *offClient) send(t *testing.T, xml string) {
	t.Helper()
	if _, err := io.WriteString(c, xml); err != nil {
		t.Fatalf("%s: send: %v", c.jid, err)
	}
}

// next returns the next stanza that is not a presence.
func (c *offClient) next(t *testing.T) offStanza {
	t.Helper()
	s, ok := c.poll(t, 10*time.Second)
	if !ok {
		t.Fatalf("%s: nothing within 10 s", c.jid)
	}
	return s
}

// poll returns the next stanza that is not a presence, or false if none
// comes within d.
func (c *offClient) poll(t *testing.T, d time.Duration) (offStanza, bool) {
	t.Helper()
	if len(c.early) > 0 {
		s := c.early[0]
		c.early = c.early[1:]
		return s, true
	}
	timeout := time.After(d)
	for {
		select {
		case s := <-c.in:
			if s.XMLName.Local != "presence" {
				return s, true
			}
		case err := <-c.end:
			t.Fatalf("%s: stream ended: %v", c.jid, err)
		case <-timeout:
			return offStanza{}, false
		}
	}
}

// available sends initial presence and waits for its echo (RFC 6121 §4.2.2).
func (c *offClient) available(t *testing.T) {
	t.Helper()
	c.send(t, "<presence/>")
	c.waitPresence(t, "")
}

// unavailable sends unavailable presence and waits for its echo: from then on
// messages to the bare JID are stored.
func (c *offClient) unavailable(t *testing.T) {
	t.Helper()
	c.send(t, "<presence type='unavailable'/>")
	c.waitPresence(t, "unavailable")
}

func (c *offClient) waitPresence(t *testing.T, typ string) {
	t.Helper()
	for {
		select {
		case s := <-c.in:
			if s.XMLName.Local == "presence" && s.From == c.jid && s.Type == typ {
				return
			}
			if s.XMLName.Local != "presence" {
				// sent once the session's presence counted and before its
				// echo was written (an offline message stored meanwhile):
				// kept for next, in order
				c.early = append(c.early, s)
			}
		case err := <-c.end:
			t.Fatalf("%s: stream ended: %v", c.jid, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: own presence not reflected within 10 s", c.jid)
		}
	}
}

// iq sends an iq and returns the stanzas received until its answer, which
// is last.
func (c *offClient) iq(t *testing.T, typ, id, payload string) []offStanza {
	t.Helper()
	c.send(t, "<iq type='"+typ+"' id='"+id+"'>"+payload+"</iq>")
	var got []offStanza
	for {
		s := c.next(t)
		got = append(got, s)
		if s.XMLName.Local == "iq" && s.ID == id {
			return got
		}
	}
}

// barrier returns once everything c sent before it was routed and what went
// to offline storage was committed: c's purge of its own queue is answered
// after the commits before it (see the crash test).
func (c *offClient) barrier(t *testing.T) {
	t.Helper()
	if got := c.iq(t, "set", "barrier", "<offline xmlns='http://jabber.org/protocol/offline'><purge/></offline>"); len(got) != 1 || got[0].Type != "result" {
		t.Fatalf("%s: purge as a barrier: %+v", c.jid, got)
	}
}

func chat(to, id, body string) string {
	return "<message to='" + to + "' type='chat' id='" + id + "'><body>" + body + "</body></message>"
}

func offlineEnv(t *testing.T, edit ...func(*server.Config)) *servertest.Env {
	env := servertest.Start(t, edit...)
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	return env
}

// TestOfflineDelivery: messages to a user who is not online arrive at the
// next login, in order, with the original from, id and body and a delay
// stamp from the server (XEP-0203) of when they arrived; the next login gets
// none of them again.
func TestOfflineDelivery(t *testing.T) {
	env := offlineEnv(t)
	bob := offLogin(t, env, "bob", "b")
	before := time.Now().UTC().Truncate(time.Millisecond)
	bodies := []string{"first", "second &lt;&amp;&gt;", "third ✓"}
	for i, b := range bodies {
		bob.send(t, chat("alice@localhost", "m"+strconv.Itoa(i), b))
	}
	// and one to a resource alice does not have: same as to her bare JID
	bob.send(t, chat("alice@localhost/gone", "m3", "fourth"))
	bodies = append(bodies, "fourth")
	bob.barrier(t) // none can reach alice live once she is online

	alice := offLogin(t, env, "alice", "a")
	alice.available(t)
	after := time.Now().UTC()
	for i, b := range bodies {
		m := alice.next(t)
		want := strings.NewReplacer("&lt;", "<", "&amp;", "&", "&gt;", ">").Replace(b)
		if m.XMLName.Local != "message" || m.Body != want || m.ID != "m"+strconv.Itoa(i) || m.From != bob.jid ||
			m.To != alice.jid || m.Type != "chat" {
			t.Fatalf("message %d: got %+v, want body %q from %s to %s", i, m, want, bob.jid, alice.jid)
		}
		if m.Delay == nil || m.Delay.From != "localhost" {
			t.Fatalf("message %d has no delay from localhost: %+v", i, m.Delay)
		}
		stamp, err := time.Parse(time.RFC3339Nano, m.Delay.Stamp)
		if err != nil || !strings.HasSuffix(m.Delay.Stamp, "Z") || stamp.Before(before) || stamp.After(after) {
			t.Fatalf("message %d: stamp %q (%v) is not a UTC time between %v and %v", i, m.Delay.Stamp, err, before, after)
		}
	}

	// Gone for good: the next login gets only what came after. The marker
	// is stored after the originals, so any original left would come first.
	alice.unavailable(t)
	bob.send(t, chat("alice@localhost", "marker", "only this"))
	alice2 := offLogin(t, env, "alice", "a2")
	alice2.available(t)
	if m := alice2.next(t); m.ID != "marker" {
		t.Fatalf("second login got %+v first, want the marker", m)
	}
	select {
	case s := <-bob.in:
		t.Fatalf("bob got %+v", s)
	default:
	}
}

// TestOfflineRefused: what is not stored, and what the sender hears.
func TestOfflineRefused(t *testing.T) {
	env := offlineEnv(t, func(c *server.Config) { c.Offline.MaxPerUser = 2 })
	bob := offLogin(t, env, "bob", "b")
	wantErr := func(id, cond string) {
		t.Helper()
		m := bob.next(t)
		if m.XMLName.Local != "message" || m.Type != "error" || m.ID != id || !strings.Contains(m.cond(), cond) {
			t.Fatalf("bob got %+v (%s), want an error for %s with %s", m, m.cond(), id, cond)
		}
	}
	// no such account: service-unavailable (RFC 6121 §8.5.2.2.1)
	bob.send(t, chat("nobody@localhost", "n1", "anyone?"))
	wantErr("n1", "<service-unavailable")
	// not stored, silently: a headline, chat states alone, an error
	bob.send(t, "<message to='alice@localhost' type='headline' id='h1'><body>news</body></message>")
	bob.send(t, "<message to='alice@localhost' type='chat' id='c1'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	bob.send(t, "<message to='alice@localhost' type='error' id='e1'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
	// not stored, with an error: groupchat (§8.5.2.2.2), a no-store hint on a body (XEP-0334)
	bob.send(t, "<message to='alice@localhost' type='groupchat' id='g1'><body>room?</body></message>")
	wantErr("g1", "<service-unavailable")
	bob.send(t, "<message to='alice@localhost' type='chat' id='ns1'><body>ephemeral</body><no-store xmlns='urn:xmpp:hints'/></message>")
	wantErr("ns1", "<service-unavailable")
	// stored: a body; a receipt without body; then the quota is full
	bob.send(t, chat("alice@localhost", "k1", "kept"))
	bob.send(t, "<message to='alice@localhost' id='k2'><received xmlns='urn:xmpp:receipts' id='x'/></message>")
	bob.send(t, chat("alice@localhost", "q1", "one too many"))
	wantErr("q1", "wait <resource-constraint")

	// alice gets exactly the two stored ones; headline, chat states and
	// the refused ones would have come first. A retrieval asked afterwards
	// runs after that delivery and finds the queue empty.
	alice := offLogin(t, env, "alice", "a")
	alice.available(t)
	for _, id := range []string{"k1", "k2"} {
		if m := alice.next(t); m.ID != id || m.Delay == nil {
			t.Fatalf("alice got %+v, want %s with a delay", m, id)
		}
	}
	if got := alice.iq(t, "get", "f1", "<offline xmlns='http://jabber.org/protocol/offline'><fetch/></offline>"); len(got) != 1 || got[0].Type != "result" {
		t.Fatalf("fetch after delivery got %+v, want only the result", got)
	}
	select {
	case s := <-bob.in:
		t.Fatalf("bob got %+v", s)
	default:
	}
}

// TestOfflineFlexible: XEP-0013. A client that retrieves its messages itself
// gets no flood at initial presence; fetch and view leave messages stored,
// remove and purge delete them.
func TestOfflineFlexible(t *testing.T) {
	env := offlineEnv(t)
	bob := offLogin(t, env, "bob", "b")
	for i := range 3 {
		bob.send(t, chat("alice@localhost", "m"+strconv.Itoa(i), "body "+strconv.Itoa(i)))
	}
	bob.barrier(t)

	const fetch = "<offline xmlns='http://jabber.org/protocol/offline'><fetch/></offline>"
	alice := offLogin(t, env, "alice", "a")
	nodes := map[string]string{} // body → node
	check := func(got []offStanza, want ...string) {
		t.Helper()
		if last := got[len(got)-1]; last.Type != "result" {
			t.Fatalf("answer %+v (%s), want a result", last, last.cond())
		}
		got = got[:len(got)-1]
		if len(got) != len(want) {
			t.Fatalf("got %d messages %+v, want %q", len(got), got, want)
		}
		for i, m := range got {
			if m.Body != want[i] || m.Offline == nil || m.Offline.Item.Node == "" || m.Delay == nil || m.To != alice.jid {
				t.Fatalf("message %d: %+v, want body %q marked with a node and a delay", i, m, want[i])
			}
			nodes[m.Body] = m.Offline.Item.Node
		}
	}
	check(alice.iq(t, "get", "f1", fetch), "body 0", "body 1", "body 2")
	// initial presence now floods nothing: the fetch after it sees the three
	// still stored and nothing unmarked arrives before its answer
	alice.available(t)
	check(alice.iq(t, "get", "f2", fetch), "body 0", "body 1", "body 2")

	remove := "<offline xmlns='http://jabber.org/protocol/offline'><item action='remove' node='" + nodes["body 1"] + "'/></offline>"
	check(alice.iq(t, "set", "r1", remove))
	got := alice.iq(t, "set", "r2", remove)
	if m := got[len(got)-1]; m.Type != "error" || !strings.Contains(m.cond(), "<item-not-found") {
		t.Fatalf("removing twice: %+v (%s), want item-not-found", m, m.cond())
	}
	view := "<offline xmlns='http://jabber.org/protocol/offline'><item action='view' node='" + nodes["body 2"] + "'/></offline>"
	check(alice.iq(t, "get", "v1", view), "body 2")
	check(alice.iq(t, "get", "f3", fetch), "body 0", "body 2")
	check(alice.iq(t, "set", "p1", "<offline xmlns='http://jabber.org/protocol/offline'><purge/></offline>"))
	check(alice.iq(t, "get", "f4", fetch))
	if n, err := env.Srv.DB().Offline().Count("alice"); err != nil || n != 0 {
		t.Fatalf("stored after purge: %d, %v", n, err)
	}
	// only one's own queue
	alice.send(t, "<iq type='get' id='o2' to='bob@localhost'>"+fetch+"</iq>")
	if m := alice.next(t); m.ID != "o2" || !strings.Contains(m.cond(), "<forbidden") {
		t.Fatalf("fetching bob's queue: %+v (%s), want forbidden", m, m.cond())
	}
}

// TestOfflineQueueLargerThanOutputCap: a stored queue several times the
// session's output cap is delivered whole, paced by the client's reading,
// and the session is not cut off as a slow reader.
func TestOfflineQueueLargerThanOutputCap(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Limits.MaxPendingOut = 64 << 10 })
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	bob := rawStream(t, env, "bob", "r")
	const n = 300
	body := strings.Repeat("q", 1000)
	for i := range n {
		bob.send(fmt.Sprintf("<message to='alice@localhost' type='chat' id='m%d'><body>%s</body></message>", i, body))
	}
	// a flexible-offline purge of bob's own empty queue is answered only
	// after everything bob sent before it was stored
	bob.send("<iq type='set' id='sync'><offline xmlns='http://jabber.org/protocol/offline'><purge/></offline></iq>")
	bob.expect("id='sync'")

	alice := rawStream(t, env, "alice", "r")
	alice.send("<presence/>")
	for i := range n {
		alice.expect(fmt.Sprintf("id='m%d'", i))
	}
	alice.send("<iq type='get' id='alive' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	alice.expect("id='alive'")
	if got := env.Srv.Router().Table().Count(); got != 2 {
		t.Fatalf("%d sessions bound after the flush, want 2", got)
	}
}
