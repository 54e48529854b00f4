package carbons

import (
	"ignis/jid"
	"ignis/stanza"
	"ignis/xmlscan"
)

type elem = xmlscan.Elem

// eligible applies the rules of XEP-0280 §6.1 to a message of type typ whose
// children are classified c; received says it is about to be copied to the recipient's
// sessions rather than the sender's.
//
// Never copied: a message carrying <private/> (§8) or the XEP-0334 hint
// <no-copy/>; a message that is itself a carbon (a copy of a copy, or a
// client's attempt to inject one); groupchat (§6.1.1: the room serves every
// session that joined); headline (not a conversation); and error. The XEP
// allows copying an error that answers an eligible message, but only with
// per-message tracking it calls unlikely to be appropriate, and an error
// copied back towards a sender is the loop §10.3 warns against.
//
// Copied: chat; normal (or no type) with a <body/>; and any other normal
// message with a payload of instant messaging: chat states (XEP-0085),
// receipts (XEP-0184), chat markers (XEP-0333). A received message with a
// MUC <x/> is a private message from a room occupant, which the sessions
// that joined the room get from the room itself (§6.1.1), so it is not
// copied; a sent one is (the other joined sessions want it).
func eligible(typ stanza.Type, c stanza.Class, received bool) bool {
	switch typ {
	case stanza.Chat, stanza.Normal, stanza.TypeNone:
	default:
		return false
	}
	switch {
	case c.Has(stanza.ClassCarbonPrivate | stanza.ClassCarbon | stanza.ClassHintNoCopy):
		return false
	case received && c.Has(stanza.ClassMUCUser):
		return false
	}
	return typ == stanza.Chat || c.Has(stanza.ClassBody|stanza.ClassChatState|stanza.ClassReceipt|stanza.ClassMarker)
}

// wrap builds the carbon of message e for the session to of user: a message
// from the user's bare JID, of the original's type, holding
// <dir xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>
// and the original (XEP-0280 §6, §7; XEP-0297 §3).
func wrap(dir string, user, to jid.JID, typ stanza.Type, e elem) (*stanza.Stanza, error) {
	var b stanza.Builder
	b.Start("message", "from", user.String(), "to", to.String(), "type", typ.String())
	b.Start(dir, "xmlns", NS)
	b.Start("forwarded", "xmlns", NSForward)
	b.Raw(standalone(e))
	return stanza.Parse(b.Bytes())
}

// standalone returns the stanza e declared in jabber:client, so it keeps its
// namespace inside <forwarded/> (XEP-0297 §3). A stanza on the wire inherits
// the namespace from the stream, so its bytes usually declare none: the
// declaration goes right after the element name. Prefixes it uses are
// already declared on it (stanza.FromFrame), and unprefixed children
// inherited jabber:client from the stream, as they now do from the element.
func standalone(e elem) []byte {
	raw := e.Raw()
	if _, ok := e.Attr("xmlns"); ok {
		return raw // it declares its default namespace itself
	}
	at := 1 + len(e.Local())
	if p := e.Prefix(); p != nil {
		at += len(p) + 1
	}
	const decl = " xmlns='" + stanza.NSClient + "'"
	out := make([]byte, 0, len(raw)+len(decl))
	out = append(out, raw[:at]...)
	out = append(out, decl...)
	return append(out, raw[at:]...)
}
