package s2s

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"sync"
	"time"

	"ignis/jid"
	"ignis/session"
	"ignis/stanza"
	"ignis/xmlscan"
)

// inState is where an incoming stream's negotiation is.
type inState uint8

const (
	inHeader inState = iota // the peer's header awaited
	inOpen                  // features sent: TLS, SASL, dialback and stanzas
	inClosed
)

var inStateNames = [...]string{"header", "open", "closed"}

func (s inState) String() string { return inStateNames[s] }

// inStream is a stream a peer opened to us. Its loop owns it, except the
// verification answers (under mu), which arrive from other links.
type inStream struct {
	m    *Manager
	t    session.Transport
	scan xmlscan.Scanner
	out  []byte
	peer net.Addr

	state   inState
	id      string
	from    string // the header's from: the domain the peer says it is
	to      string // the local domain it asked for
	tlsOn   bool
	saslOK  bool             // the peer's certificate verified for from (offer EXTERNAL)
	authed  map[string]bool  // remote domains this stream may send from
	pending map[linkKey]bool // (local, remote) pairs whose dialback is being verified
	pairs   []linkKey        // (local, remote) pairs authenticated: what the peer may send, where our stanzas may go back
	bidi    bool             // the peer asked for XEP-0288: the pairs carry our stanzas back
	last    time.Time

	mu      sync.Mutex
	answers []verifyResult
	back    []*stanza.Stanza // bidi: our stanzas to write on this stream
	dead    bool             // closed: back takes no more
}

// Incoming makes the handler of a connection accepted on the s2s listener.
func (m *Manager) Incoming(t session.Transport) session.Handler {
	s := &inStream{m: m, t: t, peer: t.RemoteAddr(), authed: map[string]bool{}, pending: map[linkKey]bool{}, last: time.Now()}
	s.scan.SetLimits(xmlscan.Limits{MaxElementBytes: m.cfg.MaxStanzaBytes})
	t.SetTimer(m.cfg.AuthTimeout)
	return s
}

// Traffic implements session.Handler.
func (s *inStream) Traffic(p []byte) error {
	if s.state == inClosed {
		return errClosed
	}
	s.last = time.Now()
	restarted, err := feed(&s.scan, p, (*inSink)(s), s.m.cfg.MaxStanzaBytes)
	if restarted {
		s.state = inHeader
	}
	var se *stanza.StreamError
	if errors.As(err, &se) {
		s.fail(se)
	}
	return err
}

// fail sends a stream error (after a header if none went out) and closes.
func (s *inStream) fail(se *stanza.StreamError) {
	if s.state == inClosed {
		return
	}
	out := s.out[:0]
	if s.id == "" {
		s.id = newID()
		out = appendHeader(out, s.m.cfg.Domain.Domain(), "", s.id)
	}
	s.m.log.Info("incoming stream error", "peer", s.from, "ip", s.peer.String(), "cond", se.Cond.String(), "text", se.Text)
	s.close(appendFail(out, se))
}

func (s *inStream) close(final []byte) {
	if s.state == inClosed {
		return
	}
	s.state = inClosed
	s.t.SetTimer(0)
	s.t.Close(final)
}

func (s *inStream) write(p []byte) {
	s.out = p[:0]
	if err := s.t.Write(p); err != nil {
		s.fail(stanza.StreamErr(stanza.StreamResourceConstraint, "output over the limit"))
	}
}

type inSink inStream

