package session

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"ignis/jid"
	"ignis/route"
	"ignis/scram"
	"ignis/stanza"
	"ignis/xmlscan"
)

// credStamp identifies the keys SASL verified a login against: a password
// change sets fresh salts, so a different stamp means different keys.
type credStamp struct {
	h   scram.Hash
	sum uint64 // FNV-1a of salt and StoredKey; 0: no stored account (ANONYMOUS)
}

func stampOf(h scram.Hash, k scram.Keys) credStamp {
	sum := uint64(14695981039346656037)
	for _, p := range [2][]byte{k.Salt, k.StoredKey} {
		for _, c := range p {
			sum = (sum ^ uint64(c)) * 1099511628211
		}
	}
	return credStamp{h, sum | 1}
}

// keysSeen is the Credentials a stream's SASL exchange reads through: it
// stamps the keys it hands out, for credsChanged.
type keysSeen Stream

func (k *keysSeen) Keys(user string, h scram.Hash) (scram.Keys, error) {
	keys, err := (*hostKeys)(k).Keys(user, h)
	if err == nil {
		k.creds = stampOf(h, keys)
	}
	return keys, err
}

// hostKeys is the Credentials of the stream's domain: a SASL username is a
// localpart there, which the store knows by Config.UserKey.
type hostKeys Stream

func (k *hostKeys) Keys(user string, h scram.Hash) (scram.Keys, error) {
	key, err := k.cfg.userKey(user, (*Stream)(k).domain())
	if err != nil {
		return scram.Keys{}, err
	}
	return k.cfg.Credentials.Keys(key, h)
}

// credsChanged looks again, when the client binds, at the keys it
// authenticated with: an authenticated stream is in no session table until
// it binds, so an account deleted or a password changed meanwhile (mod/account)
// cannot end it then. It gets what bound sessions get.
func (s *Stream) credsChanged() *stanza.StreamError {
	if s.creds.sum == 0 {
		return nil
	}
	keys, err := (*hostKeys)(s).Keys(s.jid.Local(), s.creds.h)
	switch {
	case err != nil: // Credentials: any error counts as no such account
		s.cfg.Logger.Info("bind refused: account deleted", "ip", s.peer.String(), "jid", s.jid.String())
		return stanza.StreamErr(stanza.StreamNotAuthorized, "Account deleted")
	case stampOf(s.creds.h, keys) != s.creds:
		s.cfg.Logger.Info("bind refused: password changed", "ip", s.peer.String(), "jid", s.jid.String())
		return stanza.StreamErr(stanza.Reset, "Password changed")
	}
	return nil
}

// bind handles the iq of an authenticated stream before binding: resource
// binding (RFC 6120 §7) is the only thing allowed.
func (s *Stream) bind(f *xmlscan.Frame) error {
	st, err := stanza.FromFrame(f)
	if st == nil {
		return stanza.StreamErr(stanza.BadFormat, "")
	}
	b := f.Child("bind", stanza.NSBind)
	if b.IsZero() || st.Type != stanza.Set {
		// RFC 6120 §7.1: stanzas before binding end the stream
		return stanza.StreamErr(stanza.StreamNotAuthorized, "bind a resource first")
	}
	if se := s.credsChanged(); se != nil {
		return se
	}
	st = st.WithAddrs(s.jid, st.To) // replies go back to this client
	if err != nil {
		var se *stanza.Error
		if errors.As(err, &se) {
			s.write(st.ErrorReply(se).Bytes())
			return nil
		}
	}
	r, ok := oneResource(b)
	if !ok {
		// RFC 6120 §7.7.2.1 / §8.3.3.1: which one would the client mean?
		s.write(st.ErrorReply(stanza.ErrText(stanza.BadRequest, "at most one <resource/>")).Bytes())
		return nil
	}
	res := string(r.AppendText(nil))
	if res == "" {
		res = randomResource()
	}
	full, jerr := s.jid.Bare().WithResource(res)
	if jerr != nil {
		// RFC 6120 §7.7.2.1: a resource that cannot be processed
		s.write(st.ErrorReply(stanza.Err(stanza.BadRequest)).Bytes())
		return nil
	}
	s.jid = full
	s.markBound()
	if err := s.cfg.Router.Bind(s); err != nil {
		s.jid = full.Bare()
		if errors.Is(err, route.ErrConflict) {
			s.write(st.ErrorReply(stanza.Err(stanza.Conflict)).Bytes())
			return nil
		}
		if errors.Is(err, route.ErrTooManySessions) {
			// RFC 6120 §7.6.2.2: the account has reached its limit of resources
			s.cfg.Logger.Info("bind refused: too many sessions", "ip", s.peer.String(), "jid", full.String())
			s.write(st.ErrorReply(stanza.Err(stanza.ResourceConstraint)).Bytes())
			return nil
		}
		s.write(st.ErrorReply(stanza.Err(stanza.InternalServerError)).Bytes())
		return nil
	}
	s.cfg.strangers.remove(s) // the session table lists it now
	s.state = stBound
	s.connBound()
	s.tr.SetTimer(0)
	s.loggedIn()
	var rb stanza.Builder
	rb.Start("bind", "xmlns", stanza.NSBind).Element("jid", full.String())
	s.write(st.WithAddrs(full, st.To).Result(rb.Bytes()).Bytes())
	return nil
}

