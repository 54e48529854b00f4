package session

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"

	"ignis/jid"
	"ignis/mod"
	"ignis/session/sasl"
	"ignis/stanza"
	"ignis/xmlscan"
)

// sink is the Stream seen as the tokenizer's xmlscan.Sink: the transitions
// of the state machine, one place for each kind of input.
type sink Stream

// StreamOpen handles the client's stream header (RFC 6120 §4.7).
func (k *sink) StreamOpen(f *xmlscan.Frame) error {
	s := (*Stream)(k)
	if s.state != stHeader {
		return stanza.StreamErr(stanza.NotWellFormed, "") // unreachable: the tokenizer opens one root
	}
	if string(f.Local()) != "stream" || string(f.NS()) != stanza.NSStream {
		return stanza.StreamErr(stanza.InvalidNamespace, "the stream root must be {"+stanza.NSStream+"}stream")
	}
	if ns, _ := f.Attr("xmlns"); string(ns) != stanza.NSClient {
		return stanza.StreamErr(stanza.InvalidNamespace, "the default namespace must be "+stanza.NSClient)
	}
	return s.open(f)
}

// open answers the client's opening of the stream, its header or RFC 7395's
// <open/>, with ours and the features (RFC 6120 §4.7, §4.3.2).
func (s *Stream) open(f *xmlscan.Frame) error {
	host := &s.cfg.Domain
	if to, ok := f.Attr("to"); ok {
		var known bool
		if host, known = s.cfg.host(to); !known {
			return stanza.StreamErr(stanza.HostUnknown, "")
		}
	}
	if s.host != nil && s.host != host && s.flags&fAuthn != 0 {
		// a restart after SASL is for the domain the client authenticated at
		return stanza.StreamErr(stanza.HostUnknown, "the stream was authenticated for "+s.host.String())
	}
	s.host = host
	if v, _ := f.Attr("version"); !versionOK(v) {
		return stanza.StreamErr(stanza.UnsupportedVersion, "XMPP 1.0 is required")
	}
	if s.tr.TLS() != nil {
		s.flags |= fSecure // direct TLS (XEP-0368): the handshake is over by now
	}
	// RFC 6120 §4.7.2: our header's 'to' is the 'from' the client gave
	var to jid.JID
	if from, ok := f.Attr("from"); ok {
		to, _ = jid.Parse(string(from))
	}
	out := s.appendHeader(nil, to)
	if s.rootless() {
		s.write(out) // one element a write (RFC 7395 §3.3.3: one a message)
		out = out[:0]
	}
	s.write(s.appendFeatures(out))
	if s.flags&fAuthn != 0 {
		s.state = stAuthed
	} else {
		s.state = stNegotiating
	}
	return nil
}

// versionOK accepts major version 1 (RFC 6120 §4.7.5: we answer 1.0 to any 1.x).
func versionOK(v []byte) bool {
	maj, _, ok := bytes.Cut(v, []byte("."))
	return ok && string(maj) == "1"
}

// StreamClose handles </stream:stream>: close ours too (RFC 6120 §4.4).
func (k *sink) StreamClose() error {
	s := (*Stream)(k)
	if s.hand != nil {
		s.hand.closed = true // after the handover (sm.go)
		return nil
	}
	s.close(s.framing().AppendClose(nil))
	return errClosed
}

// Element handles one depth-1 element according to the stream's state.
func (k *sink) Element(f *xmlscan.Frame) error {
	s := (*Stream)(k)
	if s.hand != nil {
		return s.holdInput(f) // a resume waits for a handover (sm.go)
	}
	ns, local := string(f.NS()), string(f.Local())
	if s.rootless() {
		if handled, err := k.framingElement(f, ns, local); handled {
			return err
		}
	}
	if s.state == stAuthed || s.state == stBound {
		if handled, err := s.smElement(f, ns, local); handled {
			return err // XEP-0198 (sm.go)
		}
	}
	switch s.state {
	case stNegotiating:
		switch {
		case ns == stanza.NSTLS && local == "starttls":
			return s.startTLS()
		case s.cfg.TLSRequired && s.flags&fSecure == 0:
			return stanza.StreamErr(stanza.StreamPolicyViolation, "STARTTLS is required")
		case ns == stanza.NSSASL && local == "auth":
			return s.auth(f)
		case ns == stanza.NSCompress && local == "compress":
			return s.compress(f)
		case ns == stanza.NSClient && local == "iq" && isLegacyAuth(f):
			return s.legacyAuth(f) // XEP-0078, see legacyauth.go
		case ns == stanza.NSClient && local == "iq":
			if handled, err := s.preAuthIQ(f); handled {
				return err
			}
		}
	case stSASL:
		switch {
		case ns == stanza.NSSASL && local == "response":
			return s.saslStep(f)
		case ns == stanza.NSSASL && local == "abort":
			s.sasl = nil
			s.state = stNegotiating
			s.write(saslFailure(sasl.Aborted, ""))
			return nil
		}
	case stAuthed:
		switch {
		case ns == stanza.NSClient && local == "iq":
			return s.bind(f)
		case ns == stanza.NSCompress && local == "compress":
			return s.compress(f)
		}
	case stBound:
		switch {
		case ns == stanza.NSClient && stanza.KindOf(f.Local()) != stanza.KindNone:
			if s.sm != nil {
				return s.smStanza(f) // XEP-0198 §4: every stanza received counts (sm.go)
			}
			return s.stanza(f)
		case ns == stanza.NSCompress && local == "compress":
			return s.compress(f)
		case ns == NSCSI && (local == "active" || local == "inactive"):
			s.setActive(local == "active")
			return nil
		}
	case stClosed:
		return errClosed
	}
	if ns == stanza.NSClient && stanza.KindOf(f.Local()) != stanza.KindNone {
		// RFC 6120 §6.4.1, §7.1: no stanzas before authentication and binding
		return stanza.StreamErr(stanza.StreamNotAuthorized, "")
	}
	return stanza.StreamErr(stanza.UnsupportedStanzaType, "")
}

