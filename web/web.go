// Package web is the client-facing web listener: XMPP over WebSocket
// (RFC 7395) and BOSH (XEP-0124/0206), with XEP-0156 discovery, on the
// reactor's event loops. Each HTTP connection is a session.Handler of its
// own; a WebSocket hands its text messages to a session.Stream with
// WebSocketFraming, the same stream machine TCP clients get.
package web

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"ignis/jid"
	"ignis/session"
)

// Limits bound what one client may make the listener hold.
type Limits struct {
	MaxHeaderBytes int // request line and header fields; default 8 KiB
	MaxHeaders     int // header fields; default 64
	MaxBodyBytes   int // a BOSH request body; default 256 KiB
	MaxFrameBytes  int // a WebSocket frame's payload; default 256 KiB
}

// Config configures the web listener.
type Config struct {
	Domain        jid.JID
	WebSocketPath string   // default "/xmpp-websocket"
	BOSHPath      string   // default "/http-bind"
	Origins       []string // allowed Origin values for CORS and WebSocket; "*" any (default)
	Limits        Limits
	// IdleTimeout closes an HTTP connection with no request for that long
	// (keep-alive); default 60 s.
	IdleTimeout time.Duration
	BOSH        BOSHConfig
	Logger      *slog.Logger
}

func (c *Config) defaults() {
	if c.WebSocketPath == "" {
		c.WebSocketPath = "/xmpp-websocket"
	}
	if c.BOSHPath == "" {
		c.BOSHPath = "/http-bind"
	}
	if c.Origins == nil {
		c.Origins = []string{"*"}
	}
	l := &c.Limits
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = 8 << 10
	}
	if l.MaxHeaders == 0 {
		l.MaxHeaders = 64
	}
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = 256 << 10
	}
	if l.MaxFrameBytes == 0 {
		l.MaxFrameBytes = 256 << 10
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 60 * time.Second
	}
	c.BOSH.defaults()
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Server serves the web listener's connections. Serve makes the stream
// for a transport (internal/server's Server.Serve).
type Server struct {
	cfg   Config
	serve func(session.Transport) session.Handler
	bosh  boshTable
}

// New returns a Server; its NewHandler is a reactor.Listener's Handler.
func New(cfg Config, serve func(session.Transport) session.Handler) (*Server, error) {
	cfg.defaults()
	if serve == nil {
		return nil, errors.New("web: nil serve")
	}
	if cfg.WebSocketPath[0] != '/' || cfg.BOSHPath[0] != '/' {
		return nil, errors.New("web: paths must start with /")
	}
	s := &Server{cfg: cfg, serve: serve}
	s.bosh.m = map[string]*boshSession{}
	return s, nil
}

// NewHandler is the handler of an accepted web connection.
func (s *Server) NewHandler(t session.Transport) session.Handler {
	c := &conn{s: s, raw: t, p: newParser(&s.cfg.Limits)}
	t.SetTimer(s.cfg.IdleTimeout)
	return c
}

// BOSHSessions is how many BOSH sessions are open.
func (s *Server) BOSHSessions() int {
	s.bosh.mu.Lock()
	defer s.bosh.mu.Unlock()
	return len(s.bosh.m)
}

// phase is where a web connection is.
type phase uint8

const (
	phHTTP      phase = iota // reading requests
	phHeld                   // a BOSH request waits for output (bosh.go)
	phWebSocket              // upgraded: frames carry a stream
	phClosed                 // closing or closed
)

// conn is one web connection: an HTTP/1.1 connection that may become a
// WebSocket, in which case it is also the stream's session.Transport.
//
// Owned by its event loop, like the transport under it.
type conn struct {
	s     *Server
	raw   session.Transport
	phase phase
	p     *parser // nil once upgraded

	// WebSocket
	st session.Handler
	fr wsFrames

	// BOSH: the session of the request held (phHeld) and its rid
	bs        *boshSession
	rid       uint64
	keepAlive bool
	origin    string // the held request's allowed Origin, for its response
}

