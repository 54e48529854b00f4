package mod

import (
	"ignis/im"
	"ignis/jid"
	"ignis/stanza"
)

// SendEffects sends what a roster or subscription change obliges the server
// to send (RFC 6121 §3, §2.5.2), as package im listed it, once the change
// is on disk: stanzas to deliver, and the user's presence (or its end) for
// a contact, and the Route effects left for a contact on another server
// (im.Local resolves those between local users).
func SendEffects(env Env, effects im.Effects) {
	for _, e := range effects {
		switch e.Kind {
		case im.Deliver, im.Route:
			// a Route left here is for a contact on another server: the
			// router hands it to the link (im.Local resolves local ones)
			env.Send(e.Stanza)
		case im.SendPresence:
			SendPresenceOf(env, e.From, e.To)
		case im.SendUnavailable:
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
