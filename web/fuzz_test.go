package web

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"ignis/session"
	"ignis/xmlscan"
)

// rawConn is the TCP connection under a web conn: it keeps each write
// apart (a response, or WebSocket frames) and runs nothing by itself.
type rawConn struct {
	w      [][]byte
	closed bool
	woken  bool
}

func (r *rawConn) Write(p []byte) error      { r.w = append(r.w, bytes.Clone(p)); return nil }
func (r *rawConn) Close(final []byte)        { r.w = append(r.w, bytes.Clone(final)); r.closed = true }
func (r *rawConn) StartTLS() error           { return nil }
func (r *rawConn) StartCompression() error   { return nil }
func (r *rawConn) TLS() *tls.ConnectionState { return nil }
func (r *rawConn) Wake()                     { r.woken = true }
func (r *rawConn) SetTimer(time.Duration)    {}
func (r *rawConn) RemoteAddr() net.Addr      { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 40000} }
func (r *rawConn) Pending() int              { return 0 }
func (r *rawConn) Sent() (uint64, uint64)    { return 0, 0 }
func (r *rawConn) WakeWhenFlushed()          {}

// echoStream stands in for the XMPP stream behind the framing: it answers
// each piece of input with an element, <close/> with its own, and "<bad"
// with a stream error, as session.Stream does under WebSocketFraming.
type echoStream struct {
	t      session.Transport
	opened bool
	done   bool
}

func (e *echoStream) Traffic(p []byte) error {
	if e.done {
		return io.EOF
	}
	if !e.opened {
		e.opened = true
		_ = e.t.Write([]byte("<open xmlns='" + session.NSFraming + "' from='localhost' id='s1' version='1.0'/>"))
	}
	switch {
	case bytes.Contains(p, []byte("<bad")):
		e.done = true
		e.t.Close([]byte("<stream:error xmlns:stream='http://etherx.jabber.org/streams'><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error><close xmlns='" + session.NSFraming + "'/>"))
		return io.EOF
	case bytes.Contains(p, []byte("<close")):
		e.done = true
		e.t.Close([]byte("<close xmlns='" + session.NSFraming + "'/>"))
		return io.EOF
	}
	_ = e.t.Write([]byte("<message xmlns='jabber:client'><body>" + strconv.Itoa(len(p)) + "</body></message>"))
	return nil
}
func (e *echoStream) Wakeup()          {}
func (e *echoStream) Timer(time.Time)  {}
func (e *echoStream) Closed(err error) { e.done = true }

const wsUpgrade = "GET /xmpp-websocket HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n"

func boshPost(body []byte) []byte {
	return append([]byte("POST /http-bind HTTP/1.1\r\nHost: h\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"), body...)
}

