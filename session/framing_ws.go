package session

import (
	"ignis/jid"
	"ignis/stanza"
)

// NSFraming is the namespace of RFC 7395's <open/> and <close/>.
const NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// WebSocketFraming is RFC 7395's framing (XMPP over WebSocket): no stream
// root; the stream opens with <open/> (again after each restart) and closes
// with <close/>, and every top-level element declares its own namespaces
// (§3.3.3), since none are inherited. The transport sends each element the
// Stream writes as one message.
type WebSocketFraming struct{}

// AppendOpen implements Framing (RFC 7395 §3.4).
func (WebSocketFraming) AppendOpen(out []byte, id StreamID, from string, to jid.JID) []byte {
	out = append(out, "<open xmlns='"+NSFraming+"'"...)
	return append(appendOpenAttrs(out, id, from, to), "/>"...)
}

// AppendError implements Framing: <stream:error/> with its prefix declared.
func (f WebSocketFraming) AppendError(out []byte, se *stanza.StreamError) []byte {
	return append(out, f.Element(se.AppendXML(nil))...)
}

// AppendClose implements Framing (RFC 7395 §3.6).
func (WebSocketFraming) AppendClose(out []byte) []byte {
	return append(out, "<close xmlns='"+NSFraming+"'/>"...)
}

// Element implements Framing: an element the stream built for a root that
// declared jabber:client and the stream prefix gets the declaration it
// lacks. It copies p only then.
func (WebSocketFraming) Element(p []byte) []byte {
	nameEnd, prefix, declared := startTag(p)
	var decl string
	switch {
	case declared || nameEnd == 0:
		return p
	case prefix == "":
		decl = " xmlns='" + stanza.NSClient + "'"
	case prefix == "stream":
		decl = " xmlns:stream='" + stanza.NSStream + "'"
	default:
		return p // the stream only writes prefixes it declares
	}
	out := make([]byte, 0, len(p)+len(decl))
	out = append(out, p[:nameEnd]...)
	out = append(out, decl...)
	return append(out, p[nameEnd:]...)
}

// Rootless implements Framing.
func (WebSocketFraming) Rootless() bool { return true }

// startTag reads the first start tag of p, which the stream built and is
// well-formed: where its name ends, the name's prefix, and whether the tag
// declares that prefix (or, unprefixed, the default namespace). nameEnd is 0
// if p does not start with a tag.
func startTag(p []byte) (nameEnd int, prefix string, declared bool) {
	if len(p) < 2 || p[0] != '<' {
		return 0, "", false
	}
	i := 1
	colon := 0
	for i < len(p) && !isTagSpace(p[i]) && p[i] != '/' && p[i] != '>' {
		if p[i] == ':' {
			colon = i
		}
		i++
	}
	nameEnd = i
	want := "xmlns"
	if colon > 0 {
		prefix = string(p[1:colon])
		want = "xmlns:" + prefix
	}
	for i < len(p) {
		for i < len(p) && isTagSpace(p[i]) {
			i++
		}
		if i == len(p) || p[i] == '/' || p[i] == '>' {
			break
		}
		at := i
		for i < len(p) && p[i] != '=' && !isTagSpace(p[i]) {
			i++
		}
		name := p[at:i]
		for i < len(p) && p[i] != '\'' && p[i] != '"' {
			i++ // white space and '='
		}
		if i == len(p) {
			break
		}
		q := p[i]
		i++
		for i < len(p) && p[i] != q {
			i++
		}
		i++
		if string(name) == want {
			return nameEnd, prefix, true
		}
	}
	return nameEnd, prefix, false
}

func isTagSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
