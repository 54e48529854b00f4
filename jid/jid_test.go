package jid

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

type validCase struct {
	name                    string
	in                      string
	want                    string // canonical String(); "" means same as in
	local, domain, resource string
}

var validCases = []validCase{
	{name: "domain only", in: "example.com", domain: "example.com"},
	{name: "localhost", in: "localhost", domain: "localhost"},
	{name: "dotless domain with hyphen", in: "zy-fordestiny", domain: "zy-fordestiny"},
	{name: "all-digit local", in: "10023@zy-fordestiny/ZY-fordestiny", local: "10023", domain: "zy-fordestiny", resource: "ZY-fordestiny"},
	{name: "full", in: "juliet@example.com/balcony", local: "juliet", domain: "example.com", resource: "balcony"},
	{name: "bare", in: "juliet@example.com", local: "juliet", domain: "example.com"},
	{name: "domain and resource", in: "example.com/res", domain: "example.com", resource: "res"},
	{name: "uppercase local and domain folded", in: "JuLiEt@ExAmPlE.CoM/BalCony", want: "juliet@example.com/BalCony", local: "juliet", domain: "example.com", resource: "BalCony"},
	{name: "uppercase domain only", in: "EXAMPLE.COM", want: "example.com", domain: "example.com"},
	{name: "unicode local lowercased", in: "Ñandú@example.com", want: "ñandú@example.com", local: "ñandú", domain: "example.com"},
	{name: "unicode local canonical", in: "ñandú@example.com", local: "ñandú", domain: "example.com"},
	{name: "decomposed local composed", in: "n\u0303andu\u0301@example.com", want: "ñandú@example.com", local: "ñandú", domain: "example.com"},
	{name: "fullwidth local folded", in: "ＪＵＬＩＥＴ@example.com", want: "juliet@example.com", local: "juliet", domain: "example.com"},
	{name: "fullwidth resource kept", in: "a@example.com/ＲＥＳ", local: "a", domain: "example.com", resource: "ＲＥＳ"},
	{name: "fullwidth domain folded", in: "ＥＸＡＭＰＬＥ.com", want: "example.com", domain: "example.com"},
	{name: "slash in resource", in: "a@example.com/b/c/", local: "a", domain: "example.com", resource: "b/c/"},
	{name: "at in resource", in: "example.com/b@c", domain: "example.com", resource: "b@c"},
	{name: "at and slash in resource", in: "a@example.com/b@c/d@e", local: "a", domain: "example.com", resource: "b@c/d@e"},
	{name: "trailing dot stripped", in: "a@example.com.", want: "a@example.com", local: "a", domain: "example.com"},
	{name: "trailing dot stripped before resource", in: "a@example.com./r", want: "a@example.com/r", local: "a", domain: "example.com", resource: "r"},
	{name: "trailing dot on dotless domain", in: "localhost.", want: "localhost", domain: "localhost"},
	{name: "trailing ideographic full stop stripped", in: "example.com\u3002", want: "example.com", domain: "example.com"},
	{name: "ideographic full stop as separator", in: "example\u3002com", want: "example.com", domain: "example.com"},
	{name: "IPv6 literal", in: "a@[2001:db8::1]/r", local: "a", domain: "[2001:db8::1]", resource: "r"},
	{name: "IPv6 literal kept as is", in: "[2001:DB8:0::1]", domain: "[2001:DB8:0::1]"},
	{name: "IPv6 loopback", in: "[::1]", domain: "[::1]"},
	{name: "IPv4-mapped IPv6", in: "[::ffff:192.0.2.1]", domain: "[::ffff:192.0.2.1]"},
	{name: "IPv4", in: "a@192.0.2.1/r", local: "a", domain: "192.0.2.1", resource: "r"},
	{name: "digit labels", in: "123.4.example", domain: "123.4.example"},
	{name: "all-digit domain", in: "42", domain: "42"},
	{name: "A-label to U-label", in: "a@xn--bcher-kva.example", want: "a@bücher.example", local: "a", domain: "bücher.example"},
	{name: "U-label lowercased", in: "a@BÜCHER.example", want: "a@bücher.example", local: "a", domain: "bücher.example"},
	{name: "U-label canonical", in: "bücher.example", domain: "bücher.example"},
	{name: "sharp s kept (non-transitional)", in: "straße.de", domain: "straße.de"},
	{name: "space in resource", in: "a@example.com/my resource", local: "a", domain: "example.com", resource: "my resource"},
	{name: "resource of spaces", in: "a@example.com/ ", local: "a", domain: "example.com", resource: " "},
	{name: "non-ASCII space in resource mapped", in: "a@example.com/x\u00a0y\u3000z", want: "a@example.com/x y z", local: "a", domain: "example.com", resource: "x y z"},
	{name: "resource NFC", in: "a@example.com/re\u0301sume\u0301", want: "a@example.com/résumé", local: "a", domain: "example.com", resource: "résumé"},
	{name: "unicode resource", in: "a@example.com/☃ snow", local: "a", domain: "example.com", resource: "☃ snow"},
	{name: "ASCII punctuation in local", in: "a.b+c_d-e!#$%*=?^`{|}~@example.com", local: "a.b+c_d-e!#$%*=?^`{|}~", domain: "example.com"},
	{name: "local of one char", in: "x@y", local: "x", domain: "y"},
	{name: "max length local", in: strings.Repeat("a", 1023) + "@example.com", local: strings.Repeat("a", 1023), domain: "example.com"},
	{name: "max length domain", in: longDomain(1023), domain: longDomain(1023)},
	{name: "max length resource", in: "example.com/" + strings.Repeat("r", 1023), domain: "example.com", resource: strings.Repeat("r", 1023)},
	{name: "max length everything", in: strings.Repeat("a", 1023) + "@" + longDomain(1023) + "/" + strings.Repeat("r", 1023),
		local: strings.Repeat("a", 1023), domain: longDomain(1023), resource: strings.Repeat("r", 1023)},
	{name: "max length unicode local", in: strings.Repeat("é", 511) + "a@x", local: strings.Repeat("é", 511) + "a", domain: "x"},
}

