package stanza

import (
	"errors"
	"strings"
	"testing"

	"ignis/jid"
	"ignis/xmlscan"
)

// frames scans a stream and returns owned Stanzas of its elements.
type collect struct {
	got  []*Stanza
	errs []error
}

func (c *collect) StreamOpen(*xmlscan.Frame) error { return nil }
func (c *collect) StreamClose() error              { return nil }
func (c *collect) Element(f *xmlscan.Frame) error {
	s, err := FromFrame(f)
	c.got = append(c.got, s)
	c.errs = append(c.errs, err)
	return nil
}

func scan(t *testing.T, body string) *collect {
	t.Helper()
	var sc xmlscan.Scanner
	var c collect
	in := "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:outer'>" + body
	if err := sc.Feed([]byte(in), &c); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return &c
}

func TestFromFrame(t *testing.T) {
	c := scan(t, "<message to='Bob@Localhost/r' from='a@localhost' type='chat' id='m1' xml:lang='en'><body>hi &amp; bye</body><x:y/></message>"+
		"<iq type='get' id='q'><query xmlns='jabber:iq:roster'/></iq>"+
		"<message to='a@@b' id='bad'/>"+
		"<iq id='notype'/>")
	m := c.got[0]
	if c.errs[0] != nil || m.Kind != Message || m.Type != Chat || m.ID != "m1" || m.Lang != "en" ||
		m.To.String() != "bob@localhost/r" || m.From.String() != "a@localhost" {
		t.Fatalf("header %+v err %v", m, c.errs[0])
	}
	if !strings.Contains(string(m.Bytes()), "xmlns:x='urn:outer'") {
		t.Fatalf("outer prefix not declared on the copy: %s", m.Bytes())
	}
	if _, err := xmlscan.ParseElem(m.Bytes(), NSClient); err != nil {
		t.Fatalf("copy does not stand alone: %v: %s", err, m.Bytes())
	}
	if p := c.got[1].Payload(); string(p.NS()) != "jabber:iq:roster" || string(p.Local()) != "query" {
		t.Fatalf("payload {%s}%s", p.NS(), p.Local())
	}
	var se *Error
	if !errors.As(c.errs[2], &se) || se.Cond != JIDMalformed || c.got[2].ID != "bad" {
		t.Fatalf("bad to: %v", c.errs[2])
	}
	if !errors.As(c.errs[3], &se) || se.Cond != BadRequest {
		t.Fatalf("iq without type: %v", c.errs[3])
	}
}

// TestHeaderDecoded: the header's attributes, read in one walk, are decoded
// as Elem.Attr decodes them, whatever their order.
func TestHeaderDecoded(t *testing.T) {
	c := scan(t, "<message xml:lang='de' id='a&amp;b' type='normal' from='x@localhost/r&#x20;s' to='y@localhost'/>")
	m := c.got[0]
	if c.errs[0] != nil || m.ID != "a&b" || m.Lang != "de" || m.Type != Normal ||
		m.From.Resource() != "r s" || m.To.String() != "y@localhost" {
		t.Fatalf("header %+v err %v", m, c.errs[0])
	}
	if to, from := string(m.raw[m.toOff:m.toEnd]), string(m.raw[m.fromOff:m.fromEnd]); to != " to='y@localhost'" || from != " from='x@localhost/r&#x20;s'" {
		t.Fatalf("address spans %q, %q", to, from)
	}
}

