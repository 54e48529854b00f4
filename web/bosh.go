package web

import (
	"crypto/tls"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"ignis/session"
	"ignis/xmlscan"
)

// XEP-0124/0206 namespaces.
const (
	NSHTTPBind = "http://jabber.org/protocol/httpbind"
	NSXBOSH    = "urn:xmpp:xbosh"
)

// BOSHConfig bounds BOSH sessions (XEP-0124 §7.1: the server may lower what
// the client asks for).
type BOSHConfig struct {
	MaxWait     time.Duration // the longest a request is held; default 60 s
	Inactivity  time.Duration // a session with no request held for this long ends; default 60 s
	MaxHold     int           // requests held at once; default 1
	Polling     time.Duration // the shortest polling interval announced; default 2 s
	MaxPending  int           // output bytes queued for the next response; default 1 MiB
	MaxSessions int           // BOSH sessions at once; default 10000
}

func (c *BOSHConfig) defaults() {
	if c.MaxWait == 0 {
		c.MaxWait = 60 * time.Second
	}
	if c.Inactivity == 0 {
		c.Inactivity = 60 * time.Second
	}
	if c.MaxHold == 0 {
		c.MaxHold = 1
	}
	if c.Polling == 0 {
		c.Polling = 2 * time.Second
	}
	if c.MaxPending == 0 {
		c.MaxPending = 1 << 20
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = 10000
	}
}

// boshTable maps sids to sessions.
type boshTable struct {
	mu sync.Mutex
	m  map[string]*boshSession
}

func (t *boshTable) get(sid string) *boshSession {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[sid]
}

func (t *boshTable) remove(b *boshSession) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m[b.sid] == b {
		delete(t.m, b.sid)
	}
}

// answered is a response kept for re-sending a duplicate request (§14.3).
type answered struct {
	rid  uint64
	body []byte
}

// boshSession is one BOSH session: a virtual session.Transport for a
// stream that outlives the HTTP connections carrying it, as a XEP-0198
// detached stream outlives its TCP connection. The stream's output queues
// in out until a request is held to carry it.
//
// Requests of one session may come on connections of different event
// loops, so every call into the stream is made with mu held, which
// serializes them as one loop would. A held request is answered on its own
// connection's loop: a caller on another loop wakes that connection.
// Wake is lock-free, since other streams call it while holding their own.
type boshSession struct {
	mu  sync.Mutex
	s   *Server
	sid string
	st  session.Handler

	// negotiated (§7.1)
	wait     time.Duration
	hold     int
	requests int
	to       string

	peer     net.Addr
	nextRID  uint64               // the rid expected next
	early    map[uint64][]byte    // bodies of requests ahead of nextRID, within the window
	held     []*conn              // requests held, lowest rid first
	answered []answered           // the last responses by rid modulo requests, for duplicates
	out      []byte               // stream output not yet in a response
	authid   string               // the stream id, from the stream's first <open/>
	created  bool                 // the session creation response is sent
	closeReq bool                 // the stream called Close: the next response terminates
	cond     string               // the terminate condition
	gone     bool                 // the stream's Closed was called
	ended    bool                 // out of the table; every request gets item-not-found
	written  uint64               // Transport.Sent
	flushed  uint64               //
	flushAsk bool                 // WakeWhenFlushed
	timerGen uint64               // the stream's timer: a stale AfterFunc sees another generation
	timer    *time.Timer          //
	inact    *time.Timer          // the inactivity timer, armed when nothing is held
	wake     atomic.Bool          // Wake was called; the next pump runs the stream's Wakeup
	spawned  atomic.Bool          // a goroutine is on its way to pump (Wake with nothing held)
	waker    atomic.Pointer[conn] // the connection a Wake reaches: the oldest held, or nil
}

var (
	_ session.Transport = (*boshSession)(nil)
	_ session.Framer    = (*boshSession)(nil)
)

