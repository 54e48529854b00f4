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

	// Instant messaging payloads (see Class).
	NSChatStates = "http://jabber.org/protocol/chatstates" // XEP-0085
	NSReceipts   = "urn:xmpp:receipts"                     // XEP-0184
	NSMarkers    = "urn:xmpp:chat-markers:0"               // XEP-0333
	NSHints      = "urn:xmpp:hints"                        // XEP-0334
	NSCarbons    = "urn:xmpp:carbons:2"                    // XEP-0280
	NSForward    = "urn:xmpp:forward:0"                    // XEP-0297
	NSMUCUser    = "http://jabber.org/protocol/muc#user"   // XEP-0045
	NSStanzaID   = "urn:xmpp:sid:0"                        // XEP-0359
	NSOffline    = "http://jabber.org/protocol/offline"    // XEP-0013
)

// NSComponent is the stream namespace of external components (XEP-0114).
const NSComponent = "jabber:component:accept"

// server-to-server streams (s2s/)
const (
	NSServer          = "jabber:server"
	NSDialback        = "jabber:server:dialback"     // XEP-0220
	NSDialbackFeature = "urn:xmpp:features:dialback" // XEP-0220 §2.5.1
	NSBidi            = "urn:xmpp:bidi"              // XEP-0288: the request
	NSBidiFeature     = "urn:xmpp:features:bidi"     // XEP-0288: the stream feature
)
