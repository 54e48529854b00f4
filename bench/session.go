package bench

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"ignis/stanza"
	"ignis/xmlscan"
)

// phase is where a session's stream stands.
type phase uint8

const (
	phFeatures phase = iota // stream opened, waiting for features (before TLS or SASL)
	phStartTLS              // <starttls/> sent
	phRegister              // in-band registration iq sent
	phAuth                  // <auth/> sent
	phBindFeat              // stream restarted after SASL, waiting for features
	phBind                  // bind iq sent
	phRoster                // roster get sent
	phOnline                // presence sent: established
	phClosing               // </stream:stream> sent, waiting for the server's
)

var phaseNames = [...]string{"features", "starttls", "register", "auth", "features after auth", "bind", "roster", "online", "closing"}

func (p phase) String() string { return phaseNames[p] }

// Sentinels the Sink returns to make the read loop act between Feeds.
var (
	errStartTLS = errors.New("starttls proceed")
	errRestart  = errors.New("stream restart")
	errClosed   = errors.New("stream closed")
)

// failure is a reason a session ended, coarse enough to be counted.
type failure struct{ reason string }

func (f *failure) Error() string { return f.reason }

func fail(reason string) error { return &failure{reason: reason} }

// reason names why err ended a session in phase p, without addresses or
// ports so that equal causes count together.
func reason(p phase, err error) string {
	var f *failure
	var errno syscall.Errno
	var tlsAlert tls.AlertError
	var recErr tls.RecordHeaderError
	switch {
	case errors.As(err, &f):
		return f.reason
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout in " + p.String()
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
		return "connection closed in " + p.String()
	case errors.As(err, &tlsAlert):
		return "tls alert: " + tlsAlert.Error()
	case errors.As(err, &recErr):
		return "tls: not a TLS record"
	case errors.As(err, &errno):
		return errno.Error() + " in " + p.String()
	}
	var xe *xmlscan.SyntaxError
	if errors.As(err, &xe) {
		return "bad XML from server: " + xe.Err.Error()
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// session is one simulated client. Its goroutine runs the login and the read
// loop; sender goroutines write to it once it is online. It holds no read
// buffer while idle on plain TCP (see readFeed).
type session struct {
	r       *run
	idx     int32 // index in this process
	role    Role
	partner int32       // chat: local index of the partner, -1 if none
	rejoins int16       // muc: joins repeated while the room was still locked
	joined  atomic.Bool // muc: in the room (its self-presence came): it may send
	// joinSent: muc: the join went on this connection (once: by the run's
	// join phase, or at a re-login after it)
	joinSent atomic.Bool
	ph       phase
	secure   bool
	online   atomic.Bool
	mu       sync.Mutex // guards conn against teardown and senders
	conn     net.Conn
	raw      syscall.RawConn // plain TCP: wait for input without a buffer
	tbuf     []byte          // TLS: plaintext read buffer
	sc       xmlscan.Scanner
	scram    *scramClient // during SASL only
	started  time.Time    // current login began
	reg      bool         // this connection registers the account instead of logging in
	// owned by the session's goroutine
	holding   bool   // holds an admission slot
	est       bool   // the current login reached presence
	smOn      bool   // XEP-0198 enable sent on the current stream
	hIn       uint32 // stanzas received since enable (XEP-0198 h)
	firstDone bool   // the first login has ended (established or not)

	// on an event loop (evloop_linux.go): the socket, what waits to be
	// written, and how the loop tells the session's goroutine the end
	ev    *evloop
	wmu   sync.Mutex // guards fd and out
	fd    int        // -1 unless on a loop
	out   []byte
	ended chan error
	batch []byte // paced events queued by the sending loop (evloop.queue)
	// --split: where in batch each message's sent time goes, and the
	// kernel's receive timestamp of the data being read (Unix ns)
	stamps []int
	rxAt   int64

	contacts map[string]uint8 // --roster-size: subscription bits by contact (roster.go)
	bare     []byte           // pep: the account's bare JID, once asked (isSelf)
	pubs     atomic.Int32     // pep: items published (pep.go)
	lastSeq  map[int32]int64  // pep: the last publish seen from each contact (by its index)
}

func (s *session) user() string { return s.r.cfg.User(int(s.idx)) }

func (s *session) setConn(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r.closing.Load() {
		return false
	}
	s.conn = c
	return true
}

func (s *session) getConn() net.Conn {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	return c
}

// closeConn ends the stream politely and closes the socket (teardown).
func (s *session) closeConn(polite bool) {
	if s.r.loops != nil && s.shutdownFd(polite && s.online.Load()) {
		return
	}
	s.mu.Lock()
	c := s.conn
	s.conn = nil
	s.mu.Unlock()
	if c == nil {
		return
	}
	if polite && s.online.Load() {
		_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = c.Write(s.r.close)
	}
	_ = c.Close()
}

func (s *session) write(b []byte) error {
	if s.r.loops != nil {
		// writes and the move to a loop (detachFd) exclude each other, so
		// that no write falls between the two sockets
		s.wmu.Lock()
		defer s.wmu.Unlock()
		if s.fd >= 0 {
			return s.writeFdLocked(b)
		}
	}
	c := s.getConn()
	if c == nil {
		return net.ErrClosed
	}
	_, err := c.Write(b)
	return err
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// readFeed reads what the server sent and feeds it to the scanner. On plain
// TCP it waits for readability without holding a buffer, then reads into a
// pooled one, so idle sessions hold none.
func (s *session) readFeed() error {
	if s.raw != nil {
		var bp *[]byte
		var n int
		var rerr error
		err := s.raw.Read(func(fd uintptr) bool {
			bp = bufPool.Get().(*[]byte)
			for {
				n, rerr = syscall.Read(int(fd), *bp)
				if rerr != syscall.EINTR {
					break
				}
			}
			if rerr == syscall.EAGAIN {
				bufPool.Put(bp)
				bp = nil
				return false
			}
			return true
		})
		if err != nil {
			if bp != nil {
				bufPool.Put(bp)
			}
			return err
		}
		if rerr != nil || n <= 0 {
			bufPool.Put(bp)
			if rerr == nil {
				rerr = io.EOF
			}
			return rerr
		}
		err = s.sc.Feed((*bp)[:n], s)
		bufPool.Put(bp)
		return err
	}
	if s.tbuf == nil {
		s.tbuf = make([]byte, 2048)
	}
	c := s.getConn()
	if c == nil {
		return net.ErrClosed
	}
	n, err := c.Read(s.tbuf)
	if n > 0 {
		if ferr := s.sc.Feed(s.tbuf[:n], s); ferr != nil {
			return ferr
		}
	}
	return err
}

// connect dials, secures the stream if asked and sends the stream header.
func (s *session) connect() error {
	r := s.r
	s.started = time.Now()
	s.ph, s.secure, s.raw, s.tbuf = phFeatures, false, nil, nil
	s.smOn, s.hIn = false, 0
	s.sc.Reset()
	s.sc.SetRootless(r.cfg.Transport == "websocket")
	addr, header, _ := r.server(s.idx)
	c, err := r.dialer(int(s.idx)).DialContext(r.ctx, "tcp", addr)
	if err != nil {
		if r.closing.Load() {
			return err
		}
		return fail("dial: " + reason(phFeatures, err))
	}
	if r.cfg.Transport == "websocket" {
		_ = c.SetDeadline(s.started.Add(r.cfg.Timeout))
		ws, err := wsUpgrade(c, r.cfg.Domain, r.cfg.WSPath)
		if err != nil {
			c.Close()
			return fail("websocket: " + reason(phFeatures, err))
		}
		if !s.setConn(ws) {
			c.Close()
			return net.ErrClosed
		}
		return s.write(header)
	}
	if !s.setConn(c) {
		c.Close()
		return net.ErrClosed
	}
	_ = c.SetDeadline(s.started.Add(r.cfg.Timeout))
	if r.cfg.TLS == TLSDirect {
		if err := s.handshake(); err != nil {
			return err
		}
	} else if rc, err := c.(*net.TCPConn).SyscallConn(); err == nil {
		s.raw = rc
	}
	return s.write(header)
}

func (s *session) handshake() error {
	c := s.getConn()
	if c == nil {
		return net.ErrClosed
	}
	_, _, conf := s.r.server(s.idx)
	tc := tls.Client(c, conf)
	if err := tc.Handshake(); err != nil {
		return fail("tls handshake: " + reason(s.ph, err))
	}
	if !s.setConn(tc) {
		tc.Close()
		return net.ErrClosed
	}
	s.raw, s.secure = nil, true
	return nil
}

// serve runs the read loop until the stream ends. It returns errClosed
// after a clean close that the client asked for.
func (s *session) serve() error {
	for {
		err := s.readFeed()
		switch err {
		case nil:
			if s.online.Load() && s.r.loops != nil && s.raw != nil {
				return s.toLoop()
			}
			continue
		case errStartTLS:
			if err := s.handshake(); err != nil {
				return err
			}
			s.ph = phFeatures
		case errRestart:
		default:
			return err
		}
		s.sc.Reset()
		_, header, _ := s.r.server(s.idx)
		if err := s.write(header); err != nil {
			return err
		}
	}
}

// toLoop moves an online plain-TCP session to an event loop and waits
// there until the loop ends it.
func (s *session) toLoop() error {
	l := s.r.loops[int(s.idx)%len(s.r.loops)]
	if err := s.detachFd(l); err != nil {
		return err
	}
	if s.ended == nil {
		s.ended = make(chan error, 1)
	}
	s.raw = nil
	l.hand(s)
	return <-s.ended
}

// StreamOpen implements xmlscan.Sink.
func (s *session) StreamOpen(*xmlscan.Frame) error { return nil }

// StreamClose implements xmlscan.Sink.
func (s *session) StreamClose() error {
	if s.ph == phClosing {
		return errClosed
	}
	return fail("server closed the stream in " + s.ph.String())
}

func is(e xmlscan.Elem, local, ns string) bool {
	return string(e.Local()) == local && string(e.NS()) == ns
}

// Element implements xmlscan.Sink: the client's state machine.
func (s *session) Element(f *xmlscan.Frame) error {
	e := f.Elem
	if s.ph == phOnline && !s.smOn && string(e.Local()) == "message" {
		// the paced load's own stanza first: neither framing nor a stream
		// error, so it skips the two namespace lookups below
		return s.online1(e)
	}
	if string(e.NS()) == nsFraming { // RFC 7395: <open/> as the header, <close/> as its end
		if string(e.Local()) == "close" {
			return s.StreamClose()
		}
		return nil
	}
	if is(e, "error", stanza.NSStream) {
		cond := "unknown"
		it := e.Children()
		for c, ok := it.Next(); ok; c, ok = it.Next() {
			if string(c.NS()) == stanza.NSStreams && string(c.Local()) != "text" {
				cond = string(c.Local())
				break
			}
		}
		return fail("stream error in " + s.ph.String() + ": " + cond)
	}
	r := s.r
	if s.smOn {
		switch {
		case is(e, "r", nsSM):
			return s.write(smAck(s.hIn))
		case is(e, "enabled", nsSM):
			r.st.smEnabled.Add(1)
			return nil
		case is(e, "failed", nsSM):
			return fail("stream management refused")
		case is(e, "a", nsSM):
			return nil
		}
		switch string(e.Local()) {
		case "message", "presence", "iq":
			s.hIn++
		}
	}
	switch s.ph {
	case phFeatures, phBindFeat:
		if !is(e, "features", stanza.NSStream) {
			return fail("unexpected <" + string(e.Local()) + "> in " + s.ph.String())
		}
		return s.features(e)
	case phStartTLS:
		if is(e, "proceed", stanza.NSTLS) {
			return errStartTLS
		}
		return fail("starttls refused: <" + string(e.Local()) + " xmlns='" + string(e.NS()) + "'>")
	case phAuth:
		return s.sasl(e)
	case phRegister:
		if string(e.Local()) != "iq" {
			return nil
		}
		if t, _ := e.Attr("type"); string(t) == "result" {
			r.st.registered.Add(1)
		} else if c := errorCondition(e); c == "conflict" {
			r.st.regExisting.Add(1)
		} else {
			return fail("register: " + c)
		}
		s.ph = phClosing
		return s.write(s.r.close)
	case phBind:
		if string(e.Local()) != "iq" {
			return nil
		}
		if t, _ := e.Attr("type"); string(t) != "result" {
			return fail("bind: " + errorCondition(e))
		}
		// what follows the bind goes out in one write, as clients send
		// their burst of setup stanzas: SM enable, roster get, presence
		var out []byte
		if r.cfg.SM {
			s.smOn, s.hIn = true, 0
			out = append(out, smEnable...)
		}
		if r.cfg.NoRoster {
			if len(out) > 0 {
				if err := s.write(out); err != nil {
					return err
				}
			}
			return s.established(true)
		}
		s.ph = phRoster
		return s.write(append(append(out, rosterGet...), r.presence...))
	case phRoster:
		if handled, err := s.rosterStanza(e); handled {
			return err
		}
		if r.cfg.PEP() {
			// the caps query may come before the roster result
			if handled, err := s.pepIQ(e); handled {
				return err
			}
		}
		if string(e.Local()) != "iq" {
			return nil
		}
		if t, _ := e.Attr("type"); string(t) != "result" {
			r.st.rosterErrors.Add(1)
		} else if r.cfg.RosterSize > 0 {
			s.rosterItems(e.Child("query", nsRoster))
			if err := s.subscribeMissing(); err != nil {
				return err
			}
		}
		return s.established(false) // the presence went with the roster get
	case phOnline:
		return s.online1(e)
	}
	return nil
}

func errorCondition(e xmlscan.Elem) string {
	er := e.Child("error", "")
	if er.IsZero() {
		return "no error element"
	}
	it := er.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		if string(c.NS()) == stanza.NSStanzas && string(c.Local()) != "text" {
			return string(c.Local())
		}
	}
	return "undefined-condition"
}

func (s *session) features(e xmlscan.Elem) error {
	r := s.r
	if s.ph == phBindFeat {
		if e.Child("bind", stanza.NSBind).IsZero() {
			return fail("bind not offered")
		}
		s.ph = phBind
		var b stanza.Builder
		b.Start("iq", "type", "set", "id", "bind")
		b.Start("bind", "xmlns", stanza.NSBind)
		b.Element("resource", r.cfg.Resource+strconv.Itoa(int(s.idx)+r.cfg.UserOffset))
		return s.write(b.Bytes())
	}
	if r.cfg.TLS == TLSStartTLS && !s.secure {
		if e.Child("starttls", stanza.NSTLS).IsZero() {
			return fail("starttls not offered")
		}
		s.ph = phStartTLS
		return s.write(startTLS)
	}
	if s.reg {
		s.ph = phRegister
		var b stanza.Builder
		b.Start("iq", "type", "set", "id", "reg")
		b.Start("query", "xmlns", nsRegister)
		b.Element("username", s.user())
		b.Element("password", r.cfg.Password)
		return s.write(b.Bytes())
	}
	mechs := e.Child("mechanisms", stanza.NSSASL)
	offered := false
	it := mechs.Children()
	var tmp [32]byte
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		if string(m.AppendText(tmp[:0])) == r.cfg.Mech {
			offered = true
		}
	}
	if !offered {
		return fail(r.cfg.Mech + " not offered")
	}
	var msg []byte
	if h, ok := scramHash(r.cfg.Mech); ok {
		var cache *saltCache
		if s.role == RoleLogin {
			cache = &r.salts
		}
		s.scram = &scramClient{h: h, user: s.user(), password: r.password, cache: cache}
		msg = s.scram.first()
	} else {
		msg = plainResponse(s.user(), r.cfg.Password)
	}
	s.ph = phAuth
	var b stanza.Builder
	b.Start("auth", "xmlns", stanza.NSSASL, "mechanism", r.cfg.Mech)
	b.Text(base64.StdEncoding.EncodeToString(msg))
	return s.write(b.Bytes())
}

func (s *session) sasl(e xmlscan.Elem) error {
	if string(e.NS()) != stanza.NSSASL {
		return fail("unexpected <" + string(e.Local()) + "> in auth")
	}
	data, err := base64.StdEncoding.AppendDecode(nil, bytes.TrimSpace(e.AppendText(nil)))
	if err != nil {
		return fail("auth: bad base64 from server")
	}
	switch string(e.Local()) {
	case "challenge":
		if s.scram == nil {
			return fail("auth: unexpected challenge")
		}
		resp, err := s.scram.final(data)
		if err != nil {
			return fail("auth: " + err.Error())
		}
		var b stanza.Builder
		b.Start("response", "xmlns", stanza.NSSASL).Text(base64.StdEncoding.EncodeToString(resp))
		return s.write(b.Bytes())
	case "success":
		if s.scram != nil {
			if err := s.scram.verify(data); err != nil {
				return fail("auth: " + err.Error())
			}
		}
		s.scram = nil
		s.ph = phBindFeat
		return errRestart
	case "failure":
		cond := "unknown"
		it := e.Children()
		if c, ok := it.Next(); ok {
			cond = string(c.Local())
		}
		return fail("auth failed: " + cond)
	}
	return fail("unexpected <" + string(e.Local()) + "> in auth")
}

// established reports the login, sending the initial presence unless it went already.
func (s *session) established(sendPresence bool) error {
	if sendPresence {
		if err := s.write(s.r.presence); err != nil {
			return err
		}
	}
	s.ph, s.est = phOnline, true
	r := s.r
	if r.cfg.MUC() && s.role == RoleChat {
		s.joined.Store(false)
		s.joinSent.Store(false)
		// the joins wait for every first login (the server's memory is
		// sampled between the two); a re-login later joins at once
		if r.joinsOpen.Load() {
			if err := s.joinRoom(); err != nil {
				return err
			}
		}
	}
	if c := s.getConn(); c != nil {
		_ = c.SetDeadline(time.Time{})
	}
	r.onEstablished(s)
	if s.role == RoleLogin {
		s.ph = phClosing
		if c := s.getConn(); c != nil {
			_ = c.SetDeadline(time.Now().Add(r.cfg.Timeout))
		}
		return s.write(s.r.close)
	}
	s.online.Store(true)
	return nil
}

// joinRoom sends s's join unless it went on this connection already. The
// first to come creates the room and accepts the instant configuration
// (XEP-0045 10.1.2; the others' configuration is refused, which is ignored).
func (s *session) joinRoom() error {
	if !s.joinSent.CompareAndSwap(false, true) {
		return nil
	}
	return s.write(s.mucJoin(true))
}

// mucJoin is the presence that joins s's room (no history), followed by
// the instant configuration when configure is set.
func (s *session) mucJoin(configure bool) []byte {
	r := s.r
	b := append([]byte(nil), "<presence to='"...)
	b = r.appendRoom(b, s)
	b = append(b, "/u"...)
	b = strconv.AppendInt(b, int64(r.cfg.UserOffset+int(s.idx)), 10)
	b = append(b, "'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>"...)
	if configure {
		b = append(b, "<iq type='set' id='mucc' to='"...)
		b = r.appendRoom(b, s)
		b = append(b, "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>"...)
	}
	return b
}

// online1 handles one element on an established stream.
func (s *session) online1(e xmlscan.Elem) error {
	r := s.r
	if handled, err := s.rosterStanza(e); handled {
		return err
	}
	if r.cfg.PEP() {
		if handled, err := s.pepIQ(e); handled {
			return err
		}
	}
	switch string(e.Local()) {
	case "message":
		if t, _ := e.Attr("type"); string(t) == "error" {
			r.st.msgBounced.Add(1)
			return nil
		}
		if r.cfg.PEP() && s.pepNotification(e) {
			return nil
		}
		if run, sidx, _, ts, ok := parseMark(e.Child("body", "")); ok {
			if run != r.id {
				r.st.stale.Add(1) // sent by an earlier run (offline storage, a resumed session)
				return nil
			}
			r.st.msgDelivered.Add(1)
			now := time.Now().UnixNano()
			r.msgLat.record(int(sidx), time.Duration(now-ts))
			if r.split[0] != nil {
				r.recordSplit(e, int(sidx), ts, s.rxAt, now)
			}
		}
	case "presence":
		t, _ := e.Attr("type")
		if string(t) == "error" {
			if r.cfg.MUC() && errorCondition(e) == "item-not-found" && s.rejoins < 1000 {
				// the room is locked until its creator configured it
				s.rejoins++
				return s.write(s.mucJoin(false))
			}
			r.st.presErrors.Add(1)
			return nil
		}
		if r.cfg.MUC() && !s.joined.Load() && selfPresence(e) {
			s.joined.Store(true)
		}
		if run, _, _, ts, ok := parseMark(e.Child("status", "")); ok {
			if run != r.id {
				r.st.stale.Add(1)
				return nil
			}
			r.st.presRecv.Add(1)
			r.presLat.record(int(s.idx), time.Duration(time.Now().UnixNano()-ts))
		}
	case "iq":
		t, _ := e.Attr("type")
		if string(t) != "get" && string(t) != "set" {
			return nil
		}
		id, _ := e.Attr("id")
		from, _ := e.Attr("from")
		var b stanza.Builder
		if !e.Child("ping", "urn:xmpp:ping").IsZero() {
			b.Start("iq", "type", "result", "id", string(id), "to", string(from))
		} else {
			b.Start("iq", "type", "error", "id", string(id), "to", string(from))
			b.Start("error", "type", "cancel")
			b.Element("service-unavailable", "", "xmlns", stanza.NSStanzas)
		}
		return s.write(b.Bytes())
	}
	return nil
}

// selfPresence reports whether e is a room's presence about the receiver
// itself (muc#user status 110), whatever the server's quoting and order.
func selfPresence(e xmlscan.Elem) bool {
	x := e.Child("x", stanza.NSMUCUser)
	if x.IsZero() {
		return false
	}
	it := x.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		if string(c.Local()) == "status" {
			if code, _ := c.Attr("code"); string(code) == "110" {
				return true
			}
		}
	}
	return false
}

