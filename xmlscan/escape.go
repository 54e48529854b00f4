package xmlscan

// escText and escAttr mark the bytes that must become references in
// character data and in attribute values respectively.
var escText, escAttr [256]bool

func init() {
	escText['&'], escText['<'], escText['>'] = true, true, true
	escAttr = escText
	escAttr['\''], escAttr['"'] = true, true
	// literal white space other than ' ' would be normalized to ' ' by the
	// reader of an attribute value (XML §3.3.3), so it is written as a reference
	escAttr['\t'], escAttr['\n'], escAttr['\r'] = true, true, true
	// a bare CR in character data would be read back as LF (XML §2.11)
	escText['\r'] = true
}

// AppendEscapedText appends s escaped for character data (&, <, >).
// It is the one place, with AppendEscapedAttr, where Ignis escapes output.
func AppendEscapedText[T ~string | ~[]byte](dst []byte, s T) []byte {
	return appendEscaped(dst, s, &escText)
}

// AppendEscapedAttr appends s escaped for an attribute value in either quote
// style (&, <, >, ', ").
func AppendEscapedAttr[T ~string | ~[]byte](dst []byte, s T) []byte {
	return appendEscaped(dst, s, &escAttr)
}

func appendEscaped[T ~string | ~[]byte](dst []byte, s T, esc *[256]bool) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !esc[c] {
			continue
		}
		dst = append(dst, s[last:i]...)
		last = i + 1
		switch c {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '\'':
			dst = append(dst, "&apos;"...)
		case '"':
			dst = append(dst, "&quot;"...)
		case '\t':
			dst = append(dst, "&#9;"...)
		case '\n':
			dst = append(dst, "&#10;"...)
		case '\r':
			dst = append(dst, "&#13;"...)
		}
	}
	return append(dst, s[last:]...)
}
