package mod

import (
	"ignis/jid"
	"ignis/stanza"
	"ignis/store"
)

// SendEffects sends what a roster or subscription change obliges the server
// to send (RFC 6121 §3, §2.5.2), as the store's transaction listed it once
// the change was on disk: stanzas to deliver, and the user's presence (or
// its end) for a contact.
func SendEffects(env Env, effects []store.Effect) {
	for _, e := range effects {
		switch e.Kind {
		case store.Deliver:
			env.Send(e.Stanza)
		case store.SendPresence:
			SendPresenceOf(env, e.From, e.To)
		case store.SendUnavailable:
			env.Resources(e.From, func(r Resource) bool {
				if r.Available() {
					var b stanza.Builder
					b.Start("presence", "from", r.JID().String(), "to", e.To.String(), "type", "unavailable")
					env.Send(stanza.MustParse(b.Bytes()))
				}
				return true
			})
		}
	}
}

// SendPresenceOf sends the current presence of each available resource of
// bare to to, and returns how many there were.
func SendPresenceOf(env Env, bare, to jid.JID) int {
	n := 0
	env.Resources(bare, func(r Resource) bool {
		if p := r.LastPresence(); r.Available() && p != nil {
			env.Send(p.WithAddrs(r.JID(), to))
			n++
		}
		return true
	})
	return n
}
