package session

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"ignis/xmlscan"
)

// framedTransport is a memTransport under RFC 7395's framing (WebSocket,
// and BOSH, which hands the stream the same elements) that keeps each write
// apart: each must be one message.
type framedTransport struct {
	memTransport
	writes [][]byte
	final  []byte
}

func (f *framedTransport) Framing() Framing { return WebSocketFraming{} }
func (f *framedTransport) Write(p []byte) error {
	if err := f.memTransport.Write(p); err != nil || f.closed {
		return err
	}
	f.writes = append(f.writes, bytes.Clone(p))
	return nil
}
func (f *framedTransport) Close(final []byte) {
	if !f.closed {
		f.final = bytes.Clone(final)
	}
	f.memTransport.Close(final)
}

type topElems struct {
	names []string
	nsOK  bool
}

func (e *topElems) StreamOpen(*xmlscan.Frame) error { return nil }
func (e *topElems) StreamClose() error              { return io.EOF }
func (e *topElems) Element(f *xmlscan.Frame) error {
	e.names = append(e.names, string(f.NS())+" "+string(f.Local()))
	if len(f.NS()) == 0 {
		e.nsOK = false
	}
	return nil
}

// framedElems splits p into its top-level elements, each of which must
// declare its namespace (RFC 7395 §3.3.3: nothing is inherited).
func framedElems(t *testing.T, p []byte) []string {
	t.Helper()
	var sc xmlscan.Scanner
	e := &topElems{nsOK: true}
	err := sc.Feed(append(append([]byte("<r>"), p...), "</r>"...), e)
	if !errors.Is(err, io.EOF) || !e.nsOK {
		t.Fatalf("not whole, namespaced elements (%v): %q", err, p)
	}
	return e.names
}

// FuzzStreamWebSocket: under RFC 7395 framing (the WebSocket and BOSH
// ports), whatever a client sends, <open/> first or not, the stream writes
// one namespaced element per message, opens with <open/>, and ends with a
// stream error or <close/> whose last element is <close/>; nothing stays
// bound after it closes.
func FuzzStreamWebSocket(f *testing.F) {
	open := "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>"
	for _, seed := range []string{
		open + plainAuth("alice", "wonderland") + open + "<iq type='set' id='b' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq><message xmlns='jabber:client' to='alice@localhost'><body>x</body></message><close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
		open + open,
		"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='elsewhere' version='1.0'/>",
		"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
		"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>",
		open + "<message to='x@y'/>",
		"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
	} {
		f.Add([]byte(seed), uint16(len(seed)/2))
	}
	cfg := testConfig(f)
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		tr := &framedTransport{memTransport: memTransport{maxBytes: 1 << 20}}
		s := New(cfg, tr)
		feedCut(t, s, &tr.memTransport, in, cut)
		for i, w := range tr.writes {
			if n := framedElems(t, w); len(n) != 1 {
				t.Fatalf("write %d is %d elements, want one message each: %q", i, len(n), w)
			}
			if i == 0 && !bytes.HasPrefix(w, []byte("<open ")) {
				t.Fatalf("the stream opened with %q", w)
			}
		}
		if tr.closed {
			names := framedElems(t, tr.final)
			if len(names) == 0 || names[len(names)-1] != NSFraming+" close" {
				t.Fatalf("closed with %q, want <close/> last", tr.final)
			}
			// a stream error before any <open/> comes after ours (RFC 6120
			// §4.9.1.2); a bare <close/> may answer one the client sent first
			if len(tr.writes) == 0 && len(names) > 1 && names[0] != NSFraming+" open" {
				t.Fatalf("closed with %q before any <open/>", tr.final)
			}
		}
		s.Closed(nil)
		cfg.ExpireDetached()
		if n := cfg.Router.Table().Count(); n != 0 {
			t.Fatalf("%d endpoints left bound after close", n)
		}
	})
}
