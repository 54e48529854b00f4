package xmlscan

import (
	"bytes"
	"math/bits"
	"strconv"
	"unsafe"
)

// Limits bound what one stream may cost. Zero fields take defaults.
type Limits struct {
	MaxElementBytes int // bytes of one depth-1 element, start to end tag; default 256 KiB
	MaxDepth        int // nesting below the stream root; default 32
	MaxAttrs        int // attributes (incl. xmlns declarations) on one element; default 64
}

const (
	defMaxElementBytes = 256 << 10
	defMaxDepth        = 32
	defMaxAttrs        = 64

	// maxRefLen bounds a reference from '&' to ';' so that waiting for its end
	// rescans only a few bytes ("&#x10FFFF;" is 10; leading zeros are allowed).
	maxRefLen = 32
)

// Sink receives what a Scanner finds. Returning an error stops Feed, which
// returns that error unchanged.
type Sink interface {
	StreamOpen(f *Frame) error // the stream root's start tag (depth 0 → 1)
	Element(f *Frame) error    // one complete depth-1 element
	StreamClose() error        // the stream root's end tag
}

type state uint8

const (
	stTop       state = iota // between constructs: only white space until '<'
	stOpen                   // saw '<'
	stName                   // reading an element name
	stAttrSep                // after the element name or a value: white space, '>' or "/>"
	stTagSpace               // white space inside a start tag: attribute, '>' or "/>"
	stAttrName               // reading an attribute name
	stAttrEq                 // after an attribute name: white space, then '='
	stAttrQuote              // after '=': white space, then ' or "
	stAttrValue              // inside a quoted value; s.quote is ' or "
	stSelfClose              // saw '/' in a start tag; '>' must follow
	stEndName                // reading the name of an end tag, which must match the open one
	stEndSpace               // after an end tag's name: white space, then '>'
	stText                   // character data inside a stanza
	stRef                    // at '&'; s.ret is the state to go back to
	stBang                   // saw "<!": only "<![CDATA[" is allowed, inside an element
	stCDATA                  // inside a CDATA section
	stDecl                   // inside "<?", which may only be the leading XML declaration
)

var stateNames = [...]string{"Top", "Open", "Name", "AttrSep", "TagSpace", "AttrName", "AttrEq",
	"AttrQuote", "AttrValue", "SelfClose", "EndName", "EndSpace", "Text", "Ref", "Bang", "CDATA", "Decl"}

func (s state) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// event is what run found.
type event uint8

const (
	evMore    event = iota // b is exhausted
	evOpen                 // the stream header is complete
	evElement              // a depth-1 element is complete
	evClose                // the stream root is closed
)

// flags
const (
	fStarted      = 1 << iota // a byte of the stream was seen (an XML declaration may only come first)
	fDeclOK                   // the current '<' is the first byte of the stream
	fDone                     // the root was closed: only white space may follow
	fPrefix                   // the current start tag has a prefixed name: check bindings at its end
	fPendingClose             // the header was self-closing: report the close next
	fColon                    // the name being read, split across Feeds, has a colon
	fRootless                 // no stream root: every top-level element is a depth-1 one (SetRootless); kept by Reset
)

// Scanner is an incremental tokenizer over one XML stream. The zero value is
// ready to use with default limits. A Scanner is not safe for concurrent use.
//
// Positions of the element being read (its open tags, the current token) are
// kept relative to its '<', so that they stay valid when its bytes move from
// the caller's buffer into carry.
type Scanner struct {
	carry []byte  // the unfinished construct from its '<'; nil when idle
	slab  *[]byte // the pool box carry came from, nil if not pooled
	root  []byte  // the header: "name\x00" then "prefix\x00uri\x00" per xmlns declaration (URIs decoded)
	deep  []uint32
	err   error
	frame Frame
	off   int64 // stream offset of the buffer being scanned, for error messages

	maxElem  int32
	maxDepth uint16
	maxAttrs uint16

	stack  [12]uint32 // '<' of each open element of the stanza; deeper ones in deep
	resume uint32     // where scanning continues in carry
	mark   uint32     // start of the token being read
	tag    uint32     // '<' of the tag being read
	ftag   uint32     // end of the stanza's own start tag
	bloom  uint64     // hashes of the attribute names of the current tag, for duplicates
	defNS  [2]uint32  // the header's default namespace: root[defNS[0]:defNS[1]]
	nattr  uint16
	level  uint16 // 0 before the header, 1 inside the root (or rootless), 2+ inside a stanza
	state  state
	ret    state
	quote  byte
	flags  uint8
}

// SetLimits sets the limits (zero fields take defaults). Call before Feed.
func (s *Scanner) SetLimits(l Limits) {
	if l.MaxElementBytes <= 0 {
		l.MaxElementBytes = defMaxElementBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defMaxDepth
	}
	if l.MaxAttrs <= 0 {
		l.MaxAttrs = defMaxAttrs
	}
	s.maxElem = int32(min(l.MaxElementBytes, 1<<30))
	s.maxDepth = uint16(min(l.MaxDepth, 1<<15))
	s.maxAttrs = uint16(min(l.MaxAttrs, 1<<15))
}