// boshRequest serves a request on the BOSH path.
func (c *conn) boshRequest(r *request, origin string) error {
	cors := corsHeaders(origin)
	switch r.method {
	case "OPTIONS": // a CORS preflight
		c.respond(r, 200, "", nil, cors+"Access-Control-Allow-Methods: GET, POST, OPTIONS\r\nAccess-Control-Allow-Headers: Content-Type\r\nAccess-Control-Max-Age: 86400\r\n")
		return nil
	case "GET", "HEAD":
		c.respond(r, 200, "text/plain", []byte("XMPP over BOSH (XEP-0206): POST <body/> here\n"), cors)
		return nil
	case "POST":
	default:
		c.respond(r, 405, "text/plain", []byte("POST only\n"), "Allow: GET, POST, OPTIONS\r\n")
		return nil
	}
	body, err := xmlscan.ParseElem(r.body, "")
	if err != nil || string(body.Local()) != "body" || string(body.NS()) != NSHTTPBind {
		c.respond(r, 400, "text/xml; charset=utf-8", terminateBody("bad-request"), cors)
		return nil
	}
	rid, err := strconv.ParseUint(string(attr(body, "rid")), 10, 53)
	if err != nil {
		c.respond(r, 400, "text/xml; charset=utf-8", terminateBody("bad-request"), cors)
		return nil
	}
	c.keepAlive, c.origin = r.keepAlive(), origin
	sid := attr(body, "sid")
	if len(sid) == 0 {
		return c.boshCreate(r, body, rid)
	}
	b := c.s.bosh.get(string(sid))
	if b == nil {
		c.respond(r, 200, "text/xml; charset=utf-8", terminateBody("item-not-found"), cors)
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.request(c, body, rid)
	return nil
}

func attr(e xmlscan.Elem, name string) []byte {
	v, _ := e.Attr(name)
	return v
}

// boshCreate starts a session (XEP-0124 §7.1, XEP-0206 §3).
func (c *conn) boshCreate(r *request, body xmlscan.Elem, rid uint64) error {
	cfg := &c.s.cfg.BOSH
	to := string(attr(body, "to"))
	if v := attr(body, "xmpp:version"); string(v) != "1.0" || to == "" {
		// without xmpp:version the client wants XEP-0124 alone, which carries no XMPP
		c.respond(r, 200, "text/xml; charset=utf-8", terminateBody("improper-addressing"), corsHeaders(c.origin))
		return nil
	}
	wait := cfg.MaxWait
	if w, err := strconv.Atoi(string(attr(body, "wait"))); err == nil && w >= 0 && time.Duration(w)*time.Second < wait {
		wait = time.Duration(w) * time.Second
	}
	hold := 1
	if h, err := strconv.Atoi(string(attr(body, "hold"))); err == nil && h >= 0 {
		hold = min(h, cfg.MaxHold)
	}
	b := &boshSession{s: c.s, sid: newID(), wait: max(wait, time.Second), hold: hold, requests: hold + 1,
		to: to, peer: c.raw.RemoteAddr(), nextRID: rid + 1}
	b.answered = make([]answered, b.requests)
	t := &c.s.bosh
	t.mu.Lock()
	if len(t.m) >= cfg.MaxSessions {
		t.mu.Unlock()
		c.respond(r, 200, "text/xml; charset=utf-8", terminateBody("remote-connection-failed"), corsHeaders(c.origin))
		return nil
	}
	t.m[b.sid] = b
	t.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.st = c.s.serve(b)
	b.after() // the Guard may have refused it
	b.feed(openElem(to))
	b.hold1(c, rid)
	b.feedChildren(body)
	b.pump(c)
	return nil
}

// openElem is the RFC 7395 <open/> that starts (and restarts) the stream
// under the BOSH framing: XEP-0206 carries the header's attributes on <body/>.
func openElem(to string) []byte {
	b := []byte("<open xmlns='" + session.NSFraming + "' to='")
	b = xmlscan.AppendEscapedAttr(b, to)
	return append(b, "' version='1.0'/>"...)
}

// request handles a request of an existing session. mu is held.
func (b *boshSession) request(c *conn, body xmlscan.Elem, rid uint64) {
	if b.ended {
		c.finish(b.response(c, terminateBody("item-not-found")), c.keepAlive)
		return
	}
	b.stopInactivity()
	switch ridCheck(b.nextRID, rid, b.requests) {
	case ridNext:
		b.nextRID++
		b.hold1(c, rid)
		b.process(body)
		for {
			next, ok := b.early[b.nextRID]
			if !ok {
				break
			}
			delete(b.early, b.nextRID)
			b.nextRID++
			if e, err := xmlscan.ParseElem(next, ""); err == nil {
				b.process(e)
			}
		}
	case ridRepeat:
		// a duplicate (§14.3): the client lost the response; send it again
		for _, a := range b.answered {
			if a.rid == rid && a.body != nil {
				c.finish(b.response(c, a.body), c.keepAlive)
				return
			}
		}
		c.finish(b.response(c, emptyBody()), c.keepAlive) // still held: this one carries nothing
		return
	case ridAhead:
		// ahead of one still on its way: kept until the gap is filled (§14.2)
		if b.early == nil {
			b.early = map[uint64][]byte{}
		}
		b.early[rid] = slices.Clone(body.Raw())
		b.hold1(c, rid)
	default:
		b.end() // before the answer: a client that got it finds the session gone
		c.finish(b.response(c, terminateBody("item-not-found")), c.keepAlive)
		return
	}
	b.pump(c)
}

// ridKind is what a request's rid is to its session (XEP-0124 §14).
type ridKind uint8

const (
	ridNext   ridKind = iota // the one expected
	ridRepeat                // one of the last `requests` answered or held: a retransmission
	ridAhead                 // ahead of the expected, within the window: waits for the gap
	ridBad                   // outside the window: the session ends
)

// ridCheck places rid against next, the rid expected, with window the
// session's requests.
func ridCheck(next, rid uint64, window int) ridKind {
	w := uint64(window)
	switch {
	case rid == next:
		return ridNext
	case rid < next && rid+w >= next:
		return ridRepeat
	case rid > next && rid < next+w:
		return ridAhead
	}
	return ridBad
}

// process hands one request's content to the stream. mu is held.
func (b *boshSession) process(body xmlscan.Elem) {
	if b.gone || b.closeReq {
		return
	}
	if string(attr(body, "xmpp:restart")) == "true" {
		b.feed(openElem(b.to)) // XEP-0206 §5: the restart after SASL
	}
	b.feedChildren(body)
	if string(attr(body, "type")) == "terminate" {
		b.feed([]byte("<close xmlns='" + session.NSFraming + "'/>"))
	}
}

// feedChildren hands each child of body to the stream as a standalone
// element: a stanza the client left in <body/>'s namespace is jabber:client.
func (b *boshSession) feedChildren(body xmlscan.Elem) {
	it := body.Children()
	for {
		e, ok := it.Next()
		if !ok || b.gone || b.closeReq {
			return
		}
		b.feed(session.WebSocketFraming{}.Element(e.Raw()))
	}
}

// feed calls the stream's Traffic. mu is held.
func (b *boshSession) feed(p []byte) {
	if b.gone || b.closeReq {
		return
	}
	_ = b.st.Traffic(p) // on error the stream has called Close
	b.after()
}

// after lets the stream know, once its call has returned, that its Close
// took effect. mu is held.
func (b *boshSession) after() {
	if b.closeReq && !b.gone {
		b.gone = true
		if b.timer != nil {
			b.timer.Stop()
		}
		b.st.Closed(nil)
	}
}

// hold1 makes c wait for output. mu is held.
func (b *boshSession) hold1(c *conn, rid uint64) {
	c.phase, c.bs, c.rid = phHeld, b, rid
	i, _ := slices.BinarySearchFunc(b.held, rid, func(h *conn, rid uint64) int {
		switch {
		case h.rid < rid:
			return -1
		case h.rid > rid:
			return 1
		}
		return 0
	})
	b.held = slices.Insert(b.held, i, c)
	c.raw.SetTimer(b.wait)
}

// pump runs a pending Wakeup of the stream and gets output (or a release
// past hold) to the oldest held request: answered here if it is self's,
// else its connection is woken to answer on its loop. mu is held.
func (b *boshSession) pump(self *conn) {
	for {
		// checked again after each answer: answering may ask for a Wakeup (WakeWhenFlushed)
		if b.wake.Swap(false) && !b.gone {
			b.st.Wakeup()
			b.after()
		}
		if len(b.held) == 0 {
			break
		}
		oldest := b.held[0]
		if len(b.out) == 0 && !b.closeReq && len(b.held) <= b.hold {
			break
		}
		if oldest != self {
			oldest.raw.Wake()
			break
		}
		b.answer(self)
		self = nil
	}
	if len(b.held) > 0 {
		b.waker.Store(b.held[0])
	} else {
		b.waker.Store(nil)
		if !b.ended {
			b.armInactivity()
		}
	}
}

// answer responds to c, held, with what is queued. mu is held.
func (b *boshSession) answer(c *conn) {
	b.held = slices.DeleteFunc(b.held, func(h *conn) bool { return h == c })
	var body []byte
	if !b.created {
		body = b.creation()
	} else {
		typ, cond := "", ""
		if b.closeReq {
			typ, cond = "terminate", b.cond
		}
		body = append(bodyStart(nil, typ, cond), '>')
	}
	body = append(body, b.out...)
	body = append(body, "</body>"...)
	b.created = true
	b.flushed = b.written
	b.out = b.out[:0]
	if cap(b.out) > 64<<10 {
		b.out = nil
	}
	b.answered[c.rid%uint64(len(b.answered))] = answered{rid: c.rid, body: body}
	if b.flushAsk {
		b.flushAsk = false
		b.wake.Store(true)
	}
	if b.closeReq {
		b.end() // before the answer, as above
	}
	c.finish(b.response(c, body), c.keepAlive)
}

// creation is the session creation response's <body> with the queued
// output (XEP-0124 §7.2, XEP-0206 §3).
func (b *boshSession) creation() []byte {
	body := []byte("<body xmlns='" + NSHTTPBind + "' xmlns:xmpp='" + NSXBOSH + "' xmlns:stream='http://etherx.jabber.org/streams' sid='")
	body = append(body, b.sid...)
	body = append(body, "' wait='"...)
	body = strconv.AppendInt(body, int64(b.wait/time.Second), 10)
	body = append(body, "' requests='"...)
	body = strconv.AppendInt(body, int64(b.requests), 10)
	body = append(body, "' hold='"...)
	body = strconv.AppendInt(body, int64(b.hold), 10)
	body = append(body, "' inactivity='"...)
	body = strconv.AppendInt(body, int64(b.s.cfg.BOSH.Inactivity/time.Second), 10)
	body = append(body, "' polling='"...)
	body = strconv.AppendInt(body, int64(b.s.cfg.BOSH.Polling/time.Second), 10)
	body = append(body, "' ver='1.11' from='"...)
	body = xmlscan.AppendEscapedAttr(body, b.to) // the domain asked for: the primary one or a virtual host
	body = append(body, "' authid='"...)
	body = append(body, b.authid...)
	body = append(body, "' xmpp:version='1.0' xmpp:restartlogic='true'"...)
	if b.closeReq {
		body = append(body, " type='terminate' condition='"...)
		body = append(body, b.cond...)
		body = append(body, '\'')
	}
	return append(body, '>')
}

func bodyStart(out []byte, typ, cond string) []byte {
	out = append(out, "<body xmlns='"+NSHTTPBind+"'"...)
	if typ != "" {
		out = append(out, " type='"+typ+"'"...)
	}
	if cond != "" {
		out = append(out, " condition='"+cond+"'"...)
	}
	return out
}

func emptyBody() []byte { return append(bodyStart(nil, "", ""), "/>"...) }

// terminateBody is a terminal binding condition (XEP-0124 §17).
func terminateBody(cond string) []byte {
	return append(bodyStart(nil, "terminate", cond), "/>"...)
}

// response wraps a <body/> in an HTTP response for c.
func (b *boshSession) response(c *conn, body []byte) []byte {
	out := c.head(nil, 200, "text/xml; charset=utf-8", len(body), corsHeaders(c.origin), c.keepAlive)
	return append(out, body...)
}

// end takes the session out of the table: later requests get item-not-found.
func (b *boshSession) end() {
	if b.ended {
		return
	}
	b.ended = true
	b.stopInactivity()
	b.s.bosh.remove(b)
	b.closeReq = true
	b.after()
}

func (b *boshSession) armInactivity() {
	if b.inact != nil {
		b.inact.Reset(b.s.cfg.BOSH.Inactivity)
		return
	}
	b.inact = time.AfterFunc(b.s.cfg.BOSH.Inactivity, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.held) == 0 && !b.ended {
			b.s.cfg.Logger.Debug("BOSH session inactive", "sid", b.sid)
			b.end()
		}
	})
}

