package component

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1" // #nosec: XEP-0114 fixes SHA-1 for the handshake
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"ignis/jid"
	"ignis/session"
	"ignis/stanza"
	"ignis/xmlscan"
)

// state is where a component stream is (XEP-0114 §3).
type state uint8

const (
	stHeader    state = iota // waiting for the component's stream header
	stHandshake              // our header sent; expecting <handshake/>
	stReady                  // handshake accepted: stanzas flow both ways
	stClosed                 // the stream is over; input is ignored
)

var stateNames = [...]string{"Header", "Handshake", "Ready", "Closed"}

func (s state) String() string { return stateNames[s] }

// Conn is one component's stream. It is the route.Remote of its domain
// while in stReady.
type Conn struct {
	svc    *Service
	tr     session.Transport
	scan   xmlscan.Scanner
	state  state
	sent   bool // our stream header went out
	id     session.StreamID
	domain jid.JID // the component's domain, from the header's 'to'

	out outbox
}

// outbox is the only part of a Conn written off its loop: what the router
// handed over for the component, written by the loop in Wakeup.
type outbox struct {
	mu     sync.Mutex
	q      []*stanza.Stanza // guarded by mu
	bytes  int              // guarded by mu: bytes queued in q
	closed bool             // guarded by mu: the stream ended; Send refuses
	ending bool             // guarded by mu: the server stops; the loop ends the stream (Shutdown)
}

func newConn(svc *Service, t session.Transport) *Conn {
	c := &Conn{svc: svc, tr: t}
	c.scan.SetLimits(xmlscan.Limits{MaxElementBytes: preAuthBytes, MaxDepth: 4, MaxAttrs: 16})
	t.SetTimer(svc.cfg.Limits.HandshakeTimeout) // input does not extend it
	return c
}

// errClosed stops scanning once the stream is closed.
var errClosed = errors.New("component: stream closed")

// Traffic implements session.Handler.
func (c *Conn) Traffic(p []byte) error {
	if c.state == stClosed {
		return errClosed
	}
	err := c.scan.Feed(p, (*sink)(c))
	if err == nil || errors.Is(err, errClosed) {
		return err
	}
	var se *stanza.StreamError
	if !errors.As(err, &se) {
		se = session.ScanError(err)
		if errors.Is(err, xmlscan.ErrNestedHeader) {
			se.Text = "a component stream is never restarted"
		}
	}
	c.fail(se)
	return se
}

// Wakeup implements session.Handler: write what Send queued, then end the
// stream if the server is stopping.
func (c *Conn) Wakeup() {
	c.out.mu.Lock()
	q, ending := c.out.q, c.out.ending
	c.out.q, c.out.bytes = nil, 0
	c.out.mu.Unlock()
	defer func() {
		if ending {
			c.fail(stanza.StreamErr(stanza.SystemShutdown, ""))
		}
	}()
	for i, st := range q {
		if c.state != stReady {
			c.undelivered(q[i:])
			return
		}
		if err := c.tr.Write(outbound(st.Bytes())); err != nil {
			c.undelivered(q[i:])
			c.fail(stanza.StreamErr(stanza.StreamPolicyViolation, "too much output pending for a slow component"))
			return
		}
	}
}

// Timer implements session.Handler: the handshake deadline.
func (c *Conn) Timer(time.Time) {
	if c.state != stReady && c.state != stClosed {
		c.fail(stanza.StreamErr(stanza.ConnectionTimeout, ""))
	}
}

// Closed implements session.Handler.
func (c *Conn) Closed(error) {
	c.end()
	c.scan.Reset()
}

// Send implements route.Remote. It may be called from any goroutine.
func (c *Conn) Send(st *stanza.Stanza) bool {
	c.out.mu.Lock()
	if c.out.closed || c.out.bytes+len(st.Bytes()) > c.svc.cfg.Limits.MaxPendingOut {
		c.out.mu.Unlock()
		return false
	}
	wake := len(c.out.q) == 0
	c.out.q = append(c.out.q, st)
	c.out.bytes += len(st.Bytes())
	c.out.mu.Unlock()
	if wake {
		c.tr.Wake()
	}
	return true
}