// SetRootless makes the input a sequence of top-level elements with no
// stream root, as over WebSocket (RFC 7395 §3.3.3): each is reported to
// Sink.Element, in no inherited namespace, and StreamOpen and StreamClose
// never come (the framing's <open/> and <close/> are elements too). Call
// before Feed; Reset keeps the mode.
func (s *Scanner) SetRootless(on bool) {
	s.flags &^= fRootless
	s.level = 0
	if on {
		s.flags |= fRootless
		s.level = 1 // as if inside a root that declares nothing
	}
}

// Reset forgets everything (stream header, namespace bindings, carried bytes):
// a stream restart after STARTTLS, SASL success or compression.
func (s *Scanner) Reset() {
	s.dropCarry()
	rootless := s.flags&fRootless != 0
	*s = Scanner{root: s.root[:0], deep: s.deep[:0], maxElem: s.maxElem, maxDepth: s.maxDepth, maxAttrs: s.maxAttrs}
	s.SetRootless(rootless)
}

// Buffered reports how many bytes of an unfinished element the Scanner holds.
// It is 0 when idle, and the Scanner then holds no buffer at all.
func (s *Scanner) Buffered() int { return len(s.carry) }

// Held reports the capacity of the buffer the Scanner holds for an
// unfinished element: the memory a peer makes it keep.
func (s *Scanner) Held() int { return cap(s.carry) }

// Feed scans p. p is borrowed: Feed copies only the unfinished tail into its own
// carry buffer and keeps no other reference. After an error the Scanner is
// unusable until Reset.
func (s *Scanner) Feed(p []byte, sink Sink) error {
	if s.err != nil {
		return s.err
	}
	if s.maxElem == 0 {
		s.SetLimits(Limits{})
	}
	if len(s.carry) > 0 {
		n, err := s.feedCarry(p, sink)
		if err != nil {
			return s.stop(err)
		}
		if len(s.carry) > 0 {
			return nil // p went into carry entirely
		}
		p = p[n:]
	}
	i, base := 0, -1
	for {
		ev, end, b, err := s.run(p, i, base)
		if err != nil {
			return s.stop(err)
		}
		if ev == evMore {
			if b < 0 {
				s.off += int64(len(p))
				s.dropCarry() // the buffer feedCarry emptied, if any
				return nil
			}
			if len(p)-b >= int(s.maxElem) {
				// it cannot end within the limit: no need to keep it
				return s.stop(s.fail(b+int(s.maxElem), ErrLimit, "element too large"))
			}
			s.keep(p[b:])
			s.resume = uint32(end - b)
			s.off += int64(b)
			return nil
		}
		if err := s.emit(ev, p[b:end], sink); err != nil {
			return s.stop(err)
		}
		i, base = end, -1
	}
}

// stop makes err the Scanner's error, returning the buffer feedCarry emptied
// (a Scanner that failed holds only an unfinished element until Reset).
func (s *Scanner) stop(err error) error {
	if len(s.carry) == 0 {
		s.dropCarry()
	}
	s.err = err
	return err
}

// feedCarry continues the carried construct with p. It appends p in growing
// pieces, so that a stanza ending early in a large p costs a copy of about its
// own size, and returns how many bytes of p it used.
func (s *Scanner) feedCarry(p []byte, sink Sink) (int, error) {
	old := len(s.carry)
	used := 0
	for {
		n := min(len(p)-used, max(len(s.carry), 1024), int(s.maxElem)-len(s.carry))
		s.grow(n)
		s.carry = append(s.carry, p[used:used+n]...)
		used += n
		ev, end, base, err := s.run(s.carry, int(s.resume), 0)
		if err != nil {
			return 0, err
		}
		if ev == evMore {
			if base != 0 {
				// a construct (the XML declaration) ended inside carry: keep only
				// what follows it, if anything
				if base < 0 {
					s.off += int64(len(s.carry))
					s.dropCarry()
					return used, nil
				}
				n := copy(s.carry, s.carry[base:])
				s.carry = s.carry[:n]
				s.off += int64(base)
				old -= base
				end -= base
			}
			s.resume = uint32(end)
			if len(s.carry) >= int(s.maxElem) {
				return 0, s.fail(int(s.maxElem), ErrLimit, "element too large")
			}
			if used == len(p) {
				return used, nil
			}
			continue
		}
		// carry[old:end] came from p; what follows is scanned again in p itself.
		// The emptied buffer stays until Feed ends: its tail most often
		// goes into it again, sparing the pool a put and a get per read.
		err = s.emit(ev, s.carry[base:end], sink)
		s.carry = s.carry[:0]
		s.off += int64(end)
		return end - old, err
	}
}

// emit reports an event to sink; doc holds the element or header.
func (s *Scanner) emit(ev event, doc []byte, sink Sink) error {
	var err error
	switch ev {
	case evOpen:
		s.frame.Elem = Elem{doc: doc, end: int32(len(doc)), tend: int32(len(doc)), kind: kHead}
		err = sink.StreamOpen(&s.frame)
	case evElement:
		s.frame.Elem = Elem{doc: doc, end: int32(len(doc)), tend: int32(s.ftag), kind: kElem,
			inh: unsafe.String(unsafe.SliceData(s.root[s.defNS[0]:]), s.defNS[1]-s.defNS[0]), outer: &s.root}
		err = sink.Element(&s.frame)
	case evClose:
		err = sink.StreamClose()
	}
	s.frame = Frame{} // keep no reference to borrowed bytes
	return err
}

