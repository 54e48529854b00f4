package s2s

import (
	"context"
	"crypto/tls"
	"errors"
	"sync"
	"time"

	"ignis/session"
	"ignis/stanza"
	"ignis/xmlscan"
)

// outState is where an outgoing link's negotiation is.
type outState uint8

const (
	outDialing   outState = iota // resolving and connecting (a goroutine)
	outHeader                    // our header sent, the peer's awaited
	outFeatures                  // the peer's stream features awaited
	outTLS                       // <starttls/> sent, <proceed/> awaited
	outHandshake                 // TLS handshake as the client
	outSASL                      // SASL EXTERNAL sent, the outcome awaited
	outDialback                  // db:result sent, its verdict awaited
	outVerifying                 // only db:verify to make: no authentication unless stanzas come
	outUp                        // authenticated: stanzas flow
	outClosed
)

var outStateNames = [...]string{"dialing", "header", "features", "tls", "handshake", "sasl", "dialback", "verifying", "up", "closed"}

func (s outState) String() string { return outStateNames[s] }

// clientTLS is what a transport that can be the TLS client of an outgoing
// connection offers (reactor's connections do).
type clientTLS interface {
	StartClientTLS(cfg *tls.Config) error
}

// outLink is the outgoing stream from one local domain (which it
// authenticates as first) to one remote domain; once up, it may
// authenticate further local domains by dialback (piggybacking, XEP-0220
// §4). Its fields under mu are shared with senders on other goroutines;
// the rest belong to the connection's event loop once dialed.
type outLink struct {
	m      *Manager
	local  string // the local domain we authenticate as
	domain string

	mu        sync.Mutex
	queue     []*stanza.Stanza   // waiting for outUp (and a valid piggybacked domain's, in order)
	extra     map[linkKey]*piggy // further domain pairs, piggybacked
	refused   map[linkKey]bool   // pairs the peer would not take here: they get links of their own
	addr      string             // the address dialed (a target domain there may be piggybacked)
	share     bool               // made for stanzas (not only db:verify): may be adopted by a link to the same server
	shareable bool               // up, and the peer takes further db:result on the stream
	errorsOK  bool               // and answers errors (a further target domain may be asked for)
	verifies  []verifyReq        // db:verify waiting to be written
	asked     []verifyReq        // written, answers awaited (loop-owned once dialed, but failed under mu)
	t         session.Transport
	up        bool
	dead      bool
	retry     bool // closed on purpose before up (verifications done): queued stanzas take a new link

	// loop-owned
	state    outState
	scan     xmlscan.Scanner
	out      []byte
	peerID   string // the receiving server's stream id (dialback key)
	tlsOn    bool
	verified bool // the peer's certificate verified for domain
	sasl     bool // authenticated by SASL EXTERNAL
	external bool // the peer offers SASL EXTERNAL and its certificate verified
	bidi     bool // XEP-0288 asked for: the peer may send its stanzas to us on this link
	dbErrors bool // the peer's last features offer dialback with errors (XEP-0220 §2.4); errorsOK under mu once up
	last     time.Time
	failCond stanza.Condition // what queued stanzas bounce with if the link dies now
}

// piggyState is where a piggybacked pair's dialback is.
type piggyState uint8

const (
	piggyWanted piggyState = iota // its db:result is to be written
	piggyAsked                    // written, the verdict awaited
	piggyValid                    // authenticated: its stanzas flow
)

// piggy is a further domain pair a link authenticates by dialback: another
// local domain to the link's remote one, or a pair to another remote
// domain on the same server.
type piggy struct {
	state piggyState
	since time.Time        // when its db:result went out (loop-owned)
	queue []*stanza.Stanza // its stanzas until the verdict
}

// piggyback takes the pair k onto the link, if the link is up and the
// peer takes further domains on it, within max_domains_per_link; its
// db:result goes out when the loop wakes (the caller's enqueue wakes it).
// A further target domain (k.remote not the link's) needs a peer that
// answers errors (one not serving it then says so, XEP-0220 §2.4, rather
// than closing the stream).
func (l *outLink) piggyback(k linkKey) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dead || !l.shareable || l.refused[k] || len(l.extra)+1 >= l.m.cfg.MaxDomainsPerLink ||
		(k.remote != l.domain && !l.errorsOK) {
		return false
	}
	if l.extra == nil {
		l.extra = map[linkKey]*piggy{}
	}
	l.extra[k] = &piggy{}
	return true
}

