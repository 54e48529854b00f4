package session

import (
	"errors"
	"slices"

	"ignis/jid"
	"ignis/route"
	"ignis/session/sasl"
	"ignis/stanza"
	"ignis/xmlscan"
)

// Non-SASL authentication (XEP-0078, jabber:iq:auth), for old clients; off
// unless Config.LegacyAuth is set.
//
// It is one transition of the state machine: an iq get or set in
// jabber:iq:auth on a stream in stNegotiating. A successful set does what
// SASL success, the stream restart and resource binding do together: the
// stream becomes authenticated (fAuthn) and bound, going from stNegotiating
// straight to stBound (XEP-0078 has no restart).
//
// The password travels in the clear, so the feature is offered exactly
// where SASL PLAIN is (on TLS streams, or where PLAIN is allowed without
// TLS), and the password is checked by the PLAIN mechanism itself: the same
// username preparation, the same SCRAM-SHA-256 key check, the same cost for
// an unknown user. The <digest/> method is not offered: it needs the
// password in plain on the server, which Ignis does not keep.
//
// Errors (XEP-0078 §3.1): a server that does not offer it answers
// <service-unavailable/>; missing fields get <not-acceptable/> (406), wrong
// credentials <not-authorized/> (401, counted against Limits.AuthAttempts
// like SASL failures), a resource taken by a session the conflict policy
// keeps <conflict/> (409). After a failed SASL attempt the stream ends with
// <policy-violation/> (§3.1, §9: no falling back to the weaker method). The
// error replies carry no copy of the request (§3.1: it holds the password).
// Old-style numeric error codes are not sent: the stanza error table has
// none, and every client of the last twenty years reads the conditions.

const (
	nsAuth        = "jabber:iq:auth"
	nsAuthFeature = "http://jabber.org/features/iq-auth"
)

var (
	errLegacyOff     = stanza.Err(stanza.ServiceUnavailable)
	errLegacyInClear = stanza.ErrText(stanza.ServiceUnavailable, "non-SASL authentication needs an encrypted stream")
	errLegacyFields  = stanza.ErrText(stanza.NotAcceptable, "username, password and resource are required")
	errLegacyRes     = stanza.ErrText(stanza.NotAcceptable, "the resource is not valid")
	errLegacyCreds   = stanza.Err(stanza.NotAuthorized)
)

// isLegacyAuth reports whether an iq on an unauthenticated stream is a
// jabber:iq:auth request.
func isLegacyAuth(f *xmlscan.Frame) bool {
	return !f.Child("query", nsAuth).IsZero()
}

// legacyAuthOffered: the feature is on and PLAIN would be offered here.
func (s *Stream) legacyAuthOffered() bool {
	return s.cfg.LegacyAuth && slices.Contains(s.cfg.SASL.Mechanisms(sasl.ChannelBinding{TLS: s.flags&fSecure != 0}), "PLAIN")
}

// legacyAuth handles a jabber:iq:auth iq in stNegotiating.
func (s *Stream) legacyAuth(f *xmlscan.Frame) error {
	st, perr := stanza.FromFrame(f)
	if st == nil {
		return stanza.StreamErr(stanza.BadFormat, "")
	}
	st = st.WithAddrs(jid.JID{}, st.To) // nobody to answer to but this stream
	var se *stanza.Error
	switch {
	case errors.As(perr, &se):
	case perr != nil:
		return stanza.StreamErr(stanza.BadFormat, "")
	case !s.cfg.LegacyAuth:
		se = errLegacyOff
	case !s.legacyAuthOffered():
		se = errLegacyInClear
	case s.flags&fSASLFailed != 0:
		return stanza.StreamErr(stanza.StreamPolicyViolation, "non-SASL authentication after a failed SASL attempt")
	case st.Type == stanza.Get:
		s.write(st.Result(legacyFields(f)).Bytes())
		return nil
	case st.Type == stanza.Set:
		return s.legacyLogin(f, st)
	default:
		return nil // results and errors answer nothing we asked
	}
	if reply := st.ErrorReply(se); reply != nil {
		s.write(reply.Bytes())
	}
	return nil
}

// legacyFields is the answer to a get (XEP-0078 §3.1): the fields a set
// must carry, the username echoed if the client gave one (whether or not
// the account exists).
func legacyFields(f *xmlscan.Frame) []byte {
	var b stanza.Builder
	b.Start("query", "xmlns", nsAuth)
	b.Element("username", legacyField(f, "username"))
	b.Element("password", "")
	b.Element("resource", "")
	return b.Bytes()
}

func legacyField(f *xmlscan.Frame, name string) string {
	return string(f.Child("query", nsAuth).Child(name, nsAuth).AppendText(nil))
}

// legacyLogin checks the credentials of a set and binds the resource.
func (s *Stream) legacyLogin(f *xmlscan.Frame, st *stanza.Stanza) error {
	user, pass, res := legacyField(f, "username"), legacyField(f, "password"), legacyField(f, "resource")
	if user == "" || pass == "" || res == "" {
		s.write(st.ErrorReply(errLegacyFields).Bytes())
		return nil
	}
	if _, err := s.cfg.Domain.WithResource(res); err != nil {
		s.write(st.ErrorReply(errLegacyRes).Bytes())
		return nil
	}
	// PLAIN's message is authzid NUL authcid NUL password; XML text holds no NUL
	m, err := s.cfg.SASL.Start("PLAIN", (*hostKeys)(s), normalizeUser, sasl.ChannelBinding{TLS: s.flags&fSecure != 0})
	if err == nil {
		var done bool
		_, done, err = m.Step([]byte("\x00" + user + "\x00" + pass))
		if err == nil && !done {
			err = errLegacyCreds // unreachable: PLAIN takes one message
		}
	}
	var full jid.JID
	if err == nil {
		full, err = jid.New(m.User(), s.domain().Domain(), res)
	}
	if err != nil {
		ferr := s.loginFailed(user, "jabber:iq:auth") // counted before the client reads the error
		s.write(st.ErrorReply(errLegacyCreds).Bytes())
		return ferr
	}
	s.jid = full
	s.markBound()
	if err := s.cfg.Router.Bind(s); err != nil {
		s.jid = jid.JID{}
		se := stanza.Err(stanza.InternalServerError)
		switch {
		case errors.Is(err, route.ErrConflict):
			se = stanza.Err(stanza.Conflict)
		case errors.Is(err, route.ErrTooManySessions):
			se = stanza.Err(stanza.ResourceConstraint) // RFC 6120 §7.6.2.2
		}
		s.write(st.ErrorReply(se).Bytes())
		return nil
	}
	s.flags |= fAuthn
	s.cfg.Stats.LoginOK[mechIndex("legacy")].Add(1)
	s.state = stBound
	s.connBound()
	s.scan.SetLimits(s.cfg.scan) // authenticated without a restart: full-size stanzas from here
	s.tr.SetTimer(0)
	s.loggedIn()
	s.write(st.Result(nil).Bytes())
	return nil
}