// The mark the bench puts first in a message body or presence status:
// "IB1 <run> <sender> <seq> <unix-nanos> ", then padding. The run id tells
// this run's messages from those an earlier run left queued for the same
// accounts (offline storage), which are not counted as delivered.
const markPrefix = "IB1 "

// minBody is the smallest body the bench pads to (a mark with long numbers
// may be longer).
const minBody = 48

// appendMark writes the mark for sender's message seq of run sent at ts.
func appendMark(b []byte, run uint32, sender int32, seq int64, ts int64) []byte {
	b = append(b, markPrefix...)
	b = strconv.AppendUint(b, uint64(run), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(sender), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, ts, 10)
	return append(b, ' ')
}

// parseMark reads a mark from the text of e without allocating (the bench
// writes marks with no character needing escape).
func parseMark(e xmlscan.Elem) (run uint32, sender int32, seq, ts int64, ok bool) {
	if e.IsZero() || e.SelfClosing() {
		return 0, 0, 0, 0, false
	}
	t := e.Raw()[e.StartTagEnd():]
	t, ok = bytes.CutPrefix(t, []byte(markPrefix))
	if !ok {
		return 0, 0, 0, 0, false
	}
	var v [4]int64
	for i := range v {
		n, rest, good := leadingInt(t)
		if !good {
			return 0, 0, 0, 0, false
		}
		v[i], t = n, rest
	}
	return uint32(v[0]), int32(v[1]), v[2], v[3], true
}

