package im

import (
	"ignis/jid"
	"ignis/stanza"
	"ignis/store"
)

// The user's side: the half of the rules the user's own server runs for what
// the user's client does: the outbound rows of Appendix A.
//
// Outbound handles a subscription stanza of type t that local user sends
// to contact (both bare JIDs; st is the client's stanza, or nil to make
// one): RFC 6121 §3.1.2, §3.2.2, §3.3.2 and §3.4.2. The user's item
// changes in tx, and the effects say what to send: a Route of the stanza
// stamped with bare JIDs when it goes on to the contact's server, and the
// user's presence or its end for the contact.
func Outbound(tx Roster, user, contact jid.JID, t stanza.Type, st *stanza.Stanza) Effects {
	var eff Effects
	it, existed, _ := tx.Get(userKey(tx, user), contact.String())
	if !existed {
		it = store.RosterItem{JID: contact.String()}
	}
	before := it
	route := ApplyOutbound(&it, t)
	// the user acting on the contact puts it in the roster (§3.1.2, §3.1.5, §3.4.2)
	if t == stanza.Subscribe || t == stanza.Subscribed && (route || it.Approved) {
		it.Hidden = false
	}
	if existed || t == stanza.Subscribe || t == stanza.Subscribed && it.Approved {
		put(tx, userKey(tx, user), it, existed, before)
	}
	if t == stanza.Unsubscribed && before.Sub&store.SubFrom != 0 {
		// §3.2.2: the contact no longer receives the user's presence
		eff.add(SendUnavailable, user, contact, nil)
	}
	if !route {
		return eff
	}
	if st == nil {
		st = subStanza(user, contact, t)
	} else {
		st = st.WithAddrs(user, contact) // §3.1.2: stamped with bare JIDs
	}
	eff.add(Route, user, contact, st)
	if t == stanza.Subscribed {
		// §3.1.5: the new subscriber gets the user's current presence, after
		// the approval
		eff.add(SendPresence, user, contact, nil)
	}
	return eff
}

// Remove removes contact from user's roster (RFC 6121 §2.5.2): a
// subscription either way, or a request either way, is cancelled as an
// unsubscribe and an unsubscribed from the user would, and the effects
// Route those to the contact's server. It reports false if there is no
// such item.
func Remove(tx Roster, user, contact jid.JID) (Effects, bool) {
	it, ok, _ := tx.Get(userKey(tx, user), contact.String())
	if !ok || it.Hidden {
		return nil, false
	}
	var eff Effects
	if it.Sub&store.SubFrom != 0 {
		eff.add(SendUnavailable, user, contact, nil)
	}
	if it.Sub&store.SubTo != 0 || it.Ask {
		eff.add(Route, user, contact, subStanza(user, contact, stanza.Unsubscribe))
	}
	if it.Sub&store.SubFrom != 0 || it.PendingIn != nil {
		eff.add(Route, user, contact, subStanza(user, contact, stanza.Unsubscribed))
	}
	tx.Delete(userKey(tx, user), contact.String())
	return eff, true
}
