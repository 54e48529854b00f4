package im

import (
	"ignis/jid"
	"ignis/stanza"
)

// Local is both halves on one server, for a user and a contact it both
// hosts: what one half Routes,
// the other handles at once, in the same transaction, and the effects left
// are those to send locally, in order.
type Local struct {
	Tx Roster
	// ContactExists says whether the contact's account exists.
	ContactExists bool
}

// Subscription runs a subscription stanza of type t that user sends to
// contact through the user's side, then the contact's, and back for the
// answers the contact's side gives.
func (l Local) Subscription(user, contact jid.JID, t stanza.Type, st *stanza.Stanza) Effects {
	return l.resolve(Outbound(l.Tx, user, contact, t, st), contact)
}

// Remove removes contact from user's roster, cancelling the subscriptions
// on the contact's side too (RFC 6121 §2.5.2). It reports false if there is
// no such item.
func (l Local) Remove(user, contact jid.JID) (Effects, bool) {
	eff, ok := Remove(l.Tx, user, contact)
	return l.resolve(eff, contact), ok
}

// resolve replaces each Route effect by the receiving side's effects.
func (l Local) resolve(eff Effects, contact jid.JID) Effects {
	var out Effects
	for _, e := range eff {
		if e.Kind != Route {
			out = append(out, e)
			continue
		}
		exists := true // the user is the one acting
		if e.To.Equal(contact) {
			exists = l.ContactExists
		}
		out = append(out, l.resolve(Inbound(l.Tx, e.To, e.From, e.Stanza.Type, e.Stanza, exists), contact)...)
	}
	return out
}