var _ session.Handler = (*conn)(nil)

// Traffic implements session.Handler.
func (c *conn) Traffic(b []byte) error {
	for len(b) > 0 {
		switch c.phase {
		case phWebSocket:
			err := c.fr.feed(b, uint64(c.s.cfg.Limits.MaxFrameBytes), c)
			var we *wsError
			if errors.As(err, &we) {
				c.wsClose(we.code, we.text)
			}
			return err
		case phClosed:
			return nil
		}
		n, herr := c.p.feed(b)
		b = b[n:]
		if herr != nil {
			c.respondError(herr)
			return herr
		}
		if c.p.state != psComplete {
			return nil
		}
		if err := c.serveRequest(); err != nil {
			return err
		}
		if c.p != nil {
			c.p.reset()
		}
	}
	return nil
}

// serveRequest answers the request the parser completed.
func (c *conn) serveRequest() error {
	r := &c.p.req
	if c.phase == phHeld {
		c.bs.release(c) // a pipelined request: the held one is answered first
	}
	c.raw.SetTimer(0)
	origin, ok := c.allowOrigin(r.origin)
	if !ok {
		c.respond(r, 403, "text/plain", []byte("origin not allowed\n"), "")
		return nil
	}
	path := r.path()
	switch {
	case path == c.s.cfg.WebSocketPath:
		return c.upgrade(r, origin)
	case path == c.s.cfg.BOSHPath:
		return c.boshRequest(r, origin)
	case path == "/.well-known/host-meta" || path == "/.well-known/host-meta.json":
		if r.method != "GET" && r.method != "HEAD" {
			c.respond(r, 405, "text/plain", []byte("GET only\n"), "Allow: GET, HEAD\r\n")
			return nil
		}
		ctype, body := c.hostMeta(r, path)
		c.respond(r, 200, ctype, body, corsHeaders(origin))
		return nil
	}
	c.respond(r, 404, "text/plain", []byte("not found\n"), "")
	return nil
}

// allowOrigin checks a request's Origin against the configuration; it
// returns the value for Access-Control-Allow-Origin ("" for none).
func (c *conn) allowOrigin(o string) (string, bool) {
	for _, a := range c.s.cfg.Origins {
		if a == "*" {
			return "*", true
		}
		if o != "" && a == o {
			return o, true
		}
	}
	return "", o == "" // no Origin: not a browser's cross-origin request
}

func corsHeaders(origin string) string {
	if origin == "" {
		return ""
	}
	h := "Access-Control-Allow-Origin: " + origin + "\r\n"
	if origin != "*" {
		h += "Vary: Origin\r\n"
	}
	return h
}

// respond writes a complete response and readies the connection for the
// next request, or closes it.
func (c *conn) respond(r *request, status int, ctype string, body []byte, extra string) {
	keep := r.keepAlive()
	out := c.head(nil, status, ctype, len(body), extra, keep)
	if r.method != "HEAD" {
		out = append(out, body...)
	}
	c.finish(out, keep)
}

// head appends a response's status line and header fields.
func (c *conn) head(out []byte, status int, ctype string, n int, extra string, keep bool) []byte {
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(status), 10)
	out = append(out, ' ')
	out = append(out, statusText(status)...)
	out = append(out, "\r\nServer: ignis\r\nCache-Control: no-store\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(n), 10)
	out = append(out, "\r\n"...)
	if ctype != "" {
		out = append(out, "Content-Type: "...)
		out = append(out, ctype...)
		out = append(out, "\r\n"...)
	}
	if !keep {
		out = append(out, "Connection: close\r\n"...)
	}
	out = append(out, extra...)
	return append(out, "\r\n"...)
}

// finish sends a response and either waits for the next request or closes.
func (c *conn) finish(out []byte, keep bool) {
	if !keep {
		c.phase = phClosed
		c.raw.Close(out)
		return
	}
	c.phase = phHTTP
	_ = c.raw.Write(out)
	c.raw.SetTimer(c.s.cfg.IdleTimeout)
}