// longDomain returns an ASCII domain name of exactly n bytes.
func longDomain(n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		l := n - b.Len()
		if l == 64 {
			l = 62 // leave room for ".d"
		}
		b.WriteString(strings.Repeat("d", min(63, l)))
	}
	return b.String()
}

type invalidCase struct {
	name, in, msg string // msg: substring of the error message
}

var invalidCases = []invalidCase{
	{"empty string", "", "domainpart is empty"},
	{"empty local", "@example.com", "localpart is empty"},
	{"empty local with resource", "@example.com/r", "localpart is empty"},
	{"empty domain", "a@", "domainpart is empty"},
	{"empty domain with resource", "a@/r", "domainpart is empty"},
	{"only resource", "/r", "domainpart is empty"},
	{"only dot", "a@.", "domainpart is empty"},
	{"empty resource", "example.com/", "resourcepart is empty"},
	{"empty resource with local", "a@example.com/", "resourcepart is empty"},
	{"empty label", "a@example..com", "empty label"},
	{"leading dot", ".example.com", "empty label"},
	{"two trailing dots", "example.com..", "empty label"},
	{"local too long", strings.Repeat("a", 1024) + "@example.com", "localpart is too long"},
	{"unicode local too long", strings.Repeat("é", 512) + "@example.com", "localpart is too long"},
	{"raw local far too long", strings.Repeat("a", 100000) + "@example.com", "localpart is too long"},
	{"domain too long", longDomain(1024), "domainpart is too long"},
	{"domain far too long", strings.Repeat("a.", 50000) + "a", "domainpart is too long"},
	{"resource too long", "example.com/" + strings.Repeat("r", 1024), "resourcepart is too long"},
	{"unicode resource too long", "example.com/" + strings.Repeat("☃", 342), "resourcepart is too long"},
	{"double quote in local", `a"b@example.com`, `forbidden character '"'`},
	{"ampersand in local", "a&b@example.com", "forbidden character '&'"},
	{"apostrophe in local", "a'b@example.com", `forbidden character '\''`},
	{"colon in local", "a:b@example.com", "forbidden character ':'"},
	{"less-than in local", "a<b@example.com", "forbidden character '<'"},
	{"greater-than in local", "a>b@example.com", "forbidden character '>'"},
	{"at in local (two ats)", "a@b@example.com", "forbidden character '@'"},
	{"forbidden char in unicode local", "é:x@example.com", "forbidden character ':'"},
	{"fullwidth at in local", "a\uff20b@example.com", "forbidden character '@'"},
	{"fullwidth colon in local", "a\uff1ab@example.com", "forbidden character ':'"},
	{"space in local", "a b@example.com", "localpart contains whitespace"},
	{"no-break space in local", "a\u00a0b@example.com", "localpart contains whitespace"},
	{"ideographic space in local", "a\u3000b@example.com", "localpart contains whitespace"},
	{"tab in local", "a\tb@example.com", "localpart contains whitespace"},
	{"control char in local", "a\x01b@example.com", "localpart contains control character"},
	{"DEL in local", "a\x7fb@example.com", "localpart contains control character"},
	{"invalid UTF-8 in local", "a\xffb@example.com", "localpart is not valid UTF-8"},
	{"bidi rule violation in local", "\u05d0a@example.com", "localpart is invalid under PRECIS"},
	{"symbol disallowed in local", "a\u200bb@example.com", "localpart is invalid under PRECIS"},
	{"control char in resource", "example.com/a\x00b", "resourcepart contains control character"},
	{"newline in resource", "example.com/a\nb", "resourcepart contains control character"},
	{"DEL in resource", "example.com/a\x7f", "resourcepart contains control character"},
	{"C1 control in resource", "example.com/a\u0085", "resourcepart contains control character"},
	{"invalid UTF-8 in resource", "example.com/\xff", "resourcepart is not valid UTF-8"},
	{"zero width space in resource", "example.com/a\u200bb", "resourcepart is invalid under PRECIS"},
	{"control char in domain", "exa\x00mple.com", "domainpart is not a valid domain name"},
	{"space in domain", "exa mple.com", "domainpart is not a valid domain name"},
	{"underscore in domain", "a_b.example", "domainpart is not a valid domain name"},
	{"colon in domain", "example.com:5222", "domainpart is not a valid domain name"},
	{"leading hyphen label", "-a.example", "domainpart is not a valid domain name"},
	{"trailing hyphen label", "a-.example", "domainpart is not a valid domain name"},
	{"hyphens in positions 3 and 4", "ab--c.example", "domainpart is not a valid domain name"},
	{"bad punycode", "xn--abc.example", "domainpart is not a valid domain name"},
	{"ASCII-only punycode", "xn--abc-.example", "domainpart is not a valid domain name"},
	{"invalid UTF-8 in domain", "\xff.example", "domainpart is not valid UTF-8"},
	{"fullwidth at in domain", "a\uff20b.example", "domainpart is not a valid domain name"},
	{"fullwidth slash in domain", "a\uff0fb.example", "domainpart is not a valid domain name"},
	{"unterminated IP literal", "[::1", "unterminated IP literal"},
	{"bad IPv6 literal", "[::g]", "not a valid IPv6 literal"},
	{"IPv4 in brackets", "[192.0.2.1]", "not a valid IPv6 literal"},
	{"IPv6 zone", "[fe80::1%eth0]", "not a valid IPv6 literal"},
	{"empty IP literal", "[]", "not a valid IPv6 literal"},
	{"IPv6 without brackets", "::1", "domainpart is not a valid domain name"},
}

