package xmlscan

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

const hdr = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"

func TestErrors(t *testing.T) {
	big := "<message><body>" + strings.Repeat("x", 300) + "</body></message>"
	deep := strings.Repeat("<a>", 5) + strings.Repeat("</a>", 5)
	tests := []struct {
		name string
		in   string
		lim  Limits
		want error
	}{
		{"comment", hdr + "<!-- hi -->", Limits{}, ErrRestrictedXML},
		{"comment in stanza", hdr + "<message><!-- hi --></message>", Limits{}, ErrRestrictedXML},
		{"DTD", "<!DOCTYPE stream>" + hdr, Limits{}, ErrRestrictedXML},
		{"PI", hdr + "<?php echo 1?>", Limits{}, ErrRestrictedXML},
		{"PI before header", "<?xml-stylesheet href='a'?>" + hdr, Limits{}, ErrRestrictedXML},
		{"decl not first", " <?xml version='1.0'?>" + hdr, Limits{}, ErrRestrictedXML},
		{"decl twice", "<?xml version='1.0'?><?xml version='1.0'?>" + hdr, Limits{}, ErrRestrictedXML},
		{"decl without version", "<?xml encoding='UTF-8'?>" + hdr, Limits{}, ErrNotWellFormed},
		{"non-UTF-8 encoding", "<?xml version='1.0' encoding='ISO-8859-1'?>" + hdr, Limits{}, ErrUnsupportedEncoding},
		{"UTF-16 encoding", "<?xml version='1.0' encoding=\"UTF-16\"?>" + hdr, Limits{}, ErrUnsupportedEncoding},
		// RFC 6120 §11.6: a UTF-16 stream is unsupported-encoding, found from its first bytes (XML Appendix F)
		{"UTF-16LE with BOM", "\xff\xfe<\x00?\x00x\x00", Limits{}, ErrUnsupportedEncoding},
		{"UTF-16BE with BOM", "\xfe\xff\x00<\x00?", Limits{}, ErrUnsupportedEncoding},
		{"UTF-16LE without BOM", "<\x00?\x00x\x00", Limits{}, ErrUnsupportedEncoding},
		{"UTF-16BE without BOM", "\x00<\x00?", Limits{}, ErrUnsupportedEncoding},
		{"NUL between stanzas", hdr + "\x00", Limits{}, ErrNotWellFormed},
		{"second header", hdr + "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' version='1.0'>", Limits{}, ErrNestedHeader},
		{"second header self-closing", hdr + "<stream:stream/>", Limits{}, ErrNestedHeader},
		{"NUL after white space", " \x00<", Limits{}, ErrNotWellFormed},
		{"unknown entity", hdr + "<message><body>&nbsp;</body></message>", Limits{}, ErrRestrictedXML},
		{"unknown entity in attr", hdr + "<message to='&foo;'/>", Limits{}, ErrRestrictedXML},
		{"malformed reference", hdr + "<message><body>a & b</body></message>", Limits{}, ErrNotWellFormed},
		{"char ref to control", hdr + "<message><body>&#1;</body></message>", Limits{}, ErrNotWellFormed},
		{"char ref too big", hdr + "<message><body>&#x110000;</body></message>", Limits{}, ErrNotWellFormed},
		{"bad UTF-8", hdr + "<message><body>\xff</body></message>", Limits{}, ErrNotWellFormed},
		{"bad UTF-8 in attr", hdr + "<message to='\xc3('/>", Limits{}, ErrNotWellFormed},
		{"surrogate", hdr + "<message><body>\xed\xa0\x80</body></message>", Limits{}, ErrNotWellFormed},
		{"U+FFFE", hdr + "<message><body>\xef\xbf\xbe</body></message>", Limits{}, ErrNotWellFormed},
		{"control char", hdr + "<message><body>\x01</body></message>", Limits{}, ErrNotWellFormed},
		{"NUL in attr", hdr + "<message to='\x00'/>", Limits{}, ErrNotWellFormed},
		{"mismatched end tag", hdr + "<message><body></bodx></message>", Limits{}, ErrNotWellFormed},
		{"end tag longer", hdr + "<message></messages>", Limits{}, ErrNotWellFormed},
		{"wrong root end", hdr + "</stream:streams>", Limits{}, ErrNotWellFormed},
		{"unbound prefix", hdr + "<foo:message/>", Limits{}, ErrNotWellFormed},
		{"unbound attr prefix", hdr + "<message foo:x='1'/>", Limits{}, ErrNotWellFormed},
		{"prefix out of scope", hdr + "<iq><a xmlns:p='u'/><p:b/></iq>", Limits{}, ErrNotWellFormed},
		{"empty prefix binding", hdr + "<iq xmlns:p=''/>", Limits{}, ErrNotWellFormed},
		{"xmlns prefix element", hdr + "<xmlns:iq/>", Limits{}, ErrNotWellFormed},
		{"bad qname", hdr + "<a:b:c xmlns:a='u'/>", Limits{}, ErrNotWellFormed},
		{"leading colon", hdr + "<:a/>", Limits{}, ErrNotWellFormed},
		{"leading colon attr", hdr + "<a :b='1'/>", Limits{}, ErrNotWellFormed},
		{"trailing colon", hdr + "<a: xmlns:a='u'/>", Limits{}, ErrNotWellFormed},
		{"duplicate attr", hdr + "<message to='a' to='b'/>", Limits{}, ErrNotWellFormed},
		{"duplicate xmlns", hdr + "<message xmlns='a' xmlns='a'/>", Limits{}, ErrNotWellFormed},
		{"too large", hdr + big, Limits{MaxElementBytes: 200}, ErrLimit},
		{"header too large", hdr, Limits{MaxElementBytes: 50}, ErrLimit},
		{"too deep", hdr + deep, Limits{MaxDepth: 4}, ErrLimit},
		{"too many attrs", hdr + "<message a='1' b='2' c='3'/>", Limits{MaxAttrs: 2}, ErrLimit},
		{"text at depth 1", hdr + "hello", Limits{}, ErrNotWellFormed},
		{"text before header", "hello" + hdr, Limits{}, ErrNotWellFormed},
		{"bytes after stream end", hdr + "</stream:stream> x", Limits{}, ErrNotWellFormed},
		{"element after stream end", hdr + "</stream:stream><message/>", Limits{}, ErrNotWellFormed},
		{"CDATA at depth 1", hdr + "<![CDATA[x]]>", Limits{}, ErrNotWellFormed},
		{"]]> in text", hdr + "<message><body>a]]>b</body></message>", Limits{}, ErrNotWellFormed},
		{"< in attr", hdr + "<message to='<'/>", Limits{}, ErrNotWellFormed},
		{"unquoted attr", hdr + "<message to=a/>", Limits{}, ErrNotWellFormed},
		{"attr without space", hdr + "<message to='a'id='b'/>", Limits{}, ErrNotWellFormed},
		{"bad name start", hdr + "<1message/>", Limits{}, ErrNotWellFormed},
		{"end tag at top", "</stream:stream>", Limits{}, ErrNotWellFormed},
		{"junk in tag", hdr + "<message ,/>", Limits{}, ErrNotWellFormed},
		{"slash not closing", hdr + "<message/ >", Limits{}, ErrNotWellFormed},
		{"xml prefix rebound", hdr + "<iq xmlns:xml='urn:x'/>", Limits{}, ErrNotWellFormed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scanAll(tc.lim, []byte(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "xmlscan: ") {
				t.Errorf("message %q lacks the xmlscan: prefix", err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("%T is not a *SyntaxError", err)
			}
			// byte by byte gives the same class
			pieces := make([][]byte, len(tc.in))
			for i := range pieces {
				pieces[i] = []byte(tc.in[i : i+1])
			}
			if _, err2 := scanAll(tc.lim, pieces...); class(err2) != class(err) {
				t.Errorf("byte by byte: %v, whole: %v", err2, err)
			}
		})
	}
}

func TestPositive(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // substrings expected in the events, in order
	}{
		{"header with decl", "<?xml version='1.0' encoding='utf-8' standalone='yes'?>\n" + hdr,
			[]string{"open {stream|stream|http://etherx.jabber.org/streams|"}},
		{"prefixed stanza", hdr + "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
			[]string{"elem {features|stream|http://etherx.jabber.org/streams|", "{bind||urn:ietf:params:xml:ns:xmpp-bind|", "outer[ stream=http://etherx.jabber.org/streams]"}},
		{"prefix declared on stanza", hdr + "<sasl:auth xmlns:sasl='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</sasl:auth>",
			[]string{"elem {auth|sasl|urn:ietf:params:xml:ns:xmpp-sasl|", `mechanism="PLAIN"`, `text="AGEAYg=="`, "outer[]"}},
		{"root prefix used in child", "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:x'>" +
			"<message><x:y x:a='1'/></message>",
			[]string{"{y|x|urn:x|", "outer[ x=urn:x]"}},
		{"CDATA", hdr + "<message><body>a<![CDATA[<b>&amp;]]]]>c</body></message>",
			[]string{`text="a<b>&amp;]]c"`}},
		{"entities", hdr + "<message to='a&amp;b&#x40;&#64;&apos;&quot;'><body>&lt;&gt;&amp;&#128512;</body></message>",
			[]string{`to="a&b@@'\""`, `text="<>&😀"`}},
		{"self-closing", hdr + "<presence/>", []string{"elem {presence||jabber:client|\"<presence/>\"|self=true"}},
		{"emoji", hdr + "<message><body>hé 😀 ✓</body></message>", []string{`text="hé 😀 ✓"`}},
		{"keepalives", hdr + " \n\t <presence/>  \r\n <presence/> ", []string{"elem {presence", "elem {presence"}},
		{"inherits default ns", hdr + "<iq><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>",
			[]string{"{item||jabber:iq:roster|"}},
		{"line ends", hdr + "<message a='x\r\ny\tz'><body>a\r\nb\rc</body></message>",
			[]string{`a="x y z"`, `text="a\nb\nc"`}},
		{"close", hdr + "<presence/></stream:stream>\n", []string{"elem", "close"}},
		{"white space in tags", hdr + "<message  to = \"a\" \n></message >", []string{`to="a"`}},
		{"xml:lang", hdr + "<message xml:lang='en'/>", []string{`xml:lang="en"`}},
		{"unicode names", hdr + "<été ñ='1'/>", []string{"{été||jabber:client|", `ñ="1"`}},
		{"self-closing header", "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>", []string{"open", "close"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := scanAll(Limits{}, []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(out, "\n")
			at := 0
			for _, w := range tc.want {
				i := strings.Index(all[at:], w)
				if i < 0 {
					t.Fatalf("missing %q in\n%s", w, all)
				}
				at += i + len(w)
			}
		})
	}
}

// restartSink resets the scanner when it sees <success/>, as a session does
// after SASL.
type restartSink struct {
	rec
	s *Scanner
}

func (r *restartSink) Element(f *Frame) error {
	r.rec.Element(f)
	if string(f.Local()) == "success" {
		r.s.Reset()
	}
	return nil
}

func TestRestart(t *testing.T) {
	in := "<?xml version='1.0'?>" + hdr + "<success/><?xml version='1.0'?>" + hdr + "<presence/>"
	for cut := 0; cut <= len(in); cut++ {
		var s Scanner
		r := &restartSink{s: &s}
		for _, p := range []string{in[:cut], in[cut:]} {
			if err := s.Feed([]byte(p), r); err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
		}
		if len(r.out) != 4 || !strings.HasPrefix(r.out[2], "open") {
			t.Fatalf("cut %d: %q", cut, r.out)
		}
	}
	// and Reset from outside
	var s Scanner
	var r rec
	if err := s.Feed([]byte(hdr+"<presence/>"), &r); err != nil {
		t.Fatal(err)
	}
	s.Reset()
	if err := s.Feed([]byte("<?xml version='1.0'?>"+hdr+"<presence/>"), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.out) != 4 {
		t.Fatal(r.out)
	}
}

func TestIdleHoldsNoBuffer(t *testing.T) {
	var s Scanner
	var r rec
	in := hdr + "<message><body>hello</body></message>"
	for _, p := range []string{in[:40], in[40:140], in[140:]} {
		if err := s.Feed([]byte(p), &r); err != nil {
			t.Fatal(err)
		}
	}
	if s.Buffered() != 0 || s.carry != nil || s.slab != nil {
		t.Fatalf("idle scanner holds %d bytes (carry %v)", s.Buffered(), s.carry != nil)
	}
	if err := s.Feed([]byte("<message><bo"), &r); err != nil {
		t.Fatal(err)
	}
	if s.Buffered() != len("<message><bo") {
		t.Fatalf("Buffered() = %d", s.Buffered())
	}
	if err := s.Feed([]byte("dy/></message> "), &r); err != nil {
		t.Fatal(err)
	}
	if s.Buffered() != 0 || s.carry != nil {
		t.Fatal("carry kept after the stanza completed")
	}
	t.Logf("unsafe.Sizeof(Scanner{}) = %d, Elem %d, Frame %d", unsafe.Sizeof(Scanner{}), unsafe.Sizeof(Elem{}), unsafe.Sizeof(Frame{}))
}

// TestCarryReused checks that a read which completes the carried stanza and
// ends inside the next one reuses the carry buffer, and that neither an idle
// nor a failed Scanner keeps it.
func TestCarryReused(t *testing.T) {
	var s Scanner
	var r rec
	feed := func(p string) error { return s.Feed([]byte(p), &r) }
	if err := feed(hdr + "<message><bo"); err != nil {
		t.Fatal(err)
	}
	box := s.slab
	if err := feed("dy/></message><iq type='get' id='1'><pi"); err != nil {
		t.Fatal(err)
	}
	if s.slab != box || string(s.carry) != "<iq type='get' id='1'><pi" {
		t.Fatalf("carry %q, same buffer %v", s.carry, s.slab == box)
	}
	if err := feed("ng xmlns='urn:xmpp:ping'/></iq>"); err != nil {
		t.Fatal(err)
	}
	if s.Held() != 0 || s.carry != nil || s.slab != nil {
		t.Fatalf("idle scanner holds %d bytes", s.Held())
	}
	if err := feed("<message><bo"); err != nil {
		t.Fatal(err)
	}
	if err := feed("dy/></message>x"); !errors.Is(err, ErrNotWellFormed) {
		t.Fatalf("err = %v, want not-well-formed", err)
	}
	if s.Held() != 0 || s.carry != nil {
		t.Fatalf("failed scanner holds %d bytes", s.Held())
	}
}

// corpus for split invariance: everything valid plus the error table.
func splitCorpus() []string {
	c := []string{
		"<?xml version='1.0' encoding='UTF-8'?>" + hdr + "<message to='a@b/c' id='1&amp;2' type='chat'><body>héllo 😀 &lt;3 &#x263A;</body><active xmlns='http://jabber.org/protocol/chatstates'/><![CDATA[x]]]]><![CDATA[>y]]></message> <presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v='/></presence></stream:stream>",
		hdr + "<stream:features><sasl:auth xmlns:sasl='urn:x'>AA==</sasl:auth></stream:features><iq><q xmlns='u'><p:i xmlns:p='v' p:a='&quot;'/></q></iq>",
		hdr + "<message><body>a]]>b</body></message>",
		hdr + "<message><body>&#xD800;</body></message>",
		hdr + "<message to='\xe2\x82'/>",
		hdr + "<message><!-- x --></message>",
		"<?xml version='1.0' encoding='latin1'?>",
		hdr + "<message to='a' to='b'/>",
		hdr + "<a><b></c></b></a>",
	}
	return c
}

func TestSplitInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, in := range splitCorpus() {
		whole, errW := scanAll(Limits{}, []byte(in))
		check := func(pieces ...[]byte) {
			t.Helper()
			split, errS := scanAll(Limits{}, pieces...)
			if class(errW) != class(errS) || strings.Join(whole, "\n") != strings.Join(split, "\n") {
				t.Fatalf("input %q split %q:\nwhole %v %q\nsplit %v %q", in, pieces, errW, whole, errS, split)
			}
		}
		for cut := 0; cut <= len(in); cut++ {
			check([]byte(in[:cut]), []byte(in[cut:]))
		}
		for range 200 {
			var pieces [][]byte
			rest := in
			for len(rest) > 0 {
				n := min(len(rest), 1+rng.IntN(12))
				pieces = append(pieces, []byte(rest[:n]))
				rest = rest[n:]
			}
			check(pieces...)
		}
	}
}

