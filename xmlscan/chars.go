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
	nameTab  [256]uint8 // nameStart|nameChar for ASCII; nameMulti for lead bytes
)

const (
	nameStart = 1 << iota
	nameChar
	nameMulti
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
	textTab['<'], textTab['&'], textTab[']'] = 1, 1, 1
	attrTab['<'], attrTab['&'], attrTab['\''], attrTab['"'] = 1, 1, 1, 1
	cdataTab[']'] = 1
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

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
	for i < len(b) {
		c := b[i]
		if t := nameTab[c]; t&nameChar != 0 {
			colon = colon || c == ':'
			i++
			continue
		}
		if c < 0x80 {
			return i, colon, false
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i, colon, !utf8.FullRune(b[i:])
		}
		if !isNameRune(r, false) {
			return i, colon, false
		}
		i += n
	}
	return i, colon, true
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
// spend most of their time here (base64 photos, message bodies).
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// In the tests below, (t-lsb)&^t has the top bit of some byte set iff a byte
// of t is zero, and (x-lsb*0x20)|x iff a byte of x is below 0x20 or above
// 0x7F; both are exact for "any byte", which is all the loops ask.

func load64(b []byte, i int) uint64 {
	b = b[i : i+8]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// skipText returns the first byte at or after i that textTab marks.
func skipText(b []byte, i int) int {
	for i+8 <= len(b) {
		x := load64(b, i)
		t1, t2, t3 := x^(lsb*'<'), x^(lsb*'&'), x^(lsb*']')
		m := ((t1-lsb)&^t1 | (t2-lsb)&^t2 | (t3-lsb)&^t3 | (x - lsb*0x20) | x) & msb
		if m == 0 {
			i += 8
			continue
		}
		// the lowest flagged byte is exact (borrows only run upwards); it
		// may be a tab or line end, which text allows
		i += bits.TrailingZeros64(m) >> 3
		if textTab[b[i]] != 0 {
			return i
		}
		i++
	}
	for i < len(b) && textTab[b[i]] == 0 {
		i++
	}
	return i
}

// skipValue returns the first byte at or after i that attrTab marks.
func skipValue(b []byte, i int) int {
	for i+8 <= len(b) {
		x := load64(b, i)
		t1, t2, t3, t4 := x^(lsb*'\''), x^(lsb*'"'), x^(lsb*'&'), x^(lsb*'<')
		m := ((t1-lsb)&^t1 | (t2-lsb)&^t2 | (t3-lsb)&^t3 | (t4-lsb)&^t4 | (x - lsb*0x20) | x) & msb
		if m == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(m) >> 3
		if attrTab[b[i]] != 0 {
			return i
		}
		i++
	}
	for i < len(b) && attrTab[b[i]] == 0 {
		i++
	}
	return i
}
