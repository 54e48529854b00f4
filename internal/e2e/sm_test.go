package e2e

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// Stream Management (XEP-0198) over raw sockets, with a tiny SM client that
// decodes every top-level element and counts the stanzas it receives.

// smElem is one top-level element received.
type smElem struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Body    string     `xml:"body"`
	Inner   string     `xml:",innerxml"`
	Delay   *struct {
		Stamp string `xml:"stamp,attr"`
	} `xml:"urn:xmpp:delay delay"`
}

func (e smElem) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// smClient is a raw connection with a decoder goroutine.
type smClient struct {
	t    *testing.T
	c    net.Conn
	name string
	in   chan smElem
	end  chan error
}

func newSMClient(t *testing.T, c net.Conn, name string) *smClient {
	s := &smClient{t: t, c: c, name: name, in: make(chan smElem, 4096), end: make(chan error, 1)}
	_ = c.SetReadDeadline(time.Time{})
	go decodeAll(c, s.in, s.end)
	return s
}

func (s *smClient) send(x string) {
	s.t.Helper()
	if _, err := io.WriteString(s.c, x); err != nil {
		s.t.Fatalf("%s: send: %v", s.name, err)
	}
}

// next returns the next element whose local name is one of names.
func (s *smClient) next(names ...string) smElem {
	s.t.Helper()
	for {
		var e smElem
		select {
		case e = <-s.in:
		case err := <-s.end:
			select {
			case e = <-s.in: // decoded before the end: it comes first
				s.end <- err
			default:
				s.t.Fatalf("%s: stream ended while waiting for %v: %v", s.name, names, err)
			}
		case <-time.After(10 * time.Second):
			s.t.Fatalf("%s: no %v within 10 s", s.name, names)
		}
		for _, n := range names {
			if e.XMLName.Local == n {
				return e
			}
		}
	}
}

