package jid

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/precis"
)

// maxRaw bounds the length of a part before preparation, so that hostile
// input cannot make us run PRECIS or IDNA over megabytes of text. Preparation
// may shrink a part (width folding, NFC, ignored code points), hence the
// margin over maxPart.
const maxRaw = 4 * maxPart

// domainProfile converts domain names to their Unicode form: A-labels become
// U-labels, and UTS #46 lookup mapping lowercases and NFC-normalizes them.
// Options are spelled out (instead of using idna.Lookup, whose configuration
// "may change over time") so canonical forms stay stable.
var domainProfile = idna.New(
	idna.MapForLookup(), // mapping, STD3 ASCII rules, label validation
	idna.Transitional(false),
	idna.BidiRule(),
	idna.CheckHyphens(true),
	idna.CheckJoiners(true),
)

// partError is the concrete error type of this package. It matches
// ErrMalformed with errors.Is and unwraps to the PRECIS/IDNA error, if any.
type partError struct {
	part   string // "localpart", "domainpart" or "resourcepart"
	reason string
	err    error
}

func (e *partError) Error() string {
	msg := "jid: " + e.part + " " + e.reason
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	return msg
}

func (e *partError) Is(target error) bool { return target == ErrMalformed }
func (e *partError) Unwrap() error        { return e.err }

var errNoDomain = &partError{part: "domainpart", reason: "is missing"}

func tooLong(part string, n int) error {
	return &partError{part: part, reason: "is too long (" + strconv.Itoa(n) + " bytes, max " + strconv.Itoa(maxPart) + ")"}
}

func badRune(part, what string, r rune) error {
	return &partError{part: part, reason: "contains " + what + " " + strconv.QuoteRune(r)}
}

// isForbiddenLocal reports whether c is one of the ASCII characters RFC 7622
// §3.3.1 excludes from localparts.
func isForbiddenLocal(c byte) bool {
	switch c {
	case '"', '&', '\'', '/', ':', '<', '>', '@':
		return true
	}
	return false
}

// prepLocal prepares a localpart that is present (s may be empty, which is an
// error). If lower is true, out is a substring of s that still has to be
// mapped to ASCII lower case by the caller; otherwise out is the final form.
func prepLocal(s string) (out string, lower bool, err error) {
	const part = "localpart"
	if s == "" {
		return "", false, &partError{part: part, reason: "is empty"}
	}
	if len(s) > maxRaw {
		return "", false, tooLong(part, len(s))
	}
	// Fast path: printable ASCII. UsernameCaseMapped maps such a string only
	// by lowercasing it (width folding, NFC and the Bidi Rule are no-ops on
	// it, and the IdentifierClass allows all of 0x21-0x7E).
	fast := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x21 || c > 0x7e:
			fast = false
		case isForbiddenLocal(c):
			return "", false, badRune(part, "forbidden character", rune(c))
		case 'A' <= c && c <= 'Z':
			lower = true
		}
		if !fast {
			break
		}
	}
	if fast {
		if len(s) > maxPart {
			return "", false, tooLong(part, len(s))
		}
		return s, lower, nil
	}
	out, err = slowLocal(s)
	return out, false, err
}

// slowLocal prepares a localpart with the full PRECIS UsernameCaseMapped
// profile.
func slowLocal(s string) (string, error) {
	const part = "localpart"
	if !utf8.ValidString(s) {
		return "", &partError{part: part, reason: "is not valid UTF-8"}
	}
	if err := checkLocalRunes(s); err != nil {
		return "", err
	}
	out, err := stable(precis.UsernameCaseMapped.String, s)
	if err != nil {
		return "", &partError{part: part, reason: "is invalid under PRECIS UsernameCaseMapped", err: err}
	}
	// Width folding may have produced forbidden characters (e.g. U+FF20).
	if err := checkLocalRunes(out); err != nil {
		return "", err
	}
	if out == "" {
		return "", &partError{part: part, reason: "is empty after preparation"}
	}
	if len(out) > maxPart {
		return "", tooLong(part, len(out))
	}
	return out, nil
}

// checkLocalRunes rejects the characters RFC 7622 excludes from localparts,
// plus whitespace and controls (which PRECIS would reject too, with a less
// helpful message).
func checkLocalRunes(s string) error {
	const part = "localpart"
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf && isForbiddenLocal(byte(r)):
			return badRune(part, "forbidden character", r)
		case unicode.IsSpace(r):
			return badRune(part, "whitespace", r)
		case unicode.IsControl(r):
			return badRune(part, "control character", r)
		}
	}
	return nil
}

