// Package session is the client-to-server stream state machine (RFC 6120):
// stream header and features, STARTTLS, SASL, XEP-0138 compression, resource
// binding, then stanzas handed to the router. A Stream is driven by a
// Transport (reactor's connection) and is a route.Endpoint once bound. How
// the stream is delimited on the wire (TCP's <stream:stream> root, RFC 7395's
// <open/> and <close/>) is its Framing's (framing.go).
//
// Ownership: a Stream belongs to its connection's event loop. Every method
// runs on that loop except Deliver, Offer, Replaced and Close, which may be
// called from any goroutine and touch only the inbox, under its own lock.
// A stream detached by XEP-0198 (sm.go) has no loop any more: its loop-owned
// fields belong to whoever takes it out of the Config's resumption registry
// (the stream resuming it, or its expiry), except state, flags, scan and tr,
// which the taker never touches: a stream detached by a handover (sm.go)
// still closes its connection and sees Closed on its old loop. Nor does the
// taker touch peer, admitted and held: the connection's share of the Guard,
// let go in Closed.
package session

import (
	"crypto/rand"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"ignis/jid"
	"ignis/session/sasl"
	"ignis/stanza"
	"ignis/xmlscan"
)

// state is where a stream is in its negotiation (RFC 6120 §4–§7).
//
//go:generate stringer -type=state -trimprefix=st
type state uint8

const (
	stHeader      state = iota // waiting for the client's stream header
	stNegotiating              // features sent; expecting STARTTLS, SASL <auth/> or <compress/>
	stSASL                     // inside a SASL exchange; expecting <response/> or <abort/>
	stAuthed                   // authenticated; expecting bind (or <compress/>)
	stBound                    // resource bound: stanzas flow
	stClosed                   // the stream is over; input is ignored
)

var stateNames = [...]string{"Header", "Negotiating", "SASL", "Authed", "Bound", "Closed"}

func (s state) String() string { return stateNames[s] }

// flag records what a stream has negotiated.
type flag uint8

const (
	fSecure     flag = 1 << iota // TLS is in place
	fAuthn                       // SASL (or XEP-0078 legacy auth) succeeded
	fCompressed                  // XEP-0138 zlib is in place
	fHeaderSent                  // our stream header went out on this (restarted) stream
	fCBMismatch                  // the client tried a channel-binding type we do not offer
	fSASLFailed                  // a SASL attempt failed: XEP-0078 legacy auth is refused (legacyauth.go)
	fLoopback                    // the client connected from a loopback address
	fHandBack                    // ended while its connection drains: requeue waits for Closed
)

// Stream is one client's XML stream.
type Stream struct {
	cfg   *Config
	tr    Transport
	scan  xmlscan.Scanner
	state state
	flags flag
	fails uint8 // failed SASL attempts
	// routed counts the stanzas routed, wrapping: every routeSample-th is timed
	routed uint8
	// admitted: the Guard counts this connection against peer (guard.go)
	admitted bool
	// framed: tr is a Framer (framing.go); a byte where the Framing itself
	// would grow every stream by a size class
	framed bool
	// conn is the connection's entry in Stats.Conns: its transport and
	// whether it is counted as negotiating or bound (conns.go)
	conn connCount
	held int        // bytes of buffered input counted in the Guard's pre-auth total
	peer netip.Addr // the client's address, the key of per-address limits
	jid  jid.JID    // full JID once bound; bare after SASL
	// host is the local domain the stream is for (its header's 'to'), one
	// of the Config's; nil until the header: a pointer keeps the stream small
	host  *jid.JID
	sasl  *sasl.Server
	creds credStamp // the keys SASL verified against, checked again at bind (bind.go)
	negBy int64     // the negotiation deadline on the mono clock (sm.go), until bound
	// pres is read by other loops while routing: bit 8 set when the client
	// has sent available presence (RFC 6121 §4.2), low byte its priority.
	pres atomic.Uint32
	// last is the last undirected available presence, stamped (probes are
	// answered with it); read by other loops.
	last atomic.Pointer[stanza.Stanza]
	csi  *csiState // non-nil while the client is inactive (XEP-0352)
	// sm is the XEP-0198 state, nil until enabled. Like every loop-owned
	// field, once the stream is detached (sm.go) it belongs to whoever takes
	// the stream out of Config's resumption registry.
	sm *smState
	// hand is a <resume/> waiting for the old stream, still attached to its
	// connection, to let go of the session (sm.go); input waits meanwhile.
	hand *handover
	// bound is when the resource was bound and whether TLS was on
	// (markBound); written before the stream enters the session table.
	bound uint64

	// outPending is what the transport had pending for the peer when the
	// loop last looked (Wakeup): Offer counts it, off the loop.
	outPending atomic.Int64

	inbox inbox
}

