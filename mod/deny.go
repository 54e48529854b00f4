package mod

import (
	"sync/atomic"

	"ignis/jid"
	"ignis/stanza"
)

// InboundExempt reports whether an inbound stanza to user is past every
// user list (blocklist, privacy list): one without a sender or from the
// user's own account, or an error the server made about the user's own
// stanza (such as a <blocked/> reply, which comes "from" the blocked JID).
func InboundExempt(ctx *Ctx, st *stanza.Stanza, user jid.JID) bool {
	return st.From.IsZero() || st.From.Bare() == user || (st.Type == stanza.TypeError && ctx.From == nil)
}

// Denier answers inbound stanzas a user's list denies the way XEP-0016
// §2.12 and XEP-0191 §3.4 agree on, so the user looks offline: presence,
// results and errors are dropped; messages and iq requests bounce with the
// module's error. A message to a bare JID is filtered once per resource:
// the sender gets one error, not one per resource. One stanza shared by
// many users (a room's message, Env.SendTo) gets one error per user.
type Denier struct {
	last atomic.Pointer[denied] // the message bounced last
}

type denied struct {
	st   *stanza.Stanza
	user jid.JID
}

// Deny is the verdict for st to user, denied; e is the error a bounce carries.
func (d *Denier) Deny(st *stanza.Stanza, user jid.JID, e *stanza.Error) (Verdict, *stanza.Error) {
	switch {
	case st.Kind == stanza.Presence, st.Type == stanza.Result, st.Type == stanza.TypeError:
		return Drop, nil
	case st.Kind == stanza.Message:
		if last := d.last.Swap(&denied{st: st, user: user}); last != nil && last.st == st && last.user.Equal(user) {
			return Drop, nil
		}
	}
	return Bounce, e
}