// rawAuth authenticates over direct TLS and restarts the stream, stopping
// before resource binding (where <resume/> goes).
func rawAuth(t *testing.T, env *servertest.Env, user string) net.Conn {
	t.Helper()
	c := env.DialTLS()
	io.WriteString(c, header)
	readUntil(t, c, "</stream:features>")
	io.WriteString(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00pw"))+"</auth>")
	readUntil(t, c, "<success")
	io.WriteString(c, header)
	feats := readUntil(t, c, "</stream:features>")
	for _, ns := range []string{"urn:xmpp:sm:2", "urn:xmpp:sm:3"} {
		if want := "<sm xmlns='" + ns + "'/>"; !strings.Contains(feats, want) {
			t.Fatalf("features lack %s: %s", want, feats)
		}
	}
	return c
}

// smLogin logs in, binds and enables Stream Management in ns; it returns
// the client and the resumption id ("" without resume).
func smLogin(t *testing.T, env *servertest.Env, user, resource, ns string, resume bool) (*smClient, string) {
	t.Helper()
	s := newSMClient(t, rawLogin(t, env, user, "pw", resource), user+"@localhost/"+resource)
	if resume {
		s.send("<enable xmlns='" + ns + "' resume='true'/>")
	} else {
		s.send("<enable xmlns='" + ns + "'/>")
	}
	e := s.next("enabled", "failed")
	if e.XMLName.Local != "enabled" || e.XMLName.Space != ns {
		t.Fatalf("%s: enable answered with %+v", s.name, e)
	}
	if resume && (e.attr("resume") != "true" || len(e.attr("id")) < 16) {
		t.Fatalf("%s: enabled without resumption: %+v", s.name, e)
	}
	return s, e.attr("id")
}

func smChat(to, body string) string {
	return "<message to='" + to + "' type='chat'><body>" + body + "</body></message>"
}

// messages reads n messages and returns their bodies.
func (s *smClient) messages(n int) []string {
	s.t.Helper()
	var got []string
	for len(got) < n {
		got = append(got, s.next("message").Body)
	}
	return got
}

func bodies(from, to int) []string {
	var b []string
	for i := from; i <= to; i++ {
		b = append(b, "m"+strconv.Itoa(i))
	}
	return b
}

func sameList(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestStreamResume: alice acknowledges 4 of 10 messages, loses her
// connection, bob sends 5 more; alice resumes with h=4 and receives 5..15
// exactly once and in order; <resumed/> acknowledges what she had sent.
func TestStreamResume(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	bob := rawStream(t, env, "bob", "desk")
	alice, id := smLogin(t, env, "alice", "phone", "urn:xmpp:sm:3", true)
	stats := env.Srv.Stats()

	// two stanzas from alice: h_in = 2
	alice.send(smChat("bob@localhost/desk", "a1"))
	alice.send(smChat("bob@localhost/desk", "a2"))
	bob.expect("<body>a2</body>")

	for i := 1; i <= 10; i++ {
		bob.send(smChat("alice@localhost/phone", "m"+strconv.Itoa(i)))
	}
	if got := alice.messages(10); !sameList(got, bodies(1, 10)) {
		t.Fatalf("first 10: %v", got)
	}
	alice.send("<a xmlns='urn:xmpp:sm:3' h='4'/>")
	alice.c.Close() // the connection breaks: no </stream:stream>
	waitCount(t, &stats.SMDetached, 1)

	for i := 11; i <= 15; i++ {
		bob.send(smChat("alice@localhost/phone", "m"+strconv.Itoa(i)))
	}
	// bob's last message is in alice's detached inbox once bob's iq
	// round-trip is done (his stanzas are routed in order)
	bob.send("<iq type='get' id='sync1'><ping xmlns='urn:xmpp:ping'/></iq>")
	bob.expect("id='sync1'")

	alice2 := newSMClient(t, rawAuth(t, env, "alice"), "alice (resumed)")
	alice2.send("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='4'/>")
	r := alice2.next("resumed", "failed")
	if r.XMLName.Local != "resumed" || r.attr("previd") != id || r.attr("h") != "2" {
		t.Fatalf("resume answered with %+v (want resumed previd=%s h=2)", r, id)
	}
	if n := stats.SMResumed.Load(); n != 1 {
		t.Fatalf("SMResumed = %d", n)
	}
	bob.send(smChat("alice@localhost/phone", "m16"))
	if got := alice2.messages(12); !sameList(got, bodies(5, 16)) {
		t.Fatalf("after resume got %v, want m5..m16 once, in order", got)
	}
	// the counters go on (alice has sent 2 stanzas), and her session is the
	// one bound: messages flow both ways
	resumedBound(t, alice2, bob, "2", "a3", "12")
}

// resumedBound checks that c's resumed session is the one bound: its
// inbound count goes on from the old connection's (h), and a message it
// sends reaches bob; then it acknowledges ack stanzas and closes.
func resumedBound(t *testing.T, c *smClient, bob *stream, h, body, ack string) {
	t.Helper()
	c.send("<r xmlns='urn:xmpp:sm:3'/>")
	if a := c.next("a"); a.attr("h") != h {
		t.Fatalf("<a/> after the resume: %+v, want h=%s", a, h)
	}
	c.send(smChat("bob@localhost/desk", body))
	bob.expect("<body>" + body + "</body>")
	c.send("<a xmlns='urn:xmpp:sm:3' h='" + ack + "'/>")
	c.send("</stream:stream>")
}

// TestStreamResumeUnknown: an unknown id (or one of another user) fails
// with <item-not-found/>, and the client may then bind.
func TestStreamResumeUnknown(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw")
	env.AddUser("eve", "pw")
	stats := env.Srv.Stats()

	// a detached stream of alice's that eve must not take
	alice, id := smLogin(t, env, "alice", "phone", "urn:xmpp:sm:3", true)
	alice.c.Close()
	waitCount(t, &stats.SMDetached, 1)

	for _, tc := range []struct{ name, user, previd string }{
		{"unknown-id", "alice", "0123456789abcdef"},
		{"other-users-id", "eve", id},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newSMClient(t, rawAuth(t, env, tc.user), tc.user)
			c.send("<resume xmlns='urn:xmpp:sm:3' previd='" + tc.previd + "' h='0'/>")
			f := c.next("resumed", "failed")
			if f.XMLName.Local != "failed" || f.XMLName.Space != "urn:xmpp:sm:3" || !strings.Contains(f.Inner, "item-not-found") {
				t.Fatalf("got %+v, want failed/item-not-found", f)
			}
			c.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>")
			if iq := c.next("iq"); iq.attr("type") != "result" || !strings.Contains(iq.Inner, tc.user+"@localhost/r") {
				t.Fatalf("bind after failed resume: %+v", iq)
			}
		})
	}
	// enable before bind is refused
	c := newSMClient(t, rawAuth(t, env, "eve"), "eve")
	c.send("<enable xmlns='urn:xmpp:sm:3'/>")
	if f := c.next("enabled", "failed"); f.XMLName.Local != "failed" || !strings.Contains(f.Inner, "unexpected-request") {
		t.Fatalf("enable before bind: %+v", f)
	}
}