// inbox is the only part of a Stream written off its loop.
type inbox struct {
	mu       sync.Mutex
	q        []*stanza.Stanza    // guarded by mu
	bytes    int                 // guarded by mu: bytes queued in q
	ended    bool                // guarded by mu: the stream is ending; deliveries still queue until it is unbound
	closed   bool                // guarded by mu: unbound; deliveries are routed again (deliver.go)
	replaced bool                // guarded by mu: a newer session took this resource
	overflow bool                // guarded by mu: q went over the output cap
	detached bool                // guarded by mu: the connection is gone, the stream waits for a resume (sm.go)
	ending   *stanza.StreamError // guarded by mu: Close was called
	resumeID string              // guarded by mu: the resumption id, once enabled with resume (sm.go)
	moved    *Stream             // guarded by mu: the stream that resumed this one; deliveries go there
	takeover *Stream             // guarded by mu: a stream waiting to resume this attached one (sm.go handover)
	offers   offers              // confirmed offers (deliver.go)
}

// detachedID is the resumption id of a detached stream, else "". mu is held.
func (in *inbox) detachedID() string {
	if in.detached {
		return in.resumeID
	}
	return ""
}

// New starts a stream over t. It is meant as reactor's NewHandler.
func New(cfg *Config, t Transport) *Stream {
	_, framed := t.(Framer)
	s := &Stream{cfg: cfg, tr: t, framed: framed, peer: peerAddr(t.RemoteAddr())}
	s.connOpened()
	s.scan.SetLimits(cfg.preScan)
	s.scan.SetRootless(s.rootless())
	if t.TLS() != nil {
		s.flags |= fSecure // direct TLS (XEP-0368)
	}
	if s.peer.IsLoopback() {
		s.flags |= fLoopback
	}
	if r := cfg.Guard.Admit(s.peer); r != "" {
		s.fail(stanza.StreamErr(stanza.StreamPolicyViolation, string(r)))
		return s
	}
	s.admitted = true
	if !cfg.strangers.add(s) {
		s.fail(errShuttingDown) // the server is stopping (shutdown.go)
		return s
	}
	s.negBy = mono() + int64(cfg.Limits.PreAuthIdle)
	t.SetTimer(cfg.Limits.PreAuthIdle) // one deadline until bound: input does not extend it
	return s
}

// scanLimits are the tokenizer's limits for the stream's state: small ones
// until the client has authenticated.
func (s *Stream) scanLimits() xmlscan.Limits {
	if s.flags&fAuthn != 0 {
		return s.cfg.scan
	}
	return s.cfg.preScan
}

// account updates the Guard's count of input an unauthenticated stream
// buffers, and reports false if the server-wide cap is passed.
func (s *Stream) account() bool {
	n := 0
	if s.flags&fAuthn == 0 && s.state != stClosed {
		n = s.scan.Held()
	}
	return s.cfg.Guard.hold(&s.held, n)
}

// errRestart stops scanning the current input: the stream restarts (after
// STARTTLS, SASL success or compression) and what follows belongs to the new
// stream, or, for STARTTLS, must be discarded (RFC 6120 §5.3.3).
var errRestart = errors.New("session: stream restart")

// errClosed stops scanning once the stream is closed.
var errClosed = errors.New("session: stream closed")