// carries reports whether the link authenticated the pair k (the peer's
// stanzas on a bidirectional link may go from k.remote to k.local).
func (l *outLink) carries(k linkKey) bool {
	if k == (linkKey{l.local, l.domain}) {
		return true
	}
	l.mu.Lock()
	p := l.extra[k]
	l.mu.Unlock()
	return p != nil && p.state == piggyValid
}

// carriesFrom reports whether a piggybacked target domain is the remote
// side of a pair the link authenticated.
func (l *outLink) carriesFrom(remote string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, p := range l.extra {
		if k.remote == remote && p.state == piggyValid {
			return true
		}
	}
	return false
}

// dialed returns the address the link connected to ("" before).
func (l *outLink) dialed() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addr
}

func newOutLink(m *Manager, local, domain string) *outLink {
	l := &outLink{m: m, local: local, domain: domain, failCond: stanza.RemoteServerNotFound}
	l.scan.SetLimits(xmlscan.Limits{MaxElementBytes: m.cfg.MaxStanzaBytes})
	return l
}

// enqueue hands st, of the pair k, to the link; false if the link has
// died or no longer carries k (the caller takes another).
func (l *outLink) enqueue(k linkKey, st *stanza.Stanza) bool {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return false
	}
	q := &l.queue
	if k != (linkKey{l.local, l.domain}) {
		p := l.extra[k]
		if p == nil {
			l.mu.Unlock()
			return false
		}
		if p.state != piggyValid {
			q = &p.queue
		}
	}
	if len(*q) >= l.m.cfg.MaxQueue {
		l.mu.Unlock()
		l.m.bounce(st, stanza.ErrText(stanza.ResourceConstraint, "too many stanzas wait for "+l.domain))
		return true
	}
	*q = append(*q, st)
	t := l.t
	l.mu.Unlock()
	if t != nil {
		t.Wake() // up: to write it; verifying: to authenticate for it
	}
	return true
}

// addVerify queues a db:verify for the link; false if the link has died.
func (l *outLink) addVerify(v verifyReq) bool {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return false
	}
	l.verifies = append(l.verifies, v)
	t := l.t
	l.mu.Unlock()
	if t != nil {
		t.Wake()
	}
	return true
}

// connect resolves the domain and dials its targets in order.
func (l *outLink) connect() {
	m := l.m
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.AuthTimeout)
	defer cancel()
	targets, err := m.resolve(ctx, l.domain)
	if err != nil {
		m.log.Info("no route to domain", "domain", l.domain, "err", err)
		l.fail(stanza.RemoteServerNotFound)
		return
	}
	if l.share {
		addrs := make([]string, len(targets))
		for i, tg := range targets {
			addrs[i] = tg.addr
		}
		if m.adopt(l, addrs) {
			return // a link to the same server carries the pair
		}
	}
	cond := stanza.RemoteServerNotFound
	for _, tg := range targets {
		dctx, dcancel := context.WithTimeout(ctx, m.cfg.ConnectTimeout)
		var tcfg *tls.Config
		if tg.direct {
			tcfg = m.clientTLS(l.local, l.domain)
		}
		err = m.cfg.Dial(dctx, tg.addr, tcfg, func(t session.Transport) session.Handler {
			l.mu.Lock()
			l.addr = tg.addr
			l.mu.Unlock()
			return l.start(t, tg.direct)
		})
		dcancel()
		if err == nil {
			return
		}
		if errors.Is(err, context.DeadlineExceeded) {
			cond = stanza.RemoteServerTimeout
		}
		m.log.Info("connecting to domain", "domain", l.domain, "addr", tg.addr, "err", err)
	}
	l.fail(cond)
}

