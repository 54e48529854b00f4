package session

import (
	"sync/atomic"

	"ignis/stanza"
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
