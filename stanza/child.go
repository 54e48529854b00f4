package stanza

import (
	"bytes"

	"ignis/xmlscan"
)

// WithChild returns s's bytes with child (one element) added as its last
// child element; s is unchanged.
func (s *Stanza) WithChild(child []byte) ([]byte, error) {
	raw := s.raw
	e, err := xmlscan.ParseElem(raw, NSClient)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(raw)+len(child)+16)
	if e.SelfClosing() {
		// <message …/> → <message …>child</message>
		out = append(out, raw[:e.StartTagEnd()-2]...)
		out = append(out, '>')
		out = append(out, child...)
		out = append(out, "</"...)
		if p := e.Prefix(); len(p) > 0 {
			out = append(append(out, p...), ':')
		}
		out = append(out, e.Local()...)
		return append(out, '>'), nil
	}
	end := bytes.LastIndexByte(raw, '<')
	out = append(out, raw[:end]...)
	out = append(out, child...)
	return append(out, raw[end:]...), nil
}