// framingElement handles RFC 7395's <open/> and <close/>, which stand for the
// stream header and its end tag when the input has no stream root.
func (k *sink) framingElement(f *xmlscan.Frame, ns, local string) (bool, error) {
	s := (*Stream)(k)
	switch {
	case ns == NSFraming && local == "open" && s.state == stHeader:
		return true, s.open(f)
	case ns == NSFraming && local == "open":
		// as a nested stream header over TCP (scanError)
		return true, stanza.StreamErr(stanza.UnsupportedStanzaType, "the stream may only be opened again after SASL success")
	case ns == NSFraming && local == "close":
		return true, k.StreamClose()
	case s.state == stHeader:
		return true, stanza.StreamErr(stanza.InvalidNamespace, "the stream must open with {"+NSFraming+"}open")
	}
	return false, nil
}

// appendFeatures appends <stream:features/> for the stream's state (RFC 6120 §4.3.2).
func (s *Stream) appendFeatures(out []byte) []byte {
	var b stanza.Builder
	b.Start("stream:features")
	secure := s.flags&fSecure != 0
	if s.flags&fAuthn == 0 {
		if !secure && s.cfg.TLSOffered && !s.framed { // a framed transport's TLS is its own (HTTPS, WSS)
			b.Start("starttls", "xmlns", stanza.NSTLS)
			if s.cfg.TLSRequired {
				b.Element("required", "")
			}
			b.End()
		}
		if secure || !s.cfg.TLSRequired {
			cb := s.channelBinding()
			b.Start("mechanisms", "xmlns", stanza.NSSASL)
			for _, m := range s.cfg.SASL.Mechanisms(cb) {
				b.Element("mechanism", m)
			}
			b.End()
			if types := s.cfg.SASL.CBTypes(cb); len(types) > 0 {
				b.Start("sasl-channel-binding", "xmlns", stanza.NSSASLCB)
				for _, t := range types {
					b.Element("channel-binding", "", "type", t)
				}
				b.End()
			}
			if s.legacyAuthOffered() {
				b.Element("auth", "", "xmlns", nsAuthFeature) // XEP-0078 §4
			}
		}
	} else {
		b.Element("bind", "", "xmlns", stanza.NSBind)
		b.Start("session", "xmlns", stanza.NSSession).Element("optional", "").End()
		b.Element("csi", "", "xmlns", NSCSI)
		b.Element("sm", "", "xmlns", NSSM2)
		b.Element("sm", "", "xmlns", NSSM3)
	}
	if secure || !s.cfg.TLSRequired {
		info := mod.StreamInfo{Secure: secure, Loopback: s.flags&fLoopback != 0}
		s.cfg.Router.Registry().StreamFeatures(s.flags&fAuthn != 0, info, func(x []byte) { b.Raw(x) })
	}
	if s.compressionOffered() && (secure || !s.cfg.TLSRequired) {
		b.Start("compression", "xmlns", stanza.NSCompressFeature).Element("method", "zlib").End()
	}
	return append(out, s.framing().Element(b.Bytes())...)
}

// compressionOffered: over TCP only, as a framed transport has its own (RFC 7692, HTTP).
func (s *Stream) compressionOffered() bool {
	return !s.framed && s.cfg.Compression && s.flags&fCompressed == 0 && (s.flags&fSecure == 0 || s.cfg.CompressionOnTLS)
}