func (b *boshSession) stopInactivity() {
	if b.inact != nil {
		b.inact.Stop()
	}
}

// wakeup runs on c's loop after c.raw.Wake: c may answer now, or, if
// answered already, pump for the session.
func (b *boshSession) wakeup(c *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pump(c)
}

// waitOver answers c, held for the session's wait, with an empty body.
func (b *boshSession) waitOver(c *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if slices.Contains(b.held, c) {
		b.answer(c)
	}
	b.pump(nil)
}

// connGone forgets a held request whose connection closed.
func (b *boshSession) connGone(c *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held = slices.DeleteFunc(b.held, func(h *conn) bool { return h == c })
	b.pump(nil)
}

// session.Transport: every method but Wake runs with mu held, inside a
// call boshSession made into the stream.

// Framing implements session.Framer: RFC 7395's elements, which the
// session turns into XEP-0206's (openElem; Close).
func (b *boshSession) Framing() session.Framing { return session.WebSocketFraming{} }

// TransportName names the transport in session.Info and the metrics.
func (b *boshSession) TransportName() string { return "bosh" }

// Write implements session.Transport.
func (b *boshSession) Write(p []byte) error {
	if b.closeReq {
		return net.ErrClosed
	}
	if b.take(p) {
		return nil
	}
	if len(b.out)+len(p) > b.s.cfg.BOSH.MaxPending {
		return session.ErrOutputFull
	}
	b.out = append(b.out, p...)
	b.written += uint64(len(p))
	return nil
}