// FuzzWeb: whatever a stranger sends the web port, as raw HTTP (flags 0),
// as WebSocket frames after a good upgrade (bit 0), or as two BOSH <body/>
// requests, the second in the session the first made (bit 1: "SID" in
// it is the session's sid), every write is a whole HTTP/1.1 response with
// its Content-Length, whole server frames with a close code RFC 6455 lets
// a server send, or a BOSH <body/>; a failure closes the connection, and
// no BOSH session outlives its end.
func FuzzWeb(f *testing.F) {
	frame := func(b0 byte, p string) string {
		return string(append([]byte{b0, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...))
	}
	open := "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>"
	for _, s := range []struct {
		in    string
		flags uint8
	}{
		{"GET /.well-known/host-meta HTTP/1.1\r\nHost: h\r\n\r\nHEAD / HTTP/1.0\r\n\r\n", 0},
		{"OPTIONS /http-bind HTTP/1.1\r\nHost: h\r\nOrigin: https://x\r\n\r\nPOST /http-bind HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n<b/", 0},
		{wsUpgrade + frame(0x81, open) + frame(0x89, "p") + frame(0x01, "<mess") + frame(0x80, "age/>") + frame(0x88, "\x03\xe8"), 0},
		{frame(0x81, open) + frame(0x81, "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"), 1},
		{frame(0x82, "x") + frame(0x88, "\x03\xed"), 1},
		{frame(0x88, "\x00"), 1},
		{frame(0x88, "\x03\xed"), 1},
		{frame(0x88, "\x00\x00bye"), 1},
		{frame(0x81, "<bad/>"), 1},
		{"<body xmlns='http://jabber.org/protocol/httpbind' rid='10' to='localhost' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh' wait='5' hold='1'/>" +
			"<body xmlns='http://jabber.org/protocol/httpbind' rid='11' sid='SID'><message/></body>", 1 << 1},
		{"<body xmlns='http://jabber.org/protocol/httpbind' rid='10' to='localhost' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'><bad/></body>" +
			"<body xmlns='http://jabber.org/protocol/httpbind' rid='13' sid='SID' type='terminate'/>", 1 << 1},
		{"<body rid='x'/><body xmlns='http://jabber.org/protocol/httpbind' rid='11' sid='nope'/>", 1 << 1},
	} {
		cut := strings.Index(s.in[1:], "<body") + 1
		if s.flags&2 == 0 {
			cut = len(s.in) / 2
		}
		f.Add([]byte(s.in), uint16(cut), s.flags)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, in []byte, cut uint16, flags uint8) {
		srv, err := New(Config{Logger: logger, Limits: Limits{MaxBodyBytes: 4096, MaxFrameBytes: 4096},
			BOSH: BOSHConfig{MaxHold: 2, MaxSessions: 4}}, func(t session.Transport) session.Handler { return &echoStream{t: t} })
		if err != nil {
			t.Fatal(err)
		}
		c := int(cut) % (len(in) + 1)
		parts := [][]byte{in[:c], in[c:]}
		var raws []*rawConn
		var conns []session.Handler
		dial := func() (*rawConn, session.Handler) {
			r := &rawConn{}
			h := srv.NewHandler(r)
			raws, conns = append(raws, r), append(conns, h)
			return r, h
		}
		run := func(r *rawConn, h session.Handler, p []byte) {
			if len(p) == 0 || r.closed {
				return
			}
			if err := h.Traffic(p); err != nil && !r.closed {
				t.Fatalf("Traffic failed (%v) without closing the connection", err)
			}
			for _, x := range conns {
				if rx := raws[indexOf(conns, x)]; rx.woken {
					rx.woken = false
					x.Wakeup()
				}
			}
			if wc, ok := h.(*conn); ok && len(wc.fr.ctl) > 125 {
				t.Fatalf("control frame buffer %d", len(wc.fr.ctl))
			}
		}
		switch {
		case flags&2 != 0:
			r, h := dial()
			run(r, h, boshPost(parts[0]))
			sid := "none"
			srv.bosh.mu.Lock()
			for k := range srv.bosh.m {
				sid = k
			}
			srv.bosh.mu.Unlock()
			if r.closed {
				r, h = dial()
			}
			run(r, h, boshPost(bytes.ReplaceAll(parts[1], []byte("SID"), []byte(sid))))
		case flags&1 != 0:
			r, h := dial()
			run(r, h, []byte(wsUpgrade))
			for _, p := range parts {
				run(r, h, bytes.Clone(p))
			}
		default:
			r, h := dial()
			for _, p := range parts {
				run(r, h, bytes.Clone(p))
			}
		}
		for i, r := range raws {
			checkWebWrites(t, r.w)
			conns[i].Closed(nil)
		}
		// the sessions left time out in the end; here they end at once
		srv.bosh.mu.Lock()
		var left []*boshSession
		for _, b := range srv.bosh.m {
			left = append(left, b)
		}
		srv.bosh.mu.Unlock()
		for _, b := range left {
			b.mu.Lock()
			b.end()
			b.SetTimer(0)
			ok := b.gone
			b.mu.Unlock()
			if !ok {
				t.Fatalf("an ended BOSH session's stream was not closed")
			}
		}
		if n := srv.BOSHSessions(); n != 0 {
			t.Fatalf("%d BOSH sessions left after ending them", n)
		}
	})
}

