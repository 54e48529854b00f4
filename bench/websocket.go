package bench

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"

	"ignis/stanza"
	"ignis/xmlscan"
)

// nsFraming is RFC 7395's namespace (<open/>, <close/>).
const nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// wsOpen is the stream opening over a WebSocket (RFC 7395 §3.4).
func wsOpen(domain string) []byte {
	b := []byte("<open xmlns='" + nsFraming + "' to='")
	b = xmlscan.AppendEscapedAttr(b, domain)
	return append(b, "' version='1.0'/>"...)
}

var wsCloseElem = []byte("<close xmlns='" + nsFraming + "'/>")

// wsUpgrade makes c a WebSocket with the xmpp subprotocol (RFC 6455 §4.1,
// RFC 7395 §3.1) and returns it as a net.Conn carrying the stream's bytes.
func wsUpgrade(c net.Conn, host, path string) (net.Conn, error) {
	var key [16]byte
	_, _ = rand.Read(key[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(c, 512)
	status, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101") {
		return nil, errors.New("websocket upgrade refused: " + strings.TrimSpace(status))
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if l == "\r\n" {
			break
		}
	}
	w := &wsConn{Conn: c}
	if n := br.Buffered(); n > 0 {
		w.pre, _ = br.Peek(n)
		w.pre = bytes.Clone(w.pre)
	}
	return w, nil
}

// wsConn frames writes as masked text messages, one per top-level element,
// declaring jabber:client on the stanzas (every element stands alone in a
// message of its own, RFC 7395 §3.3.3: Prosody parses an <open/> only when
// it is a message's whole payload), and reads the payload of the server's
// messages. Reads happen on one goroutine; writes are serialized by wmu.
type wsConn struct {
	net.Conn
	pre       []byte // bytes read with the upgrade response
	hdr       [10]byte
	remaining uint64 // payload left in the current frame
	op        byte
	wmu       sync.Mutex
	wbuf      []byte
}

func (w *wsConn) fill(p []byte) (int, error) {
	if len(w.pre) > 0 {
		n := copy(p, w.pre)
		w.pre = w.pre[n:]
		return n, nil
	}
	return w.Conn.Read(p)
}

func (w *wsConn) full(p []byte) error {
	for len(p) > 0 {
		n, err := w.fill(p)
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// Read returns the payload of text messages as a byte stream.
func (w *wsConn) Read(p []byte) (int, error) {
	for w.remaining == 0 {
		if err := w.full(w.hdr[:2]); err != nil {
			return 0, err
		}
		w.op = w.hdr[0] & 0x0f
		l := uint64(w.hdr[1] & 0x7f)
		switch l {
		case 126:
			if err := w.full(w.hdr[2:4]); err != nil {
				return 0, err
			}
			l = uint64(binary.BigEndian.Uint16(w.hdr[2:4]))
		case 127:
			if err := w.full(w.hdr[2:10]); err != nil {
				return 0, err
			}
			l = binary.BigEndian.Uint64(w.hdr[2:10])
		}
		if w.op >= 0x8 { // control: close ends the stream, ping is answered
			ctl := make([]byte, l)
			if err := w.full(ctl); err != nil {
				return 0, err
			}
			switch w.op {
			case 0x8:
				return 0, io.EOF
			case 0x9:
				_ = w.frame(0xA, ctl)
			}
			continue
		}
		w.remaining = l
	}
	n, err := w.fill(p[:min(uint64(len(p)), w.remaining)])
	w.remaining -= uint64(n)
	return n, err
}

// Write sends each top-level element of b as a text message of its own,
// stanzas qualified. Whitespace alone (a keepalive) becomes a ping frame:
// over a WebSocket, text between elements is not allowed (RFC 7395 §3.3.3,
// §3.7; Prosody closes with 1007 on a message not starting with '<').
func (w *wsConn) Write(b []byte) (int, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	sent := false
	for rest := b; ; {
		var e []byte
		if e, rest = nextTop(rest); e == nil {
			break
		}
		if err := w.frameLocked(0x1, qualify(e)); err != nil {
			return 0, err
		}
		sent = true
	}
	if !sent {
		if err := w.frameLocked(0x9, nil); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// nextTop returns the first top-level element of b (whitespace before it
// skipped) and what follows it; nil when b holds no element start. An
// element cut short takes the rest of b.
func nextTop(b []byte) (elem, rest []byte) {
	start := bytes.IndexByte(b, '<')
	if start < 0 {
		return nil, nil
	}
	depth := 0
	for i := start; i < len(b); i++ {
		if b[i] != '<' {
			continue
		}
		j := bytes.IndexByte(b[i:], '>')
		if j < 0 {
			break
		}
		tag := b[i : i+j+1]
		switch {
		case len(tag) > 1 && tag[1] == '/':
			depth--
		case tag[len(tag)-2] != '/' && tag[1] != '?' && tag[1] != '!':
			depth++
		}
		i += j
		if depth <= 0 {
			return b[start : i+1], b[i+1:]
		}
	}
	return b[start:], nil
}

func (w *wsConn) frame(op byte, p []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.frameLocked(op, p)
}

func (w *wsConn) frameLocked(op byte, p []byte) error {
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	out := AppendClientFrame(w.wbuf[:0], 0x80|op, mask, p)
	_, err := w.Conn.Write(out)
	if cap(out) <= 16<<10 {
		w.wbuf = out[:0]
	}
	return err
}

// AppendClientFrame appends a WebSocket frame as a client sends it (RFC
// 6455 §5.2): first byte b0 (FIN, RSV and opcode), the payload's length
// and p masked with mask (§5.3: every client frame is masked).
func AppendClientFrame(out []byte, b0 byte, mask [4]byte, p []byte) []byte {
	out = append(out, b0)
	switch l := len(p); {
	case l < 126:
		out = append(out, 0x80|byte(l))
	case l <= 0xffff:
		out = append(out, 0x80|126)
		out = binary.BigEndian.AppendUint16(out, uint16(l))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(l))
	}
	out = append(out, mask[:]...)
	for i, c := range p {
		out = append(out, c^mask[i&3])
	}
	return out
}

// qualify adds xmlns='jabber:client' to e, one element, when it is a
// message, presence or iq without a default namespace: over TCP the stream
// root declares it, over a WebSocket nothing is inherited.
func qualify(e []byte) []byte {
	end := bytes.IndexByte(e, '>')
	if end < 0 || bytes.Contains(e[:end], []byte(" xmlns=")) {
		return e
	}
	name := e[1:end]
	if k := bytes.IndexAny(name, " /"); k >= 0 {
		name = name[:k]
	}
	switch string(name) {
	case "message", "presence", "iq":
	default:
		return e
	}
	at := 1 + len(name)
	out := make([]byte, 0, len(e)+len(stanza.NSClient)+9)
	out = append(out, e[:at]...)
	out = append(out, " xmlns='"+stanza.NSClient+"'"...)
	return append(out, e[at:]...)
}
