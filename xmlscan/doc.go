// Package xmlscan is Ignis's incremental, zero-allocation XML tokenizer and stanza
// framer for XMPP's restricted XML (RFC 6120 §11): no DTD, no processing
// instruction other than the XML declaration, no comments, no external entities.
//
// A Scanner is fed bytes as they arrive, split anywhere. It reports the stream
// header, every complete depth-1 element (stanza or nonza) and the stream's end to
// a Sink. Everything it reports is borrowed: valid only until the Sink call returns.
// In rootless mode (SetRootless, for RFC 7395's WebSocket framing) there is no
// stream root: every top-level element is reported as a depth-1 one.
//
// The Scanner validates as it goes (names, UTF-8, XML Chars, references,
// namespace prefixes, limits) and keeps only the unfinished tail of an element,
// with the state machine's position, between Feeds. Elem then re-walks the
// validated bytes on demand.
package xmlscan