func indexOf(hs []session.Handler, h session.Handler) int {
	for i, x := range hs {
		if x == h {
			return i
		}
	}
	return -1
}

// checkWebWrites checks what a web connection wrote, write by write.
func checkWebWrites(t *testing.T, ws [][]byte) {
	t.Helper()
	upgraded, closedWS := false, false
	for i, w := range ws {
		if len(w) == 0 {
			continue
		}
		if closedWS {
			t.Fatalf("write %d after the close frame: %q", i, w)
		}
		if upgraded {
			closedWS = checkFrames(t, w)
			continue
		}
		head, body, ok := bytes.Cut(w, []byte("\r\n\r\n"))
		lines := strings.Split(string(head), "\r\n")
		if !ok || !strings.HasPrefix(lines[0], "HTTP/1.1 ") {
			t.Fatalf("write %d is not a response: %q", i, w)
		}
		status, _ := strconv.Atoi(lines[0][9:12])
		if statusText(status) == "Status" || lines[0][12:] != " "+statusText(status) {
			t.Fatalf("status line %q", lines[0])
		}
		if status == 101 {
			upgraded = true
			if len(body) != 0 {
				t.Fatalf("bytes after the 101's head: %q", body)
			}
			continue
		}
		n, xml := -1, false
		for _, l := range lines[1:] {
			k, v, ok := strings.Cut(l, ": ")
			if !ok || strings.ContainsAny(v, "\r\n") {
				t.Fatalf("header line %q in %q", l, w)
			}
			switch strings.ToLower(k) {
			case "content-length":
				n, _ = strconv.Atoi(v)
			case "content-type":
				xml = strings.HasPrefix(v, "text/xml")
			}
		}
		if len(body) != 0 && n != len(body) {
			t.Fatalf("Content-Length %d, body %d bytes: %q", n, len(body), w)
		}
		if xml && len(body) > 0 {
			e, err := xmlscan.ParseElem(body, "")
			if err != nil || string(e.Local()) != "body" || string(e.NS()) != NSHTTPBind {
				t.Fatalf("BOSH response is not a <body/> (%v): %q", err, body)
			}
		}
	}
}

// checkFrames checks whole, unmasked server frames (RFC 6455 §5.2); it
// reports whether a close frame ended them.
func checkFrames(t *testing.T, w []byte) bool {
	t.Helper()
	for len(w) > 0 {
		if len(w) < 2 || w[0]&0x70 != 0 || w[0]&0x80 == 0 || w[1]&0x80 != 0 {
			t.Fatalf("bad frame header %x", w)
		}
		op, n, at := w[0]&0x0f, int(w[1]&0x7f), 2
		switch n {
		case 126:
			n, at = int(binary.BigEndian.Uint16(w[2:])), 4
		case 127:
			n, at = int(binary.BigEndian.Uint64(w[2:])), 10
		}
		if len(w) < at+n {
			t.Fatalf("frame cut short: %x", w)
		}
		p := w[at : at+n]
		w = w[at+n:]
		switch op {
		case opText:
			if !utf8.Valid(p) {
				t.Fatalf("text frame not UTF-8: %q", p)
			}
			if _, err := xmlscan.ParseElem(p, "jabber:client"); err != nil {
				t.Fatalf("text frame is not one element (%v): %q", err, p)
			}
		case opPong:
		case opClose:
			if len(p) == 1 {
				t.Fatalf("close frame with a 1-byte body")
			}
			if len(p) >= 2 {
				code := binary.BigEndian.Uint16(p)
				if !sendableClose(code) {
					t.Fatalf("close code %d is not one to send (RFC 6455 §7.4)", code)
				}
			}
			if len(w) != 0 {
				t.Fatalf("frames after the close frame: %x", w)
			}
			return true
		default:
			t.Fatalf("opcode %d from the server", op)
		}
	}
	return false
}