// take consumes an <open/> (its id becomes the authid) or <close/>, which
// XEP-0206 carries as <body/> attributes.
func (b *boshSession) take(p []byte) bool {
	e, err := xmlscan.ParseElem(p, "")
	if err != nil || string(e.NS()) != session.NSFraming {
		return false
	}
	switch string(e.Local()) {
	case "open":
		if b.authid == "" {
			b.authid = string(attr(e, "id"))
		}
	case "close":
		b.closeReq = true
	}
	return true
}

// Close implements session.Transport: what is final goes out with the
// terminating response; a stream error makes it remote-stream-error.
func (b *boshSession) Close(final []byte) {
	for len(final) > 0 {
		n := elementEnd(final)
		el := final[:n]
		final = final[n:]
		if b.take(el) {
			continue
		}
		if b.cond == "" && len(el) > 13 && string(el[:13]) == "<stream:error" {
			b.cond = "remote-stream-error"
		}
		b.out = append(b.out, el...)
	}
	b.closeReq = true
}

func (b *boshSession) StartTLS() error {
	return net.ErrClosed
}
func (b *boshSession) StartCompression() error { return net.ErrClosed }

// TLS implements session.Transport: nil, since a BOSH session's requests
// may come over several connections, none of which binds the stream.
func (b *boshSession) TLS() *tls.ConnectionState { return nil }