// start runs on the loop as the connection opens.
func (l *outLink) start(t session.Transport, direct bool) session.Handler {
	l.mu.Lock()
	l.t = t
	l.mu.Unlock()
	l.last = time.Now()
	l.failCond = stanza.RemoteServerTimeout
	t.SetTimer(l.m.cfg.AuthTimeout)
	if direct {
		l.state = outHandshake // the header follows the handshake (Wakeup)
		l.tlsOn = true
		return l
	}
	l.sendHeader()
	return l
}

func (l *outLink) sendHeader() {
	l.state = outHeader
	l.write(appendHeader(l.out[:0], l.local, l.domain, ""))
}

func (l *outLink) write(p []byte) {
	l.out = p[:0]
	if err := l.t.Write(p); err != nil {
		l.abort(stanza.StreamErr(stanza.StreamResourceConstraint, "output over the limit"))
	}
}

// Traffic implements session.Handler.
func (l *outLink) Traffic(p []byte) error {
	if l.state == outClosed {
		return errClosed
	}
	l.last = time.Now()
	_, err := feed(&l.scan, p, (*outSink)(l), l.m.cfg.MaxStanzaBytes)
	var se *stanza.StreamError
	if errors.As(err, &se) {
		l.abort(se)
	}
	return err
}

// feed scans input for sink; a stream restart resets the scanner. It
// returns nil, errClosed, or the stream error to send.
func feed(scan *xmlscan.Scanner, p []byte, sink xmlscan.Sink, maxBytes int) (restarted bool, err error) {
	err = scan.Feed(p, sink)
	switch {
	case errors.Is(err, errRestart):
		scan.Reset()
		scan.SetLimits(xmlscan.Limits{MaxElementBytes: maxBytes})
		return true, nil
	case err == nil, errors.Is(err, errClosed):
		return false, err
	}
	var se *stanza.StreamError
	if !errors.As(err, &se) {
		se = session.ScanError(err)
	}
	return false, se
}

// errRestart stops a Feed at a point where the rest of the input belongs
// to a new stream (TLS, SASL success); errClosed after the stream ended.
var (
	errRestart = errors.New("s2s: stream restart")
	errClosed  = errors.New("s2s: stream closed")
)

type outSink outLink

func (s *outSink) StreamOpen(f *xmlscan.Frame) error {
	l := (*outLink)(s)
	if l.state != outHeader {
		return stanza.StreamErr(stanza.StreamUndefinedCondition, "unexpected stream header")
	}
	if string(f.Local()) != "stream" || string(f.NS()) != stanza.NSStream {
		return stanza.StreamErr(stanza.InvalidNamespace, "")
	}
	l.peerID = attr(f.Elem, "id")
	l.state = outFeatures
	return nil
}

func (s *outSink) StreamClose() error {
	l := (*outLink)(s)
	l.close(nil)
	return errClosed
}

func (s *outSink) Element(f *xmlscan.Frame) error {
	l := (*outLink)(s)
	m := l.m
	e := f.Elem
	if is(e, stanza.NSStream, "error") {
		m.log.Info("stream error from peer", "domain", l.domain, "raw", string(e.Raw()))
		l.close(nil)
		return errClosed
	}
	switch l.state {
	case outFeatures:
		if !is(e, stanza.NSStream, "features") {
			return stanza.StreamErr(stanza.StreamNotAuthorized, "features expected")
		}
		return l.features(e)
	case outTLS:
		if !is(e, stanza.NSTLS, "proceed") {
			return stanza.StreamErr(stanza.StreamPolicyViolation, "TLS refused")
		}
		ct, ok := l.t.(clientTLS)
		if !ok {
			return stanza.StreamErr(stanza.StreamUndefinedCondition, "no TLS client")
		}
		if err := ct.StartClientTLS(m.clientTLS(l.local, l.domain)); err != nil {
			return err
		}
		l.state = outHandshake
		return errRestart
	case outSASL:
		if is(e, stanza.NSSASL, "success") {
			l.sasl = true
			l.sendHeader()
			return errRestart
		}
		// refused: dialback is the way left
		l.sendResult()
		return nil
	}
	// db:verify answers may come in any later state
	if is(e, stanza.NSDialback, "verify") {
		l.verified1(e)
		return nil
	}
	if is(e, stanza.NSDialback, "result") && l.state == outUp {
		l.verdict(e)
		return nil
	}
	if is(e, stanza.NSDialback, "result") && l.state == outDialback {
		switch attr(e, "type") {
		case "valid":
			l.authenticated()
			return nil
		case "invalid":
			return stanza.StreamErr(stanza.StreamNotAuthorized, "dialback refused")
		default:
			m.log.Info("dialback error", "domain", l.domain, "raw", string(e.Raw()))
			l.failCond = stanza.RemoteServerNotFound
			l.close(appendFail(nil, stanza.StreamErr(stanza.StreamNotAuthorized, "")))
			return errClosed
		}
	}
	if l.state == outUp {
		if l.bidi {
			return l.incoming(f)
		}
		// a peer may send stanzas on our link only with XEP-0288 bidi,
		// not negotiated here: refused as RFC 6120 §8.1.1.1 wants
		return stanza.StreamErr(stanza.UnsupportedStanzaType, "this stream is outgoing only")
	}
	return stanza.StreamErr(stanza.StreamUndefinedCondition, "unexpected "+string(e.Local()))
}

