package xmlscan

import (
	"math/bits"
	"unicode/utf8"
)

// Byte classes. A zero entry is a byte the fast loops of the scanner may skip
// without a second look; anything else needs the slow path of its state.
var (
	textTab  [256]uint8 // character data: '<', '&', ']', controls, non-ASCII
	attrTab  [256]uint8 // attribute values: '<', '&', quotes, controls, non-ASCII
	cdataTab [256]uint8 // CDATA sections: ']', controls, non-ASCII
	nameTab  [256]uint8 // nameStart|nameChar(|nameColon) for ASCII; nameMulti for lead bytes; white space
)

const (
	nameStart = 1 << iota
	nameChar
	nameMulti
	nameColon // ':', so that scanName learns of a colon by OR-ing the classes it passed
	white     // ' ', '\t', '\n', '\r': white space is looked up here too (one load, no compares)
)

func init() {
	for c := 0; c < 256; c++ {
		special := uint8(0)
		if c < 0x20 || c >= 0x80 {
			special = 1
		}
		textTab[c], attrTab[c], cdataTab[c] = special, special, special
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':':
			nameTab[c] = nameStart | nameChar
		case c >= '0' && c <= '9', c == '-', c == '.':
			nameTab[c] = nameChar
		case c >= 0x80:
			nameTab[c] = nameMulti
		}
	}
	for _, c := range []byte{'\t', '\n', '\r'} {
		textTab[c], attrTab[c], cdataTab[c] = 0, 0, 0
	}
	for _, c := range []byte{' ', '\t', '\n', '\r'} {
		nameTab[c] = white
	}
	nameTab[':'] |= nameColon
	textTab['<'], textTab['&'], textTab[']'] = 1, 1, 1
	attrTab['<'], attrTab['&'], attrTab['\''], attrTab['"'] = 1, 1, 1, 1
	cdataTab[']'] = 1
}

func isSpace(c byte) bool { return nameTab[c]&white != 0 }

// isXMLChar reports whether r is a Char of XML 1.0 §2.2.
func isXMLChar(r rune) bool {
	switch {
	case r < 0x20:
		return r == '\t' || r == '\n' || r == '\r'
	case r <= 0xD7FF:
		return true
	case r < 0xE000:
		return false
	case r <= 0xFFFD:
		return true
	default:
		return r >= 0x10000 && r <= 0x10FFFF
	}
}

// isNameRune reports whether the non-ASCII r is a NameStartChar (start) or a
// NameChar (XML 1.0 §2.3).
func isNameRune(r rune, start bool) bool {
	switch {
	case r >= 0xC0 && r <= 0xD6, r >= 0xD8 && r <= 0xF6, r >= 0xF8 && r <= 0x2FF,
		r >= 0x370 && r <= 0x37D, r >= 0x37F && r <= 0x1FFF, r == 0x200C, r == 0x200D,
		r >= 0x2070 && r <= 0x218F, r >= 0x2C00 && r <= 0x2FEF, r >= 0x3001 && r <= 0xD7FF,
		r >= 0xF900 && r <= 0xFDCF, r >= 0xFDF0 && r <= 0xFFFD, r >= 0x10000 && r <= 0xEFFFF:
		return true
	}
	if start {
		return false
	}
	return r == 0xB7 || r >= 0x300 && r <= 0x36F || r == 0x203F || r == 0x2040
}

// char checks the UTF-8 sequence at b[i] (b[i] >= 0x80). It returns the size
// of a valid XML Char, 0 if b ends inside the sequence, or -1.
func char(b []byte, i int) int {
	c := b[i]
	switch {
	case c >= 0xC2 && c < 0xE0: // U+0080–U+07FF, all Chars
		if i+1 >= len(b) {
			return 0
		}
		if b[i+1]&0xC0 != 0x80 {
			return -1
		}
		return 2
	case c >= 0xE1 && c < 0xED, c == 0xEE: // no overlong forms, surrogates or U+FFFx here
		if i+2 >= len(b) {
			if i+1 < len(b) && b[i+1]&0xC0 != 0x80 {
				return -1
			}
			return 0
		}
		if b[i+1]&0xC0 != 0x80 || b[i+2]&0xC0 != 0x80 {
			return -1
		}
		return 3
	}
	r, n := utf8.DecodeRune(b[i:])
	if r == utf8.RuneError && n <= 1 {
		if !utf8.FullRune(b[i:]) {
			return 0
		}
		return -1
	}
	if r == 0xFFFE || r == 0xFFFF {
		return -1
	}
	return n
}

// shortChar returns the size of the two- or three-byte UTF-8 character at
// b[i] if it is one of the common ones that are always Chars (U+0080–U+07FF:
// accented Latin, Greek, Cyrillic…; U+1000–U+CFFF: CJK, punctuation…), or
// 0 for char to decide. Inlined, it spares the hot loops a call per letter.
func shortChar(b []byte, i int) int {
	c := b[i]
	if c >= 0xC2 && c < 0xE0 && i+1 < len(b) && b[i+1]&0xC0 == 0x80 {
		return 2
	}
	if c >= 0xE1 && c < 0xED && i+2 < len(b) && b[i+1]&0xC0 == 0x80 && b[i+2]&0xC0 == 0x80 {
		return 3
	}
	return 0
}