// TestStreamResumeExpiry: a session that is never resumed ends after the
// resume timeout, and what alice did not acknowledge reaches her next
// session from offline storage, stamped — nothing is lost.
func TestStreamResumeExpiry(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) {
		c.StreamManagement.ResumeTimeout = server.Duration{Duration: time.Second}
	})
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	stats := env.Srv.Stats()
	bob := rawStream(t, env, "bob", "desk")
	alice, _ := smLogin(t, env, "alice", "phone", "urn:xmpp:sm:3", true)
	for i := 1; i <= 3; i++ {
		bob.send(smChat("alice@localhost/phone", "m"+strconv.Itoa(i)))
	}
	if got := alice.messages(3); !sameList(got, bodies(1, 3)) {
		t.Fatalf("got %v", got)
	}
	alice.send("<a xmlns='urn:xmpp:sm:3' h='1'/>")
	alice.c.Close()
	waitCount(t, &stats.SMDetached, 1)
	bob.send(smChat("alice@localhost/phone", "m4")) // queued in the detached session
	waitCount(t, &stats.SMExpired, 1)

	next := offLogin(t, env, "alice", "laptop")
	next.available(t)
	for _, want := range bodies(2, 4) {
		m := next.next(t)
		if m.Body != want || m.Delay == nil || m.Delay.Stamp == "" {
			t.Fatalf("got %+v, want %s with a delay stamp", m, want)
		}
	}
}

// TestStreamAckRequest: the server asks for an acknowledgement after a few
// unacknowledged stanzas, in the namespace the client enabled with (sm:2).
func TestStreamAckRequest(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	bob := rawStream(t, env, "bob", "desk")
	alice, id := smLogin(t, env, "alice", "phone", "urn:xmpp:sm:2", false)
	if id != "" {
		t.Fatalf("resumption id without resume='true': %q", id)
	}
	for i := 1; i <= 5; i++ {
		bob.send(smChat("alice@localhost/phone", fmt.Sprint("m", i)))
	}
	r := alice.next("r")
	if r.XMLName.Space != "urn:xmpp:sm:2" {
		t.Fatalf("<r/> in %q", r.XMLName.Space)
	}
	alice.send("<a xmlns='urn:xmpp:sm:2' h='5'/>")
	alice.send("<r xmlns='urn:xmpp:sm:2'/>")
	if a := alice.next("a"); a.attr("h") != "0" || a.XMLName.Space != "urn:xmpp:sm:2" {
		t.Fatalf("<a/>: %+v", a)
	}
	// an ack for more than was sent is a stream error
	alice.send("<a xmlns='urn:xmpp:sm:2' h='99'/>")
	if e := alice.next("error"); !strings.Contains(e.Inner, "undefined-condition") {
		t.Fatalf("over-ack: %+v", e)
	}
}

