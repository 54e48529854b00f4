package s2s

import (
	"encoding/base64"
	"errors"

	"ignis/stanza"
	"ignis/xmlscan"
)

// appendHeader appends a server-to-server stream header (RFC 6120 §4.7),
// declaring the dialback prefix (XEP-0220). id is empty on the initiating
// side.
func appendHeader(out []byte, from, to, id string) []byte {
	out = append(out, "<?xml version='1.0'?><stream:stream xmlns='"+stanza.NSServer+
		"' xmlns:stream='"+stanza.NSStream+"' xmlns:db='"+stanza.NSDialback+"'"...)
	for _, a := range [...][2]string{{"from", from}, {"to", to}, {"id", id}} {
		if a[1] != "" {
			out = appendAttr(out, a[0], a[1])
		}
	}
	return append(out, " version='1.0'>"...)
}

// appendAttr appends the attribute name='value', the value escaped.
func appendAttr(out []byte, name, value string) []byte {
	out = append(out, ' ')
	out = append(out, name...)
	out = append(out, "='"...)
	out = xmlscan.AppendEscapedAttr(out, value)
	return append(out, '\'')
}

// parseStanza reads a stanza the peer sent: an element that is none is
// unsupported-stanza-type, one whose addresses do not parse improper-addressing.
func parseStanza(f *xmlscan.Frame) (*stanza.Stanza, error) {
	st, err := stanza.FromFrame(f)
	if err != nil {
		if errors.Is(err, stanza.ErrNotStanza) {
			return nil, stanza.StreamErr(stanza.UnsupportedStanzaType, "")
		}
		return nil, stanza.StreamErr(stanza.ImproperAddressing, err.Error())
	}
	return st, nil
}

// appendFail appends a stream error and the stream's end.
func appendFail(out []byte, se *stanza.StreamError) []byte {
	return append(se.AppendXML(out), "</stream:stream>"...)
}

// appendDB appends a dialback element (db:result or db:verify); an empty
// typ carries the key as its text.
func appendDB(out []byte, name, from, to, id, typ, key string) []byte {
	out = append(out, "<db:"...)
	out = append(out, name...)
	out = appendAttr(out, "from", from)
	out = appendAttr(out, "to", to)
	if id != "" {
		out = appendAttr(out, "id", id)
	}
	if typ != "" {
		out = append(out, " type='"...)
		out = append(out, typ...)
		return append(out, "'/>"...)
	}
	out = append(out, '>')
	out = xmlscan.AppendEscapedText(out, key)
	out = append(out, "</db:"...)
	out = append(out, name...)
	return append(out, '>')
}

// appendDBError appends a db:result of type error (XEP-0220 §2.4).
func appendDBError(out []byte, from, to string, e *stanza.Error) []byte {
	out = append(out, "<db:result"...)
	out = appendAttr(out, "from", from)
	out = appendAttr(out, "to", to)
	out = append(out, " type='error'>"...)
	out = e.AppendXML(out)
	return append(out, "</db:result>"...)
}

// attr returns an attribute's value as a string ("" if absent).
func attr(e xmlscan.Elem, name string) string {
	v, _ := e.Attr(name)
	return string(v)
}

// is reports whether e is {ns}local.
func is(e xmlscan.Elem, ns, local string) bool {
	return string(e.Local()) == local && string(e.NS()) == ns
}

// hasMechanism reports whether a features element offers a SASL mechanism.
func hasMechanism(features xmlscan.Elem, mech string) bool {
	ms := features.Child("mechanisms", stanza.NSSASL)
	if ms.IsZero() {
		return false
	}
	it := ms.Children()
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		if string(m.Local()) == "mechanism" && string(m.AppendText(nil)) == mech {
			return true
		}
	}
	return false
}

// b64 is SASL's base64 of a string, "=" for the empty one (RFC 6120 §6.4.2).
func b64(s string) string {
	if s == "" {
		return "="
	}
	return base64.StdEncoding.EncodeToString([]byte(s))
}

// appendBidiFeature appends XEP-0288's stream feature, unless bidi is off.
func (m *Manager) appendBidiFeature(out []byte) []byte {
	if m.cfg.NoBidi {
		return out
	}
	return append(out, "<bidi xmlns='"+stanza.NSBidiFeature+"'/>"...)
}
