package stanza

// Namespaces used by more than one package.
const (
	NSClient          = "jabber:client"
	NSStream          = "http://etherx.jabber.org/streams"
	NSStreams         = "urn:ietf:params:xml:ns:xmpp-streams" // stream error conditions
	NSStanzas         = "urn:ietf:params:xml:ns:xmpp-stanzas" // stanza error conditions
	NSTLS             = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL            = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind            = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession         = "urn:ietf:params:xml:ns:xmpp-session"
	NSCompress        = "http://jabber.org/protocol/compress" // XEP-0138 negotiation
	NSCompressFeature = "http://jabber.org/features/compress" // XEP-0138 stream feature
	NSSASLCB          = "urn:xmpp:sasl-cb:0"                  // XEP-0440
	NSDelay           = "urn:xmpp:delay"
	NSXML             = "http://www.w3.org/XML/1998/namespace"
)
