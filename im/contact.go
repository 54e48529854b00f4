package im

import (
	"ignis/jid"
	"ignis/stanza"
	"ignis/store"
)

// The contact's side: the half of the rules a server runs for subscription
// stanzas that arrive for one of its users: the inbound rows of Appendix A.
//
// Inbound handles a subscription stanza of type t from sender to local
// user (both bare JIDs; st as routed, or nil to make one): RFC 6121
// §3.1.3, §3.2.3, §3.3.3 and §3.4.3. exists says whether user's account
// exists (§8.5.1 otherwise). The user's item changes in tx; the effects say
// what to deliver to the user and what to Route back to the sender's
// server: the answers a server gives on its user's behalf.
func Inbound(tx Roster, user, sender jid.JID, t stanza.Type, st *stanza.Stanza, exists bool) Effects {
	var eff Effects
	if !exists {
		// §8.5.1: no such account. A request is answered with unsubscribed;
		// anything else is ignored.
		if t == stanza.Subscribe {
			eff.add(Route, user, sender, subStanza(user, sender, stanza.Unsubscribed))
		}
		return eff
	}
	it, existed, _ := tx.Get(userKey(tx, user), sender.String())
	if !existed {
		// an item only to remember the request by (§3.1.3)
		it = store.RosterItem{JID: sender.String(), Hidden: true}
	}
	before := it
	if t == stanza.Subscribe {
		switch {
		case it.Sub&store.SubFrom != 0:
			// §3.1.3: already subscribed: the server answers
			eff.add(Route, user, sender, subStanza(user, sender, stanza.Subscribed))
			return eff
		case it.Approved && it.PendingIn == nil:
			// §3.4.3: pre-approved: approved on the user's behalf, and the
			// new subscriber gets the user's presence
			it.Approved = false
			it.Sub |= store.SubFrom
			it.Hidden = false
			put(tx, userKey(tx, user), it, existed, before)
			eff.add(Route, user, sender, subStanza(user, sender, stanza.Subscribed))
			eff.add(SendPresence, user, sender, nil)
			return eff
		}
	}
	if st == nil {
		st = subStanza(sender, user, t)
	}
	if !ApplyInbound(&it, t, st.Bytes()) {
		return eff
	}
	put(tx, userKey(tx, user), it, existed, before)
	eff.add(Deliver, sender, user, st)
	if t == stanza.Unsubscribe && before.Sub&store.SubFrom != 0 {
		// §3.3.3: the sender no longer receives the user's presence
		eff.add(SendUnavailable, user, sender, nil)
	}
	return eff
}
