package session

import (
	"sync/atomic"

	"ignis/stanza"
	"ignis/stat"
)

// Client State Indication (XEP-0352): while a client says it is inactive
// (a phone in a pocket), stanzas it does not need at once are held back and
// sent together when it becomes active again or something important
// arrives. Presence updates and chat-state notifications are held, and a
// newer one from the same sender replaces the older: that is what saves
// radio wake-ups and bytes.

// NSCSI is the XEP-0352 namespace.
const NSCSI = "urn:xmpp:csi:0"

// maxHeld bounds what one inactive session holds; past it everything held
// is sent.
const maxHeld = 256

// Stats counts what all streams of a Config did; safe for concurrent use.
type Stats struct {
	CSIHeld     atomic.Int64 // stanzas held back for inactive clients
	CSIReplaced atomic.Int64 // held stanzas never sent: a newer one replaced them
	SMDetached  atomic.Int64 // XEP-0198: streams that lost their connection and wait for a resume
	SMResumed   atomic.Int64 // XEP-0198: detached streams resumed
	SMExpired   atomic.Int64 // XEP-0198: detached streams ended without a resume

	// Logins by mechanism (index in LoginMechs): authentications that
	// succeeded and that failed with bad credentials.
	LoginOK     [len(LoginMechs)]atomic.Int64
	LoginFailed [len(LoginMechs)]atomic.Int64
	// Stanzas from and to bound clients, by kind (index in StanzaKinds).
	StanzasIn  [len(StanzaKinds)]atomic.Int64
	StanzasOut [len(StanzaKinds)]atomic.Int64
	// RouteLatency is the time the router takes with one stanza of a bound
	// client, sampled (one in routeSample per stream) to keep the clock
	// reads off most stanzas.
	RouteLatency stat.Histogram
	// Conns counts open client connections by transport (index in
	// Transports) and state (ConnNegotiating, ConnBound): conns.go.
	Conns [len(Transports)][nConnStates]atomic.Int64
}

// LoginMechs are the login counters' labels: the SASL mechanisms, XEP-0078
// legacy authentication, and "other" for anything unforeseen.
var LoginMechs = [...]string{
	"SCRAM-SHA-512-PLUS", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS",
	"SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "ANONYMOUS", "legacy",
	"console", // the web console's sign-in (internal/server)
	"other",
}

// StanzaKinds are the stanza counters' labels.
var StanzaKinds = [...]string{"message", "presence", "iq"}

// routeSample: one stanza in this many of a stream has its routing timed.
const routeSample = 64

// LoginIndex is mech's index in LoginMechs, for logins counted outside
// the streams (the web console).
func LoginIndex(mech string) int { return mechIndex(mech) }

// mechIndex is mech's index in LoginMechs (the last, "other", if unknown);
// legacy authentication is logged by its namespace.
func mechIndex(mech string) int {
	if mech == "jabber:iq:auth" {
		mech = "legacy"
	}
	for i, m := range LoginMechs {
		if m == mech {
			return i
		}
	}
	return len(LoginMechs) - 1
}

// kindIndex is k's index in StanzaKinds.
func kindIndex(k stanza.Kind) int {
	switch k {
	case stanza.Message:
		return 0
	case stanza.Presence:
		return 1
	}
	return 2
}

// csiState is an inactive session's held stanzas (nil when active).
type csiState struct {
	held []*stanza.Stanza // in arrival order; at most one per (kind, sender)
}

// setActive handles <active/> and <inactive/>.
func (s *Stream) setActive(active bool) {
	if active {
		s.flushHeld()
		s.csi = nil
		return
	}
	if s.csi == nil {
		s.csi = &csiState{}
	}
}

// hold keeps st back if the client is inactive and st can wait; it reports
// whether it did.
func (s *Stream) hold(st *stanza.Stanza) bool {
	if s.csi == nil || !canWait(st) {
		return false
	}
	s.cfg.Stats.CSIHeld.Add(1)
	h := s.csi.held
	for i, old := range h {
		if old.Kind == st.Kind && old.From.Equal(st.From) {
			// the newer one replaces it, at the end, keeping arrival order
			copy(h[i:], h[i+1:])
			h[len(h)-1] = st
			s.cfg.Stats.CSIReplaced.Add(1)
			return true
		}
	}
	s.csi.held = append(h, st)
	if len(s.csi.held) >= maxHeld {
		s.flushHeld()
	}
	return true
}

// flushHeld sends what is held, in arrival order.
func (s *Stream) flushHeld() {
	if s.csi == nil || len(s.csi.held) == 0 {
		return
	}
	h := s.csi.held
	s.csi.held = nil
	for _, st := range h {
		s.writeStanza(st)
	}
}

// canWait: availability presence (not subscription traffic) and messages
// carrying nothing but a chat state (XEP-0085).
func canWait(st *stanza.Stanza) bool {
	switch st.Kind {
	case stanza.Presence:
		return st.Type == stanza.TypeNone || st.Type == stanza.Unavailable
	case stanza.Message:
		if st.Type == stanza.TypeError {
			return false
		}
		return st.Class() == stanza.ClassChatState // chat states and nothing else
	}
	return false
}
