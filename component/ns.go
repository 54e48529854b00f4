package component

import (
	"bytes"

	"ignis/stanza"
	"ignis/xmlscan"
)

// The router's stanzas are in jabber:client, usually by inheritance (no
// xmlns on the stanza), and then they are in jabber:component:accept on the
// component's stream just as well. A stanza that names its namespace on its
// root loses the declaration at the crossing, so that each side reads it in
// its own stream's namespace (Prosody does the same by serializing stanzas
// without their stream namespace).

var (
	clientDecl    = []byte(stanza.NSClient)
	componentDecl = []byte(stanza.NSComponent)
)

// outbound returns a stanza's bytes as the component's stream carries them.
func outbound(p []byte) []byte {
	if !bytes.Contains(p, clientDecl) {
		return p // the common case: nothing to look at
	}
	return withoutRootNS(p, stanza.NSClient)
}

// inbound returns a stanza the component sent as the router keeps it.
func inbound(st *stanza.Stanza) (*stanza.Stanza, error) {
	raw := st.Bytes()
	if !bytes.Contains(raw, componentDecl) {
		return st, nil
	}
	p := withoutRootNS(raw, stanza.NSComponent)
	if len(p) == len(raw) {
		return st, nil
	}
	return stanza.Parse(p)
}

// withoutRootNS returns p without its root's xmlns attribute if that is ns,
// else p itself.
func withoutRootNS(p []byte, ns string) []byte {
	e, err := xmlscan.ParseElem(p, ns)
	if err != nil {
		return p
	}
	off, end := -1, -1
	e.Attrs(func(a xmlscan.Attr) bool {
		if string(a.Name) == "xmlns" {
			if string(a.RawValue) == ns {
				off, end = a.Off, a.End
			}
			return false
		}
		return true
	})
	if off < 0 {
		return p
	}
	out := make([]byte, 0, len(p)-(end-off))
	out = append(out, p[:off]...)
	return append(out, p[end:]...)
}