// Wake implements session.Transport; any goroutine may call it.
// With no request held, the Wakeup runs on a goroutine of its own (as the
// timers' do): a delivery queues its output, and a server shutdown reaches
// a client between two requests.
//
// The connection a Wake reaches may have been answered meanwhile: it keeps
// its session (conn.bs), and its Wakeup pumps the session all the same.
func (b *boshSession) Wake() {
	b.wake.Store(true)
	if c := b.waker.Load(); c != nil {
		c.raw.Wake()
		return
	}
	if b.spawned.CompareAndSwap(false, true) {
		go func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.spawned.Store(false)
			b.pump(nil)
		}()
	}
}

// SetTimer implements session.Transport with a runtime timer: the stream
// may outlive every connection.
func (b *boshSession) SetTimer(d time.Duration) {
	b.timerGen++
	if b.timer != nil {
		b.timer.Stop()
	}
	if d <= 0 {
		return
	}
	gen := b.timerGen
	b.timer = time.AfterFunc(d, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if gen != b.timerGen || b.gone {
			return
		}
		b.st.Timer(time.Now())
		b.after()
		b.pump(nil)
	})
}

func (b *boshSession) RemoteAddr() net.Addr { return b.peer }
func (b *boshSession) Pending() int         { return len(b.out) }
func (b *boshSession) Sent() (written, flushed uint64) {
	return b.written, b.flushed
}
func (b *boshSession) WakeWhenFlushed() { b.flushAsk = true }

// release answers c, held, because its connection brought another request.
func (b *boshSession) release(c *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if slices.Contains(b.held, c) {
		b.answer(c)
	}
	b.pump(nil)
}