// end leaves the host table; what was queued and not written is answered
// as undeliverable, as the router would have answered had the component
// been gone already.
func (c *Conn) end() {
	was := c.state
	c.state = stClosed
	c.out.mu.Lock()
	c.out.closed = true
	q := c.out.q
	c.out.q, c.out.bytes = nil, 0
	c.out.mu.Unlock()
	if was == stReady {
		c.svc.leave(c)
		c.svc.log.Info("component disconnected", "domain", c.domain.String(), "ip", addr(c.tr))
	}
	c.undelivered(q)
}

// undelivered bounces stanzas the component never got.
func (c *Conn) undelivered(q []*stanza.Stanza) {
	for _, st := range q {
		if st.Type == stanza.Result || st.From.IsZero() {
			continue
		}
		if reply := st.ErrorReply(stanza.Err(stanza.RemoteServerNotFound)); reply != nil {
			c.svc.router.Send(reply)
		}
	}
}

// fail sends a stream error and closes the stream (RFC 6120 §4.9.1.1), with
// our header first if it was not sent (§4.9.1.2).
func (c *Conn) fail(se *stanza.StreamError) {
	if c.state == stClosed {
		return
	}
	var out []byte
	if !c.sent {
		out = c.appendHeader(out)
	}
	out = se.AppendXML(out)
	out = append(out, "</stream:stream>"...)
	lvl := "debug"
	if c.state == stReady {
		lvl = "info"
	}
	c.log(lvl, "component stream error", "cond", se.Cond.String(), "text", se.Text)
	c.close(out)
}

func (c *Conn) log(lvl, msg string, args ...any) {
	args = append(args, "domain", c.domain.String(), "ip", addr(c.tr))
	if lvl == "info" {
		c.svc.log.Info(msg, args...)
		return
	}
	c.svc.log.Debug(msg, args...)
}