func (k *inSink) StreamOpen(f *xmlscan.Frame) error {
	s := (*inStream)(k)
	m := s.m
	if string(f.Local()) != "stream" || string(f.NS()) != stanza.NSStream {
		return stanza.StreamErr(stanza.InvalidNamespace, "")
	}
	// RFC 6120 §4.9.3.10: a server-to-server stream's content is jabber:server
	if ns, _ := f.Attr("xmlns"); string(ns) != stanza.NSServer {
		return stanza.StreamErr(stanza.InvalidNamespace, "the default namespace must be "+stanza.NSServer)
	}
	to, from := attr(f.Elem, "to"), attr(f.Elem, "from")
	if to != "" && !m.cfg.Local(to) {
		return stanza.StreamErr(stanza.HostUnknown, "")
	}
	if to == "" {
		to = m.cfg.Domain.Domain()
	}
	if from != "" {
		if _, err := jid.Parse(from); err != nil {
			return stanza.StreamErr(stanza.InvalidFrom, "")
		}
	}
	// the id once the header is answered: fail writes our header, as
	// RFC 6120 §4.9.1.2 wants, while no id is set
	s.id = newID()
	s.to, s.from = to, from
	s.state = inOpen
	out := appendHeader(s.out[:0], to, from, s.id)
	out = append(out, "<stream:features>"...)
	switch {
	case len(s.authed) > 0 && s.saslOK:
		// after SASL: dialback only, for further domains on this stream
		// (XEP-0344: piggybacking after EXTERNAL; errors, XEP-0220 §2.4)
		out = append(out, "<dialback xmlns='"+stanza.NSDialbackFeature+"'><errors/></dialback>"...)
	case !s.tlsOn && m.cfg.TLS != nil:
		out = append(out, "<starttls xmlns='"+stanza.NSTLS+"'>"...)
		if m.cfg.RequireTLS {
			out = append(out, "<required/>"...)
		}
		out = append(out, "</starttls>"...)
		if !m.cfg.RequireTLS {
			out = append(out, "<dialback xmlns='"+stanza.NSDialbackFeature+"'><errors/></dialback>"...)
		}
		out = m.appendBidiFeature(out)
	default:
		if s.tlsOn && from != "" && m.verifyPeer(s.t.TLS(), from) {
			s.saslOK = true
			out = append(out, "<mechanisms xmlns='"+stanza.NSSASL+"'><mechanism>EXTERNAL</mechanism></mechanisms>"...)
		}
		out = append(out, "<dialback xmlns='"+stanza.NSDialbackFeature+"'><errors/></dialback>"...)
		out = m.appendBidiFeature(out)
	}
	s.write(append(out, "</stream:features>"...))
	return nil
}

func (k *inSink) StreamClose() error {
	s := (*inStream)(k)
	s.close([]byte("</stream:stream>"))
	return errClosed
}

func (k *inSink) Element(f *xmlscan.Frame) error {
	s := (*inStream)(k)
	m := s.m
	e := f.Elem
	switch {
	case is(e, stanza.NSTLS, "starttls"):
		if s.tlsOn || m.cfg.TLS == nil {
			return stanza.StreamErr(stanza.StreamPolicyViolation, "TLS not available")
		}
		s.write(append(s.out[:0], "<proceed xmlns='"+stanza.NSTLS+"'/>"...))
		if err := s.t.StartTLS(); err != nil {
			return err
		}
		s.tlsOn = true
		return errRestart
	case is(e, stanza.NSSASL, "auth"):
		return s.auth(e)
	case is(e, stanza.NSDialback, "result"):
		return s.result(e)
	case is(e, stanza.NSDialback, "verify"):
		return s.verify(e)
	case is(e, stanza.NSBidi, "bidi"):
		// XEP-0288 §2.2: no answer; after STARTTLS when TLS is used (a
		// stream without it carries nothing where TLS is required)
		if m.cfg.NoBidi || (m.cfg.RequireTLS && !s.tlsOn) {
			return stanza.StreamErr(stanza.StreamPolicyViolation, "bidi is not offered here")
		}
		if !s.bidi {
			s.bidi = true
			for _, k := range s.pairs {
				m.addBidi(k, s)
			}
		}
		return nil
	case is(e, stanza.NSStream, "error"):
		m.log.Info("stream error from peer", "peer", s.from, "raw", string(e.Raw()))
		s.close([]byte("</stream:stream>"))
		return errClosed
	}
	if string(e.NS()) != stanza.NSServer {
		return stanza.StreamErr(stanza.InvalidNamespace, "")
	}
	if m.cfg.RequireTLS && !s.tlsOn {
		return stanza.StreamErr(stanza.StreamPolicyViolation, "TLS is required")
	}
	st, err := parseStanza(f)
	if err != nil {
		return err
	}
	if len(s.authed) == 0 {
		return stanza.StreamErr(stanza.StreamNotAuthorized, "")
	}
	// RFC 6120 §8.1.1.1, §4.9.3.10, §4.9.3.6
	if st.From.IsZero() || st.To.IsZero() {
		return stanza.StreamErr(stanza.ImproperAddressing, "")
	}
	if !s.authed[st.From.Domain()] {
		return stanza.StreamErr(stanza.InvalidFrom, st.From.Domain()+" is not authenticated on this stream")
	}
	if !m.cfg.Local(st.To.Domain()) {
		return stanza.StreamErr(stanza.HostUnknown, st.To.Domain()+" is not served here")
	}
	// each domain pair is authenticated on its own (XEP-0220 §4): a
	// local domain no db:result named is not this stream's to address
	if !s.hasPair(linkKey{st.To.Domain(), st.From.Domain()}) {
		return stanza.StreamErr(stanza.HostUnknown, st.To.Domain()+" is not authenticated for "+st.From.Domain()+" on this stream")
	}
	m.cfg.Router.Receive(st)
	return nil
}

