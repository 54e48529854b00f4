package xmlscan

import (
	"errors"
	"fmt"
	"strings"
)

// rec is a Sink that renders every event as text, walking each frame fully
// with Elem so that split and whole runs can be compared.
type rec struct {
	out []string
}

func (r *rec) StreamOpen(f *Frame) error {
	r.out = append(r.out, "open "+describe(f.Elem, true))
	return nil
}

func (r *rec) Element(f *Frame) error {
	var outer strings.Builder
	f.OuterPrefixes(func(p, ns []byte) { fmt.Fprintf(&outer, " %s=%s", p, ns) })
	r.out = append(r.out, "elem "+describe(f.Elem, false)+" outer["+outer.String()+"]")
	return nil
}

func (r *rec) StreamClose() error {
	r.out = append(r.out, "close")
	return nil
}

// describe renders e and its subtree.
func describe(e Elem, head bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{%s|%s|%s|%q|self=%v|", e.Local(), e.Prefix(), e.NS(), e.Raw(), e.SelfClosing())
	e.Attrs(func(a Attr) bool {
		v, _ := e.Attr(string(a.Name))
		fmt.Fprintf(&b, " %s=%q[%d:%d]", a.Name, v, a.Off, a.End)
		return true
	})
	if !head {
		fmt.Fprintf(&b, "|text=%q", e.AppendText(nil))
		it := e.Children()
		for {
			c, ok := it.Next()
			if !ok {
				break
			}
			b.WriteString(describe(c, false))
		}
	}
	b.WriteString("}")
	return b.String()
}

// scanAll feeds the pieces to a fresh Scanner.
func scanAll(lim Limits, pieces ...[]byte) ([]string, error) {
	var s Scanner
	s.SetLimits(lim)
	var r rec
	for _, p := range pieces {
		if err := s.Feed(p, &r); err != nil {
			return r.out, err
		}
	}
	return r.out, nil
}

// class names the sentinel an error wraps.
func class(err error) string {
	for _, s := range []error{ErrNotWellFormed, ErrRestrictedXML, ErrLimit, ErrUnsupportedEncoding} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	if err == nil {
		return "ok"
	}
	return "other: " + err.Error()
}