func addr(t session.Transport) string {
	if a := t.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// close ends the stream with final bytes.
func (c *Conn) close(final []byte) {
	c.end()
	c.tr.SetTimer(0)
	c.tr.Close(final)
}

// appendHeader appends our stream header: XEP-0114 §3 answers with the
// component's domain as 'from' and a fresh id, without version (the
// protocol predates XMPP 1.0 and has no stream features).
func (c *Conn) appendHeader(out []byte) []byte {
	_, _ = rand.Read(c.id[:])
	out = append(out, "<?xml version='1.0'?><stream:stream xmlns:stream='"+stanza.NSStream+"' xmlns='"+stanza.NSComponent+"' id='"...)
	out = c.id.AppendHex(out)
	if !c.domain.IsZero() {
		out = append(out, "' from='"...)
		out = xmlscan.AppendEscapedAttr(out, c.domain.String())
	}
	c.sent = true
	return append(out, "'>"...)
}

// sink is the Conn seen as the tokenizer's xmlscan.Sink.
type sink Conn

// StreamOpen handles the component's header (XEP-0114 §3): the namespaces,
// then 'to', which names the component.
func (k *sink) StreamOpen(f *xmlscan.Frame) error {
	c := (*Conn)(k)
	if string(f.Local()) != "stream" || string(f.NS()) != stanza.NSStream {
		return stanza.StreamErr(stanza.InvalidNamespace, "the stream root must be {"+stanza.NSStream+"}stream")
	}
	if ns, _ := f.Attr("xmlns"); string(ns) != stanza.NSComponent {
		return stanza.StreamErr(stanza.InvalidNamespace, "the default namespace must be "+stanza.NSComponent)
	}
	to, _ := f.Attr("to")
	d, err := jid.Parse(string(to))
	if err != nil || d.Local() != "" || d.Resource() != "" || c.svc.secrets[d.Domain()] == nil {
		c.log("info", "component refused: unknown domain", "to", string(to))
		return stanza.StreamErr(stanza.HostUnknown, "no component of that name is configured")
	}
	c.domain = d
	c.state = stHandshake
	c.write(c.appendHeader(nil))
	return nil
}

// StreamClose handles </stream:stream>: close ours too.
func (k *sink) StreamClose() error {
	c := (*Conn)(k)
	c.close([]byte("</stream:stream>"))
	return errClosed
}

// Element handles one depth-1 element according to the stream's state.
func (k *sink) Element(f *xmlscan.Frame) error {
	c := (*Conn)(k)
	ns, local := string(f.NS()), string(f.Local())
	switch c.state {
	case stHandshake:
		if ns == stanza.NSComponent && local == "handshake" {
			return c.handshake(f)
		}
		if stanza.KindOf(f.Local()) != stanza.KindNone {
			return stanza.StreamErr(stanza.StreamNotAuthorized, "stanzas only after the handshake")
		}
	case stReady:
		if (ns == stanza.NSComponent || ns == stanza.NSClient) && stanza.KindOf(f.Local()) != stanza.KindNone {
			return c.stanza(f)
		}
	case stClosed:
		return errClosed
	}
	return stanza.StreamErr(stanza.UnsupportedStanzaType, "")
}

// handshake checks the component's proof, hex(SHA-1(id + secret))
// (XEP-0114 §3), in either case and with white space around it tolerated;
// a wrong one ends the stream with <not-authorized/>.
func (c *Conn) handshake(f *xmlscan.Frame) error {
	secret := c.svc.secrets[c.domain.Domain()]
	h := sha1.New() // #nosec: fixed by XEP-0114
	h.Write(c.id.AppendHex(nil))
	h.Write(secret)
	want := hex.AppendEncode(nil, h.Sum(nil))
	got := lowerHex(bytes.TrimSpace(f.AppendText(nil)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		c.log("info", "component refused: bad handshake")
		return stanza.StreamErr(stanza.StreamNotAuthorized, "")
	}
	switch err := c.svc.join(c); {
	case errors.Is(err, errTaken):
		c.log("info", "component refused: already connected")
		return stanza.StreamErr(stanza.StreamConflict, "a component is already connected for this domain")
	case err != nil:
		c.svc.log.Error("component refused", "domain", c.domain.String(), "err", err)
		return stanza.StreamErr(stanza.StreamConflict, "the domain is served by the server itself")
	}
	c.state = stReady
	c.tr.SetTimer(0)
	c.scan.SetLimits(c.svc.cfg.Limits.Scan)
	c.write([]byte("<handshake/>"))
	c.log("info", "component connected")
	return nil
}

// lowerHex folds A-F to a-f in place (a component may send upper case).
func lowerHex(b []byte) []byte {
	for i, x := range b {
		if x >= 'A' && x <= 'F' {
			b[i] = x + ('a' - 'A')
		}
	}
	return b
}

// stanza routes one stanza the component sent. It must carry a from in the
// component's domain (XEP-0114 §3: the component stamps it; anything else
// is <invalid-from/>, as Prosody answers) and a to (RFC 6120 §4.9.3.7).
func (c *Conn) stanza(f *xmlscan.Frame) error {
	st, err := stanza.FromFrame(f)
	if err != nil {
		var se *stanza.Error
		if st == nil || !errors.As(err, &se) {
			return stanza.StreamErr(stanza.BadFormat, "")
		}
		if reply := st.ErrorReply(se); reply != nil && !st.From.IsZero() {
			_ = c.tr.Write(outbound(reply.Bytes()))
		}
		return nil
	}
	switch {
	case st.From.IsZero():
		return stanza.StreamErr(stanza.ImproperAddressing, "a component's stanzas carry a from")
	case st.From.Domain() != c.domain.Domain():
		return stanza.StreamErr(stanza.InvalidFrom, "the from is not in the component's domain")
	case st.To.IsZero():
		return stanza.StreamErr(stanza.ImproperAddressing, "a component's stanzas carry a to")
	}
	if st, err = inbound(st); err != nil {
		return stanza.StreamErr(stanza.BadFormat, "")
	}
	c.svc.router.Send(st)
	return nil
}

// write queues bytes for the component; past the output cap the stream ends.
func (c *Conn) write(p []byte) {
	if c.state == stClosed {
		return
	}
	if err := c.tr.Write(p); err != nil {
		c.fail(stanza.StreamErr(stanza.StreamPolicyViolation, "too much output pending for a slow component"))
	}
}
