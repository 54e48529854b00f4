package xmlscan

import "testing"

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