func TestParseValid(t *testing.T) {
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			j, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			want := tc.want
			if want == "" {
				want = tc.in
			}
			if got := j.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			if got := j.Local(); got != tc.local {
				t.Errorf("Local() = %q, want %q", got, tc.local)
			}
			if got := j.Domain(); got != tc.domain {
				t.Errorf("Domain() = %q, want %q", got, tc.domain)
			}
			if got := j.Resource(); got != tc.resource {
				t.Errorf("Resource() = %q, want %q", got, tc.resource)
			}
			if j.IsZero() {
				t.Error("IsZero() = true")
			}
			if got := j.IsBare(); got != (tc.resource == "") {
				t.Errorf("IsBare() = %v", got)
			}
			// Canonical forms parse to themselves.
			again, err := Parse(j.String())
			if err != nil || again != j {
				t.Errorf("Parse(String()) = %#v, %v; want %#v", again, err, j)
			}
			// New with the parts gives the same JID.
			n, err := New(j.Local(), j.Domain(), j.Resource())
			if err != nil || n != j {
				t.Errorf("New(parts) = %#v, %v; want %#v", n, err, j)
			}
			// And so does New with the raw parts.
			rl, rd, rr := rawSplit(tc.in)
			n, err = New(rl, rd, rr)
			if err != nil || n != j {
				t.Errorf("New(%q, %q, %q) = %#v, %v; want %#v", rl, rd, rr, n, err, j)
			}
		})
	}
}

