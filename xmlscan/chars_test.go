package xmlscan

import "testing"

// refSkip is the byte-at-a-time definition of skipText and skipValue: pass
// bytes tab does not mark and well-formed non-ASCII characters.
func refSkip(b []byte, i int, tab *[256]uint8) int {
	for i < len(b) {
		if tab[b[i]] == 0 {
			i++
			continue
		}
		if b[i] < 0x80 {
			return i
		}
		n := char(b, i)
		if n <= 0 {
			return i
		}
		i += n
	}
	return i
}

// refName is the byte-at-a-time definition of scanName for ASCII input.
func refName(b []byte, i int) (int, bool, bool) {
	colon := false
	for ; i < len(b); i++ {
		if nameTab[b[i]]&nameChar == 0 {
			return i, colon, b[i] >= 0x80 && !fullRuneAt(b, i)
		}
		colon = colon || b[i] == ':'
	}
	return i, colon, true
}

func fullRuneAt(b []byte, i int) bool { return char(b, i) != 0 }

// TestSWARScans checks the word-at-a-time loops against their byte-at-a-time
// definitions with every pair of byte values at every offset of a word and
// across the 16-byte step, so that a mask that misses a byte (or a borrow
// that hides one) shows.
func TestSWARScans(t *testing.T) {
	type scan struct {
		name string
		fn   func([]byte, int) int
		ref  func([]byte, int) int
	}
	scans := []scan{
		{"text", skipText, func(b []byte, i int) int { return refSkip(b, i, &textTab) }},
		{"value", skipValue, func(b []byte, i int) int { return refSkip(b, i, &attrTab) }},
		{"name", func(b []byte, i int) int { j, _, _ := scanName(b, i); return j }, func(b []byte, i int) int { j, _, _ := refName(b, i); return j }},
	}
	for _, sc := range scans {
		for _, fill := range []byte{'a', 'Z', '0', ' '} {
			b := make([]byte, 40)
			for p := range 18 {
				for c1 := range 256 {
					for _, c2 := range []int{c1, 0, '<', '&', '\'', '"', ']', 0x80, 0xC3, '\n', ' ', ':', 'a'} {
						for k := range b {
							b[k] = fill
						}
						b[p], b[p+1] = byte(c1), byte(c2)
						for _, from := range []int{0, 1} {
							if got, want := sc.fn(b, from), sc.ref(b, from); got != want && !(sc.name == "name" && c1 >= 0x80) {
								t.Fatalf("%s: fill %q, %#x %#x at %d, from %d: got %d, want %d", sc.name, fill, c1, c2, p, from, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestSWARNonASCII checks that the text and value loops pass well-formed
// multi-byte characters and stop at cut or malformed ones.
func TestSWARNonASCII(t *testing.T) {
	tests := []struct {
		in   string
		want int // skipText from 0
	}{
		{"привет мир<", 19},
		{"こんにちは&", 15},
		{"😀😀 ok]", 11},
		{"abc\xc3", 3},              // cut: the caller waits for more
		{"abcdefghij\xc3(xyz<", 10}, // malformed
		{"abc\xef\xbf\xbe!<", 3},    // U+FFFE is not a Char
		{"\xed\xa0\x80<", 0},        // a surrogate
		{"é", 2},
	}
	for _, tt := range tests {
		if got := skipText([]byte(tt.in), 0); got != tt.want {
			t.Errorf("skipText(%q) = %d, want %d", tt.in, got, tt.want)
		}
		if got, want := skipValue([]byte(tt.in), 0), refSkip([]byte(tt.in), 0, &attrTab); got != want {
			t.Errorf("skipValue(%q) = %d, want %d", tt.in, got, want)
		}
	}
}

// TestShortChar checks the inlined two- and three-byte check against char
// for every lead byte and every pair of bytes after it, whole and cut: it
// may leave a character to char (0), never pass one char would not.
func TestShortChar(t *testing.T) {
	b := make([]byte, 3)
	for c0 := 0x80; c0 < 0x100; c0++ {
		for c1 := range 256 {
			for c2 := range 256 {
				b[0], b[1], b[2] = byte(c0), byte(c1), byte(c2)
				for n := 1; n <= 3; n++ {
					got := shortChar(b[:n], 0)
					if got != 0 && got != char(b[:n], 0) {
						t.Fatalf("shortChar(% x) = %d, char says %d", b[:n], got, char(b[:n], 0))
					}
				}
			}
		}
	}
	for _, s := range []string{"é", "ж", "߿", "ᄀ", "—", "こ", "\uCFFF"} {
		if got := shortChar([]byte(s), 0); got != len(s) {
			t.Errorf("shortChar(%q) = %d, want %d", s, got, len(s))
		}
	}
}