// oneResource returns the <resource/> child of a <bind/> (zero if none);
// ok is false if there are several.
func oneResource(b xmlscan.Elem) (r xmlscan.Elem, ok bool) {
	it := b.Children()
	for c, more := it.Next(); more; c, more = it.Next() {
		if string(c.Local()) != "resource" || string(c.NS()) != stanza.NSBind {
			continue
		}
		if !r.IsZero() {
			return xmlscan.Elem{}, false
		}
		r = c
	}
	return r, true
}

func randomResource() string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return "ignis-" + hex.EncodeToString(r[:])
}

// stanza handles one stanza of a bound stream.
func (s *Stream) stanza(f *xmlscan.Frame) error {
	st, claimed, err := stanza.FromFrameAs(f, s.jid) // one copy, from stamped
	if err != nil {
		var se *stanza.Error
		if st == nil || !errors.As(err, &se) {
			return stanza.StreamErr(stanza.BadFormat, "")
		}
		if reply := st.WithAddrs(s.jid, st.To).ErrorReply(se); reply != nil {
			s.writeStanza(reply)
		}
		return nil
	}
	if !claimed.IsZero() && !claimed.Equal(s.jid) && !claimed.Equal(s.jid.Bare()) {
		// RFC 6120 §8.1.2.1: a from that is not the client's own address
		return stanza.StreamErr(stanza.InvalidFrom, "")
	}
	s.cfg.Stats.StanzasIn[kindIndex(st.Kind)].Add(1)
	switch st.Kind {
	case stanza.IQ:
		if st.To.IsZero() || st.To.Equal(s.domain()) {
			if p := f.Child("session", stanza.NSSession); !p.IsZero() && st.Type == stanza.Set {
				// RFC 3921 legacy session establishment: a no-op kept for old clients
				s.writeStanza(st.WithAddrs(s.jid, st.To).Result(nil))
				return nil
			}
			if p := f.Child("bind", stanza.NSBind); !p.IsZero() {
				s.writeStanza(st.WithAddrs(s.jid, st.To).ErrorReply(stanza.Err(stanza.NotAllowed)))
				return nil
			}
		}
	case stanza.Presence:
		if st.To.IsZero() {
			return s.presence(f, st)
		}
	}
	if s.routed++; s.routed%routeSample != 0 {
		s.cfg.Router.Route(s, st)
		return nil
	}
	t0 := time.Now()
	s.cfg.Router.Route(s, st)
	s.cfg.Stats.RouteLatency.Observe(time.Since(t0))
	return nil
}

// presence handles an undirected presence (RFC 6121 §4.2, §4.4, §4.5): the
// session's availability is recorded before the presence is routed, and the
// features hear of the change after.
func (s *Stream) presence(f *xmlscan.Frame, st *stanza.Stanza) error {
	was := s.Available()
	switch st.Type {
	case stanza.TypeNone:
		s.setPresence(true, priority(f))
		s.last.Store(st.WithAddrs(s.jid, jid.JID{}))
		s.cfg.Router.Route(s, st)
		if !was {
			s.cfg.Router.Available(s)
		}
	case stanza.Unavailable:
		s.setPresence(false, 0)
		s.last.Store(nil)
		s.cfg.Router.Route(s, st)
		if was {
			s.cfg.Router.Unavailable(s)
		}
	default:
		// subscription requests and probes without 'to' make no sense
		if reply := st.WithAddrs(s.jid, st.To).ErrorReply(stanza.Err(stanza.BadRequest)); reply != nil {
			s.writeStanza(reply)
		}
	}
	return nil
}

// priority reads <priority/> (RFC 6121 §4.7.2.3): -128..127, default 0.
func priority(f *xmlscan.Frame) int8 {
	p := f.Child("priority", "")
	if p.IsZero() {
		return 0
	}
	n, err := strconv.Atoi(string(p.AppendText(nil)))
	if err != nil || n < -128 || n > 127 {
		return 0
	}
	return int8(n)
}