// rawSplit splits s into its parts without any preparation.
func rawSplit(s string) (local, domain, resource string) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s, resource = s[:i], s[i+1:]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[:i], s[i+1:], resource
	}
	return "", s, resource
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range invalidCases {
		t.Run(tc.name, func(t *testing.T) {
			j, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want error", tc.in, j)
			}
			checkErr(t, err, tc.msg)
			if j != (JID{}) {
				t.Errorf("Parse returned non-zero JID %#v with error", j)
			}
		})
	}
}

func checkErr(t *testing.T, err error, msg string) {
	t.Helper()
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("error %q does not wrap ErrMalformed", err)
	}
	if !strings.HasPrefix(err.Error(), "jid: ") {
		t.Errorf("error %q lacks the \"jid: \" prefix", err)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not contain %q", err, msg)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		local, domain, resource string
		want                    string
	}{
		{"domain only", "", "example.com", "", "example.com"},
		{"bare", "romeo", "example.net", "", "romeo@example.net"},
		{"full prepared", "Romeo", "EXAMPLE.net.", "Orchard", "romeo@example.net/Orchard"},
		{"resource with slash and at", "", "example.net", "a/b@c", "example.net/a/b@c"},
		{"unicode", "Ñandú", "xn--bcher-kva.example", "Résumé", "ñandú@bücher.example/Résumé"},
		{"IPv6", "x", "[::1]", "r", "x@[::1]/r"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := New(tc.local, tc.domain, tc.resource)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if j.String() != tc.want {
				t.Errorf("String() = %q, want %q", j, tc.want)
			}
			if p := MustParse(tc.want); p != j {
				t.Errorf("MustParse(%q) = %#v, New gave %#v", tc.want, p, j)
			}
		})
	}
	for _, tc := range []struct {
		name                         string
		local, domain, resource, msg string
	}{
		{"empty domain", "a", "", "r", "domainpart is empty"},
		{"all empty", "", "", "", "domainpart is empty"},
		{"at in local", "a@b", "example.com", "", "forbidden character '@'"},
		{"slash in local", "a/b", "example.com", "", "forbidden character '/'"},
		{"slash in domain", "", "example.com/x", "", "domainpart is not a valid domain name"},
		{"at in domain", "", "a@example.com", "", "domainpart is not a valid domain name"},
		{"space in local", "a b", "example.com", "", "localpart contains whitespace"},
		{"control in resource", "a", "example.com", "\x07", "resourcepart contains control character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := New(tc.local, tc.domain, tc.resource)
			if err == nil {
				t.Fatalf("New(%q, %q, %q) = %q, want error", tc.local, tc.domain, tc.resource, j)
			}
			checkErr(t, err, tc.msg)
		})
	}
}