// TestStreamResumeFaults: while bob sends a stream of messages, alice's
// connection is cut at pseudo-random points and she resumes each time with
// the count of what she handled: she ends up with every message exactly
// once, in order.
func TestStreamResumeFaults(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	stats := env.Srv.Stats()
	bob := rawStream(t, env, "bob", "desk")
	alice, id := smLogin(t, env, "alice", "phone", "urn:xmpp:sm:3", true)

	const n = 300
	sent := make(chan error, 1)
	go func() {
		var err error
		for i := 1; i <= n && err == nil; i++ {
			_, err = io.WriteString(bob.c, smChat("alice@localhost/phone", "m"+strconv.Itoa(i)))
		}
		sent <- err
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	var got []string
	var cuts int64
	for len(got) < n {
		for k := 1 + rng.IntN(40); k > 0 && len(got) < n; {
			e := alice.next("message", "r")
			if e.XMLName.Local == "r" {
				alice.send("<a xmlns='urn:xmpp:sm:3' h='" + strconv.Itoa(len(got)) + "'/>")
				continue
			}
			got = append(got, e.Body)
			k--
		}
		if len(got) == n {
			break
		}
		// cut: whatever was read but not handled is resent after the resume
		alice.c.Close()
		cuts++
		waitCount(t, &stats.SMDetached, cuts)
		alice = newSMClient(t, rawAuth(t, env, "alice"), "alice")
		alice.send("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='" + strconv.Itoa(len(got)) + "'/>")
		if r := alice.next("resumed", "failed"); r.XMLName.Local != "resumed" {
			t.Fatalf("resume %d failed: %+v", cuts, r)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if !sameList(got, bodies(1, n)) {
		t.Fatalf("after %d cuts got %d messages, not m1..m%d once each in order: %v", cuts, len(got), n, got)
	}
	if cuts < 3 {
		t.Fatalf("only %d cuts", cuts)
	}
	// nothing more is pending: a marker comes next
	bob.send(smChat("alice@localhost/phone", "end"))
	if e := alice.next("message"); e.Body != "end" {
		t.Fatalf("after m%d: %+v", n, e)
	}
}

// closedAfter waits until the decoder of s stopped (the stream ended) and
// then checks that the server closed the connection: the next read is EOF.
func (s *smClient) closedAfter() {
	s.t.Helper()
	select {
	case <-s.end:
	case <-time.After(10 * time.Second):
		s.t.Fatalf("%s: the stream did not end within 10 s", s.name)
	}
	_ = s.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := s.c.Read(make([]byte, 64)); err != io.EOF {
		s.t.Fatalf("%s: after the stream's end: read %d bytes, %v; want EOF", s.name, n, err)
	}
}

// TestStreamResumeHandover: alice's phone changed networks; the server has
// not noticed her first connection is dead when she resumes on a second
// one. The first connection gets a <conflict/> stream error and is closed,
// and the session goes on over the second: what she did not acknowledge is
// resent, and a message sent during the handover arrives once.
func TestStreamResumeHandover(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Loops = 4 })
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	stats := env.Srv.Stats()
	bob := rawStream(t, env, "bob", "desk")
	alice, id := smLogin(t, env, "alice", "phone", "urn:xmpp:sm:3", true)

	alice.send(smChat("bob@localhost/desk", "a1")) // h_in = 1
	bob.expect("<body>a1</body>")
	for i := 1; i <= 5; i++ {
		bob.send(smChat("alice@localhost/phone", "m"+strconv.Itoa(i)))
	}
	if got := alice.messages(5); !sameList(got, bodies(1, 5)) {
		t.Fatalf("before the handover: %v", got)
	}

	// she handled two, but never acknowledged any; the first connection stays open
	alice2 := newSMClient(t, rawAuth(t, env, "alice"), "alice (second connection)")
	alice2.send("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='2'/>")
	bob.send(smChat("alice@localhost/phone", "m6")) // during the handover
	r := alice2.next("resumed", "failed")
	if r.XMLName.Local != "resumed" || r.attr("previd") != id || r.attr("h") != "1" {
		t.Fatalf("resume answered with %+v (want resumed previd=%s h=1)", r, id)
	}
	// XEP-0198 §5: the old stream ends with <conflict/>, and its connection closes
	if e := alice.next("error"); !strings.Contains(e.Inner, "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>") {
		t.Fatalf("first connection got %+v, want a conflict stream error", e)
	}
	alice.closedAfter()

	bob.send(smChat("alice@localhost/phone", "m7"))
	if got := alice2.messages(5); !sameList(got, bodies(3, 7)) {
		t.Fatalf("after the handover got %v, want m3..m7 once each, in order", got)
	}
	// nothing else is pending: a marker comes next
	bob.send(smChat("alice@localhost/phone", "end"))
	if e := alice2.next("message"); e.Body != "end" {
		t.Fatalf("after m7: %+v", e)
	}
	if d, n := stats.SMDetached.Load(), stats.SMResumed.Load(); d != 1 || n != 1 {
		t.Fatalf("SMDetached = %d, SMResumed = %d; want 1 and 1", d, n)
	}
	// the session is the one bound, counters and all
	resumedBound(t, alice2, bob, "1", "a2", "8")
}

// TestStreamResumeHandoverOtherUser: eve cannot take alice's live session
// with its id: <failed/> with <item-not-found/>, and alice's connection
// and session are left alone.
func TestStreamResumeHandoverOtherUser(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Loops = 4 })
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	env.AddUser("eve", "pw")
	stats := env.Srv.Stats()
	bob := rawStream(t, env, "bob", "desk")
	alice, id := smLogin(t, env, "alice", "phone", "urn:xmpp:sm:3", true)
	bob.send(smChat("alice@localhost/phone", "m1"))
	if got := alice.messages(1); !sameList(got, bodies(1, 1)) {
		t.Fatalf("got %v", got)
	}

	eve := newSMClient(t, rawAuth(t, env, "eve"), "eve")
	eve.send("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='0'/>")
	f := eve.next("resumed", "failed")
	if f.XMLName.Local != "failed" || !strings.Contains(f.Inner, "item-not-found") {
		t.Fatalf("eve's resume of alice's session: %+v", f)
	}
	eve.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>phone</resource></bind></iq>")
	if iq := eve.next("iq"); iq.attr("type") != "result" || !strings.Contains(iq.Inner, "eve@localhost/phone") {
		t.Fatalf("eve's bind: %+v", iq)
	}

	// alice's session goes on on her connection, its counters untouched
	bob.send(smChat("alice@localhost/phone", "m2"))
	if got := alice.messages(1); !sameList(got, bodies(2, 2)) {
		t.Fatalf("after eve's attempt alice got %v", got)
	}
	alice.send("<a xmlns='urn:xmpp:sm:3' h='2'/>")
	alice.send(smChat("bob@localhost/desk", "a1"))
	bob.expect("<body>a1</body>")
	alice.send("<r xmlns='urn:xmpp:sm:3'/>")
	if a := alice.next("a"); a.attr("h") != "1" {
		t.Fatalf("<a/>: %+v", a)
	}
	if d := stats.SMDetached.Load(); d != 0 {
		t.Fatalf("SMDetached = %d", d)
	}
	select {
	case err := <-alice.end:
		t.Fatalf("alice's stream ended: %v", err)
	default:
	}
	alice.send("</stream:stream>")
}

