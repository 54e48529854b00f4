package xmlscan

import (
	"bytes"
	"unicode/utf8"
	"unsafe"
)

// Frame is a complete depth-1 element, or the stream root's start tag.
// It is borrowed: valid only during the Sink call it is passed to.
type Frame struct {
	Elem
}

// Elem is a cursor over one well-formed element's bytes. It is a small value,
// costs no allocation to copy, and never allocates except where noted.
// The zero Elem is "not found".
//
// It re-walks the validated bytes when asked something: that keeps it small,
// and walking a start tag costs less than building an index nobody reads.
type Elem struct {
	doc      []byte  // the outermost element (the frame, or ParseElem's input); this one is doc[off:end]
	off, end int32   //
	tend     int32   // end of the start tag in doc
	kind     uint8   // kNone, kElem or kHead
	inh      string  // the default namespace in force around the element, decoded
	outer    *[]byte // bindings declared outside doc (the stream header), see Scanner.root; or nil
}

const (
	kNone = iota
	kElem // a whole element
	kHead // the stream header: a start tag only
)

// ParseElem returns an Elem over b, which must hold exactly one well-formed
// element (for example bytes a Scanner framed earlier, or a stored stanza).
// inheritedNS is the default namespace in force around it ("jabber:client").
// Prefixes not declared inside b are unbound there, which is an error.
func ParseElem(b []byte, inheritedNS string) (Elem, error) {
	if len(b) == 0 || b[0] != '<' {
		return Elem{}, &SyntaxError{Err: ErrNotWellFormed, Msg: "not an element"}
	}
	var s Scanner
	s.SetLimits(Limits{MaxElementBytes: len(b) + 1})
	s.level, s.flags = 1, fStarted
	ev, end, _, err := s.run(b, 0, -1)
	if err != nil {
		return Elem{}, err
	}
	if ev != evElement {
		return Elem{}, &SyntaxError{Err: ErrNotWellFormed, Offset: int64(len(b)), Msg: "unfinished element"}
	}
	if end != len(b) {
		return Elem{}, &SyntaxError{Err: ErrNotWellFormed, Offset: int64(end), Msg: "bytes after the element"}
	}
	return Elem{doc: b, end: int32(len(b)), tend: int32(s.ftag), kind: kElem, inh: inheritedNS}, nil
}

func (e Elem) IsZero() bool { return e.kind == kNone }

// Raw returns the whole element; for a stream root: its start tag only.
func (e Elem) Raw() []byte {
	if e.kind == kNone {
		return nil
	}
	return e.doc[e.off:e.end:e.end]
}

func (e Elem) qname() []byte {
	if e.kind == kNone {
		return nil
	}
	return tagName(e.doc[e.off+1 : e.tend])
}

// Local returns the local name.
func (e Elem) Local() []byte {
	n := e.qname()
	if c := bytes.IndexByte(n, ':'); c >= 0 {
		return n[c+1:]
	}
	return n
}

// Prefix returns the prefix as written, or nil.
func (e Elem) Prefix() []byte {
	n := e.qname()
	if c := bytes.IndexByte(n, ':'); c >= 0 {
		return n[:c]
	}
	return nil
}

// NS returns the resolved namespace URI (decoded), inherited if not declared.
// It allocates only if the declaration holds a reference. The result must
// not be modified.
func (e Elem) NS() []byte {
	if e.kind == kNone {
		return nil
	}
	p := e.Prefix()
	if p == nil {
		return s2b(e.ownDefault())
	}
	if string(p) == "xml" {
		return s2b(xmlNS)
	}
	return e.resolve(p)
}

// ownDefault is the default namespace in force inside the element.
func (e Elem) ownDefault() string {
	t := e.doc[e.off:e.tend]
	k := len(tagName(t[1:])) + 1
	for {
		a, next, ok := nextAttr(t, k)
		if !ok {
			return e.inh
		}
		k = next
		if string(a.Name) == "xmlns" {
			v := decodedAttr(a.RawValue)
			return unsafe.String(unsafe.SliceData(v), len(v))
		}
	}
}

// resolve finds the namespace bound to prefix at the element: declarations on
// it, then on its ancestors inside doc (walked down from the top), then outer.
func (e Elem) resolve(prefix []byte) []byte {
	if v := declared(e.doc[e.off:e.tend], prefix); v != nil {
		return decodedAttr(v)
	}
	var found []byte
	cur, curTend := 0, 0
	if e.off > 0 {
		curTend, _ = tagEnd(e.doc, 0)
	}
	for cur != int(e.off) {
		if v := declared(e.doc[cur:curTend], prefix); v != nil {
			found = v
		}
		// step into the child of cur that holds e
		k, next := curTend, -1
		for k < int(e.off) {
			j := bytes.IndexByte(e.doc[k:e.off+1], '<')
			if j < 0 {
				break
			}
			k += j
			if k == int(e.off) {
				next = k
				break
			}
			_, end := skipElem(e.doc, k)
			if end > int(e.off) {
				next = k
				break
			}
			k = end
		}
		if next < 0 {
			break // cannot happen on validated bytes
		}
		cur = next
		curTend, _ = tagEnd(e.doc, cur)
	}
	if found != nil {
		return decodedAttr(found)
	}
	if e.outer != nil {
		if v, ok := rootBinding(*e.outer, prefix); ok {
			return v
		}
	}
	return nil
}