// fail makes the error for position pos of the buffer being scanned.
func (s *Scanner) fail(pos int, sentinel error, msg string) error {
	return &SyntaxError{Err: sentinel, Offset: s.off + int64(pos), Msg: msg}
}

// push records the '<' of the element just opened at s.level.
func (s *Scanner) push(at uint32) {
	d := int(s.level) - 2
	if d < len(s.stack) {
		s.stack[d] = at
		return
	}
	d -= len(s.stack)
	if d < len(s.deep) {
		s.deep[d] = at
	} else {
		s.deep = append(s.deep, at)
	}
}

// open returns the '<' of the element open at level l (≥ 2).
func (s *Scanner) open(l int) uint32 {
	d := l - 2
	if d < len(s.stack) {
		return s.stack[d]
	}
	return s.deep[d-len(s.stack)]
}

// run scans b from i; base is the '<' of the construct being read, or -1
// between constructs. It returns at the first event (end is just past it, and
// b[base:end] is the header or element) or, with evMore, when b is exhausted
// (end is where scanning resumes). A construct sees at most maxElem bytes, so
// the limit is hit at the same byte however the input is split.
func (s *Scanner) run(full []byte, i, base int) (ev event, end, nbase int, err error) {
	b := full
	if base >= 0 && len(b)-base > int(s.maxElem) {
		b = b[:base+int(s.maxElem)]
	}
	if s.flags&fPendingClose != 0 {
		s.flags = s.flags&^fPendingClose | fDone
		s.level = 0
		return evClose, i, i, nil
	}
	// Entering dispatches once on the state; from then on every move goes
	// straight to the code of the next state (no jump table per tag), and
	// the common path through a tag falls through from one to the next.
	// A state that returns for more input sets s.state.
	switch s.state {
	case stOpen:
		goto inOpen
	case stName:
		goto inName
	case stAttrSep:
		goto inAttrSep
	case stTagSpace:
		goto inTagSpace
	case stAttrName:
		goto inAttrName
	case stAttrEq:
		goto inAttrEq
	case stAttrQuote:
		goto inAttrQuote
	case stAttrValue:
		goto inAttrValue
	case stSelfClose:
		goto inSelfClose
	case stEndName:
		goto inEndName
	case stEndSpace:
		goto inEndSpace
	case stText:
		goto inText
	case stRef:
		goto inRef
	case stBang:
		goto inBang
	case stCDATA:
		goto inCDATA
	case stDecl:
		goto inDecl
	}

inTop: // s.state == stTop
	{
		for i < len(b) && isSpace(b[i]) {
			i++
			s.flags |= fStarted
		}
		if i == len(b) {
			return evMore, i, -1, nil
		}
		if b[i] != '<' {
			switch {
			case s.flags&fStarted == 0 && (b[i] == 0 || b[i] == 0xFE || b[i] == 0xFF):
				// a UTF-16 byte order mark, or UTF-16BE/UTF-32 "<" (XML Appendix F)
				return 0, 0, 0, s.fail(i, ErrUnsupportedEncoding, "UTF-16 or UTF-32; only UTF-8 is allowed")
			case s.level == 1:
				return 0, 0, 0, s.fail(i, ErrNotWellFormed, "character data between stanzas")
			case s.flags&fDone != 0:
				return 0, 0, 0, s.fail(i, ErrNotWellFormed, "content after the end of the stream")
			}
			return 0, 0, 0, s.fail(i, ErrNotWellFormed, "character data before the stream header")
		}
		if s.flags&fDone != 0 {
			return 0, 0, 0, s.fail(i, ErrNotWellFormed, "content after the end of the stream")
		}
		if s.flags&fStarted == 0 {
			s.flags |= fStarted | fDeclOK
		}
		base, s.tag = i, 0
		if len(full)-base > int(s.maxElem) {
			b = full[:base+int(s.maxElem)]
		}
		i++
		s.state = stOpen
		goto inOpen
	}

inText:
	{
		for {
			if i < len(b) && b[i] == '<' {
				break // no text between two tags, the common case: no call
			}
			i = skipText(b, i)
			if i == len(b) {
				return evMore, i, base, nil
			}
			c := b[i]
			if c == '<' {
				break
			}
			if c == '&' {
				s.ret, s.state = stText, stRef
				goto inRef
			}
			n, end, err := s.stray(b, i)
			switch {
			case err != nil:
				return 0, 0, 0, err
			case end: // "]]>" may not appear in character data (XML §2.4)
				return 0, 0, 0, s.fail(i+2, ErrNotWellFormed, "']]>' in character data")
			case n == 0:
				return evMore, i, base, nil
			}
			i += n
		}
		s.tag = uint32(i - base)
		i++
	}

inOpen:
	{
		if i == len(b) {
			s.state = stOpen
			return evMore, i, base, nil
		}
		n := 1
		if c := b[i]; nameTab[c]&nameStart == 0 || s.flags&fDeclOK != 0 {
			declOK := s.flags&fDeclOK != 0
			s.flags &^= fDeclOK
			switch {
			case c == '/':
				if s.level == 0 || s.level == 1 && len(s.root) == 0 {
					return 0, 0, 0, s.fail(i, ErrNotWellFormed, "end tag without start tag")
				}
				i++
				s.mark, s.state = uint32(i-base), stEndName
				goto inEndName
			case c == '?':
				if !declOK {
					return 0, 0, 0, s.fail(i, ErrRestrictedXML, "processing instruction")
				}
				i++
				s.state = stDecl
				goto inDecl
			case c == '!':
				i++
				s.state = stBang
				goto inBang
			case c == 0 && declOK:
				// "<" then NUL: UTF-16LE without a byte order mark (XML Appendix F)
				return 0, 0, 0, s.fail(i, ErrUnsupportedEncoding, "UTF-16 or UTF-32; only UTF-8 is allowed")
			}
			n = nameStartAt(b, i)
			if n == 0 {
				if declOK {
					s.flags |= fDeclOK
				}
				s.state = stOpen
				return evMore, i, base, nil
			}
			if n < 0 {
				return 0, 0, 0, s.fail(i, ErrNotWellFormed, "invalid element name")
			}
		}
		if b[i] == ':' {
			s.flags |= fColon // scanName sees only what follows
		}
		s.mark = uint32(i - base)
		i += n
	}

inName:
	{
		j, colon, more := scanName(b, i)
		i = j
		if more {
			s.state = stName
			if colon {
				s.flags |= fColon
			}
			return evMore, i, base, nil
		}
		if colon || s.flags&fColon != 0 {
			s.flags &^= fColon
			if err := s.qname(b[base+int(s.mark):i], base+int(s.mark)); err != nil {
				return 0, 0, 0, err
			}
		}
		if s.level > 0 {
			s.level++
			if int(s.level)-1 > int(s.maxDepth) {
				return 0, 0, 0, s.fail(i, ErrLimit, "elements nested too deep")
			}
			s.push(s.tag)
		}
	}

inAttrSep:
	{
		if i == len(b) {
			s.state = stAttrSep
			return evMore, i, base, nil
		}
		if c := b[i]; !isSpace(c) {
			switch c {
			case '>':
				if ev, err := s.tagDone(b, base, i, false); ev != evMore || err != nil {
					return ev, i + 1, base, err
				}
				i++
				goto inText // tagDone left stText
			case '/':
				i++
				s.state = stSelfClose
				goto inSelfClose
			}
			return 0, 0, 0, s.fail(i, ErrNotWellFormed, "expected white space, '>' or '/>' in start tag")
		}
		i++
	}

inTagSpace:
	{
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i == len(b) {
			s.state = stTagSpace
			return evMore, i, base, nil
		}
		n := 1
		if c := b[i]; nameTab[c]&nameStart != 0 {
			// most attributes are plain: read them in one tight loop, and
			// come back here for the first that is not
			j, done, err := s.plainAttrs(b, base, i)
			if err != nil {
				return 0, 0, 0, err
			}
			i = j
			if done {
				s.state = stAttrSep
				goto inAttrSep
			}
		} else {
			switch c {
			case '>':
				if ev, err := s.tagDone(b, base, i, false); ev != evMore || err != nil {
					return ev, i + 1, base, err
				}
				i++
				goto inText // tagDone left stText
			case '/':
				i++
				s.state = stSelfClose
				goto inSelfClose
			}
			n = nameStartAt(b, i)
			if n == 0 {
				s.state = stTagSpace
				return evMore, i, base, nil
			}
			if n < 0 {
				return 0, 0, 0, s.fail(i, ErrNotWellFormed, "invalid attribute name")
			}
		}
		s.nattr++
		if s.nattr > s.maxAttrs {
			return 0, 0, 0, s.fail(i, ErrLimit, "too many attributes")
		}
		if b[i] == ':' {
			s.flags |= fColon
		}
		s.mark = uint32(i - base)
		i += n
	}

inAttrName:
	{
		// as in inName; a method for both costs a call per name (+3.4% instructions)
		j, colon, more := scanName(b, i)
		i = j
		if more {
			s.state = stAttrName
			if colon {
				s.flags |= fColon
			}
			return evMore, i, base, nil
		}
		at := base + int(s.mark)
		name := b[at:i]
		if colon || s.flags&fColon != 0 {
			s.flags &^= fColon
			if err := s.qname(name, at); err != nil {
				return 0, 0, 0, err
			}
		}
		if h := attrHash(name); s.bloom&h == 0 {
			s.bloom |= h
		} else if dupAttr(b[base+int(s.tag):at], name) {
			return 0, 0, 0, s.fail(at, ErrNotWellFormed, "duplicate attribute")
		}
	}

inAttrEq:
	{
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i == len(b) {
			s.state = stAttrEq
			return evMore, i, base, nil
		}
		if b[i] != '=' {
			return 0, 0, 0, s.fail(i, ErrNotWellFormed, "expected '=' after attribute name")
		}
		i++
	}

inAttrQuote:
	{
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i == len(b) {
			s.state = stAttrQuote
			return evMore, i, base, nil
		}
		if c := b[i]; c == '\'' || c == '"' {
			s.quote = c
		} else {
			return 0, 0, 0, s.fail(i, ErrNotWellFormed, "attribute value not quoted")
		}
		i++
	}

inAttrValue:
	{
		for {
			i = skipValue(b, i)
			if i == len(b) {
				s.state = stAttrValue
				return evMore, i, base, nil
			}
			switch c := b[i]; {
			case c == s.quote:
				i++
				s.state = stAttrSep
				goto inAttrSep
			case c == '\'' || c == '"':
				i++
			case c == '&':
				s.ret, s.state = stAttrValue, stRef
				goto inRef
			case c == '<':
				return 0, 0, 0, s.fail(i, ErrNotWellFormed, "'<' in attribute value")
			default:
				n, _, err := s.stray(b, i) // skipValue passes ']'
				if err != nil {
					return 0, 0, 0, err
				}
				if n == 0 {
					s.state = stAttrValue
					return evMore, i, base, nil
				}
				i += n
			}
		}
	}

inSelfClose:
	{
		if i == len(b) {
			return evMore, i, base, nil
		}
		if b[i] != '>' {
			return 0, 0, 0, s.fail(i, ErrNotWellFormed, "expected '>' after '/' in tag")
		}
		if ev, err := s.tagDone(b, base, i, true); ev != evMore || err != nil {
			return ev, i + 1, base, err
		}
		i++
		goto inText // tagDone left stText
	}

inEndName:
	{
		// compare with the open start tag's name in place: it ends at its
		// first byte that is not part of a name (the root's at its NUL)
		var want []byte
		if s.level == 1 {
			want = s.root
		} else {
			want = b[base+int(s.open(int(s.level)))+1:]
		}
		k := i - base - int(s.mark)
		for i+8 <= len(b) && k+8 <= len(want) {
			// eight bytes at a time while the name is letters (the mask of
			// scanName); anything else is left to the byte loop below
			w := load64(want, k)
			y := w | lsb*0x20
			m := ((y - lsb*0x61) | (y + lsb*(0x80-0x7B))) & msb
			d := (load64(b, i) ^ w) | m>>7 // nonzero at a difference or a non-letter
			if d == 0 {
				i, k = i+8, k+8
				continue
			}
			f := bits.TrailingZeros64(m) >> 3 // 8 if all letters
			if f < 8 && bits.TrailingZeros64(d)>>3 == f && nameTab[want[k+f]]&(nameChar|nameMulti) == 0 {
				i, k = i+f, k+f // the name ended at f, and all before matched
			}
			break
		}
		for ; nameTab[want[k]]&(nameChar|nameMulti) != 0; k++ {
			if i == len(b) {
				return evMore, i, base, nil
			}
			if b[i] != want[k] {
				return 0, 0, 0, s.fail(i, ErrNotWellFormed, "end tag does not match start tag")
			}
			i++
		}
	}

inEndSpace:
	{
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i == len(b) {
			s.state = stEndSpace
			return evMore, i, base, nil
		}
		if b[i] != '>' {
			return 0, 0, 0, s.fail(i, ErrNotWellFormed, "end tag does not match start tag")
		}
		i++
		s.level--
		switch s.level {
		case 0:
			s.flags |= fDone
			s.state = stTop
			return evClose, i, base, nil
		case 1:
			s.state = stTop
			return evElement, i, base, nil
		}
		s.state = stText
		goto inText
	}

inRef:
	{
		// wait for the whole reference: it is short, and then checked at once
		lim := min(len(b), i+maxRefLen)
		k := -1
		for j := i + 1; j < lim; j++ {
			if c := b[j]; c == ';' {
				k = j - i - 1
				break
			} else if c < 0x80 && nameTab[c]&nameChar == 0 && c != '#' {
				return 0, 0, 0, s.fail(j, ErrNotWellFormed, "malformed reference")
			}
		}
		if k < 0 {
			if lim == len(b) && lim-i < maxRefLen {
				return evMore, i, base, nil
			}
			return 0, 0, 0, s.fail(lim-1, ErrNotWellFormed, "malformed reference")
		}
		if msg, sentinel := checkRef(b[i+1 : i+1+k]); sentinel != nil {
			return 0, 0, 0, s.fail(i+1+k, sentinel, msg)
		}
		i += k + 2
		s.state = s.ret
		if s.ret == stText {
			goto inText
		}
		goto inAttrValue
	}

inBang:
	{
		const cdata = "[CDATA["
		k := i - base - int(s.tag) - 2
		for i < len(b) && k < len(cdata) {
			if b[i] != cdata[k] {
				if k == 0 && (b[i] == '-' || b[i] == 'D') {
					return 0, 0, 0, s.fail(i, ErrRestrictedXML, "comment or document type declaration")
				}
				return 0, 0, 0, s.fail(i, ErrNotWellFormed, "invalid '<!' markup")
			}
			if s.level < 2 {
				return 0, 0, 0, s.fail(i, ErrNotWellFormed, "CDATA section outside a stanza")
			}
			i++
			k++
		}
		if k < len(cdata) {
			return evMore, i, base, nil
		}
		s.state = stCDATA
	}

inCDATA:
	{
		for {
			for i < len(b) && cdataTab[b[i]] == 0 {
				i++
			}
			if i == len(b) {
				return evMore, i, base, nil
			}
			n, end, err := s.stray(b, i)
			switch {
			case err != nil:
				return 0, 0, 0, err
			case end:
				i += 3
				s.state = stText
				goto inText
			case n == 0:
				return evMore, i, base, nil
			}
			i += n
		}
	}

inDecl:
	{
		for {
			k := bytes.IndexByte(b[i:], '>')
			if k < 0 {
				return evMore, len(b), base, nil
			}
			i += k + 1
			if i-2 >= base+2 && b[i-2] == '?' {
				break
			}
		}
		if msg, sentinel := checkDecl(b[base+2 : i-2]); sentinel != nil {
			return 0, 0, 0, s.fail(i-1, sentinel, msg)
		}
		s.state, base, b = stTop, -1, full
		goto inTop
	}
}