// incoming takes a stanza the peer sent back on our bidirectional link
// (XEP-0288): only from the domain we connected to (the one the link
// authenticated, inversely), to the local domain it authenticated us as.
func (l *outLink) incoming(f *xmlscan.Frame) error {
	if string(f.NS()) != stanza.NSServer {
		return stanza.StreamErr(stanza.InvalidNamespace, "")
	}
	st, err := parseStanza(f)
	if err != nil {
		return err
	}
	switch {
	case st.From.IsZero() || st.To.IsZero():
		return stanza.StreamErr(stanza.ImproperAddressing, "")
	case st.From.Domain() != l.domain && !l.carriesFrom(st.From.Domain()):
		return stanza.StreamErr(stanza.InvalidFrom, st.From.Domain()+" is not authenticated on this stream")
	case !l.carries(linkKey{st.To.Domain(), st.From.Domain()}):
		return stanza.StreamErr(stanza.HostUnknown, st.To.Domain()+" is not authenticated on this stream")
	}
	l.m.cfg.Router.Receive(st)
	return nil
}

// features picks the next step from the peer's stream features.
func (l *outLink) features(e xmlscan.Elem) error {
	m := l.m
	if !l.tlsOn {
		if !e.Child("starttls", stanza.NSTLS).IsZero() && m.cfg.TLS != nil {
			l.state = outTLS
			l.write(append(l.out[:0], "<starttls xmlns='"+stanza.NSTLS+"'/>"...))
			return nil
		}
		if m.cfg.RequireTLS {
			return stanza.StreamErr(stanza.StreamPolicyViolation, "TLS is required")
		}
	}
	if !l.bidi && !m.cfg.NoBidi && !e.Child("bidi", stanza.NSBidiFeature).IsZero() {
		// XEP-0288 §2.2: after TLS, before authentication, no answer
		l.bidi = true
		l.write(append(l.out[:0], "<bidi xmlns='"+stanza.NSBidi+"'/>"...))
	}
	d := e.Child("dialback", stanza.NSDialbackFeature)
	l.dbErrors = !d.IsZero() && !d.Child("errors", stanza.NSDialbackFeature).IsZero()
	l.flushVerifies()
	if l.sasl {
		l.authenticated()
		return nil
	}
	l.external = l.verified && hasMechanism(e, "EXTERNAL")
	l.mu.Lock()
	verifyOnly := len(l.queue) == 0 && len(l.asked) > 0
	l.mu.Unlock()
	if verifyOnly {
		// dialed to ask db:verify (the peer authenticates to us, perhaps
		// on a bidirectional stream): authenticate only if stanzas come
		l.state = outVerifying
		return nil
	}
	l.authenticate()
	return nil
}