// StartTagEnd is the offset in Raw just past the start tag's '>' .
func (e Elem) StartTagEnd() int { return int(e.tend - e.off) }

// SelfClosing reports whether the element is written as <x/>.
func (e Elem) SelfClosing() bool {
	return e.kind != kNone && e.tend-e.off >= 2 && e.doc[e.tend-2] == '/'
}

// Attr returns the decoded value of the attribute written with qualified name
// name ("to", "xml:lang"). It allocates only when the value holds a reference
// (or literal tab, CR or LF, which are normalized to spaces, XML §3.3.3).
func (e Elem) Attr(name string) ([]byte, bool) {
	if e.kind == kNone {
		return nil, false
	}
	t := e.doc[e.off:e.tend]
	k := len(tagName(t[1:])) + 1
	for {
		a, next, ok := nextAttr(t, k)
		if !ok {
			return nil, false
		}
		if string(a.Name) == name {
			return decodedAttr(a.RawValue), true
		}
		k = next
	}
}

// Attrs calls fn for each attribute (xmlns declarations included) in order;
// fn returns false to stop.
func (e Elem) Attrs(fn func(a Attr) bool) {
	if e.kind == kNone {
		return
	}
	t := e.doc[e.off:e.tend]
	k := len(tagName(t[1:])) + 1
	for {
		a, next, ok := nextAttr(t, k)
		if !ok || !fn(a) {
			return
		}
		k = next
	}
}

// Attr is one attribute of a start tag. Off and End delimit ` name='value'`
// (from the white space before the name to the closing quote, inclusive) in
// the element's Raw, so a caller can cut it out or splice before it.
// Off is just past the previous attribute or the element name, so the
// attributes' spans tile the start tag.
type Attr struct {
	Name     []byte // qualified name as written
	RawValue []byte // value as written, without quotes, references not decoded
	Off, End int
}

// Value is the attribute's value with references decoded and white space
// normalized, as Elem.Attr returns it (RawValue itself when there is
// nothing to decode).
func (a Attr) Value() []byte { return decodedAttr(a.RawValue) }

// Children iterates over the direct child elements.
func (e Elem) Children() Iter {
	if e.kind != kElem || e.SelfClosing() {
		return Iter{}
	}
	lim := int(e.off) + bytes.LastIndexByte(e.doc[e.off:e.end], '<')
	return Iter{doc: e.doc, pos: e.tend, lim: int32(lim), inh: e.ownDefault(), outer: e.outer}
}

// Child returns the first direct child with this local name and namespace
// (ns "" matches any namespace).
func (e Elem) Child(local, ns string) Elem {
	it := e.Children()
	for {
		c, ok := it.Next()
		if !ok {
			return Elem{}
		}
		if string(c.Local()) == local && (ns == "" || string(c.NS()) == ns) {
			return c
		}
	}
}

// AppendText appends the element's direct character data (CDATA included),
// decoded, to dst. Line ends are normalized to LF (XML §2.11).
func (e Elem) AppendText(dst []byte) []byte {
	if e.kind != kElem || e.SelfClosing() {
		return dst
	}
	lim := int(e.off) + bytes.LastIndexByte(e.doc[e.off:e.end], '<')
	k := int(e.tend)
	for k < lim {
		j := bytes.IndexByte(e.doc[k:lim], '<')
		if j < 0 {
			return appendDecoded(dst, e.doc[k:lim], false)
		}
		dst = appendDecoded(dst, e.doc[k:k+j], false)
		k += j
		if k+1 < lim && e.doc[k+1] == '!' {
			c := bytes.Index(e.doc[k:lim], []byte("]]>"))
			if c < 0 || c < 9 {
				return dst
			}
			dst = appendEOL(dst, e.doc[k+9:k+c])
			k += c + 3
			continue
		}
		_, k = skipElem(e.doc, k)
	}
	return dst
}

// Iter walks sibling elements.
type Iter struct {
	doc      []byte
	pos, lim int32
	inh      string
	outer    *[]byte
}