// nameStartAt checks the NameStartChar at b[i]: its size, 0 if b ends inside
// it, or -1.
func nameStartAt(b []byte, i int) int {
	c := b[i]
	if c < 0x80 {
		if nameTab[c]&nameStart != 0 {
			return 1
		}
		return -1
	}
	r, n := utf8.DecodeRune(b[i:])
	if r == utf8.RuneError && n <= 1 {
		if !utf8.FullRune(b[i:]) {
			return 0
		}
		return -1
	}
	if !isNameRune(r, true) {
		return -1
	}
	return n
}

// scanName skips NameChars from b[i]. colon reports a ':' among them; more
// reports that b ended before the name did (possibly inside a multi-byte
// character, which j then points at).
func scanName(b []byte, i int) (j int, colon, more bool) {
	var seen uint8 // the classes of the bytes passed, for the colon
	for {
		// skip ASCII letters eight at a time: with the case bit set they
		// are 0x61–0x7A, and the mask flags any byte outside that range
		for i+8 <= len(b) {
			y := load64(b, i) | lsb*0x20
			m := ((y - lsb*0x61) | (y + lsb*(0x80-0x7B))) & msb
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i == len(b) {
			return i, seen&nameColon != 0, true
		}
		t := nameTab[b[i]]
		if t&nameChar != 0 {
			seen |= t
			i++
			continue
		}
		if t&nameMulti == 0 {
			return i, seen&nameColon != 0, false
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i, seen&nameColon != 0, !utf8.FullRune(b[i:])
		}
		if !isNameRune(r, false) {
			return i, seen&nameColon != 0, false
		}
		i += n
	}
}

// validName reports whether b is a Name (used for entity names).
func validName(b []byte) bool {
	if len(b) == 0 || nameStartAt(b, 0) <= 0 {
		return false
	}
	j, _, more := scanName(b, 0)
	return more && j == len(b)
}

// SWAR scans, eight bytes per step: the text and value loops of the scanner
// spend most of their time here (base64 photos, message bodies, JIDs).
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// The masks below flag, in each byte's top bit, the bytes a loop must look
// at. For a byte x < 0x80 and c < 0x80, (x^c)-1 wraps to a top bit only when
// x == c, (x-k) only when x < k (k <= 0x80), and x itself flags bytes >= 0x80.
// Borrows run upwards only, so the lowest flagged byte is exact; bytes above it
// may be flagged falsely, which costs a look-up, never a miss.

// textMask flags '<', '&', ']', controls (tab and line ends included) and
// non-ASCII bytes.
func textMask(x uint64) uint64 {
	return ((x ^ (lsb * '<') - lsb) | (x ^ (lsb * '&') - lsb) | (x ^ (lsb * ']') - lsb) | (x - lsb*0x20) | x) & msb
}

// valueMask flags bytes below 0x28 (controls, '"', '&', '\” and, falsely,
// ' ' and "!#$%"), '<' and non-ASCII bytes.
func valueMask(x uint64) uint64 {
	return ((x - lsb*0x28) | (x ^ (lsb * '<') - lsb) | x) & msb
}

// skipText returns the first byte at or after i that textTab marks, passing
// over well-formed non-ASCII characters: what it returns at is a delimiter,
// a forbidden character, or a character that b cuts or that is not UTF-8.
func skipText(b []byte, i int) int {
	for {
		for i+16 <= len(b) {
			m := textMask(load64(b, i))
			if m == 0 {
				m = textMask(load64(b, i+8))
				if m == 0 {
					i += 16
					continue
				}
				i += 8
			}
			i += bits.TrailingZeros64(m) >> 3
			goto found
		}
		for i+8 <= len(b) {
			if m := textMask(load64(b, i)); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto found
			}
			i += 8
		}
		for i < len(b) && textTab[b[i]] == 0 {
			i++
		}
		if i == len(b) {
			return i
		}
	found:
		switch c := b[i]; {
		case textTab[c] == 0: // tab or line end
			i++
		case c < 0x80:
			return i
		default:
			n := shortChar(b, i)
			if n == 0 {
				n = char(b, i)
			}
			if n <= 0 {
				return i
			}
			i += n
		}
	}
}

// skipValue is skipText for attribute values (either quote stops it). The
// repeat is for speed: one generic loop calls its mask through the type's
// dictionary per word (+4.6% instructions per stream, measured).
func skipValue(b []byte, i int) int {
	for {
		for i+16 <= len(b) {
			m := valueMask(load64(b, i))
			if m == 0 {
				m = valueMask(load64(b, i+8))
				if m == 0 {
					i += 16
					continue
				}
				i += 8
			}
			i += bits.TrailingZeros64(m) >> 3
			goto found
		}
		for i+8 <= len(b) {
			if m := valueMask(load64(b, i)); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto found
			}
			i += 8
		}
		for i < len(b) && attrTab[b[i]] == 0 {
			i++
		}
		if i == len(b) {
			return i
		}
	found:
		switch c := b[i]; {
		case attrTab[c] == 0: // space, tab, line end, "!#$%"
			i++
		case c < 0x80:
			return i
		default:
			n := shortChar(b, i)
			if n == 0 {
				n = char(b, i)
			}
			if n <= 0 {
				return i
			}
			i += n
		}
	}
}