// prepResource prepares a resourcepart that is present.
func prepResource(s string) (string, error) {
	const part = "resourcepart"
	if s == "" {
		return "", &partError{part: part, reason: "is empty"}
	}
	if len(s) > maxRaw {
		return "", tooLong(part, len(s))
	}
	// Fast path: ASCII 0x20-0x7E is left unchanged by OpaqueString (all of it
	// is in the FreeformClass, and neither space mapping nor NFC touch it).
	fast := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			fast = false
			break
		}
	}
	if fast {
		if len(s) > maxPart {
			return "", tooLong(part, len(s))
		}
		return s, nil
	}
	return slowResource(s)
}

// slowResource prepares a resourcepart with the full PRECIS OpaqueString
// profile.
func slowResource(s string) (string, error) {
	const part = "resourcepart"
	if !utf8.ValidString(s) {
		return "", &partError{part: part, reason: "is not valid UTF-8"}
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", badRune(part, "control character", r)
		}
	}
	out, err := stable(precis.OpaqueString.String, s)
	if err != nil {
		return "", &partError{part: part, reason: "is invalid under PRECIS OpaqueString", err: err}
	}
	if out == "" {
		return "", &partError{part: part, reason: "is empty after preparation"}
	}
	if len(out) > maxPart {
		return "", tooLong(part, len(out))
	}
	return out, nil
}

// prepDomain prepares a domainpart. Like prepLocal, lower asks the caller to
// map out to ASCII lower case.
func prepDomain(s string) (out string, lower bool, err error) {
	const part = "domainpart"
	// RFC 7622 §3.2: strip one trailing label separator before anything
	// else. IDNA treats the ideographic and fullwidth full stops as dots too.
	switch {
	case strings.HasSuffix(s, "."):
		s = s[:len(s)-1]
	case strings.HasSuffix(s, "\u3002"), strings.HasSuffix(s, "\uff0e"), strings.HasSuffix(s, "\uff61"):
		s = s[:len(s)-len("\u3002")]
	}
	if s == "" {
		return "", false, &partError{part: part, reason: "is empty"}
	}
	if len(s) > maxRaw {
		return "", false, tooLong(part, len(s))
	}
	if s[0] == '[' {
		return prepIPLiteral(s)
	}
	if lower, ok := asciiHostname(s); ok {
		if len(s) > maxPart {
			return "", false, tooLong(part, len(s))
		}
		return s, lower, nil
	}
	out, err = slowDomain(s)
	return out, false, err
}

// slowDomain converts a domain name (without its trailing dot) to its
// Unicode form with IDNA.
func slowDomain(s string) (string, error) {
	const part = "domainpart"
	if !utf8.ValidString(s) {
		return "", &partError{part: part, reason: "is not valid UTF-8"}
	}
	out, err := stable(domainProfile.ToUnicode, s)
	if err != nil {
		return "", &partError{part: part, reason: "is not a valid domain name", err: err}
	}
	if out == "" || out[0] == '.' || out[len(out)-1] == '.' || strings.Contains(out, "..") {
		return "", &partError{part: part, reason: "has an empty label"}
	}
	if len(out) > maxPart {
		return "", tooLong(part, len(out))
	}
	return out, nil
}

// asciiHostname reports whether s is an ASCII domain name that IDNA would
// leave as it is apart from lowercasing: letters, digits and hyphens in
// non-empty dot-separated labels, no label starting or ending with '-', and
// no '-' in both the third and fourth position (which covers "xn--" A-labels,
// left to the IDNA path). lower reports whether s has upper-case letters.
// Anything else is left to the IDNA path, which accepts or rejects it.
func asciiHostname(s string) (lower, ok bool) {
	start := 0 // start of the current label
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			n := i - start
			if n == 0 || s[start] == '-' || s[i-1] == '-' ||
				(n >= 4 && s[start+2] == '-' && s[start+3] == '-') {
				return false, false
			}
			start = i + 1
			continue
		}
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-':
		case 'A' <= c && c <= 'Z':
			lower = true
		default:
			return false, false
		}
	}
	return lower, true
}

// prepIPLiteral validates an IPv6 literal "[...]"; it is kept as written.
func prepIPLiteral(s string) (string, bool, error) {
	const part = "domainpart"
	if len(s) < 2 || s[len(s)-1] != ']' {
		return "", false, &partError{part: part, reason: "has an unterminated IP literal"}
	}
	a, err := netip.ParseAddr(s[1 : len(s)-1])
	if err != nil || !a.Is6() || a.Zone() != "" {
		return "", false, &partError{part: part, reason: "is not a valid IPv6 literal"}
	}
	return s, false, nil
}

// stable applies prep to s and makes sure the result is a fixed point, so
// that preparing a canonical form again yields the same form. The second
// pass only runs when the first one changed something.
func stable(prep func(string) (string, error), s string) (string, error) {
	out, err := prep(s)
	if err != nil || out == s {
		return out, err
	}
	again, err := prep(out)
	if err != nil {
		return "", err
	}
	if again != out {
		return "", errUnstable
	}
	return out, nil
}

var errUnstable = errors.New("preparation is not idempotent")