func TestWithResource(t *testing.T) {
	full := MustParse("juliet@example.com/balcony")
	j, err := full.WithResource("Chamber ☃")
	if err != nil {
		t.Fatal(err)
	}
	if j.String() != "juliet@example.com/Chamber ☃" || j.Resource() != "Chamber ☃" || j.Local() != "juliet" || j.Domain() != "example.com" {
		t.Errorf("WithResource = %q", j)
	}
	if j != MustParse(j.String()) {
		t.Error("WithResource result not canonical")
	}
	if j, err = full.WithResource("a\u00a0b"); err != nil || j.Resource() != "a b" {
		t.Errorf("WithResource(nbsp) = %q, %v", j, err)
	}
	if j, err = full.WithResource(""); err != nil || j != full.Bare() {
		t.Errorf("WithResource(\"\") = %q, %v; want bare", j, err)
	}
	if _, err = full.WithResource("a\x00"); err == nil {
		t.Error("WithResource accepted a control character")
	} else {
		checkErr(t, err, "resourcepart")
	}
	if _, err = full.WithResource(strings.Repeat("r", 1024)); err == nil {
		t.Error("WithResource accepted a long resource")
	} else {
		checkErr(t, err, "resourcepart is too long")
	}
	if _, err = (JID{}).WithResource("r"); err == nil {
		t.Error("zero JID WithResource succeeded")
	} else {
		checkErr(t, err, "domainpart")
	}
}

func TestBareAndZero(t *testing.T) {
	full := MustParse("juliet@example.com/balcony/2")
	bare := full.Bare()
	if bare.String() != "juliet@example.com" || !bare.IsBare() || full.IsBare() {
		t.Errorf("Bare() = %q (IsBare %v), full.IsBare %v", bare, bare.IsBare(), full.IsBare())
	}
	if bare != MustParse("juliet@example.com") || !bare.Equal(MustParse("JULIET@example.com")) {
		t.Error("Bare() differs from parsed bare JID")
	}
	if bare.Bare() != bare {
		t.Error("Bare() not idempotent")
	}
	if d := MustParse("example.com/r").Bare(); d.String() != "example.com" || d.Local() != "" || d.Domain() != "example.com" {
		t.Errorf("domain Bare() = %q", d)
	}
	if full.Equal(bare) || bare.Equal(full) {
		t.Error("full Equal bare")
	}
	if !full.Equal(MustParse("JULIET@EXAMPLE.COM./balcony/2")) {
		t.Error("Equal failed on equivalent JIDs")
	}

	var z JID
	if !z.IsZero() || z.String() != "" || z.Local() != "" || z.Domain() != "" || z.Resource() != "" || !z.IsBare() || z.Bare() != z {
		t.Error("zero JID accessors")
	}
	if full.IsZero() || !z.Equal(JID{}) || z.Equal(full) {
		t.Error("IsZero/Equal on zero JID")
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || !errors.Is(err, ErrMalformed) {
			t.Errorf("recovered %v, want ErrMalformed", r)
		}
	}()
	MustParse("a@")
}

func TestText(t *testing.T) {
	var j JID
	if err := j.UnmarshalText([]byte("Romeo@Example.net/Orchard")); err != nil {
		t.Fatal(err)
	}
	if b, _ := j.MarshalText(); string(b) != "romeo@example.net/Orchard" {
		t.Errorf("MarshalText = %q", b)
	}
	if err := j.UnmarshalText(nil); err != nil || !j.IsZero() {
		t.Errorf("UnmarshalText(empty) = %q, %v", j, err)
	}
	if err := j.UnmarshalText([]byte("@x")); !errors.Is(err, ErrMalformed) {
		t.Errorf("UnmarshalText(@x) err = %v", err)
	}
}

func TestAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping alloc counts in short mode")
	}
	canon := "juliet@example.com/balcony"
	upper := "Juliet@Example.COM/balcony"
	dotted := "juliet@example.com./balcony"
	j := MustParse(canon)
	for _, tc := range []struct {
		name string
		max  float64
		fn   func()
	}{
		{"Parse canonical", 0, func() { sinkJID, _ = Parse(canon) }},
		{"Parse domain", 0, func() { sinkJID, _ = Parse("example.com") }},
		{"Parse IPv6", 0, func() { sinkJID, _ = Parse("[2001:db8::1]") }},
		{"Parse uppercase", 1, func() { sinkJID, _ = Parse(upper) }},
		{"Parse trailing dot", 1, func() { sinkJID, _ = Parse(dotted) }},
		{"New", 1, func() { sinkJID, _ = New("juliet", "example.com", "balcony") }},
		{"New uppercase", 1, func() { sinkJID, _ = New("Juliet", "EXAMPLE.com", "balcony") }},
		{"WithResource", 1, func() { sinkJID, _ = j.WithResource("chamber") }},
		{"Bare", 0, func() { sinkJID = j.Bare() }},
		{"String", 0, func() { sinkStr = j.String() }},
		{"Local", 0, func() { sinkStr = j.Local() }},
		{"Domain", 0, func() { sinkStr = j.Domain() }},
		{"Resource", 0, func() { sinkStr = j.Resource() }},
	} {
		if n := testing.AllocsPerRun(100, tc.fn); n > tc.max {
			t.Errorf("%s: %v allocs, want <= %v", tc.name, n, tc.max)
		}
	}
}

// applyLower mirrors what assemble does with the lower flag.
func applyLower(s string, lower bool) string {
	if !lower {
		return s
	}
	var b strings.Builder
	writePart(&b, s, true)
	return b.String()
}