func TestWithAddrs(t *testing.T) {
	alice, bob := jid.MustParse("alice@localhost/a"), jid.MustParse("bob@localhost")
	for _, tc := range []struct{ name, in, want string }{
		{"none", "<message><body>x</body></message>", "<message from='alice@localhost/a' to='bob@localhost'><body>x</body></message>"},
		{"replace both", "<message to='c@localhost' id='1' from='evil@x' type='chat'><body/></message>", "<message from='alice@localhost/a' to='bob@localhost' id='1' type='chat'><body/></message>"},
		{"self-closing", "<presence from='z@z' />", "<presence from='alice@localhost/a' to='bob@localhost' />"},
		{"from last", "<iq type='get' id='2' from='evil@x'><q xmlns='u'/></iq>", "<iq from='alice@localhost/a' to='bob@localhost' type='get' id='2'><q xmlns='u'/></iq>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustParse([]byte(tc.in))
			n := s.WithAddrs(alice, bob)
			if string(n.Bytes()) != tc.want {
				t.Fatalf("got  %s\nwant %s", n.Bytes(), tc.want)
			}
			if again := MustParse(n.Bytes()); !again.From.Equal(alice) || !again.To.Equal(bob) {
				t.Fatal("rewritten stanza does not parse back")
			}
			if n2 := n.WithAddrs(bob, jid.JID{}); string(MustParse(n2.Bytes()).Bytes()) != string(n2.Bytes()) || n2.To.IsZero() != true {
				t.Fatalf("second rewrite: %s", n2.Bytes())
			}
		})
	}
}

func TestReplies(t *testing.T) {
	s := MustParse([]byte("<iq type='get' id='x&amp;1' from='alice@localhost/a' to='localhost'><q xmlns='u'/></iq>"))
	if got := string(s.Result([]byte("<q xmlns='u'/>")).Bytes()); got != "<iq type='result' id='x&amp;1' from='localhost' to='alice@localhost/a'><q xmlns='u'/></iq>" {
		t.Fatalf("result: %s", got)
	}
	e := s.ErrorReply(ErrText(ItemNotFound, "no <such> thing"))
	want := "<iq type='error' id='x&amp;1' from='localhost' to='alice@localhost/a'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>no &lt;such&gt; thing</text></error></iq>"
	if string(e.Bytes()) != want {
		t.Fatalf("error reply:\n got %s\nwant %s", e.Bytes(), want)
	}
	if e.ErrorReply(Err(BadRequest)) != nil {
		t.Fatal("an error was answered")
	}
}

func TestConditionTables(t *testing.T) {
	for c := BadRequest; c <= UnexpectedRequest; c++ {
		if c.String() == "" || conds[c].typ == 0 || ConditionByName(c.String()) != c {
			t.Errorf("condition %d incomplete", c)
		}
	}
	for c := BadFormat; c <= UnsupportedVersion; c++ {
		if c.String() == "" {
			t.Errorf("stream condition %d has no name", c)
		}
	}
	if got := string(StreamErr(NotWellFormed, "").AppendXML(nil)); got != "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>" {
		t.Fatal(got)
	}
}