// stray looks at b[i], where the loop over text, a CDATA section or a value
// stopped at something other than markup: ']' (which may start "]]>", then
// end), a control character, or a non-ASCII byte. It returns how many bytes
// to pass, or 0 when b ends before it can tell.
func (s *Scanner) stray(b []byte, i int) (n int, end bool, err error) {
	switch c := b[i]; {
	case c == ']':
		if i+2 < len(b) {
			return 1, b[i+1] == ']' && b[i+2] == '>', nil
		}
		if i+1 == len(b) || b[i+1] == ']' {
			return 0, false, nil
		}
		return 1, false, nil
	case c < 0x80:
		return 0, false, s.fail(i, ErrNotWellFormed, "control character")
	}
	if n = char(b, i); n < 0 {
		return 0, false, s.fail(i, ErrNotWellFormed, "invalid UTF-8 or character")
	}
	return n, false, nil
}

// plainAttrs reads attributes from the name start at b[i] while they are
// plain: an ASCII name, '=' and a quote right after it, and a value without
// references that ends in b. It stops after the value of the last attribute
// followed by a single white space and another name (done: the state is
// stAttrSep at the returned position), or at the start of an attribute that is
// not plain, which the state machine then reads from there (not done). It
// checks what the state machine would, in the same order, once a whole
// attribute is read; anything unusual is left to the state machine, which
// reports it at the same byte.
func (s *Scanner) plainAttrs(b []byte, base, i int) (int, bool, error) {
	for {
		at := i
		var seen uint8 // the name's byte classes, for a colon
		for {
			// ASCII letters eight at a time, as in scanName
			if i+8 > len(b) {
				return at, false, nil
			}
			y := load64(b, i) | lsb*0x20
			m := ((y - lsb*0x61) | (y + lsb*(0x80-0x7B))) & msb
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
			t := nameTab[b[i]]
			if t&nameChar == 0 {
				break
			}
			seen |= t
			i++
		}
		end := i
		if i+2 > len(b) || b[i] != '=' {
			return at, false, nil
		}
		q := b[i+1]
		if q != '\'' && q != '"' {
			return at, false, nil
		}
		i += 2
		for {
			if i+8 > len(b) {
				return at, false, nil
			}
			m := valueMask(load64(b, i))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
			c := b[i]
			switch {
			case c == q:
			case attrTab[c] == 0, c == '\'' || c == '"':
				i++
				continue
			case c >= 0x80:
				n := shortChar(b, i)
				if n == 0 {
					n = char(b, i)
				}
				if n <= 0 {
					return at, false, nil
				}
				i += n
				continue
			default: // a reference, '<' or a control character
				return at, false, nil
			}
			break
		}
		i++
		s.nattr++
		if s.nattr > s.maxAttrs {
			return 0, false, s.fail(at, ErrLimit, "too many attributes")
		}
		name := b[at:end]
		if seen&nameColon != 0 {
			if err := s.qname(name, at); err != nil {
				return 0, false, err
			}
		}
		if h := attrHash(name); s.bloom&h == 0 {
			s.bloom |= h
		} else if dupAttr(b[base+int(s.tag):at], name) {
			return 0, false, s.fail(at, ErrNotWellFormed, "duplicate attribute")
		}
		if i+1 >= len(b) || !isSpace(b[i]) || nameTab[b[i+1]]&nameStart == 0 {
			return i, true, nil
		}
		i++
	}
}

