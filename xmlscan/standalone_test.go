package xmlscan

import (
	"errors"
	"strings"
	"testing"
)

// standaloneSink collects Frame.Standalone of every depth-1 element.
type standaloneSink struct {
	got               []string
	nameEnds, declLen []int
}

func (*standaloneSink) StreamOpen(*Frame) error { return nil }
func (*standaloneSink) StreamClose() error      { return nil }
func (s *standaloneSink) Element(f *Frame) error {
	own, nameEnd, declLen := f.Standalone()
	s.got = append(s.got, string(own))
	s.nameEnds = append(s.nameEnds, nameEnd)
	s.declLen = append(s.declLen, declLen)
	return nil
}

// Standalone re-declares the prefixes the root declared, right after the
// element's name, and leaves an element that needs none as it was; the copy
// parses on its own.
func TestStandalone(t *testing.T) {
	const root = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'>"
	tests := []struct {
		in, want string
		nameEnd  int
	}{
		{"<message to='a@b'><body>hi</body></message>", "<message to='a@b'><body>hi</body></message>", len("<message")},
		{"<db:result to='b'>k</db:result>", "<db:result xmlns:db='jabber:server:dialback' to='b'>k</db:result>", len("<db:result")},
		{"<iq type='get' id='1'><db:x/></iq>", "<iq xmlns:db='jabber:server:dialback' type='get' id='1'><db:x/></iq>", len("<iq")},
	}
	for _, tc := range tests {
		var s Scanner
		var k standaloneSink
		if err := s.Feed([]byte(root+tc.in), &k); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if len(k.got) != 1 || k.got[0] != tc.want || k.nameEnds[0] != tc.nameEnd || k.declLen[0] != len(tc.want)-len(tc.in) {
			t.Errorf("%s: Standalone = %q (name ends %v), want %q (%d)", tc.in, k.got, k.nameEnds, tc.want, tc.nameEnd)
			continue
		}
		if _, err := ParseElem([]byte(k.got[0]), "jabber:client"); err != nil {
			t.Errorf("%s: the copy does not parse alone: %v", tc.in, err)
		}
	}
}

// A rootless Scanner (RFC 7395 framing) reports every top-level element,
// namespaced by its own declarations only, and nothing else; split anywhere,
// it reports the same.
func TestRootless(t *testing.T) {
	const (
		open  = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>"
		msg   = "<message xmlns='jabber:client' to='a@b'><body>hi</body></message>"
		feats = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
		bare  = "<message to='a@b'/>"
		close = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"
	)
	tests := []struct {
		name, in string
		want     []string // NS and local name of each element reported
		err      string
	}{
		{"stream", open + msg + "\n" + close, []string{"urn:ietf:params:xml:ns:xmpp-framing open", "jabber:client message", "urn:ietf:params:xml:ns:xmpp-framing close"}, "ok"},
		{"prefix declared on the element", feats, []string{"http://etherx.jabber.org/streams features"}, "ok"},
		{"no namespace inherited", bare, []string{" message"}, "ok"},
		{"xml declaration first", "<?xml version='1.0'?>" + open, []string{"urn:ietf:params:xml:ns:xmpp-framing open"}, "ok"},
		{"a stream root is an unbound prefix", "<stream:stream xmlns='jabber:client'>", nil, ErrNotWellFormed.Error()},
		{"a stream root is refused at its start tag", "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>", nil, "nested"},
		{"text between elements", open + "hi", []string{"urn:ietf:params:xml:ns:xmpp-framing open"}, ErrNotWellFormed.Error()},
		{"end tag at the top", open + "</stream:stream>", []string{"urn:ietf:params:xml:ns:xmpp-framing open"}, ErrNotWellFormed.Error()},
	}
	for _, tc := range tests {
		for split := 0; split <= len(tc.in); split++ {
			var s Scanner
			s.SetRootless(true)
			var k nsSink
			err := s.Feed([]byte(tc.in[:split]), &k)
			if err == nil {
				err = s.Feed([]byte(tc.in[split:]), &k)
			}
			c := class(err)
			if errors.Is(err, ErrNestedHeader) {
				c = "nested"
			}
			if c != tc.err || strings.Join(k.got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("%s (split %d): got %q, %v; want %q, %s", tc.name, split, k.got, err, tc.want, tc.err)
				break
			}
		}
	}
	// a restart keeps the mode
	var s Scanner
	s.SetRootless(true)
	var k nsSink
	if err := s.Feed([]byte(open), &k); err != nil {
		t.Fatal(err)
	}
	s.Reset()
	if err := s.Feed([]byte(open+msg), &k); err != nil || len(k.got) != 3 || k.opens != 0 {
		t.Fatalf("after Reset: %q, %v", k.got, err)
	}
	in := []byte(open + msg + close)
	var count countSink
	allocs := testing.AllocsPerRun(100, func() {
		s.Reset()
		if err := s.Feed(in, &count); err != nil || count.stanzas%3 != 0 {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

// nsSink records the namespace and name of every element.
type nsSink struct {
	got   []string
	opens int
}

func (k *nsSink) StreamOpen(*Frame) error { k.opens++; return nil }
func (k *nsSink) StreamClose() error      { k.opens++; return nil }
func (k *nsSink) Element(f *Frame) error {
	k.got = append(k.got, string(f.NS())+" "+string(f.Local()))
	return nil
}
