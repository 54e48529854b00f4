// Package stanza is Ignis's representation of XMPP stanzas (RFC 6120 §8): an
// owned, immutable copy of one top-level element plus its parsed header
// (kind, type, id, to, from), the builder for server-made XML, and the tables
// of stanza and stream error conditions.
//
// A Stanza is shared by pointer for fan-out (one presence broadcast → many
// deliveries, zero copies), so nobody mutates it: rewriting an address makes
// a new Stanza.
package stanza

import (
	"errors"
	"sync/atomic"

	"ignis/jid"
	"ignis/xmlscan"
)

// Stanza is one message, presence or iq in its serialized form (default
// namespace jabber:client, inherited from the stream), with its header parsed.
type Stanza struct {
	raw  []byte
	Kind Kind
	Type Type
	ID   string
	To   jid.JID
	From jid.JID
	Lang string // xml:lang, if the stanza has one

	// Offsets into raw, so addresses can be rewritten without rescanning:
	// the end of the element name, the end of the last attribute, and the
	// spans (white space included) of the to and from attributes (0 = none).
	nameEnd, attrsEnd              int32
	toOff, toEnd, fromOff, fromEnd int32

	class uint32 // cached Class, with classDone once computed; atomic
}

// ErrNotStanza is returned for an element that is not message, presence or iq.
var ErrNotStanza = errors.New("stanza: not a stanza")

// FromFrame copies a framed element into a new Stanza. The Frame is borrowed
// and may be discarded when FromFrame returns. The caller has checked that the
// element is in the jabber:client namespace.
//
// Namespace prefixes the element uses but the stream root declared are
// declared again on the copy, so it stands alone. A malformed to or from gives
// a non-nil Stanza (kind, type and id filled, for an error reply) and a
// jid-malformed *Error; an iq without a valid type gives bad-request.
func FromFrame(f *xmlscan.Frame) (*Stanza, error) {
	own, nameEnd, declLen := f.Standalone()
	return header(own, f.Elem, nameEnd, declLen)
}

// FromFrameAs is FromFrame for a stanza a bound client sent: the copy out of
// the read buffer is made with from set to the client's address (RFC 6120
// §8.1.2.1: the server stamps it), in one pass, so routing does not copy it
// again. claimed is the from the client wrote (zero if none), for the caller
// to check. A stanza that uses namespace prefixes of the stream root, or that
// fails to parse, takes FromFrame's path (and then claimed is its From).
func FromFrameAs(f *xmlscan.Frame, from jid.JID) (st *Stanza, claimed jid.JID, err error) {
	nameEnd := 1 + len(f.Local())
	if p := f.Prefix(); len(p) > 0 {
		nameEnd += len(p) + 1
	}
	outer := false
	f.OuterPrefixes(func(_, _ []byte) { outer = true })
	if !outer {
		// header over the read buffer itself: nothing of it is kept
		if st, err = header(f.Raw(), f.Elem, nameEnd, 0); err == nil {
			claimed = st.From
			st.readdress(st, from, st.To)
			return st, claimed, nil
		}
	}
	st, err = FromFrame(f)
	if st != nil {
		claimed = st.From
	}
	return st, claimed, err
}

// Parse makes a Stanza of raw, which must hold one well-formed message,
// presence or iq in jabber:client. raw is owned by the Stanza afterwards.
func Parse(raw []byte) (*Stanza, error) {
	e, err := xmlscan.ParseElem(raw, NSClient)
	if err != nil {
		return nil, err
	}
	nameEnd := 1 + len(e.Local())
	if p := e.Prefix(); len(p) > 0 {
		nameEnd += len(p) + 1
	}
	return header(raw, e, nameEnd, 0)
}

// MustParse is Parse for XML the server itself built; it panics on error.
func MustParse(raw []byte) *Stanza {
	s, err := Parse(raw)
	if err != nil {
		panic(err)
	}
	return s
}