// randASCII returns a random string of up to maxLen bytes from alphabet.
func randASCII(r *rand.Rand, alphabet string, maxLen int) string {
	b := make([]byte, r.IntN(maxLen+1))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func printable(lo byte) string {
	var b []byte
	for c := lo; c <= 0x7e; c++ {
		b = append(b, c)
	}
	return string(b)
}

// TestFastPathEquivalence checks that the ASCII fast paths give exactly what
// the full PRECIS/IDNA preparation gives.
func TestFastPathEquivalence(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}

	// Localpart: every printable ASCII string takes the fast path.
	localAlpha := printable(0x21)
	var locals []string
	for i := 0; i < len(localAlpha); i++ {
		locals = append(locals, localAlpha[i:i+1], "a"+localAlpha[i:i+1]+"B")
	}
	for range n {
		locals = append(locals, randASCII(r, localAlpha, 12))
	}
	for _, s := range locals {
		if s == "" {
			continue
		}
		fast, low, ferr := prepLocal(s)
		slow, serr := slowLocal(s)
		if (ferr == nil) != (serr == nil) || applyLower(fast, low) != slow {
			t.Fatalf("localpart %q: fast %q, %v; slow %q, %v", s, applyLower(fast, low), ferr, slow, serr)
		}
	}

	// Resourcepart: every string of 0x20-0x7E takes the fast path.
	resAlpha := printable(0x20)
	var ress []string
	for i := 0; i < len(resAlpha); i++ {
		ress = append(ress, resAlpha[i:i+1])
	}
	for range n {
		ress = append(ress, randASCII(r, resAlpha, 12))
	}
	for _, s := range ress {
		if s == "" {
			continue
		}
		fast, ferr := prepResource(s)
		slow, serr := slowResource(s)
		if (ferr == nil) != (serr == nil) || fast != slow {
			t.Fatalf("resourcepart %q: fast %q, %v; slow %q, %v", s, fast, ferr, slow, serr)
		}
	}

	// Domainpart: whatever asciiHostname accepts must be accepted by IDNA
	// with the same result. Bias the alphabet towards the hostname set.
	domAlpha := "abcnxXYZ019-.-.-." + strings.Repeat("abcdefghijkl", 3)
	all := printable(0x20) + "\x00\x7f"
	var doms []string
	for i := 0; i <= 0x7f; i++ {
		doms = append(doms, string(rune(i)), "a"+string(rune(i))+"b", "ab"+string(rune(i))+"-c")
	}
	doms = append(doms, "xn--bcher-kva", "ab--c", "a--b", "r3---sn", "-a", "a-", "a.-b", "1.2.3.4", "A.B.C")
	for range n {
		s := []byte(randASCII(r, domAlpha, 12))
		if len(s) > 0 && r.IntN(8) == 0 {
			s[r.IntN(len(s))] = all[r.IntN(len(all))]
		}
		doms = append(doms, string(s))
	}
	fastCount := 0
	for _, s := range doms {
		if s == "" {
			continue
		}
		low, ok := asciiHostname(s)
		if !ok {
			continue
		}
		fastCount++
		slow, serr := slowDomain(s)
		if serr != nil || applyLower(s, low) != slow {
			t.Fatalf("domainpart %q: fast %q; slow %q, %v", s, applyLower(s, low), slow, serr)
		}
	}
	if fastCount < n/10 {
		t.Errorf("only %d domain samples took the fast path", fastCount)
	}
	// And IDNA accepts nothing ASCII-only that the fast path refuses, except
	// A-labels (which it decodes).
	for _, s := range doms {
		if s == "" {
			continue
		}
		if _, ok := asciiHostname(s); ok {
			continue
		}
		if out, err := slowDomain(s); err == nil && !strings.Contains(strings.ToLower(s), "xn--") {
			t.Errorf("domainpart %q refused by fast path but IDNA gives %q", s, out)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range validCases {
		if len(tc.in) < 200 {
			f.Add(tc.in)
		}
	}
	for _, tc := range invalidCases {
		if len(tc.in) < 200 {
			f.Add(tc.in)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), "jid: ") {
				t.Fatalf("Parse(%q): bad error %q", s, err)
			}
			if j != (JID{}) {
				t.Fatalf("Parse(%q) returned %#v with error", s, j)
			}
			return
		}
		if j.IsZero() || j.Domain() == "" {
			t.Fatalf("Parse(%q) = %#v: empty", s, j)
		}
		again, err := Parse(j.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, j, err)
		}
		if again != j || !again.Equal(j) {
			t.Fatalf("Parse(%q) = %#v, reparsed %#v", s, j, again)
		}
		n, err := New(j.Local(), j.Domain(), j.Resource())
		if err != nil || n != j {
			t.Fatalf("Parse(%q) = %#v, New(parts) = %#v, %v", s, j, n, err)
		}
		for _, p := range []string{j.Local(), j.Domain(), j.Resource()} {
			if len(p) > maxPart {
				t.Fatalf("Parse(%q): part of %d bytes", s, len(p))
			}
		}
		if strings.ContainsAny(j.Local(), "@/") || strings.ContainsAny(j.Domain(), "@/") {
			t.Fatalf("Parse(%q) = %#v: separator inside a part", s, j)
		}
		b := j.Bare()
		if !b.IsBare() || b.Local() != j.Local() || b.Domain() != j.Domain() {
			t.Fatalf("Bare of %#v = %#v", j, b)
		}
		if rb, err := Parse(b.String()); err != nil || rb != b {
			t.Fatalf("Bare of %#v = %#v reparses to %#v, %v", j, b, rb, err)
		}
	})
}

var (
	sinkJID JID
	sinkStr string
)

func benchParse(b *testing.B, s string) {
	b.ReportAllocs()
	for b.Loop() {
		j, err := Parse(s)
		if err != nil {
			b.Fatal(err)
		}
		sinkJID = j
	}
}

func BenchmarkParseASCII(b *testing.B)      { benchParse(b, "juliet@example.com/balcony") }
func BenchmarkParseASCIIUpper(b *testing.B) { benchParse(b, "Juliet@Example.COM/balcony") }
func BenchmarkParseUnicode(b *testing.B)    { benchParse(b, "Ñandú@bücher.example/Résumé ☃") }
func BenchmarkParseUnicodeCanonical(b *testing.B) {
	benchParse(b, "ñandú@bücher.example/résumé ☃")
}

func BenchmarkBare(b *testing.B) {
	j := MustParse("juliet@example.com/balcony")
	b.ReportAllocs()
	for b.Loop() {
		sinkJID = j.Bare()
	}
}

func BenchmarkString(b *testing.B) {
	j := MustParse("juliet@example.com/balcony")
	b.ReportAllocs()
	for b.Loop() {
		sinkStr = j.String()
	}
}