// authenticate starts SASL EXTERNAL when the peer's certificate allows
// it, dialback otherwise.
func (l *outLink) authenticate() {
	if l.external {
		l.state = outSASL
		out := append(l.out[:0], "<auth xmlns='"+stanza.NSSASL+"' mechanism='EXTERNAL'>"...)
		out = append(out, b64(l.local)...)
		l.write(append(out, "</auth>"...))
		return
	}
	l.sendResult()
}

// sendResult asks the peer to authenticate us by dialback.
func (l *outLink) sendResult() {
	m := l.m
	l.state = outDialback
	key := m.dialbackKey(l.domain, l.local, l.peerID)
	l.write(appendDB(l.out[:0], "result", l.local, l.domain, "", "", key))
}

// authenticated: stanzas may flow.
func (l *outLink) authenticated() {
	l.state = outUp
	l.mu.Lock()
	l.up = true
	// further domains by dialback: on a link dialback authenticated (the
	// peer speaks it; the to of a further sender domain is one it took
	// already, so even a peer without <errors/> answers with a verdict:
	// Prosody 0.12), or after SASL EXTERNAL (which authenticates one
	// domain) when the peer offers dialback with errors (XEP-0344)
	l.shareable = !l.sasl || l.dbErrors
	l.errorsOK = l.dbErrors
	l.mu.Unlock()
	l.m.log.Info("link up", "domain", l.domain, "tls", l.tlsOn, "sasl", l.sasl)
	l.t.SetTimer(l.m.cfg.IdleTimeout)
	l.drain()
}

// flushVerifies writes the db:verify requests waiting (the stream need
// not be authenticated for them, XEP-0220 §2.1.2).
func (l *outLink) flushVerifies() {
	if l.state < outFeatures || l.state == outTLS || l.state == outHandshake || l.state == outClosed {
		return
	}
	l.mu.Lock()
	vs := l.verifies
	l.verifies = nil
	l.asked = append(l.asked, vs...)
	l.mu.Unlock()
	me := l.local
	for _, v := range vs {
		from := v.from
		if from == "" {
			from = me
		}
		l.write(appendDB(l.out[:0], "verify", from, v.to, v.id, "", v.key))
	}
}

// verified1 hands a db:verify answer to whoever asked.
func (l *outLink) verified1(e xmlscan.Elem) {
	id, from, to := attr(e, "id"), attr(e, "from"), attr(e, "to")
	l.mu.Lock()
	var v verifyReq
	found := false
	for i, a := range l.asked {
		if a.id == id && a.to == from && a.from == to {
			v, found = a, true
			l.asked = append(l.asked[:i], l.asked[i+1:]...)
			break
		}
	}
	l.mu.Unlock()
	if !found {
		return
	}
	res := verifyResult{from: v.to, to: v.from, valid: attr(e, "type") == "valid"}
	if attr(e, "type") == "error" {
		res.cond = stanza.RemoteServerNotFound
	}
	v.done(res)
	if l.state == outVerifying {
		l.mu.Lock()
		done := len(l.asked) == 0 && len(l.verifies) == 0 && len(l.queue) == 0
		if done {
			l.retry = true // a stanza enqueued from now on takes a new link
		}
		l.mu.Unlock()
		if done {
			l.m.log.Info("verification link closed", "domain", l.domain)
			l.close([]byte("</stream:stream>"))
		}
	}
}

// drain writes the queued stanzas.
func (l *outLink) drain() {
	l.mu.Lock()
	q := l.queue
	l.queue = nil
	l.mu.Unlock()
	for i, st := range q {
		if err := l.t.Write(st.AddressedBytes()); err != nil {
			for _, rest := range q[i:] {
				l.m.bounce(rest, stanza.ErrText(stanza.ResourceConstraint, "the link to "+l.domain+" is congested"))
			}
			break
		}
	}
	if len(q) > 0 {
		l.last = time.Now()
	}
}