// tagDone ends a start tag at b[i] == '>'. It reports evOpen for the stream
// header and evElement for a self-closing stanza.
func (s *Scanner) tagDone(b []byte, base, i int, self bool) (event, error) {
	if s.flags&fPrefix != 0 {
		if err := s.checkNS(b, base, i); err != nil {
			return evMore, err
		}
		s.flags &^= fPrefix
	}
	s.nattr, s.bloom = 0, 0
	if s.level == 0 {
		s.level = 1
		s.state = stTop
		s.setRoot(b[base : i+1])
		if self {
			s.flags |= fPendingClose // report the close on the next call of run
		}
		return evOpen, nil
	}
	if s.tag == 0 {
		s.ftag = uint32(i + 1 - base)
		// a second header would make all that follows its content: refuse it
		// at its start tag rather than buffer the stream until the limit
		// (the first byte rules out nearly every stanza without a call)
		if len(s.root) > 0 && b[base+1] == s.root[0] && bytes.Equal(tagName(b[base+1:i+1]), rootName(s.root)) {
			return evMore, s.fail(base, ErrNestedHeader, "a stream header inside the stream")
		} else if s.flags&fRootless != 0 && string(tagName(b[base+1:i+1])) == "stream:stream" {
			// RFC 6120's root where there is none (a TCP client on RFC 7395 framing)
			return evMore, s.fail(base, ErrNestedHeader, "a stream header where the input has no root")
		}
	}
	if self {
		s.level--
		if s.level == 1 {
			s.state = stTop
			return evElement, nil
		}
	}
	s.state = stText
	return evMore, nil
}