// TestStreamErrorApp: an application-specific condition follows the
// defined condition and the text (RFC 6120 §4.9.2).
func TestStreamErrorApp(t *testing.T) {
	var b Builder
	b.Element("handled-count-too-high", "", "xmlns", "urn:xmpp:sm:3", "h", "10", "send-count", "8")
	got := string(StreamErrApp(StreamUndefinedCondition, "a&b", &b).AppendXML(nil))
	want := "<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" +
		"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>a&amp;b</text>" +
		"<handled-count-too-high xmlns='urn:xmpp:sm:3' h='10' send-count='8'/></stream:error>"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestBuilder(t *testing.T) {
	var b Builder
	b.Start("a", "x", "1'\"", "empty", "").Text("<&>").Start("b").End().Element("c", "t", "k", "v")
	if got := string(b.Bytes()); got != `<a x='1&apos;&quot;'>&lt;&amp;&gt;<b/><c k='v'>t</c></a>` {
		t.Fatal(got)
	}
}

func TestReaddressedSharesBytes(t *testing.T) {
	s := MustParse([]byte("<presence from='a@localhost/r'><show>away</show></presence>"))
	c := s.Readdressed(jid.MustParse("b@localhost"))
	if &c.Bytes()[0] != &s.Bytes()[0] || !c.To.Equal(jid.MustParse("b@localhost")) || !s.To.IsZero() {
		t.Fatal("Readdressed copied the bytes or changed the original")
	}
	if n := testing.AllocsPerRun(100, func() { _ = s.Readdressed(jid.MustParse("b@localhost")) }); n > 1 {
		t.Fatalf("%v allocations per fan-out copy, want at most 1 (the header)", n)
	}
}

// TestAddressedBytes: the bytes for another server carry the routing
// addresses; a stanza whose bytes already do is not copied.
func TestAddressedBytes(t *testing.T) {
	shared := MustParse([]byte("<presence from='a@localhost/r'><show>away</show></presence>"))
	for _, tc := range []struct {
		name string
		st   *Stanza
		want string
	}{
		{"fan-out copy without to", shared.Readdressed(jid.MustParse("b@remote.example")),
			"<presence from='a@localhost/r' to='b@remote.example'><show>away</show></presence>"},
		{"fan-out copy of a stanza with another to", MustParse([]byte("<message to='x@y' from='a@localhost'/>")).Readdressed(jid.MustParse("b@remote.example")),
			"<message from='a@localhost' to='b@remote.example'/>"},
		{"double quotes", MustParse([]byte(`<message to="b@remote.example" from="a@localhost"/>`)),
			"<message from='a@localhost' to='b@remote.example'/>"},
		{"already addressed", MustParse([]byte("<message to='b@remote.example' from='a@localhost'/>")),
			"<message to='b@remote.example' from='a@localhost'/>"},
	} {
		if got := string(tc.st.AddressedBytes()); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	st := MustParse([]byte("<message to='b@remote.example' from='a@localhost'/>"))
	if &st.AddressedBytes()[0] != &st.Bytes()[0] {
		t.Error("an addressed stanza was copied")
	}
}

// asCollect copies each element with FromFrameAs, then spoils the read
// buffer: the copies must not share it.
type asCollect struct {
	from    jid.JID
	got     []string
	claimed []string
	errs    []error
}

func (c *asCollect) StreamOpen(*xmlscan.Frame) error { return nil }
func (c *asCollect) StreamClose() error              { return nil }
func (c *asCollect) Element(f *xmlscan.Frame) error {
	s, claimed, err := FromFrameAs(f, c.from)
	c.errs = append(c.errs, err)
	c.claimed = append(c.claimed, claimed.String())
	if s != nil {
		if again, perr := Parse(append([]byte(nil), s.Bytes()...)); perr == nil && !again.From.Equal(s.From) {
			return errors.New("offsets of the stamped copy are wrong")
		}
		c.got = append(c.got, string(s.Bytes())+" from="+s.From.String())
	}
	raw := f.Raw()
	for i := range raw {
		raw[i] = 'Z'
	}
	return nil
}

// TestFromFrameAs: one copy out of the read buffer with from stamped; the
// client's own from is reported; outer prefixes and errors take FromFrame's path.
func TestFromFrameAs(t *testing.T) {
	var sc xmlscan.Scanner
	c := asCollect{from: jid.MustParse("alice@localhost/a")}
	in := "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:outer'>" +
		"<message to='bob@localhost' type='chat' id='m1'><body>hi</body></message>" +
		"<message from='alice@localhost' to='bob@localhost' id='m2'/>" +
		"<message to='bob@localhost' id='m3'><x:y/></message>" +
		"<message to='a@@b' id='bad'/>"
	if err := sc.Feed([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"<message from='alice@localhost/a' to='bob@localhost' type='chat' id='m1'><body>hi</body></message> from=alice@localhost/a",
		"<message from='alice@localhost/a' to='bob@localhost' id='m2'/> from=alice@localhost/a",
		"<message xmlns:x='urn:outer' to='bob@localhost' id='m3'><x:y/></message> from=",
		"<message to='a@@b' id='bad'/> from=",
	}
	for i, w := range want {
		if i >= len(c.got) || c.got[i] != w {
			t.Errorf("%d: got %q\nwant %q", i, c.got, w)
		}
	}
	if c.claimed[0] != "" || c.claimed[1] != "alice@localhost" || c.errs[0] != nil {
		t.Errorf("claimed %q errs %v", c.claimed, c.errs)
	}
	var se *Error
	if !errors.As(c.errs[3], &se) || se.Cond != JIDMalformed {
		t.Errorf("bad to: %v", c.errs[3])
	}
}