// Traffic implements Handler.
func (s *Stream) Traffic(p []byte) error {
	if s.state == stClosed {
		return errClosed
	}
	err := s.scan.Feed(p, (*sink)(s))
	if errors.Is(err, errRestart) {
		s.scan.Reset()
		s.scan.SetLimits(s.scanLimits())
		err = nil
	}
	if errors.Is(err, errClosed) {
		return err
	}
	if (s.held != 0 || s.flags&fAuthn == 0) && !s.account() && err == nil {
		s.cfg.Logger.Warn("pre-authentication input over the server-wide cap", "ip", s.peer.String(), "held", s.held)
		err = stanza.StreamErr(stanza.StreamResourceConstraint, "the server is busy with unauthenticated clients")
	}
	if err == nil {
		return nil
	}
	var se *stanza.StreamError
	if !errors.As(err, &se) {
		se = scanError(err)
		if errors.Is(err, xmlscan.ErrNestedHeader) && s.rootless() {
			se.Text = "this framing has no stream root: the stream opens with {" + NSFraming + "}open"
		}
	}
	s.fail(se)
	return se
}

// scanError maps a tokenizer error to its stream error (RFC 6120 §4.9.3, §11).
func scanError(err error) *stanza.StreamError {
	switch {
	case errors.Is(err, xmlscan.ErrRestrictedXML):
		return stanza.StreamErr(stanza.RestrictedXML, "")
	case errors.Is(err, xmlscan.ErrLimit):
		return stanza.StreamErr(stanza.StreamPolicyViolation, "stanza too large or too deeply nested")
	case errors.Is(err, xmlscan.ErrUnsupportedEncoding):
		return stanza.StreamErr(stanza.UnsupportedEncoding, "")
	case errors.Is(err, xmlscan.ErrNestedHeader): // RFC 6120 §4.9.3.20: a first-level child we do not support
		return stanza.StreamErr(stanza.UnsupportedStanzaType, "a stream header may only follow STARTTLS, SASL success or compression")
	}
	return stanza.StreamErr(stanza.NotWellFormed, "")
}

// fail sends a stream error and closes the stream (RFC 6120 §4.9.1.1). If no
// stream header was sent yet, one goes first (§4.9.1.2).
func (s *Stream) fail(se *stanza.StreamError) {
	if s.state == stClosed {
		return
	}
	var out []byte
	if s.flags&fHeaderSent == 0 {
		out = s.appendHeader(out, jid.JID{})
	}
	out = s.framing().AppendError(out, se)
	out = s.framing().AppendClose(out)
	s.cfg.Logger.Debug("stream error", "cond", se.Cond.String(), "text", se.Text, "jid", s.jid.String())
	s.close(out)
}

// close ends the stream: no more input, no more deliveries, final bytes out.
func (s *Stream) close(final []byte) {
	s.state = stClosed
	s.account() // closed: lets go of what it held
	s.tr.SetTimer(0)
	s.shutdown(false)
	s.tr.Close(final)
}

// shutdown leaves the router and tells contacts the resource is gone. What
// was delivered but never written, written but never taken by the kernel,
// or (XEP-0198) never acknowledged, is routed again: nothing handed to a
// session is lost when it ends (requeue). gone tells whether the
// connection is gone; while it still drains (the server ends the stream),
// what it wrote may yet leave, so the routing waits for Closed.
func (s *Stream) shutdown(gone bool) {
	s.cfg.strangers.remove(s)
	if s.hand != nil {
		s.cancelHandover() // sm.go
	}
	s.inbox.mu.Lock()
	bound := !s.inbox.ended && s.jid.Resource() != ""
	s.inbox.ended = true
	if !bound {
		s.inbox.closed = true
	}
	if s.inbox.replaced {
		// the resource stays online in the session that replaced this one
		s.pres.Store(0)
	}
	taker := s.inbox.takeover
	s.inbox.takeover = nil
	s.inbox.mu.Unlock()
	if taker != nil {
		taker.tr.Wake() // the stream waiting to resume this one fails now (sm.go)
	}
	if !bound {
		return
	}
	s.cfg.Logger.Info("logout", "ip", s.peer.String(), "jid", s.jid.String())
	s.cfg.Router.Unbind(s)
	if !gone {
		s.settleWritten(false, nil)
	}
	var queued []*stanza.Stanza
	if !gone && len(s.inbox.offers.written) > 0 {
		// deliveries until now stay queued, to follow what was written
		// (Closed); later ones are routed again (deliver.go)
		s.flags |= fHandBack
		s.cfg.late.Add(1) // Config.Shutdown waits for them
		s.inbox.mu.Lock()
		s.inbox.closed = true
		s.inbox.mu.Unlock()
	} else {
		// deliveries until now are queued; later ones are routed again (deliver.go)
		queued = s.takeQueued()
	}
	if s.Available() {
		s.setPresence(false, 0)
		s.last.Store(nil)
		// RFC 6121 §4.5.2: the server sends unavailable presence for a session that ends
		s.cfg.Router.Route(s, unavailable)
		s.cfg.Router.Unavailable(s)
	}
	if s.flags&fHandBack == 0 {
		s.requeue(queued) // sm.go
	}
}