// qname checks the colons of a name (Namespaces in XML §3): at most one, with
// non-empty parts, and a NameStartChar after it.
func (s *Scanner) qname(name []byte, at int) error {
	c := bytes.IndexByte(name, ':')
	if c < 0 {
		return nil
	}
	if c == 0 || c == len(name)-1 || bytes.IndexByte(name[c+1:], ':') >= 0 || nameStartAt(name, c+1) <= 0 {
		return s.fail(at, ErrNotWellFormed, "invalid qualified name")
	}
	if c != 3 || string(name[:3]) != "xml" {
		s.flags |= fPrefix // "xml:lang" needs no check; other prefixes do
	}
	return nil
}

// attrHash is one bit of a 64-bit filter over attribute names: a clash sends
// the tag to the exact (slower) duplicate check. The constants give the
// common XMPP attribute names a bit each (TestAttrHashCommon): the old ones
// put xmlns and node on one bit, a full check on every caps element.
func attrHash(name []byte) uint64 {
	h := uint(len(name))*0xA23 ^ uint(name[0])*0x50F7 ^ uint(name[len(name)-1])*0xE2C3
	if len(name) > 2 {
		h ^= uint(name[1]) * 0xA28F
	}
	return 1 << ((h ^ h>>6) & 63)
}

// dupAttr reports whether the complete attributes of the partial start tag t
// include one named name.
func dupAttr(t []byte, name []byte) bool {
	k := len(tagName(t[1:])) + 1
	for {
		a, next, ok := nextAttr(t, k)
		if !ok {
			return false
		}
		if bytes.Equal(a.Name, name) {
			return true
		}
		k = next
	}
}

