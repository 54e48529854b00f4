// Package im holds the instant-messaging rules of RFC 6121 that more than
// one feature needs: the presence subscription state machine of Appendix A
// and the stanzas its transitions produce. It sits between the store (rank
// 2), whose roster table keeps the items, and the feature modules (rank 3),
// which run it: mod/presence for subscription stanzas, mod/roster for
// removals.
//
// The rules come in the two halves Appendix A describes, so that one server
// can run one half and a remote server the other:
//
//   - the user's side (user.go): a subscription stanza the user's own
//     client sends, as the user's server handles it before routing it
//     (A.2, §3.x.2), and the removal of a roster item (§2.5.2);
//   - the contact's side (contact.go): a subscription stanza that arrives
//     for a local user, as that user's server handles it (A.3, §3.x.3),
//     with the answers the server gives on the user's behalf.
//
// Each half reads and writes items through a roster transaction and lists
// what must be sent once the transaction is on disk as Effects; a stanza
// for the other half is a Route effect. Local joins the halves for two
// users of this server, handing each Route to the other half at once.
package im

import (
	"ignis/jid"
	"ignis/stanza"
	"ignis/store"
)

// Roster is the part of a roster transaction the rules use;
// *store.RosterTxn implements it. Errors are kept by the transaction and
// reported by its commit.
type Roster interface {
	Get(user, contact string) (store.RosterItem, bool, error)
	Put(user string, it store.RosterItem)
	Delete(user, contact string)
}

var _ Roster = (*store.RosterTxn)(nil)

// Effect is something a subscription change obliges a server to send once
// the change is on disk (RFC 6121 §3). From and To are bare JIDs.
type Effect struct {
	Kind     EffectKind
	From, To jid.JID
	// Stanza, for Deliver and Route: the subscription stanza.
	Stanza *stanza.Stanza
}

// EffectKind says what an Effect sends.
type EffectKind uint8

const (
	// Deliver gives Stanza to To's available resources.
	Deliver EffectKind = iota + 1
	// SendPresence sends the current presence of each of From's available
	// resources to To (a new subscription, §3.1.5).
	SendPresence
	// SendUnavailable sends unavailable presence from each of From's
	// available resources to To (a subscription that ended, §3.2.2, §3.3.3).
	SendUnavailable
	// Route hands Stanza to the server of To, which runs the other half
	// (Inbound) on it. Local resolves it; it never leaves this package for
	// two local users.
	Route
)

var kindNames = [...]string{"?", "deliver", "send-presence", "send-unavailable", "route"}

func (k EffectKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return kindNames[0]
}

// Effects is what one or more steps decided must be sent, in order.
type Effects []Effect

func (e *Effects) add(k EffectKind, from, to jid.JID, st *stanza.Stanza) {
	*e = append(*e, Effect{Kind: k, From: from, To: to, Stanza: st})
}

// subStanza is the subscription stanza of type t as the recipient's server
// handles it: from and to stamped with bare JIDs (RFC 6121 §3.1.2).
func subStanza(from, to jid.JID, t stanza.Type) *stanza.Stanza {
	var b stanza.Builder
	b.Start("presence", "from", from.String(), "to", to.String(), "type", t.String())
	return stanza.MustParse(b.Bytes())
}

// put writes it as user's item if it is new or differs from before (a
// transaction writes, and a roster version changes, only for a change).
func put(tx Roster, user string, it store.RosterItem, existed bool, before store.RosterItem) {
	if !existed || !before.Equal(it) {
		tx.Put(user, it)
	}
}

// Hosted is a Roster whose accounts may live on several local domains
// (virtual hosts): the rules address its items by store.UserKey with the
// server's primary domain rather than by localpart.
type Hosted struct {
	Roster
	Primary string // the server's primary domain
}

// userKey is the store's user part of account user in tx.
func userKey(tx Roster, user jid.JID) string {
	if h, ok := tx.(Hosted); ok {
		return store.UserKey(h.Primary, user)
	}
	return user.Local() // one domain: a test's roster
}