// Next returns the next child, or ok == false after the last one.
func (it *Iter) Next() (Elem, bool) {
	for it.pos < it.lim {
		j := bytes.IndexByte(it.doc[it.pos:it.lim], '<')
		if j < 0 {
			break
		}
		k := int(it.pos) + j
		if k+1 >= int(it.lim) || it.doc[k+1] == '/' {
			break
		}
		if it.doc[k+1] == '!' {
			c := bytes.Index(it.doc[k:it.lim], []byte("]]>"))
			if c < 0 {
				break
			}
			it.pos = int32(k + c + 3)
			continue
		}
		te, end := skipElem(it.doc, k)
		it.pos = int32(end)
		return Elem{doc: it.doc, off: int32(k), end: int32(end), tend: int32(te), kind: kElem, inh: it.inh, outer: it.outer}, true
	}
	it.pos = it.lim
	return Elem{}, false
}

// Standalone returns a copy of the element that stands alone: the namespace
// prefixes it uses but the stream root declared are declared again on its
// start tag, right after the name. nameEnd is where the name ends in the
// copy, and declLen how many bytes of declarations follow it there.
func (f *Frame) Standalone() (own []byte, nameEnd, declLen int) {
	raw := f.Raw()
	nameEnd = 1 + len(f.Local())
	if p := f.Prefix(); len(p) > 0 {
		nameEnd += len(p) + 1
	}
	var decl []byte
	f.OuterPrefixes(func(prefix, ns []byte) {
		decl = append(decl, " xmlns:"...)
		decl = append(decl, prefix...)
		decl = append(decl, "='"...)
		decl = AppendEscapedAttr(decl, ns)
		decl = append(decl, '\'')
	})
	own = make([]byte, 0, len(raw)+len(decl))
	own = append(own, raw[:nameEnd]...)
	own = append(own, decl...)
	own = append(own, raw[nameEnd:]...)
	return own, nameEnd, len(decl)
}

// OuterPrefixes calls fn for each namespace prefix used inside the element but
// declared outside it (on the stream root), with the namespace it is bound to,
// so the element can be re-serialized standalone. The "xml" prefix is never reported.
func (f *Frame) OuterPrefixes(fn func(prefix, ns []byte)) {
	if f.kind != kElem || f.outer == nil {
		return
	}
	root := *f.outer
	i := bytes.IndexByte(root, 0)
	if i < 0 {
		return
	}
	r := root[i+1:]
	for len(r) > 0 {
		p := bytes.IndexByte(r, 0)
		if p < 0 {
			return
		}
		u := bytes.IndexByte(r[p+1:], 0)
		if u < 0 {
			return
		}
		prefix, ns := r[:p], r[p+1:p+1+u]
		r = r[p+1+u+1:]
		if len(prefix) > 0 && f.usesOuter(prefix) {
			fn(prefix, ns)
		}
	}
}

// usesOuter reports whether prefix is used somewhere in the element where no
// declaration inside it is in scope.
func (f *Frame) usesOuter(prefix []byte) bool {
	doc := f.doc[f.off:f.end]
	if !mentions(doc, prefix) {
		return false
	}
	depth, declDepth := 0, -1
	k := 0
	for k < len(doc) {
		j := bytes.IndexByte(doc[k:], '<')
		if j < 0 {
			return false
		}
		k += j
		if k+1 >= len(doc) {
			return false
		}
		switch doc[k+1] {
		case '/':
			if depth == declDepth {
				declDepth = -1
			}
			depth--
			e := bytes.IndexByte(doc[k:], '>')
			if e < 0 {
				return false
			}
			k += e + 1
		case '!':
			e := bytes.Index(doc[k:], []byte("]]>"))
			if e < 0 {
				return false
			}
			k += e + 3
		default:
			te, self := tagEnd(doc, k)
			t := doc[k:te]
			depth++
			if declDepth < 0 && declared(t, prefix) != nil {
				declDepth = depth
			}
			if declDepth < 0 && tagUses(t, prefix) {
				return true
			}
			if self {
				if depth == declDepth {
					declDepth = -1
				}
				depth--
			}
			k = te
		}
	}
	return false
}

// mentions is a quick filter: does "prefix:" occur in doc at all?
func mentions(doc, prefix []byte) bool {
	for k := 0; ; {
		j := bytes.Index(doc[k:], prefix)
		if j < 0 {
			return false
		}
		k += j + len(prefix)
		if k < len(doc) && doc[k] == ':' {
			return true
		}
	}
}

// tagUses reports whether start tag t has an element or attribute name with prefix.
func tagUses(t, prefix []byte) bool {
	name := tagName(t[1:])
	if hasPrefix(name, prefix) {
		return true
	}
	k := len(name) + 1
	for {
		a, next, ok := nextAttr(t, k)
		if !ok {
			return false
		}
		k = next
		if hasPrefix(a.Name, prefix) {
			return true
		}
	}
}

func hasPrefix(name, prefix []byte) bool {
	return len(name) > len(prefix) && name[len(prefix)] == ':' && string(name[:len(prefix)]) == string(prefix)
}