// The limit is hit at the same byte however the input is split, and carry
// never outgrows it.
func TestLimitSplit(t *testing.T) {
	in := hdr + "<message><body>" + strings.Repeat("abc ", 100) + "</body></message><presence/>"
	for _, max := range []int{100, 150, 300, 440, 500} {
		lim := Limits{MaxElementBytes: max}
		_, errW := scanAll(lim, []byte(in))
		for cut := 0; cut <= len(in); cut += 7 {
			var s Scanner
			s.SetLimits(lim)
			var r rec
			var err error
			for _, p := range []string{in[:cut], in[cut:]} {
				if err = s.Feed([]byte(p), &r); err != nil {
					break
				}
				if s.Buffered() > max {
					t.Fatalf("carry %d > %d", s.Buffered(), max)
				}
			}
			if class(err) != class(errW) {
				t.Fatalf("max %d cut %d: %v vs whole %v", max, cut, err, errW)
			}
		}
	}
}

func TestParseElem(t *testing.T) {
	e, err := ParseElem([]byte("<message to='a@b' xmlns:x='urn:x'><x:y/><body>hi</body></message>"), "jabber:client")
	if err != nil {
		t.Fatal(err)
	}
	if string(e.NS()) != "jabber:client" || string(e.Child("body", "jabber:client").AppendText(nil)) != "hi" {
		t.Fatal(describe(e, false))
	}
	if c := e.Child("y", "urn:x"); c.IsZero() || c.StartTagEnd() != len("<x:y/>") {
		t.Fatal("child y")
	}
	for _, bad := range []string{"", " <a/>", "<a/> ", "<a>", "<a/><b/>", "<stream:features/>", "text", "<a></b>"} {
		if _, err := ParseElem([]byte(bad), ""); !errors.Is(err, ErrNotWellFormed) {
			t.Errorf("ParseElem(%q) = %v", bad, err)
		}
	}
	var zero Elem
	if !zero.IsZero() || zero.Raw() != nil || zero.NS() != nil || zero.AppendText(nil) != nil || !zero.Child("a", "").IsZero() {
		t.Fatal("zero Elem")
	}
	zero.Attrs(func(Attr) bool { t.Fatal("attr of zero"); return true })
}

