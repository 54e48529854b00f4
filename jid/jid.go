// Package jid parses, validates and normalizes XMPP addresses (RFC 7622).
//
// A JID has the form [localpart "@"] domainpart ["/" resourcepart]. Parse and
// New prepare every part (PRECIS UsernameCaseMapped for the localpart, IDNA
// to Unicode form for the domainpart, PRECIS OpaqueString for the
// resourcepart), so two JIDs that address the same entity compare equal with
// == once parsed.
//
// A JID is stored as its canonical string plus two offsets; accessors,
// Bare and String return substrings and never allocate.
package jid

import (
	"errors"
	"strings"
)

// maxPart is the maximum length in bytes of each prepared part (RFC 7622 §3).
const maxPart = 1023

// JID is a normalized XMPP address. The zero value is the empty address
// (IsZero reports true). JIDs obtained from Parse, New or WithResource are in
// canonical form and may be compared with ==.
type JID struct {
	s    string // canonical "local@domain/resource"
	dom  uint16 // start of the domainpart (0 if no localpart, else len(local)+1)
	rest uint16 // end of the domainpart; equals len(s) when there is no resource
}

// ErrMalformed is wrapped by every error returned from Parse, New,
// WithResource and UnmarshalText.
var ErrMalformed = errors.New("jid: malformed address")

// Parse parses, prepares and validates s as a JID.
//
// The resourcepart starts after the first '/' (it may itself contain '/' and
// '@'); the localpart ends at the last '@' before that.
func Parse(s string) (JID, error) {
	head, res, hasRes := s, "", false
	if i := strings.IndexByte(s, '/'); i >= 0 {
		head, res, hasRes = s[:i], s[i+1:], true
	}
	local, domain, hasLocal := "", head, false
	if i := strings.LastIndexByte(head, '@'); i >= 0 {
		local, domain, hasLocal = head[:i], head[i+1:], true
	}
	return assemble(s, local, hasLocal, domain, res, hasRes)
}

// New builds a JID from its parts, preparing each of them. local and
// resource may be empty, meaning the part is absent; domain is required.
func New(local, domain, resource string) (JID, error) {
	return assemble("", local, local != "", domain, resource, resource != "")
}

// MustParse is like Parse but panics if s is not a valid JID. It is meant for
// tests and package-level constants.
func MustParse(s string) JID {
	j, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return j
}

// assemble prepares the parts and builds the canonical JID. If orig is not
// empty it is the string the parts were cut from, and it is reused as the
// canonical form when no part changes.
func assemble(orig, local string, hasLocal bool, domain, res string, hasRes bool) (JID, error) {
	var (
		lp, dp, rp   string
		lLow, dLow   bool
		err          error
		localSame    = true
		resourceSame = true
	)
	if hasLocal {
		if lp, lLow, err = prepLocal(local); err != nil {
			return JID{}, err
		}
		localSame = !lLow && lp == local
	}
	if dp, dLow, err = prepDomain(domain); err != nil {
		return JID{}, err
	}
	domainSame := !dLow && dp == domain
	if hasRes {
		if rp, err = prepResource(res); err != nil {
			return JID{}, err
		}
		resourceSame = rp == res
	}

	j := JID{}
	if hasLocal {
		j.dom = uint16(len(lp) + 1)
	}
	j.rest = j.dom + uint16(len(dp))
	if orig != "" && localSame && domainSame && resourceSame {
		j.s = orig
		return j, nil
	}
	if !hasLocal && !hasRes && !dLow {
		j.s = dp
		return j, nil
	}

	n := len(dp)
	if hasLocal {
		n += len(lp) + 1
	}
	if hasRes {
		n += len(rp) + 1
	}
	var b strings.Builder
	b.Grow(n)
	if hasLocal {
		writePart(&b, lp, lLow)
		b.WriteByte('@')
	}
	writePart(&b, dp, dLow)
	if hasRes {
		b.WriteByte('/')
		b.WriteString(rp)
	}
	j.s = b.String()
	return j, nil
}

// writePart writes s to b, mapping ASCII upper case to lower case if lower.
func writePart(b *strings.Builder, s string, lower bool) {
	if !lower {
		b.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
}

// Local returns the localpart, or "" if there is none.
func (j JID) Local() string {
	if j.dom == 0 {
		return ""
	}
	return j.s[:j.dom-1]
}

// Domain returns the domainpart.
func (j JID) Domain() string { return j.s[j.dom:j.rest] }

// Resource returns the resourcepart, or "" if there is none.
func (j JID) Resource() string {
	if int(j.rest) >= len(j.s) {
		return ""
	}
	return j.s[j.rest+1:]
}

// Bare returns j without its resourcepart. It does not allocate.
func (j JID) Bare() JID {
	return JID{s: j.s[:j.rest], dom: j.dom, rest: j.rest}
}

// WithResource returns the bare form of j with resourcepart r, prepared with
// the OpaqueString profile. An empty r yields j.Bare(). It fails if j is the
// zero JID.
func (j JID) WithResource(r string) (JID, error) {
	if j.IsZero() {
		return JID{}, errNoDomain
	}
	b := j.Bare()
	if r == "" {
		return b, nil
	}
	rp, err := prepResource(r)
	if err != nil {
		return JID{}, err
	}
	var sb strings.Builder
	sb.Grow(len(b.s) + 1 + len(rp))
	sb.WriteString(b.s)
	sb.WriteByte('/')
	sb.WriteString(rp)
	b.s = sb.String()
	return b, nil
}

// String returns the canonical form of j ("" for the zero JID). It does not
// allocate.
func (j JID) String() string { return j.s }

// IsZero reports whether j is the zero JID.
func (j JID) IsZero() bool { return j.s == "" }

// IsBare reports whether j has no resourcepart.
func (j JID) IsBare() bool { return int(j.rest) >= len(j.s) }

// Equal reports whether j and o are the same address. For JIDs built by this
// package it is the same as j == o.
func (j JID) Equal(o JID) bool { return j.s == o.s && j.dom == o.dom && j.rest == o.rest }

// MarshalText implements encoding.TextMarshaler; it returns the canonical
// form.
func (j JID) MarshalText() ([]byte, error) { return []byte(j.s), nil }

// UnmarshalText implements encoding.TextUnmarshaler using Parse. Empty text
// yields the zero JID.
func (j *JID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*j = JID{}
		return nil
	}
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*j = p
	return nil
}