// header fills a Stanza over own from e, whose offsets are those of own
// before shift bytes were inserted at nameEnd.
func header(own []byte, e xmlscan.Elem, nameEnd, shift int) (*Stanza, error) {
	s := &Stanza{raw: own, Kind: KindOf(e.Local())}
	if s.Kind == KindNone {
		return nil, ErrNotStanza
	}
	s.nameEnd = int32(nameEnd + shift)
	s.attrsEnd = s.nameEnd
	// one walk over the attributes (every routed stanza comes through here):
	// an Attr call per name would walk them again each time
	var id, lang, typ, to, from []byte
	var hasID, hasLang, hasTo, hasFrom bool
	e.Attrs(func(a xmlscan.Attr) bool {
		off, end := int32(a.Off+shift), int32(a.End+shift)
		s.attrsEnd = end
		switch string(a.Name) {
		case "to":
			if !hasTo {
				s.toOff, s.toEnd = off, end
				to, hasTo = a.Value(), true
			}
		case "from":
			if !hasFrom {
				s.fromOff, s.fromEnd = off, end
				from, hasFrom = a.Value(), true
			}
		case "id":
			if !hasID {
				id, hasID = a.Value(), true
			}
		case "xml:lang":
			if !hasLang {
				lang, hasLang = a.Value(), true
			}
		case "type":
			if typ == nil {
				typ = a.Value()
			}
		}
		return true
	})
	if hasID {
		s.ID = string(id)
	}
	if hasLang {
		s.Lang = string(lang)
	}
	s.Type = ParseType(s.Kind, typ)
	var err error
	if hasTo {
		if s.To, err = jid.Parse(string(to)); err != nil {
			return s, ErrText(JIDMalformed, "the 'to' address is not a valid JID")
		}
	}
	if hasFrom {
		if s.From, err = jid.Parse(string(from)); err != nil {
			return s, ErrText(JIDMalformed, "the 'from' address is not a valid JID")
		}
	}
	if s.Type == TypeInvalid {
		return s, ErrText(BadRequest, "missing or unknown 'type' attribute")
	}
	return s, nil
}

// Bytes returns the serialized stanza. It must not be modified.
func (s *Stanza) Bytes() []byte { return s.raw }

// Elem returns a cursor over the stanza (for reading its children).
func (s *Stanza) Elem() xmlscan.Elem {
	e, err := xmlscan.ParseElem(s.raw, NSClient)
	if err != nil {
		return xmlscan.Elem{}
	}
	return e
}

// Payload returns the first child element (an iq's query), or the zero Elem.
func (s *Stanza) Payload() xmlscan.Elem {
	it := s.Elem().Children()
	c, _ := it.Next()
	return c
}

// WithAddrs returns a Stanza identical to s but for its from and to
// attributes, which become from and to (left out when zero). s is returned
// itself when nothing changes.
func (s *Stanza) WithAddrs(from, to jid.JID) *Stanza {
	if from.Equal(s.From) && to.Equal(s.To) {
		return s
	}
	n := &Stanza{}
	s.readdress(n, from, to)
	return n
}

// readdress writes into n (which may be s) the copy of s with from and to.
// The children are the same, so the classification carries over; it is read
// atomically since a shared s may be classified concurrently.
func (s *Stanza) readdress(n *Stanza, from, to jid.JID) {
	if n == s {
		old := *s // not shared yet: whoever builds it in place owns it
		s = &old
	}
	*n = Stanza{Kind: s.Kind, Type: s.Type, ID: s.ID, To: to, From: from, Lang: s.Lang,
		class: atomic.LoadUint32(&s.class)}
	out := make([]byte, 0, len(s.raw)+len(from.String())+len(to.String())+16)
	out = append(out, s.raw[:s.nameEnd]...)
	n.nameEnd = s.nameEnd
	if !from.IsZero() {
		n.fromOff = int32(len(out))
		out = append(out, " from='"...)
		out = xmlscan.AppendEscapedAttr(out, from.String())
		out = append(out, '\'')
		n.fromEnd = int32(len(out))
	}
	if !to.IsZero() {
		n.toOff = int32(len(out))
		out = append(out, " to='"...)
		out = xmlscan.AppendEscapedAttr(out, to.String())
		out = append(out, '\'')
		n.toEnd = int32(len(out))
	}
	// the other attributes, in order, without the old to and from
	at := s.nameEnd
	for at < s.attrsEnd {
		switch at {
		case s.toOff:
			at = s.toEnd
			continue
		case s.fromOff:
			at = s.fromEnd
			continue
		}
		next := s.attrsEnd
		if s.toOff > at && s.toOff < next {
			next = s.toOff
		}
		if s.fromOff > at && s.fromOff < next {
			next = s.fromOff
		}
		out = append(out, s.raw[at:next]...)
		at = next
	}
	n.attrsEnd = int32(len(out))
	out = append(out, s.raw[s.attrsEnd:]...)
	n.raw = out
}