// setRoot keeps what outlives the header's bytes: its name, for the end tag,
// and its namespace bindings, for stanzas.
func (s *Scanner) setRoot(t []byte) {
	name := tagName(t[1:])
	r := append(s.root[:0], name...)
	r = append(r, 0)
	k := len(name) + 1
	for {
		a, next, ok := nextAttr(t, k)
		if !ok {
			break
		}
		k = next
		switch {
		case string(a.Name) == "xmlns":
			r = append(r, 0)
		case len(a.Name) > 6 && string(a.Name[:6]) == "xmlns:":
			r = append(r, a.Name[6:]...)
			r = append(r, 0)
		default:
			continue
		}
		r = appendDecoded(r, a.RawValue, true)
		r = append(r, 0)
	}
	s.root = r
	s.defNS = [2]uint32{}
	if from, to, ok := rootBindingAt(r, nil); ok {
		s.defNS = [2]uint32{uint32(from), uint32(to)}
	}
}

func rootName(root []byte) []byte {
	if i := bytes.IndexByte(root, 0); i >= 0 {
		return root[:i]
	}
	return nil
}

// rootBinding returns the namespace bound to prefix ("" for the default) by
// the header described by root.
func rootBinding(root, prefix []byte) ([]byte, bool) {
	from, to, ok := rootBindingAt(root, prefix)
	return root[from:to:to], ok
}

func rootBindingAt(root, prefix []byte) (from, to int, ok bool) {
	i := bytes.IndexByte(root, 0)
	if i < 0 {
		return 0, 0, false
	}
	for at := i + 1; at < len(root); {
		p := bytes.IndexByte(root[at:], 0)
		if p < 0 {
			break
		}
		u := bytes.IndexByte(root[at+p+1:], 0)
		if u < 0 {
			break
		}
		if bytes.Equal(root[at:at+p], prefix) {
			return at + p + 1, at + p + 1 + u, true
		}
		at += p + 1 + u + 1
	}
	return 0, 0, false
}

const (
	xmlNS   = "http://www.w3.org/XML/1998/namespace"
	xmlnsNS = "http://www.w3.org/2000/xmlns/"
)

// checkNS checks the prefixes of the start tag ending at b[i]: every prefix
// used is bound, and declarations are legal (Namespaces in XML §3, §5).
func (s *Scanner) checkNS(b []byte, base, i int) error {
	at := base + int(s.tag)
	t := b[at : i+1]
	name := tagName(t[1:])
	if c := bytes.IndexByte(name, ':'); c >= 0 {
		p := name[:c]
		if string(p) == "xmlns" {
			return s.fail(at, ErrNotWellFormed, "element with the xmlns prefix")
		}
		if !s.bound(b, base, t, p) {
			return s.fail(at, ErrNotWellFormed, "unbound namespace prefix")
		}
	}
	k := len(name) + 1
	for {
		a, next, ok := nextAttr(t, k)
		if !ok {
			return nil
		}
		k = next
		c := bytes.IndexByte(a.Name, ':')
		if c < 0 {
			continue
		}
		p := a.Name[:c]
		switch string(p) {
		case "xmlns":
			local := a.Name[c+1:]
			v := a.RawValue
			if bytes.IndexByte(v, '&') >= 0 {
				v = appendDecoded(nil, v, true)
			}
			switch {
			case len(v) == 0:
				return s.fail(at+a.Off, ErrNotWellFormed, "empty namespace for a prefix")
			case string(local) == "xmlns", string(v) == xmlnsNS:
				return s.fail(at+a.Off, ErrNotWellFormed, "xmlns prefix or namespace declared")
			case (string(local) == "xml") != (string(v) == xmlNS):
				return s.fail(at+a.Off, ErrNotWellFormed, "xml prefix bound wrongly")
			}
		case "xml":
		default:
			if !s.bound(b, base, t, p) {
				return s.fail(at+a.Off, ErrNotWellFormed, "unbound namespace prefix")
			}
		}
	}
}

