package component

import (
	"bytes"
	"crypto/sha1" // #nosec: fixed by XEP-0114
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/route"
	"ignis/xmlscan"
)

// writes is a pipe that keeps each write apart, to check each is whole XML.
type writes struct {
	pipe
	w [][]byte
}

func (p *writes) Write(b []byte) error { p.w = append(p.w, bytes.Clone(b)); return p.pipe.Write(b) }
func (p *writes) Close(final []byte)   { p.w = append(p.w, bytes.Clone(final)); p.pipe.Close(final) }

type elems struct{ n int }

func (e *elems) StreamOpen(*xmlscan.Frame) error { return nil }
func (e *elems) Element(*xmlscan.Frame) error    { e.n++; return nil }
func (e *elems) StreamClose() error              { return io.EOF }

// FuzzComponent: whatever a component port's peer sends, before the
// handshake (flags bit 0 clear) or after a good one, the stream answers
// with well-formed XML or ends with a stream error after our header; it
// never joins the router without the secret, and leaves it when closed.
func FuzzComponent(f *testing.F) {
	for _, s := range []string{
		header + "<handshake>00</handshake>",
		header + "<message from='a@gw.localhost' to='b@localhost' type='chat'><body>x</body></message>",
		"<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='nope.localhost'>",
		"<message xmlns='jabber:component:accept' from='gw.localhost' to='u@localhost'/><iq xmlns='jabber:client' type='get' id='1' from='x@gw.localhost' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>",
		"<presence from='u@elsewhere' to='localhost'/>",
		"<iq type='get' id='q' from='gw.localhost' to='a@@b'/><message from='gw.localhost'/>",
		"<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>" + header,
		"</stream:stream>",
	} {
		f.Add([]byte(s), uint16(len(s)/2), uint8(0))
		f.Add([]byte(s), uint16(len(s)/3), uint8(1))
	}
	domain := jid.MustParse("localhost")
	svc, err := New(Config{Domain: domain, Secrets: map[string]string{"gw": "s3cr3t"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	svc.Attach(route.New(route.Config{Domain: domain}, mod.NewRegistry()))
	f.Fuzz(func(t *testing.T, in []byte, cut uint16, flags uint8) {
		p := &writes{}
		c := newConn(svc, p)
		if flags&1 != 0 {
			if err := c.Traffic([]byte(header)); err != nil {
				t.Fatal(err)
			}
			h := sha1.Sum(append(c.id.AppendHex(nil), "s3cr3t"...)) // #nosec: XEP-0114
			if err := c.Traffic([]byte("<handshake>" + hex.EncodeToString(h[:]) + "</handshake>")); err != nil || c.state != stReady {
				t.Fatalf("handshake: %v, state %s: %q", err, c.state, p.out.String())
			}
		}
		cu := int(cut) % (len(in) + 1)
		for _, part := range [][]byte{in[:cu], in[cu:]} {
			if err := c.Traffic(part); err != nil {
				if !p.closed {
					t.Fatalf("Traffic failed (%v) without closing the stream", err)
				}
				break
			}
		}
		c.Wakeup()
		out := p.out.String()
		if p.closed && (!bytes.HasPrefix([]byte(out), []byte("<?xml version='1.0'?><stream:stream ")) || !bytes.HasSuffix([]byte(out), []byte("</stream:stream>"))) {
			t.Fatalf("closed with %q: want our header first and the stream's end", out)
		}
		if flags&1 == 0 && len(svc.Connected()) != 0 {
			t.Fatalf("joined without the handshake: %q", out)
		}
		var sc xmlscan.Scanner
		var e elems
		for i, w := range p.w {
			if err := sc.Feed(w, &e); err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("write %d is not well-formed (%v): %q", i, err, p.w)
			}
			if sc.Buffered() != 0 {
				t.Fatalf("write %d leaves a partial element: %q", i, p.w)
			}
		}
		c.Closed(nil)
		if n := len(svc.Connected()); n != 0 {
			t.Fatalf("%d connected after the stream closed", n)
		}
	})
}