// Readdressed returns a Stanza routed to to that shares s's bytes, where s
// carries no 'to' (RFC 6120 §8.1.1.1: a stanza without 'to' that a server
// delivers is for the receiving client). Only the routing address differs;
// s itself is unchanged. It costs a header: a fan-out passes the receiver
// apart instead (mod.Env.SendTo), with no copy per receiver.
func (s *Stanza) Readdressed(to jid.JID) *Stanza {
	// field by field: a plain copy would race with a concurrent Class
	return &Stanza{raw: s.raw, Kind: s.Kind, Type: s.Type, ID: s.ID, To: to, From: s.From, Lang: s.Lang,
		nameEnd: s.nameEnd, attrsEnd: s.attrsEnd, toOff: s.toOff, toEnd: s.toEnd, fromOff: s.fromOff, fromEnd: s.fromEnd,
		class: atomic.LoadUint32(&s.class)}
}

// AddressedBytes returns s's bytes with s.To and s.From written in them:
// a Readdressed stanza's bytes carry no 'to' (or another one), which a
// stream to another server must have (RFC 6120 §8.1.1.1).
func (s *Stanza) AddressedBytes() []byte {
	if s.spanIs(s.toOff, s.toEnd, " to='", s.To) && s.spanIs(s.fromOff, s.fromEnd, " from='", s.From) {
		return s.raw
	}
	n := &Stanza{}
	s.readdress(n, s.From, s.To)
	return n.raw
}

// spanIs reports whether raw[off:end] is the attribute name='j' (off 0:
// absent, which a zero j wants).
func (s *Stanza) spanIs(off, end int32, name string, j jid.JID) bool {
	if j.IsZero() || off == 0 {
		return j.IsZero() && off == 0
	}
	var buf [128]byte
	want := append(append(buf[:0], name...), xmlscan.AppendEscapedAttr(nil, j.String())...)
	return string(s.raw[off:end]) == string(append(want, '\''))
}

// ErrorReply returns the error stanza answering s (RFC 6120 §8.3): same kind
// and id, type error, addresses swapped. Callers must not answer an error
// (RFC 6120 §8.3.1); ErrorReply returns nil for a stanza of type error.
func (s *Stanza) ErrorReply(e *Error) *Stanza {
	if s.Type == TypeError {
		return nil
	}
	var b Builder
	b.Start(s.Kind.String(), "type", "error", "id", s.ID)
	if !s.To.IsZero() {
		b.Attr("from", s.To.String())
	}
	if !s.From.IsZero() {
		b.Attr("to", s.From.String())
	}
	b.Raw(e.AppendXML(nil))
	return MustParse(b.Bytes())
}

// Result returns the iq result answering s, with payload (may be nil) as its
// child: addresses swapped, same id.
func (s *Stanza) Result(payload []byte) *Stanza {
	var b Builder
	b.Start("iq", "type", "result", "id", s.ID)
	if !s.To.IsZero() {
		b.Attr("from", s.To.String())
	}
	if !s.From.IsZero() {
		b.Attr("to", s.From.String())
	}
	if payload != nil {
		b.Raw(payload)
	}
	return MustParse(b.Bytes())
}