// Wakeup implements session.Handler: new stanzas or verify requests, or
// the TLS handshake finished.
func (l *outLink) Wakeup() {
	switch l.state {
	case outHandshake:
		cs := l.t.TLS()
		if cs == nil {
			return
		}
		l.tlsOn = true
		l.verified = l.m.verifyPeer(cs, l.domain)
		l.sendHeader()
	case outUp:
		l.askPiggybacks()
		l.flushVerifies()
		l.drain()
	case outVerifying:
		l.flushVerifies()
		l.mu.Lock()
		stanzas := len(l.queue) > 0
		l.mu.Unlock()
		if stanzas {
			l.authenticate()
		}
	case outClosed, outHeader, outTLS:
	default:
		l.flushVerifies()
	}
}

// Timer implements session.Handler: the authentication deadline, then the
// idle check.
func (l *outLink) Timer(now time.Time) {
	switch l.state {
	case outClosed:
	case outUp:
		l.expirePiggybacks(now)
		if idle := now.Sub(l.last); idle < l.m.cfg.IdleTimeout {
			l.rearm(now)
			return
		}
		l.m.log.Info("idle link closed", "domain", l.domain)
		l.close([]byte("</stream:stream>"))
	default:
		l.m.log.Info("link timed out", "domain", l.domain, "state", l.state.String())
		l.failCond = stanza.RemoteServerTimeout
		l.close(appendFail(nil, stanza.StreamErr(stanza.ConnectionTimeout, "")))
	}
}

// Closed implements session.Handler.
func (l *outLink) Closed(err error) {
	l.m.log.Info("link closed", "domain", l.domain, "state", l.state.String(), "err", err)
	l.state = outClosed
	l.fail(l.failCond)
}

// abort sends a stream error and closes.
func (l *outLink) abort(se *stanza.StreamError) {
	if l.state == outClosed {
		return
	}
	l.m.log.Info("link failed", "domain", l.domain, "cond", se.Cond.String(), "text", se.Text)
	if l.state != outUp {
		// the peer answered but no link could be made with it (TLS refused,
		// a protocol error): RFC 6120 §8.3.3.15, not a timeout
		l.failCond = stanza.RemoteServerNotFound
	}
	l.close(appendFail(nil, se))
}

// close ends the stream (final may be nil); Closed follows.
func (l *outLink) close(final []byte) {
	if l.state == outClosed {
		return
	}
	l.state = outClosed
	l.m.drop(l) // new stanzas get a new link
	l.t.Close(final)
}

// fail ends the link for good: queued stanzas go to a new link if this
// one was up (it closed, idle or by the peer), else bounce with cond;
// pending verifications fail.
func (l *outLink) fail(cond stanza.Condition) {
	l.m.drop(l)
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return
	}
	l.dead = true
	q, vs, asked, up := l.queue, l.verifies, l.asked, l.up || l.retry
	for _, p := range l.extra {
		q = append(q, p.queue...) // piggybacked only on a link that was up: they take new links
	}
	l.queue, l.verifies, l.asked, l.extra = nil, nil, nil, nil
	l.mu.Unlock()
	for _, st := range q {
		if up {
			if !l.m.Send(st) {
				l.m.bounce(st, stanza.Err(stanza.RemoteServerNotFound))
			}
			continue
		}
		l.m.bounce(st, stanza.Err(cond))
	}
	for _, v := range append(vs, asked...) {
		v.done(verifyResult{from: v.to, to: v.from, cond: cond})
	}
}

// askPiggybacks writes the db:result of each domain pair newly taken
// onto the link (XEP-0220 §4: one per pair, the key bound to this
// stream's id).
func (l *outLink) askPiggybacks() {
	var ask []linkKey
	now := time.Now()
	l.mu.Lock()
	for k, p := range l.extra {
		if p.state == piggyWanted {
			p.state, p.since = piggyAsked, now
			ask = append(ask, k)
		}
	}
	l.mu.Unlock()
	for _, k := range ask {
		key := l.m.dialbackKey(k.remote, k.local, l.peerID)
		l.write(appendDB(l.out[:0], "result", k.local, k.remote, "", "", key))
	}
	if len(ask) > 0 {
		l.rearm(now)
	}
}