// leadingInt parses decimal digits up to a space and skips the space.
func leadingInt(b []byte) (int64, []byte, bool) {
	var n int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9' && i < 19; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	if i == 0 || i >= len(b) || b[i] != ' ' {
		return 0, nil, false
	}
	return n, b[i+1:], true
}

const nsRegister = "jabber:iq:register"

var (
	streamClose     = []byte("</stream:stream>")
	startTLS        = []byte("<starttls xmlns='" + stanza.NSTLS + "'/>")
	rosterGet       = []byte("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>")
	presenceInitial = []byte("<presence/>")
	smEnable        = []byte("<enable xmlns='" + nsSM + "' resume='true'/>")
)

// streamHeader is the client's stream header for domain.
func streamHeader(domain string) []byte {
	b := []byte("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='" + stanza.NSStream + "' to='")
	b = xmlscan.AppendEscapedAttr(b, domain)
	return append(b, "' version='1.0'>"...)
}

// nsSM is XEP-0198's namespace (version 3).
const nsSM = "urn:xmpp:sm:3"

// smAck is <a h='…'/> acknowledging h stanzas.
func smAck(h uint32) []byte {
	b := append([]byte("<a xmlns='"+nsSM+"' h='"), strconv.FormatUint(uint64(h), 10)...)
	return append(b, "'/>"...)
}