// tagName returns the name at the start of b (validated bytes).
func tagName(b []byte) []byte {
	for i, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r', '/', '>', '=':
			return b[:i]
		}
	}
	return b
}

// nextAttr reads the attribute after position k of the start tag t, which
// holds validated bytes and may end early (as the scanner's partial tags do).
func nextAttr(t []byte, k int) (a Attr, next int, ok bool) {
	j := k
	for j < len(t) && isSpace(t[j]) {
		j++
	}
	if j >= len(t) || t[j] == '>' || t[j] == '/' {
		return Attr{}, j, false
	}
	ns := j
	for j < len(t) && t[j] != '=' && !isSpace(t[j]) {
		j++
	}
	name := t[ns:j:j]
	for j < len(t) && t[j] != '\'' && t[j] != '"' {
		j++
	}
	if j >= len(t) {
		return Attr{}, j, false
	}
	v := j + 1
	e := bytes.IndexByte(t[v:], t[j])
	if e < 0 {
		return Attr{}, len(t), false
	}
	e += v
	return Attr{Name: name, RawValue: t[v:e:e], Off: k, End: e + 1}, e + 1, true
}

// tagEnd returns the end of the start tag at doc[k] and whether it is "/>".
func tagEnd(doc []byte, k int) (int, bool) {
	for j := k + 1; j < len(doc); j++ {
		switch c := doc[j]; c {
		case '\'', '"':
			e := bytes.IndexByte(doc[j+1:], c)
			if e < 0 {
				return len(doc), false
			}
			j += e + 1
		case '>':
			return j + 1, doc[j-1] == '/'
		}
	}
	return len(doc), false
}

// skipElem returns the end of the start tag and the end of the element at doc[k].
func skipElem(doc []byte, k int) (tend, end int) {
	tend, self := tagEnd(doc, k)
	if self {
		return tend, tend
	}
	depth := 1
	for j := tend; j < len(doc); {
		l := bytes.IndexByte(doc[j:], '<')
		if l < 0 || j+l+1 >= len(doc) {
			break
		}
		j += l
		switch doc[j+1] {
		case '/':
			e := bytes.IndexByte(doc[j:], '>')
			if e < 0 {
				return tend, len(doc)
			}
			j += e + 1
			if depth--; depth == 0 {
				return tend, j
			}
		case '!':
			e := bytes.Index(doc[j:], []byte("]]>"))
			if e < 0 {
				return tend, len(doc)
			}
			j += e + 3
		default:
			te, self := tagEnd(doc, j)
			if !self {
				depth++
			}
			j = te
		}
	}
	return tend, len(doc)
}

// decodedAttr returns the value of a validated attribute, copying only when
// it holds a reference or white space to normalize.
func decodedAttr(v []byte) []byte {
	for _, c := range v {
		if c == '&' || c == '\t' || c == '\n' || c == '\r' {
			return appendDecoded(make([]byte, 0, len(v)), v, true)
		}
	}
	return v
}

// appendDecoded appends validated character data or an attribute value (attr)
// with references replaced and line ends normalized (XML §2.11, §3.3.3).
func appendDecoded(dst, b []byte, attr bool) []byte {
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '&' && b[i] != '\r' && !(attr && (b[i] == '\n' || b[i] == '\t')) {
			i++
		}
		dst = append(dst, b[:i]...)
		if i == len(b) {
			break
		}
		b = b[i:]
		switch b[0] {
		case '&':
			e := bytes.IndexByte(b, ';')
			if e < 0 {
				return append(dst, b...)
			}
			r := b[1:e]
			b = b[e+1:]
			switch string(r) {
			case "lt":
				dst = append(dst, '<')
			case "gt":
				dst = append(dst, '>')
			case "amp":
				dst = append(dst, '&')
			case "apos":
				dst = append(dst, '\'')
			case "quot":
				dst = append(dst, '"')
			default:
				if v, ok := refRune(r); ok && len(r) > 0 && r[0] == '#' {
					dst = utf8.AppendRune(dst, v)
				}
			}
		case '\r':
			b = b[1:]
			if len(b) > 0 && b[0] == '\n' {
				b = b[1:]
			}
			if attr {
				dst = append(dst, ' ')
			} else {
				dst = append(dst, '\n')
			}
		default: // '\t' or '\n' in an attribute value
			b = b[1:]
			dst = append(dst, ' ')
		}
	}
	return dst
}

// appendEOL appends CDATA content with line ends normalized.
func appendEOL(dst, b []byte) []byte {
	for {
		i := bytes.IndexByte(b, '\r')
		if i < 0 {
			return append(dst, b...)
		}
		dst = append(dst, b[:i]...)
		dst = append(dst, '\n')
		b = b[i+1:]
		if len(b) > 0 && b[0] == '\n' {
			b = b[1:]
		}
	}
}

func s2b(s string) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