// channelBinding gathers what SASL needs from the TLS layer.
func (s *Stream) channelBinding() sasl.ChannelBinding {
	cs := s.tr.TLS()
	if cs == nil {
		return sasl.ChannelBinding{}
	}
	end := s.cfg.endPoint
	if e, ok := s.cfg.hostEnd[cs.ServerName]; ok {
		end = e // the virtual host's certificate was presented (SNI)
	}
	cb := sasl.ChannelBinding{TLS: true, TLS13: cs.Version == tls.VersionTLS13, EndPoint: end,
		Unique: cs.TLSUnique, ClientTypeMismatch: s.flags&fCBMismatch != 0}
	if cb.TLS13 {
		// RFC 9266: tls-exporter is defined for TLS 1.3 only
		cb.Exporter, _ = cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	}
	return cb
}

// startTLS answers <starttls/> (RFC 6120 §5.4.2).
func (s *Stream) startTLS() error {
	if !s.cfg.TLSOffered || s.flags&fSecure != 0 || s.framed {
		s.close(s.framing().AppendClose(s.framing().Element([]byte("<failure xmlns='" + stanza.NSTLS + "'/>"))))
		return errClosed
	}
	s.write([]byte("<proceed xmlns='" + stanza.NSTLS + "'/>"))
	if err := s.tr.StartTLS(); err != nil {
		return stanza.StreamErr(stanza.StreamInternalServerError, "")
	}
	s.flags = s.flags&fLoopback | fSecure // where the client is does not change (register's loopback policy)
	s.state = stHeader
	return errRestart
}

// compress answers XEP-0138 <compress/>.
func (s *Stream) compress(f *xmlscan.Frame) error {
	if !s.compressionOffered() {
		s.write([]byte("<failure xmlns='" + stanza.NSCompress + "'><setup-failed/></failure>"))
		return nil
	}
	m := f.Child("method", stanza.NSCompress)
	if m.IsZero() || string(m.AppendText(nil)) != "zlib" {
		s.write([]byte("<failure xmlns='" + stanza.NSCompress + "'><unsupported-method/></failure>"))
		return nil
	}
	s.write([]byte("<compressed xmlns='" + stanza.NSCompress + "'/>"))
	if err := s.tr.StartCompression(); err != nil {
		return stanza.StreamErr(stanza.StreamInternalServerError, "")
	}
	s.flags = s.flags&^fHeaderSent | fCompressed
	s.state = stHeader
	return errRestart
}

// auth starts a SASL exchange (RFC 6120 §6.4.2).
func (s *Stream) auth(f *xmlscan.Frame) error {
	if s.cfg.Guard.Banned(s.peer) {
		return errBanned // banned while this stream was open (guard.go)
	}
	mech, _ := f.Attr("mechanism")
	s.creds = credStamp{} // stamped anew by this exchange (bind.go)
	cfg := s.cfg.SASL
	cfg.Domain = s.domain().Domain() // an authzid names an account of the stream's domain
	srv, err := cfg.Start(string(mech), (*keysSeen)(s), normalizeUser, s.channelBinding())
	if err != nil {
		return s.saslFailed(err)
	}
	s.sasl = srv
	return s.saslData(f, true)
}

func (s *Stream) saslStep(f *xmlscan.Frame) error { return s.saslData(f, false) }

// saslData decodes the base64 payload of <auth/> or <response/> and runs the
// mechanism's next step. An empty <auth/> carries no initial response; "="
// is an empty one (RFC 6120 §6.4.2).
func (s *Stream) saslData(f *xmlscan.Frame, initial bool) error {
	text := f.AppendText(nil)
	var in []byte
	switch {
	case len(text) == 0 && initial:
		in = nil
	case string(text) == "=":
		in = []byte{}
	default:
		in = make([]byte, base64.StdEncoding.DecodedLen(len(text)))
		n, err := base64.StdEncoding.Decode(in, text)
		if err != nil {
			return s.saslFailed(&sasl.Failure{Cond: sasl.IncorrectEncoding})
		}
		in = in[:n]
	}
	out, done, err := s.sasl.Step(in)
	if err != nil {
		return s.saslFailed(err)
	}
	if !done {
		s.state = stSASL
		s.write(saslMessage("challenge", out))
		return nil
	}
	user := s.sasl.User()
	if user == "" { // ANONYMOUS (RFC 4505): a fresh random account name
		var r [8]byte
		_, _ = rand.Read(r[:])
		user = "anon-" + hex.EncodeToString(r[:])
	}
	j, err := jid.New(user, s.domain().Domain(), "")
	if err != nil {
		return s.saslFailed(&sasl.Failure{Cond: sasl.NotAuthorized})
	}
	s.cfg.Stats.LoginOK[mechIndex(s.sasl.Mechanism())].Add(1) // before the client reads the success
	s.write(saslMessage("success", out))
	s.jid = j
	s.sasl = nil
	s.flags = s.flags&(fSecure|fCompressed|fLoopback) | fAuthn
	s.state = stHeader
	return errRestart
}