func TestAttrOffsets(t *testing.T) {
	raw := "<message  to='a@b' from=\"c\"\n id='x'>hi</message>"
	e, err := ParseElem([]byte(raw), "jabber:client")
	if err != nil {
		t.Fatal(err)
	}
	prev := len("<message")
	e.Attrs(func(a Attr) bool {
		if a.Off != prev || !bytes.HasSuffix([]byte(raw[a.Off:a.End]), append(append([]byte(nil), a.RawValue...), raw[a.End-1])) {
			t.Fatalf("attr %s: [%d:%d] %q", a.Name, a.Off, a.End, raw[a.Off:a.End])
		}
		prev = a.End
		return true
	})
	if e.StartTagEnd() != strings.Index(raw, ">")+1 {
		t.Fatal("StartTagEnd")
	}
}

func TestEscape(t *testing.T) {
	if got := string(AppendEscapedText(nil, "a<b>&c'\"\r")); got != "a&lt;b&gt;&amp;c'\"&#13;" {
		t.Fatal(got)
	}
	if got := string(AppendEscapedAttr([]byte("x="), []byte("a<b>&c'\"\t"))); got != "x=a&lt;b&gt;&amp;c&apos;&quot;&#9;" {
		t.Fatal(got)
	}
	// round trip through the scanner
	v := "<&>'\"\t\n\r é😀"
	raw := "<m a='" + string(AppendEscapedAttr(nil, v)) + "'>" + string(AppendEscapedText(nil, v)) + "</m>"
	e, err := ParseElem([]byte(raw), "")
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := e.Attr("a"); string(a) != v || string(e.AppendText(nil)) != v {
		t.Fatalf("%q %q", a, e.AppendText(nil))
	}
}