func (c *conn) respondError(e *httpError) {
	c.phase = phClosed
	out := c.head(nil, e.status, "text/plain", len(e.text)+1, "", false)
	c.raw.Close(append(append(out, e.text...), '\n'))
}

func statusText(code int) string {
	switch code {
	case 101:
		return "Switching Protocols"
	case 200:
		return "OK"
	case 204:
		return "No Content"
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 411:
		return "Length Required"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 426:
		return "Upgrade Required"
	case 431:
		return "Request Header Fields Too Large"
	case 501:
		return "Not Implemented"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Status"
}

// Wakeup implements session.Handler.
func (c *conn) Wakeup() {
	switch {
	case c.phase == phWebSocket:
		c.st.Wakeup()
	case c.bs != nil:
		c.bs.wakeup(c) // held, or answered since the session's Wake reached it
	}
}

// Timer implements session.Handler: the keep-alive timeout over HTTP, a
// held BOSH request's wait, the stream's own timer over WebSocket.
func (c *conn) Timer(now time.Time) {
	switch c.phase {
	case phWebSocket:
		c.st.Timer(now)
	case phHeld:
		c.bs.waitOver(c)
	case phHTTP:
		c.phase = phClosed
		c.raw.Close(nil)
	}
}

// Closed implements session.Handler.
func (c *conn) Closed(err error) {
	switch {
	case c.st != nil:
		c.st.Closed(err)
	case c.bs != nil:
		c.bs.connGone(c)
	}
	c.phase = phClosed
}

// upgrade answers GET on the WebSocket path (RFC 6455 §4.2, RFC 7395 §3.1).
func (c *conn) upgrade(r *request, origin string) error {
	switch {
	case r.method != "GET" || r.http10:
		c.respond(r, 400, "text/plain", []byte("a WebSocket opens with GET over HTTP/1.1\n"), "")
		return nil
	case !hasToken(r.upgrade, "websocket") || !hasToken(r.connection, "upgrade"):
		c.respond(r, 426, "text/plain", []byte("this is an XMPP WebSocket endpoint\n"), "Upgrade: websocket\r\nConnection: Upgrade\r\n")
		return nil
	case r.wsVersion != "13":
		c.respond(r, 426, "text/plain", []byte("WebSocket version 13 only\n"), "Sec-WebSocket-Version: 13\r\n")
		return nil
	case !validKey(r.wsKey):
		c.respond(r, 400, "text/plain", []byte("bad Sec-WebSocket-Key\n"), "")
		return nil
	case !hasToken(r.wsProtocol, "xmpp"):
		// RFC 7395 §3.1: the client offers the "xmpp" subprotocol
		c.respond(r, 400, "text/plain", []byte("the xmpp subprotocol is required\n"), "")
		return nil
	}
	out := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: xmpp\r\nSec-WebSocket-Accept: ")
	out = append(out, wsAccept(r.wsKey)...)
	out = append(out, "\r\n\r\n"...)
	_ = origin
	if err := c.raw.Write(out); err != nil {
		return err
	}
	c.phase = phWebSocket
	c.p = nil // the HTTP parser's buffers are not needed any more
	c.st = c.s.serve(c)
	return nil
}

// text implements wsSink: a piece of a text message goes to the stream.
func (c *conn) text(p []byte) error {
	if c.st == nil || len(p) == 0 {
		return nil
	}
	return c.st.Traffic(p)
}

// control implements wsSink.
func (c *conn) control(op byte, p []byte) {
	switch op {
	case opPing:
		_ = c.raw.Write(appendFrame(nil, opPong, p))
	case opClose:
		// the client closes without <close/>: the stream ends as on a TCP
		// disconnect (Closed follows); echo its status (RFC 6455 §5.5.1),
		// unless it is one no endpoint may send, or the body is 1 byte
		code := uint16(closeNormal)
		switch {
		case len(p) == 1:
			code = closeProtocol
		case len(p) >= 2:
			code = uint16(p[0])<<8 | uint16(p[1])
			if !sendableClose(code) {
				code = closeProtocol
			}
		}
		c.wsClose(code, "")
	}
}

// wsClose sends a close frame and closes the connection.
func (c *conn) wsClose(code uint16, reason string) {
	if c.phase == phClosed {
		return
	}
	c.phase = phClosed
	c.fr.state = wsClosed
	c.raw.Close(appendClose(nil, code, reason))
}

// frameBufs recycles the buffers outgoing frames are built in, so that a
// stanza written costs no allocation.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// session.Transport, for the stream over a WebSocket.

// Framing implements session.Framer.
func (c *conn) Framing() session.Framing { return session.WebSocketFraming{} }

// TransportName names the transport in session.Info and the metrics.
func (c *conn) TransportName() string { return "websocket" }

// Write implements session.Transport: one element, one text message.
func (c *conn) Write(p []byte) error {
	if c.phase != phWebSocket {
		return net.ErrClosed
	}
	bp := frameBufs.Get().(*[]byte)
	out := appendFrame((*bp)[:0], opText, p)
	err := c.raw.Write(out)
	if cap(out) <= 64<<10 {
		*bp = out[:0]
		frameBufs.Put(bp)
	}
	return err
}

// Close implements session.Transport: each element of final is a message of
// its own (RFC 7395 §3.3.3), then the WebSocket closes (§3.6).
func (c *conn) Close(final []byte) {
	if c.phase != phWebSocket {
		return
	}
	var out []byte
	for len(final) > 0 {
		n := elementEnd(final)
		out = appendFrame(out, opText, final[:n])
		final = final[n:]
	}
	c.phase = phClosed
	c.fr.state = wsClosed
	c.raw.Close(appendClose(out, closeNormal, ""))
}

// StartTLS implements session.Transport: a WebSocket's TLS is HTTPS's.
func (c *conn) StartTLS() error { return errors.New("web: no STARTTLS over WebSocket") }

// StartCompression implements session.Transport.
func (c *conn) StartCompression() error { return errors.New("web: no XEP-0138 over WebSocket") }

func (c *conn) TLS() *tls.ConnectionState       { return c.raw.TLS() }
func (c *conn) Wake()                           { c.raw.Wake() }
func (c *conn) SetTimer(d time.Duration)        { c.raw.SetTimer(d) }
func (c *conn) RemoteAddr() net.Addr            { return c.raw.RemoteAddr() }
func (c *conn) Pending() int                    { return c.raw.Pending() }
func (c *conn) Sent() (written, flushed uint64) { return c.raw.Sent() }
func (c *conn) WakeWhenFlushed()                { c.raw.WakeWhenFlushed() }

// elementEnd returns the length of the first top-level element of p, which
// the stream built (well-formed, no comments or CDATA); len(p) if unclosed.
func elementEnd(p []byte) int {
	depth := 0
	for i := 0; i < len(p); i++ {
		if p[i] != '<' {
			continue
		}
		closing := i+1 < len(p) && p[i+1] == '/'
		var q byte
		j := i + 1
		for ; j < len(p); j++ {
			switch {
			case q != 0:
				if p[j] == q {
					q = 0
				}
				continue
			case p[j] == '\'' || p[j] == '"':
				q = p[j]
				continue
			}
			if p[j] == '>' {
				break
			}
		}
		switch {
		case closing:
			depth--
		case j > 0 && j < len(p) && p[j-1] == '/':
			// self-closing
		case i+1 < len(p) && p[i+1] == '?':
			// the XML declaration
		default:
			depth++
		}
		i = j
		if depth == 0 {
			return min(j+1, len(p))
		}
	}
	return len(p)
}

// newID returns a random id in hex (BOSH sid).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