// saslFailed sends <failure/> and ends the stream after too many attempts.
func (s *Stream) saslFailed(err error) error {
	var user, mech string
	if s.sasl != nil {
		user, mech = s.sasl.Claimed(), s.sasl.Mechanism()
	}
	s.sasl = nil
	s.state = stNegotiating
	s.flags |= fSASLFailed
	var f *sasl.Failure
	if !errors.As(err, &f) {
		f = &sasl.Failure{Cond: sasl.TemporaryAuthFailure}
	}
	// counted and logged before the client can read the failure: what it
	// sees next (a log line, /metrics) already includes this attempt
	var ferr error
	if f.Cond == sasl.NotAuthorized || f.Cond == sasl.InvalidAuthzid {
		ferr = s.loginFailed(user, mech)
	}
	s.write(saslFailure(f.Cond, f.Text))
	if f.UnsupportedBinding() {
		s.flags |= fCBMismatch
	}
	return ferr
}

// errBanned ends the stream of an address banned for failed logins.
var errBanned = stanza.StreamErr(stanza.StreamPolicyViolation, string(refusedBanned))

// loginFailed logs a failed login in the line README's fail2ban filter
// matches, counts it against the stream and the client's address, and ends
// the stream past either limit.
func (s *Stream) loginFailed(user, mech string) error {
	s.cfg.Logger.Warn("login failed", "ip", s.peer.String(), "user", user, "mech", mech)
	s.cfg.Stats.LoginFailed[mechIndex(mech)].Add(1)
	s.fails++
	if s.cfg.Guard.Failed(s.peer) {
		s.cfg.Logger.Warn("address banned", "ip", s.peer.String(), "for", s.cfg.Guard.cfg.AuthBanTime.String())
		return errBanned
	}
	if int(s.fails) >= s.cfg.Limits.AuthAttempts {
		return stanza.StreamErr(stanza.StreamPolicyViolation, "too many failed authentication attempts")
	}
	return nil
}

// loggedIn logs a session's start once its resource is bound.
func (s *Stream) loggedIn() {
	s.cfg.Logger.Info("login", "ip", s.peer.String(), "jid", s.jid.String())
}

func saslMessage(name string, data []byte) []byte {
	var b stanza.Builder
	b.Start(name, "xmlns", stanza.NSSASL)
	if len(data) > 0 {
		b.Text(base64.StdEncoding.EncodeToString(data))
	}
	return b.Bytes()
}

func saslFailure(c sasl.Condition, text string) []byte {
	var b stanza.Builder
	b.Start("failure", "xmlns", stanza.NSSASL).Element(c.String(), "")
	if text != "" {
		b.Element("text", text, "xml:lang", "en")
	}
	return b.Bytes()
}

// normalizeUser prepares a SASL username as a JID localpart (RFC 7622 §3.3).
func normalizeUser(u string) (string, error) {
	j, err := jid.New(u, "localhost", "")
	if err != nil {
		return "", err
	}
	return j.Local(), nil
}

// preAuthIQ serves an iq on an unauthenticated stream with a feature that
// registered for it (in-band registration, XEP-0077). The reply goes back on
// this stream. handled is false when no feature serves it.
func (s *Stream) preAuthIQ(f *xmlscan.Frame) (handled bool, err error) {
	st, perr := stanza.FromFrame(f)
	if st == nil || perr != nil || (st.Type != stanza.Get && st.Type != stanza.Set) {
		return false, nil
	}
	it := f.Children()
	p, ok := it.Next()
	if !ok {
		return false, nil
	}
	h, ok := s.cfg.Router.Registry().LookupIQ(mod.PreAuth, st.Type, string(p.NS()), string(p.Local()))
	if !ok {
		return false, nil
	}
	reply, herr := h(&mod.Ctx{Env: s.cfg.Router, Target: s.domain(), Secure: s.flags&fSecure != 0, Loopback: s.flags&fLoopback != 0}, st)
	var se *stanza.Error
	switch {
	case errors.As(herr, &se):
		reply = st.ErrorReply(se)
	case herr != nil:
		s.cfg.Logger.Error("pre-authentication iq handler failed", "ns", string(p.NS()), "err", herr)
		reply = st.ErrorReply(stanza.Err(stanza.InternalServerError))
	}
	if reply != nil {
		s.write(reply.Bytes())
	}
	return true, nil
}