// verdict takes the peer's answer to a piggybacked db:result. Valid: the
// pair's stanzas flow. Invalid or an error: they bounce, except that a
// peer refusing more domains on this link (policy-violation,
// resource-constraint) or not serving a target domain here
// (item-not-found) sends them to a link of their own. The
// link stays up for the pairs it carries either way.
func (l *outLink) verdict(e xmlscan.Elem) {
	k, typ := linkKey{attr(e, "to"), attr(e, "from")}, attr(e, "type")
	local := k.local
	l.mu.Lock()
	p := l.extra[k]
	if p == nil || p.state != piggyAsked {
		l.mu.Unlock()
		return
	}
	if typ == "valid" {
		p.state = piggyValid
		l.queue = append(l.queue, p.queue...)
		p.queue = nil
		l.mu.Unlock()
		l.m.log.Info("piggybacked domain up", "domain", k.remote, "local", local, "link", l.domain)
		l.drain()
		return
	}
	q := l.unpiggy(k, p)
	l.mu.Unlock()
	l.m.unshare(l, k)
	cond := dbErrorCond(e)
	l.m.log.Info("piggybacked domain refused", "domain", k.remote, "local", local, "link", l.domain, "type", typ, "cond", cond.String())
	fallback := false
	switch cond {
	case stanza.PolicyViolation, stanza.ResourceConstraint, stanza.ItemNotFound:
		fallback = typ == "error"
	}
	if fallback {
		for _, st := range q {
			if !l.m.Send(st) {
				l.m.bounce(st, stanza.Err(stanza.RemoteServerNotFound))
			}
		}
		return
	}
	// XEP-0220 §2.4: after a dialback error the queued stanzas return
	// with remote-server-timeout; a key refused is a server not found
	bc := stanza.RemoteServerNotFound
	if typ == "error" {
		bc = stanza.RemoteServerTimeout
	}
	for _, st := range q {
		l.m.bounce(st, stanza.ErrText(bc, k.remote+" did not authenticate "+local))
	}
}

// unpiggy takes the pair k off the link for good (under mu) and returns
// its queued stanzas.
func (l *outLink) unpiggy(k linkKey, p *piggy) []*stanza.Stanza {
	delete(l.extra, k)
	if l.refused == nil {
		l.refused = map[linkKey]bool{}
	}
	l.refused[k] = true
	return p.queue
}

// expirePiggybacks bounces the stanzas of piggybacked domains whose
// verdict has not come within auth_timeout, as a link's would.
func (l *outLink) expirePiggybacks(now time.Time) {
	var late []linkKey
	var q []*stanza.Stanza
	l.mu.Lock()
	for k, p := range l.extra {
		if p.state == piggyAsked && now.Sub(p.since) >= l.m.cfg.AuthTimeout {
			late = append(late, k)
			q = append(q, l.unpiggy(k, p)...)
		}
	}
	l.mu.Unlock()
	for _, k := range late {
		l.m.log.Info("piggybacked domain timed out", "domain", k.remote, "local", k.local, "link", l.domain)
		l.m.unshare(l, k)
	}
	for _, st := range q {
		l.m.bounce(st, stanza.Err(stanza.RemoteServerTimeout))
	}
}

// rearm sets the timer of an up link: the idle check, or sooner the
// deadline of a piggybacked domain's verdict.
func (l *outLink) rearm(now time.Time) {
	next := l.m.cfg.IdleTimeout - now.Sub(l.last)
	l.mu.Lock()
	for _, p := range l.extra {
		if p.state == piggyAsked {
			next = min(next, l.m.cfg.AuthTimeout-now.Sub(p.since))
		}
	}
	l.mu.Unlock()
	l.t.SetTimer(max(next, time.Millisecond))
}

// dbErrorCond is the stanza error condition of a db:result of type error
// (0 if it names none).
func dbErrorCond(e xmlscan.Elem) stanza.Condition {
	it := e.Children()
	for x, ok := it.Next(); ok; x, ok = it.Next() {
		if string(x.Local()) != "error" {
			continue
		}
		cs := x.Children()
		for c, ok := cs.Next(); ok; c, ok = cs.Next() {
			if string(c.NS()) == stanza.NSStanzas {
				return stanza.ConditionByName(string(c.Local()))
			}
		}
	}
	return 0
}
