package bench

import (
	"io"
	"net"
	"slices"
	"testing"
)

// qualify declares jabber:client on a stanza element only, once.
func TestQualify(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<presence/>", "<presence xmlns='jabber:client'/>"},
		{"<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>", "<iq xmlns='jabber:client' type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>"},
		{"<message to='a'><body>x</body><message/></message>", "<message xmlns='jabber:client' to='a'><body>x</body><message/></message>"},
		{"<message xmlns='jabber:client'/>", "<message xmlns='jabber:client'/>"},
		{"<iq>x</iq>", "<iq xmlns='jabber:client'>x</iq>"},
		{"<enable xmlns='urn:xmpp:sm:3'/>", "<enable xmlns='urn:xmpp:sm:3'/>"},
		{"<presences/>", "<presences/>"},
		{"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>"},
	} {
		if got := string(qualify([]byte(tc.in))); got != tc.want {
			t.Errorf("qualify(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Write sends one message per top-level element, and a ping for whitespace.
func TestWSWriteFrames(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // text payloads; "PING" for a ping frame
	}{
		{"<presence/>", []string{"<presence xmlns='jabber:client'/>"}},
		{"<enable xmlns='urn:xmpp:sm:3'/><iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq><presence/>",
			[]string{"<enable xmlns='urn:xmpp:sm:3'/>", "<iq xmlns='jabber:client' type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>", "<presence xmlns='jabber:client'/>"}},
		{"<message to='a'><body>1 &lt; 2</body></message> <message to='b'><body/></message>",
			[]string{"<message xmlns='jabber:client' to='a'><body>1 &lt; 2</body></message>", "<message xmlns='jabber:client' to='b'><body/></message>"}},
		{"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='x' version='1.0'/>", []string{"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='x' version='1.0'/>"}},
		{" ", []string{"PING"}},
	} {
		a, b := net.Pipe()
		w := &wsConn{Conn: a}
		done := make(chan error, 1)
		go func() { _, err := w.Write([]byte(tc.in)); a.Close(); done <- err }()
		var got []string
		for {
			op, p, err := readMasked(b)
			if err != nil {
				break
			}
			if op == 0x9 {
				got = append(got, "PING")
			} else {
				got = append(got, string(p))
			}
		}
		if err := <-done; err != nil {
			t.Fatalf("Write(%q): %v", tc.in, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Write(%q) sent %q, want %q", tc.in, got, tc.want)
		}
	}
}

// readMasked reads one client frame (short lengths only) and unmasks it.
func readMasked(r io.Reader) (byte, []byte, error) {
	var h [6]byte
	if _, err := io.ReadFull(r, h[:2]); err != nil {
		return 0, nil, err
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return 0, nil, err
		}
		n = int(l[0])<<8 | int(l[1])
	}
	if _, err := io.ReadFull(r, h[2:6]); err != nil {
		return 0, nil, err
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	for i := range p {
		p[i] ^= h[2+i&3]
	}
	return h[0] & 0x0f, p, nil
}