// auth runs SASL EXTERNAL (XEP-0178): the certificate verified for the
// header's from, which the authorization identity may only repeat.
func (s *inStream) auth(e xmlscan.Elem) error {
	fail := func(cond string) error {
		s.write(append(s.out[:0], "<failure xmlns='"+stanza.NSSASL+"'><"+cond+"/></failure>"...))
		return nil
	}
	if attr(e, "mechanism") != "EXTERNAL" || !s.saslOK {
		return fail("invalid-mechanism")
	}
	authz := string(e.AppendText(nil))
	if authz != "" && authz != "=" {
		b, err := base64.StdEncoding.DecodeString(authz)
		if err != nil {
			return fail("incorrect-encoding")
		}
		if string(b) != s.from {
			return fail("invalid-authzid")
		}
	}
	if !s.admit(s.to, s.from) {
		return stanza.StreamErr(stanza.StreamPolicyViolation, "too many links from "+s.from)
	}
	s.write(append(s.out[:0], "<success xmlns='"+stanza.NSSASL+"'/>"...))
	s.m.log.Info("incoming link authenticated", "domain", s.from, "by", "sasl-external")
	return errRestart
}

// admit notes domain as authenticated on this stream to send to local,
// within the cap; with bidi, the pair becomes the route of our stanzas
// from local to domain.
func (s *inStream) admit(local, domain string) bool {
	if !s.authed[domain] {
		if !s.m.admit(domain) {
			return false
		}
		if len(s.authed) == 0 {
			s.m.streams(1)
		}
		s.authed[domain] = true
		s.t.SetTimer(s.m.cfg.IdleTimeout)
	}
	k := linkKey{local, domain}
	if s.hasPair(k) {
		return true
	}
	s.pairs = append(s.pairs, k)
	if s.bidi {
		s.m.addBidi(k, s)
	}
	return true
}

// hasPair reports whether k is authenticated on the stream (a few pairs
// at most: a scan).
func (s *inStream) hasPair(k linkKey) bool {
	for _, p := range s.pairs {
		if p == k {
			return true
		}
	}
	return false
}

// enqueue hands the stream one of our stanzas to write back (bidi);
// false once it is closed (the caller takes another route).
func (s *inStream) enqueue(st *stanza.Stanza) bool {
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return false
	}
	if len(s.back) >= s.m.cfg.MaxQueue {
		s.mu.Unlock()
		s.m.bounce(st, stanza.ErrText(stanza.ResourceConstraint, "too many stanzas wait for "+st.To.Domain()))
		return true
	}
	s.back = append(s.back, st)
	s.mu.Unlock()
	s.t.Wake()
	return true
}

// drainBack writes our stanzas waiting to go back over the stream.
func (s *inStream) drainBack() {
	s.mu.Lock()
	q := s.back
	s.back = nil
	s.mu.Unlock()
	for i, st := range q {
		if err := s.t.Write(st.AddressedBytes()); err != nil {
			for _, rest := range q[i:] {
				s.m.bounce(rest, stanza.ErrText(stanza.ResourceConstraint, "the link to "+rest.To.Domain()+" is congested"))
			}
			break
		}
	}
	if len(q) > 0 {
		s.last = time.Now()
	}
}