func TestStateString(t *testing.T) {
	if stText.String() != "Text" || stDecl.String() != "Decl" {
		t.Fatal(stText.String())
	}
}

func TestElemAllocs(t *testing.T) {
	raw := []byte("<message to='a@b' id='x' xml:lang='en'><body>hi</body><x:y xmlns:x='urn:x'/></message>")
	allocs := testing.AllocsPerRun(100, func() {
		e, err := ParseElem(raw, "jabber:client")
		if err != nil {
			t.Fatal(err)
		}
		e.Attr("to")
		e.NS()
		e.Child("y", "urn:x").NS()
		e.Attrs(func(Attr) bool { return true })
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

// A large element fed a byte at a time is scanned once, not rescanned from
// its start on every Feed.
func TestNoRescan(t *testing.T) {
	in := []byte(hdr + "<iq><vCard xmlns='vcard-temp'><PHOTO><BINVAL>" + strings.Repeat("QUJD&amp;\n", 20000) + "</BINVAL></PHOTO></vCard></iq>")
	var s Scanner
	var c countSink
	for i := range in {
		if err := s.Feed(in[i:i+1], &c); err != nil {
			t.Fatal(err)
		}
	}
	if c.stanzas != 1 || s.Buffered() != 0 {
		t.Fatalf("%d stanzas, %d buffered", c.stanzas, s.Buffered())
	}
}

// TestAttrHashCommon checks that the attribute names XMPP stanzas carry
// together most often have a filter bit each, so that their tags never take
// the exact duplicate check; and that duplicates are still found whatever
// the filter says (names on one bit, and not).
func TestAttrHashCommon(t *testing.T) {
	common := []string{"to", "from", "type", "id", "xml:lang", "xmlns", "hash", "node", "ver", "jid", "name",
		"subscription", "category", "var", "code", "role", "affiliation", "nick", "ask", "version", "stamp", "by",
		"xmlns:stream", "mechanism", "label", "action", "sid", "seconds", "h", "previd", "resume", "max",
		"location", "with", "queryid", "approved"}
	bit := map[uint64]string{}
	for _, n := range common {
		h := attrHash([]byte(n))
		if o, ok := bit[h]; ok {
			t.Errorf("attrHash: %q and %q share a bit", o, n)
		}
		bit[h] = n
	}
	// two names on one bit, to exercise the exact check
	var a, b string
	seen := map[uint64]string{}
	for i := 0; a == ""; i++ {
		n := "a" + strconv.Itoa(i)
		h := attrHash([]byte(n))
		if o, ok := seen[h]; ok {
			a, b = o, n
		}
		seen[h] = n
	}
	for _, tt := range []struct {
		tag string
		dup bool
	}{
		{"<x " + a + "='1' " + b + "='2'/>", false},
		{"<x " + a + "='1' " + b + "='2' " + a + "='3'/>", true},
		{"<x xmlns='u' node='n' hash='h' ver='v'/>", false},
		{"<x xmlns='u' node='n' xmlns='v'/>", true},
	} {
		var s Scanner
		err := s.Feed([]byte(hdr+tt.tag), &countSink{})
		if got := err != nil && strings.Contains(err.Error(), "duplicate attribute"); got != tt.dup {
			t.Errorf("%s: err %v, want duplicate %v", tt.tag, err, tt.dup)
		}
	}
}