// smStreamError is a stream error's content.
type smStreamError struct {
	Undefined *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-streams undefined-condition"`
	TooHigh   *struct {
		H         string `xml:"h,attr"`
		SendCount string `xml:"send-count,attr"`
	} `xml:"urn:xmpp:sm:3 handled-count-too-high"`
}

func parseStreamError(t *testing.T, e smElem) smStreamError {
	t.Helper()
	var se smStreamError
	if err := xml.Unmarshal([]byte("<e>"+e.Inner+"</e>"), &se); err != nil {
		t.Fatalf("stream error %q: %v", e.Inner, err)
	}
	return se
}

// TestStreamHandledCountTooHigh (XEP-0198 §4): an <a/>, or a <resume/>,
// acknowledging more stanzas than the server sent ends the stream with
// <undefined-condition/> and <handled-count-too-high/> giving both counts.
func TestStreamHandledCountTooHigh(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	stats := env.Srv.Stats()
	bob := rawStream(t, env, "bob", "desk")

	alice, _ := smLogin(t, env, "alice", "phone", "urn:xmpp:sm:3", true)
	bob.send(smChat("alice@localhost/phone", "m1"))
	bob.send(smChat("alice@localhost/phone", "m2"))
	alice.messages(2)
	alice.send("<a xmlns='urn:xmpp:sm:3' h='5'/>")
	se := parseStreamError(t, alice.next("error"))
	if se.Undefined == nil || se.TooHigh == nil || se.TooHigh.H != "5" || se.TooHigh.SendCount != "2" {
		t.Fatalf("stream error for h=5 of 2 sent: %+v %+v", se.Undefined, se.TooHigh)
	}
	alice.closedAfter()

	// the same on resumption (m1 and m2 went to offline storage: the
	// tablet, without presence, does not get them)
	alice, id := smLogin(t, env, "alice", "tablet", "urn:xmpp:sm:3", true)
	bob.send(smChat("alice@localhost/tablet", "m3"))
	if got := alice.messages(1); !sameList(got, bodies(3, 3)) {
		t.Fatalf("tablet got %v", got)
	}
	alice.c.Close()
	waitCount(t, &stats.SMDetached, 1)
	alice2 := newSMClient(t, rawAuth(t, env, "alice"), "alice (resumed)")
	alice2.send("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='9'/>")
	e := alice2.next("error", "resumed", "failed")
	if e.XMLName.Local != "error" {
		t.Fatalf("resume with h=9 of 1 sent answered with %+v", e)
	}
	se = parseStreamError(t, e)
	if se.Undefined == nil || se.TooHigh == nil || se.TooHigh.H != "9" || se.TooHigh.SendCount != "1" {
		t.Fatalf("stream error for a resume with h=9 of 1 sent: %+v %+v", se.Undefined, se.TooHigh)
	}
	alice2.closedAfter()
}