// handBack returns a delivered stanza the stream ended before writing: after
// what was written before it, if that waits for the connection to be gone,
// else at once.
func (s *Stream) handBack(st *stanza.Stanza) {
	if s.flags&fHandBack != 0 {
		s.inbox.offers.keep(confirm{st: st, mark: unwritten})
		return
	}
	s.reroute(st)
}

// Closed implements Handler. After a handover (sm.go) it follows the
// detach, and then reads only state and scan, which the taker never touches.
func (s *Stream) Closed(err error) {
	s.connClosed()
	if s.admitted {
		s.admitted = false
		s.cfg.Guard.Leave(s.peer)
	}
	if s.held != 0 {
		s.cfg.Guard.hold(&s.held, 0)
	}
	if s.resumable() {
		s.detach() // XEP-0198 §5: the session waits for a resume (sm.go)
		return
	}
	switch {
	case s.state != stClosed:
		s.state = stClosed
		s.shutdown(true)
	case s.flags&fHandBack != 0:
		// the stream ended while its connection drained: the kernel's count
		// is final now
		s.flags &^= fHandBack
		s.requeue(s.takeQueued())
		s.cfg.late.Done()
	}
	s.scan.Reset()
}

// Timer implements Handler: the deadline for negotiation, then, once
// bound, the XEP-0198 acknowledgement request. While a resume waits for a
// handover, the limit of that wait.
func (s *Stream) Timer(time.Time) {
	if s.hand != nil {
		s.handoverDone(true) // sm.go
		return
	}
	if s.state == stBound {
		s.smTimer()
		return
	}
	if s.state != stClosed {
		s.fail(stanza.StreamErr(stanza.ConnectionTimeout, ""))
	}
}

// domain is the local domain the stream is for: its header's 'to', the
// primary domain without one.
func (s *Stream) domain() jid.JID {
	if s.host != nil {
		return *s.host
	}
	return s.cfg.Domain
}

// appendHeader appends the server's stream header (RFC 6120 §4.7), addressed
// to the client's own idea of its address, if it gave one.
func (s *Stream) appendHeader(out []byte, to jid.JID) []byte {
	var id StreamID
	_, _ = rand.Read(id[:])
	out = s.framing().AppendOpen(out, id, s.domain().String(), to)
	s.flags |= fHeaderSent
	return out
}

// write queues bytes for the client, one top-level element (or a header
// and what follows it, built by the Framing); past the output cap the stream ends.
func (s *Stream) write(p []byte) {
	if s.state == stClosed {
		return
	}
	if s.framed {
		p = s.framing().Element(p)
	}
	if err := s.tr.Write(p); err != nil {
		if !errors.Is(err, ErrOutputFull) && s.resumable() {
			// the connection is broken and Closed follows: the stream then
			// detaches, keeping what it could not write unacknowledged (sm.go)
			return
		}
		s.fail(stanza.StreamErr(stanza.StreamPolicyViolation, "too much output pending for a slow reader"))
	}
}

// JID implements route.Endpoint.
func (s *Stream) JID() jid.JID { return s.jid }

// unavailable is the presence sent for a session that ends without one.
var unavailable = stanza.MustParse([]byte("<presence type='unavailable'/>"))

// LastPresence implements mod.Resource.
func (s *Stream) LastPresence() *stanza.Stanza { return s.last.Load() }

// Available implements route.Endpoint.
func (s *Stream) Available() bool { return s.pres.Load()&presAvailable != 0 }

// Priority implements route.Endpoint.
func (s *Stream) Priority() int8 { return int8(uint8(s.pres.Load())) }

const presAvailable = 1 << 8

// setPresence records availability and priority before the presence that
// announces them is routed.
func (s *Stream) setPresence(available bool, prio int8) {
	v := uint32(uint8(prio))
	if available {
		v |= presAvailable
	}
	s.pres.Store(v)
}