// sentPlaceholder follows the mark when --split is on: a loop overwrites it
// with the time of the write that sends the message (stampSent).
const sentPlaceholder = "0000000000000000000 "

// sentOffset returns where the sent-time placeholder is in message b, or -1.
func sentOffset(b []byte) int {
	i := bytes.Index(b, []byte(markPrefix))
	if i < 0 {
		return -1
	}
	i += len(markPrefix)
	for range 4 { // run, sender, seq, due
		j := bytes.IndexByte(b[i:], ' ')
		if j < 0 {
			return -1
		}
		i += j + 1
	}
	if len(b)-i < len(sentPlaceholder) {
		return -1
	}
	return i
}

// stampSent writes t (Unix ns, 19 digits until 2286) over a placeholder.
func stampSent(b []byte, t int64) {
	for i := len(sentPlaceholder) - 2; i >= 0; i-- {
		b[i] = byte('0' + t%10)
		t /= 10
	}
}

// recordSplit records the three parts of one message's latency (--split):
// due → sent, sent → the reply's kernel receive timestamp rx, rx → now. A
// message sent off the loops (no sent time) or read without a timestamp is
// left out.
func (r *run) recordSplit(e xmlscan.Elem, shard int, due, rx, now int64) {
	if rx == 0 {
		return
	}
	body := e.Child("body", "")
	t := body.Raw()[body.StartTagEnd():]
	off := sentOffset(t)
	if off < 0 {
		return
	}
	sent, _, ok := leadingInt(t[off:])
	if !ok || sent == 0 {
		return
	}
	r.split[0].record(shard, time.Duration(sent-due))
	r.split[1].record(shard, time.Duration(rx-sent))
	r.split[2].record(shard, time.Duration(now-rx))
}