// result: the peer asks to be authenticated by dialback (XEP-0220 §2.1.1):
// its authoritative server is asked whether the key is its own.
func (s *inStream) result(e xmlscan.Elem) error {
	m := s.m
	from, to := attr(e, "from"), attr(e, "to")
	if m.cfg.RequireTLS && !s.tlsOn {
		return stanza.StreamErr(stanza.StreamPolicyViolation, "TLS is required")
	}
	if attr(e, "type") != "" {
		return nil // a verdict on a stream of ours has no place here
	}
	if !m.cfg.Local(to) {
		s.write(appendDBError(s.out[:0], to, from, stanza.Err(stanza.ItemNotFound)))
		return nil
	}
	if _, err := jid.Parse(from); err != nil || from == "" || m.cfg.Local(from) {
		s.write(appendDBError(s.out[:0], to, from, stanza.Err(stanza.BadRequest)))
		return nil
	}
	k := linkKey{to, from}
	switch {
	case s.hasPair(k):
		// asked again for a pair it has: the verdict stands
		s.write(appendDB(s.out[:0], "result", to, from, "", "valid", ""))
		return nil
	case s.pending[k]:
		return nil // being verified: one answer, when it comes
	case len(s.pairs)+len(s.pending) >= m.cfg.MaxDomainsPerLink:
		// the bound on what one stream carries; the pairs it has stay
		m.log.Info("dialback refused: too many domains on the link", "domain", from, "to", to, "ip", s.peer.String())
		s.write(appendDBError(s.out[:0], to, from, stanza.ErrText(stanza.PolicyViolation, "too many domains on this link")))
		return nil
	case s.authed[from]:
		// the sender proved itself on this stream (dialback or EXTERNAL):
		// a further local domain needs no new verification
		if !s.admit(to, from) {
			return stanza.StreamErr(stanza.StreamPolicyViolation, "too many links from "+from)
		}
		s.write(appendDB(s.out[:0], "result", to, from, "", "valid", ""))
		return nil
	}
	s.pending[k] = true
	key := string(e.AppendText(nil))
	t := s.t
	m.verify(from, to, s.id, key, func(r verifyResult) {
		s.mu.Lock()
		s.answers = append(s.answers, r)
		s.mu.Unlock()
		t.Wake()
	})
	return nil
}

// verify: a receiving server asks us, the authoritative one, whether a
// key is ours (XEP-0220 §2.1.3). The answer says nothing more than that.
func (s *inStream) verify(e xmlscan.Elem) error {
	m := s.m
	from, to, id := attr(e, "from"), attr(e, "to"), attr(e, "id")
	if !m.cfg.Local(to) {
		s.write(appendDB(s.out[:0], "verify", to, from, id, "invalid", ""))
		return nil
	}
	want := m.dialbackKey(from, to, id)
	got := e.AppendText(nil)
	typ := "invalid"
	if subtle.ConstantTimeCompare([]byte(want), got) == 1 {
		typ = "valid"
	}
	s.write(appendDB(s.out[:0], "verify", to, from, id, typ, ""))
	return nil
}

// Wakeup implements session.Handler: verification answers, or stanzas
// to write back (bidi), arrived.
func (s *inStream) Wakeup() {
	if s.state == inClosed {
		return
	}
	s.drainBack()
	s.mu.Lock()
	as := s.answers
	s.answers = nil
	s.mu.Unlock()
	for _, r := range as {
		if s.state == inClosed {
			return
		}
		delete(s.pending, linkKey{r.to, r.from})
		switch {
		case r.cond != 0:
			s.write(appendDBError(s.out[:0], r.to, r.from, stanza.Err(r.cond)))
		case !r.valid:
			s.m.log.Info("dialback refused", "domain", r.from, "ip", s.peer.String())
			s.write(appendDB(s.out[:0], "result", r.to, r.from, "", "invalid", ""))
		case !s.admit(r.to, r.from):
			s.fail(stanza.StreamErr(stanza.StreamPolicyViolation, "too many links from "+r.from))
		default:
			s.m.log.Info("incoming link authenticated", "domain", r.from, "by", "dialback")
			s.write(appendDB(s.out[:0], "result", r.to, r.from, "", "valid", ""))
		}
	}
}

// Timer implements session.Handler: the authentication deadline, then the
// idle check.
func (s *inStream) Timer(now time.Time) {
	if s.state == inClosed {
		return
	}
	if len(s.authed) == 0 {
		s.fail(stanza.StreamErr(stanza.ConnectionTimeout, "not authenticated in time"))
		return
	}
	if idle := now.Sub(s.last); idle < s.m.cfg.IdleTimeout {
		s.t.SetTimer(s.m.cfg.IdleTimeout - idle)
		return
	}
	s.m.log.Info("idle incoming link closed", "domain", s.from)
	s.close([]byte("</stream:stream>"))
}

// Closed implements session.Handler. Our stanzas that waited to go back
// take another route (a link of our own).
func (s *inStream) Closed(error) {
	s.state = inClosed
	if len(s.authed) > 0 {
		s.m.streams(-1)
	}
	for d := range s.authed {
		s.m.release(d)
	}
	s.authed = nil
	s.m.dropBidi(s, s.pairs)
	s.mu.Lock()
	s.dead = true
	q := s.back
	s.back = nil
	s.mu.Unlock()
	for _, st := range q {
		if !s.m.Send(st) {
			s.m.bounce(st, stanza.Err(stanza.RemoteServerNotFound))
		}
	}
}
