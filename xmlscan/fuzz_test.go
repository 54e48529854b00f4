package xmlscan

import (
	"strings"
	"testing"
)

var fuzzLimits = Limits{MaxElementBytes: 400, MaxDepth: 6, MaxAttrs: 6}

func fuzzSeeds(f *testing.F) {
	for _, s := range splitCorpus() {
		f.Add([]byte(s), uint16(len(s)/2))
	}
	f.Add([]byte(hdr+"<message><body>"+strings.Repeat("y", 500)+"</body></message>"), uint16(200))
	f.Add([]byte(hdr+"<a><b><c><d><e><f><g/></f></e></d></c></b></a>"), uint16(130))
	f.Add([]byte(hdr+"<a b='1' c='2' d='3' e='4' f='5' g='6' h='7'/>"), uint16(120))
	f.Add([]byte("<?xml version='1.0'?>"+hdr+"<x:y xmlns:x='u' x:a='&#x41;&lt;'><![CDATA[]]]]><z/></x:y></stream:stream> "), uint16(3))
	f.Add([]byte(hdr+"<m>&#1114111;&#xFFFE;</m>"), uint16(117))
	f.Add([]byte("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>"), uint16(5))
}

// FuzzScanner checks that splitting the input anywhere changes nothing (frames
// walked with Elem, and the error class), that nothing panics, and that carry
// stays within the limit.
func FuzzScanner(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		whole, errW := scanAll(fuzzLimits, in)
		c := int(cut) % (len(in) + 1)
		c2 := c + (len(in)-c)/3
		var s Scanner
		s.SetLimits(fuzzLimits)
		var r rec
		var errS error
		for _, p := range [][]byte{in[:c], in[c:c2], in[c2:]} {
			if errS = s.Feed(p, &r); errS != nil {
				break
			}
			if s.Buffered() > fuzzLimits.MaxElementBytes {
				t.Fatalf("carry %d over the limit", s.Buffered())
			}
			if s.Buffered() == 0 && s.carry != nil {
				t.Fatal("idle scanner holds a buffer")
			}
		}
		if class(errW) != class(errS) || strings.Join(whole, "\n") != strings.Join(r.out, "\n") {
			t.Fatalf("splitting at %d,%d changed the result:\nwhole %v %q\nsplit %v %q", c, c2, errW, whole, errS, r.out)
		}
	})
}

// FuzzElem checks that anything ParseElem accepts can be walked without panic,
// and that what it accepts a Scanner accepts as a stanza too.
func FuzzElem(f *testing.F) {
	f.Add([]byte("<message to='a'><body>hi &amp; <![CDATA[x]]></body><x:y xmlns:x='u' x:b='&#65;'/></message>"))
	f.Add([]byte("<a xmlns='u'><b><c xmlns=''/></b>text</a>"))
	f.Add([]byte("<a/>"))
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := ParseElem(in, "jabber:client")
		if err != nil {
			return
		}
		describe(e, false)
		e.Child("x", "")
		e.Attr("to")
		var r rec
		var s Scanner
		if err := s.Feed(append([]byte(hdr), in...), &r); err != nil {
			// the scanner binds the header's prefixes, so it accepts more; never less
			t.Fatalf("ParseElem accepted %q, the scanner did not: %v", in, err)
		}
	})
}
