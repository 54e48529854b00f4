package session

import (
	"encoding/hex"

	"ignis/jid"
	"ignis/stanza"
	"ignis/xmlscan"
)

// Framing is how a transport delimits the XML stream: the bytes that open,
// restart and close it, and how each top-level element the server writes
// stands. The Stream writes every such byte through its Framing, so that a
// transport (TCP, RFC 7395 WebSocket, later BOSH) is a small package.
//
// A Transport picks its framing by implementing Framer; TCP is the default.
// With a Rootless framing, each Transport.Write holds one top-level element,
// while the final bytes of Transport.Close may hold several (our opening if
// it was not sent, a stream error, the close).
//
// A stream asks its transport for its Framing when it needs one: a TCP
// stream stores none and pays nothing for the seam.
type Framing interface {
	// AppendOpen appends the server's stream opening (RFC 6120 §4.7), also
	// after every restart: id is the stream id, to the client's address or zero.
	AppendOpen(out []byte, id StreamID, from string, to jid.JID) []byte
	// AppendError appends a stream error (RFC 6120 §4.9) as a top-level element.
	AppendError(out []byte, se *stanza.StreamError) []byte
	// AppendClose appends the server's end of the stream (RFC 6120 §4.4).
	AppendClose(out []byte) []byte
	// Element returns the one top-level element p (a stanza or nonza the
	// stream built) as the framing carries it; it may return p itself.
	Element(p []byte) []byte
	// Rootless reports that the client's input has no stream root: each
	// top-level element stands alone and the stream opens and closes with
	// elements of the framing's own (xmlscan.Scanner.SetRootless).
	Rootless() bool
}

// Framer is implemented by a Transport whose stream is not framed as over
// TCP. Framing must return the same framing every time.
type Framer interface {
	Framing() Framing
}

// StreamID is the random id of a stream (RFC 6120 §4.7.3), new at every
// restart. It is passed by value so that writing a header allocates nothing.
type StreamID [12]byte

// AppendHex appends the id as the header carries it.
func (id StreamID) AppendHex(out []byte) []byte { return hex.AppendEncode(out, id[:]) }

// framing returns the stream's Framing: TCP's unless its transport is a Framer.
func (s *Stream) framing() Framing {
	if !s.framed {
		return TCPFraming{}
	}
	return s.tr.(Framer).Framing()
}

// rootless reports whether the stream's input has no root (Framing.Rootless).
func (s *Stream) rootless() bool { return s.framed && s.framing().Rootless() }

// TCPFraming is RFC 6120's framing over TCP: one <stream:stream> root for
// the whole stream, stanzas as its children in jabber:client.
type TCPFraming struct{}

// AppendOpen implements Framing.
func (TCPFraming) AppendOpen(out []byte, id StreamID, from string, to jid.JID) []byte {
	out = append(out, "<?xml version='1.0'?><stream:stream xmlns='"+stanza.NSClient+"' xmlns:stream='"+stanza.NSStream+"'"...)
	return append(appendOpenAttrs(out, id, from, to), '>')
}

// appendOpenAttrs appends the attributes every framing's opening element
// carries (RFC 6120 §4.7, RFC 7395 §3.4): id, from, to if known, version
// and xml:lang.
func appendOpenAttrs(out []byte, id StreamID, from string, to jid.JID) []byte {
	out = append(out, " id='"...)
	out = id.AppendHex(out)
	out = append(out, "' from='"...)
	out = xmlscan.AppendEscapedAttr(out, from)
	if !to.IsZero() {
		out = append(out, "' to='"...)
		out = xmlscan.AppendEscapedAttr(out, to.String())
	}
	return append(out, "' version='1.0' xml:lang='en'"...)
}

// AppendError implements Framing.
func (TCPFraming) AppendError(out []byte, se *stanza.StreamError) []byte { return se.AppendXML(out) }

// AppendClose implements Framing.
func (TCPFraming) AppendClose(out []byte) []byte { return append(out, "</stream:stream>"...) }

// Element implements Framing: the root declares every namespace.
func (TCPFraming) Element(p []byte) []byte { return p }

// Rootless implements Framing.
func (TCPFraming) Rootless() bool { return false }