// bound reports whether prefix is declared on t, on an open ancestor in b, or
// on the stream header.
func (s *Scanner) bound(b []byte, base int, t, prefix []byte) bool {
	if string(prefix) == "xml" || declared(t, prefix) != nil {
		return true
	}
	if s.level > 0 {
		// t is the innermost open element unless it is the header
		for l := int(s.level) - 1; l >= 2; l-- {
			if declared(b[base+int(s.open(l)):], prefix) != nil {
				return true
			}
		}
		_, ok := rootBinding(s.root, prefix)
		return ok
	}
	return false
}

// declared returns the raw value of the xmlns:prefix declaration of start tag
// t (which may run on past its end), or nil.
func declared(t, prefix []byte) []byte {
	k := len(tagName(t[1:])) + 1
	for {
		a, next, ok := nextAttr(t, k)
		if !ok {
			return nil
		}
		k = next
		if n := a.Name; len(n) == 6+len(prefix) && string(n[:6]) == "xmlns:" && string(n[6:]) == string(prefix) {
			if a.RawValue == nil {
				return []byte{}
			}
			return a.RawValue
		}
	}
}

// checkRef checks the reference between '&' and ';'.
func checkRef(r []byte) (msg string, sentinel error) {
	if len(r) == 0 {
		return "empty reference", ErrNotWellFormed
	}
	if r[0] != '#' {
		switch string(r) {
		case "lt", "gt", "amp", "apos", "quot":
			return "", nil
		}
		if validName(r) {
			return "entity reference other than the predefined ones", ErrRestrictedXML
		}
		return "malformed reference", ErrNotWellFormed
	}
	if _, ok := refRune(r); !ok {
		return "malformed character reference", ErrNotWellFormed
	}
	return "", nil
}

// refRune decodes a character reference "#N" or "#xH" (without & and ;).
func refRune(r []byte) (rune, bool) {
	digits := r[1:]
	hex := len(digits) > 0 && digits[0] == 'x'
	if hex {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return 0, false
	}
	v := 0
	for _, c := range digits {
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case hex && c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		case hex && c >= 'A' && c <= 'F':
			d = int(c-'A') + 10
		default:
			return 0, false
		}
		if hex {
			v = v*16 + d
		} else {
			v = v*10 + d
		}
		if v > 0x10FFFF {
			return 0, false
		}
	}
	return rune(v), isXMLChar(rune(v))
}

// checkDecl checks what is between "<?" and "?>" at the start of a stream: an
// XML declaration, UTF-8 only (XML §2.8, RFC 6120 §11.6).
func checkDecl(d []byte) (msg string, sentinel error) {
	if len(d) < 3 || !bytes.EqualFold(d[:3], []byte("xml")) || len(d) > 3 && !isSpace(d[3]) {
		return "processing instruction", ErrRestrictedXML
	}
	if string(d[:3]) != "xml" {
		return "processing instruction with a reserved target", ErrRestrictedXML
	}
	d = d[3:]
	var names = [...]string{"version", "encoding", "standalone"}
	next := 0
	for {
		n := 0
		for n < len(d) && isSpace(d[n]) {
			n++
		}
		if n == len(d) {
			break
		}
		if n == 0 {
			return "malformed XML declaration", ErrNotWellFormed
		}
		d = d[n:]
		e := bytes.IndexByte(d, '=')
		if e < 0 {
			return "malformed XML declaration", ErrNotWellFormed
		}
		name := bytes.TrimRight(d[:e], " \t\r\n")
		d = bytes.TrimLeft(d[e+1:], " \t\r\n")
		if len(d) == 0 || d[0] != '\'' && d[0] != '"' {
			return "malformed XML declaration", ErrNotWellFormed
		}
		q := bytes.IndexByte(d[1:], d[0])
		if q < 0 {
			return "malformed XML declaration", ErrNotWellFormed
		}
		v := d[1 : 1+q]
		d = d[2+q:]
		for next < len(names) && names[next] != string(name) {
			if next == 0 {
				return "XML declaration without version", ErrNotWellFormed
			}
			next++
		}
		if next == len(names) {
			return "malformed XML declaration", ErrNotWellFormed
		}
		switch next {
		case 0:
			if len(v) < 3 || string(v[:2]) != "1." || !allDigits(v[2:]) {
				return "bad XML version", ErrNotWellFormed
			}
		case 1:
			if !bytes.EqualFold(v, []byte("UTF-8")) {
				if len(v) == 0 || !encName(v) {
					return "bad encoding name", ErrNotWellFormed
				}
				return "encoding other than UTF-8", ErrUnsupportedEncoding
			}
		case 2:
			if string(v) != "yes" && string(v) != "no" {
				return "bad standalone value", ErrNotWellFormed
			}
		}
		next++
	}
	if next == 0 {
		return "XML declaration without version", ErrNotWellFormed
	}
	return "", nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func encName(b []byte) bool {
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}
