package stanza

import "ignis/xmlscan"

// Builder writes XML for stanzas and nonzas the server makes. With the
// escaping functions of xmlscan it is the only way Ignis produces XML: nothing
// is assembled with fmt or by concatenating untrusted strings.
//
//	var b stanza.Builder
//	b.Start("iq", "type", "result", "id", id)
//	b.Start("query", "xmlns", NS)
//	b.End()
//	b.End()
type Builder struct {
	buf   []byte
	names []string // open elements, innermost last
	open  bool     // the innermost start tag is not yet closed with '>'
}

// Start opens an element. attrs are name, value pairs; a pair whose value is
// empty is left out.
func (b *Builder) Start(name string, attrs ...string) *Builder {
	b.closeTag()
	b.buf = append(b.buf, '<')
	b.buf = append(b.buf, name...)
	b.names = append(b.names, name)
	b.open = true
	for i := 0; i+1 < len(attrs); i += 2 {
		b.Attr(attrs[i], attrs[i+1])
	}
	return b
}

// Attr adds an attribute to the element just started (empty values are left out).
func (b *Builder) Attr(name, value string) *Builder {
	if !b.open || value == "" {
		return b
	}
	b.buf = append(b.buf, ' ')
	b.buf = append(b.buf, name...)
	b.buf = append(b.buf, "='"...)
	b.buf = xmlscan.AppendEscapedAttr(b.buf, value)
	b.buf = append(b.buf, '\'')
	return b
}

// Text appends escaped character data.
func (b *Builder) Text(s string) *Builder {
	b.closeTag()
	b.buf = xmlscan.AppendEscapedText(b.buf, s)
	return b
}

// Raw appends p, which must be well-formed XML content (e.g. a stored element).
func (b *Builder) Raw(p []byte) *Builder {
	b.closeTag()
	b.buf = append(b.buf, p...)
	return b
}

// Element writes <name attrs…>text</name> (or <name attrs…/> when text is empty).
func (b *Builder) Element(name, text string, attrs ...string) *Builder {
	b.Start(name, attrs...)
	if text != "" {
		b.Text(text)
	}
	return b.End()
}

// End closes the innermost open element.
func (b *Builder) End() *Builder {
	n := len(b.names) - 1
	if n < 0 {
		return b
	}
	if b.open {
		b.buf = append(b.buf, "/>"...)
		b.open = false
	} else {
		b.buf = append(b.buf, "</"...)
		b.buf = append(b.buf, b.names[n]...)
		b.buf = append(b.buf, '>')
	}
	b.names = b.names[:n]
	return b
}

// Bytes closes any open elements and returns the XML.
func (b *Builder) Bytes() []byte {
	for len(b.names) > 0 {
		b.End()
	}
	return b.buf
}

// Reset empties the builder, keeping its buffer.
func (b *Builder) Reset() { b.buf, b.names, b.open = b.buf[:0], b.names[:0], false }

func (b *Builder) closeTag() {
	if b.open {
		b.buf = append(b.buf, '>')
		b.open = false
	}
}
