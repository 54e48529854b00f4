package stanza

import (
	"errors"
	"testing"

	"ignis/jid"
	"ignis/xmlscan"
)

// fuzzSink checks every element a stranger's stream frames, as the
// streams hand them to FromFrame and FromFrameAs.
type fuzzSink struct {
	t    *testing.T
	from jid.JID
}

func (k *fuzzSink) StreamOpen(*xmlscan.Frame) error { return nil }
func (k *fuzzSink) StreamClose() error              { return nil }

func (k *fuzzSink) Element(f *xmlscan.Frame) error {
	t := k.t
	local := string(f.Local())
	outer := false
	f.OuterPrefixes(func(_, _ []byte) { outer = true })
	st, err := FromFrame(f)
	checkFromFrame(t, local, st, err)
	as, claimed, errAs := FromFrameAs(f, k.from)
	checkFromFrame(t, local, as, errAs)
	if (err == nil) != (errAs == nil) {
		t.Fatalf("FromFrame %v, FromFrameAs %v on %q", err, errAs, f.Raw())
	}
	if err != nil {
		return nil
	}
	if !claimed.Equal(st.From) {
		t.Fatalf("claimed %q, the stanza says from %q", claimed, st.From)
	}
	if !outer && !as.From.Equal(k.from) {
		t.Fatalf("FromFrameAs left from %q, want %q: %q", as.From, k.from, as.Bytes())
	}
	if as.Kind != st.Kind || as.Type != st.Type || as.ID != st.ID || !as.To.Equal(st.To) || as.Lang != st.Lang {
		t.Fatalf("FromFrameAs header %+v differs from FromFrame's %+v", as, st)
	}
	// what the router writes to another server carries both addresses
	for _, s := range []*Stanza{st, as, st.WithAddrs(k.from, st.To), st.Readdressed(k.from)} {
		b := s.AddressedBytes()
		e, perr := xmlscan.ParseElem(b, NSClient)
		if perr != nil {
			t.Fatalf("addressed copy does not stand alone: %v: %q", perr, b)
		}
		checkAddr(t, e, "to", s.To, b)
		checkAddr(t, e, "from", s.From, b)
	}
	return nil
}

func checkAddr(t *testing.T, e xmlscan.Elem, name string, want jid.JID, b []byte) {
	t.Helper()
	v, ok := e.Attr(name)
	if want.IsZero() {
		if ok {
			t.Fatalf("%s='%s' left on a stanza without one: %q", name, v, b)
		}
		return
	}
	got, err := jid.Parse(string(v))
	if !ok || err != nil || !got.Equal(want) {
		t.Fatalf("%s='%s' (%v), want %q: %q", name, v, err, want, b)
	}
}

// checkFromFrame: a stanza stands alone with its header, a non-stanza is
// ErrNotStanza, and a bad header is the RFC condition with the stanza
// filled enough to answer it.
func checkFromFrame(t *testing.T, local string, st *Stanza, err error) {
	t.Helper()
	if KindOf([]byte(local)) == KindNone {
		if !errors.Is(err, ErrNotStanza) || st != nil {
			t.Fatalf("<%s/> gave %v, %v; want ErrNotStanza", local, st, err)
		}
		return
	}
	if st == nil {
		t.Fatalf("<%s/> gave no stanza (%v)", local, err)
	}
	if err != nil {
		var se *Error
		if !errors.As(err, &se) || (se.Cond != JIDMalformed && se.Cond != BadRequest) {
			t.Fatalf("<%s/>: %v, want jid-malformed or bad-request", local, err)
		}
		if st.ErrorReply(se) == nil && st.Type != TypeError {
			t.Fatalf("no error reply for %q", st.Bytes())
		}
		return
	}
	e, perr := xmlscan.ParseElem(st.Bytes(), NSClient)
	if perr != nil {
		t.Fatalf("copy does not stand alone: %v: %q", perr, st.Bytes())
	}
	if string(e.Local()) != local || st.Kind.String() != local {
		t.Fatalf("copy of <%s/> is <%s/> (kind %v)", local, e.Local(), st.Kind)
	}
	if id, _ := e.Attr("id"); string(id) != st.ID {
		t.Fatalf("id %q, the copy says %q", st.ID, id)
	}
}

// FuzzFromFrame: whatever element a peer sends, FromFrame and FromFrameAs
// make a standalone copy whose header matches its bytes, or answer with
// ErrNotStanza or an RFC condition; readdressing keeps it well-formed.
func FuzzFromFrame(f *testing.F) {
	for _, s := range []string{
		"<message to='Bob@Localhost/r' from='a@localhost' type='chat' id='m1' xml:lang='en'><body>hi &amp; bye</body><x:y/></message>",
		"<iq type='get' id='q'><query xmlns='jabber:iq:roster'/></iq>",
		"<message to='a@@b' id='bad'/><iq id='notype'/>",
		"<presence from='&#x61;@b' to=\"c@d/&apos;\" type='unavailable'/>",
		"<message xmlns:y='urn:y' to='x@y' from='z@y' to='q@y'><y:a y:b='1'/></message>",
		"<foo/><x:message xmlns:x='jabber:client'/>",
	} {
		f.Add([]byte(s))
	}
	head := []byte("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:outer'>")
	from := jid.MustParse("alice@localhost/a'b")
	f.Fuzz(func(t *testing.T, in []byte) {
		var sc xmlscan.Scanner
		sc.SetLimits(xmlscan.Limits{MaxElementBytes: 4096, MaxDepth: 16, MaxAttrs: 32})
		_ = sc.Feed(append(head[:len(head):len(head)], in...), &fuzzSink{t: t, from: from})
	})
}
