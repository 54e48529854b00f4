package bench

import (
	"strconv"
	"time"

	"ignis/stanza"
	"ignis/xmlscan"
)

// Rosters (--roster-size N): every user has the N/2 users on each side of
// it (by number, wrapping around the run's users) as contacts with mutual
// subscriptions, so that a presence update fans out to N contacts. The bench
// builds them through the protocol, which works on any server: after its
// roster get a session asks for a subscription to every contact it is not
// subscribed to yet, and approves every request it receives. Rosters stay
// on the server, so later runs find them in place.

const nsRoster = "jabber:iq:roster"

// Subscription bits of a contact as the roster shows it.
const (
	subTo   uint8 = 1 // we see the contact's presence
	subFrom uint8 = 2 // the contact sees ours
	subBoth       = subTo | subFrom
)

// contactJIDs are the bare JIDs of s's contacts.
func (r *run) contactJIDs(s *session) []string {
	n, all := r.cfg.RosterSize, r.cfg.allSessions()
	g := r.cfg.UserOffset + int(s.idx) // among all the run's users
	out := make([]string, 0, n)
	for d := 1; d <= n/2; d++ {
		for _, x := range [2]int{g + d, g - d} {
			x = ((x % all) + all) % all
			out = append(out, UserName(r.cfg.Users, r.cfg.FirstUser+x)+"@"+r.cfg.Domain)
		}
	}
	return out
}

// rosterItems takes the items of a roster result or push: it tracks the
// subscription of each contact and counts the mutual ones of the run.
func (s *session) rosterItems(query xmlscan.Elem) {
	if s.contacts == nil {
		s.contacts = make(map[string]uint8, s.r.cfg.RosterSize)
	}
	it := query.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		if string(c.Local()) != "item" {
			continue
		}
		j, _ := c.Attr("jid")
		var sub uint8
		switch v, _ := c.Attr("subscription"); string(v) {
		case "both":
			sub = subBoth
		case "to":
			sub = subTo
		case "from":
			sub = subFrom
		}
		old, known := s.contacts[string(j)]
		if !known && sub == 0 {
			continue
		}
		switch {
		case old != subBoth && sub == subBoth:
			s.r.st.rosterBoth.Add(1)
		case old == subBoth && sub != subBoth:
			s.r.st.rosterBoth.Add(-1)
		}
		s.contacts[string(j)] = sub
	}
}

// subscribeMissing asks for a subscription to every contact s is not
// subscribed to yet (after the roster result).
func (s *session) subscribeMissing() error {
	var b []byte
	for _, c := range s.r.contactJIDs(s) {
		if s.contacts[c]&subTo == 0 {
			b = append(b, "<presence type='subscribe' to='"...)
			b = xmlscan.AppendEscapedAttr(b, c)
			b = append(b, "'/>"...)
		}
	}
	if len(b) == 0 {
		return nil
	}
	return s.write(b)
}

// rosterStanza handles what concerns rosters in any phase after the roster
// get: pushes (answered, RFC 6121 §2.1.6) and subscription requests
// (approved). It reports whether e was one of them.
func (s *session) rosterStanza(e xmlscan.Elem) (bool, error) {
	switch string(e.Local()) {
	case "iq":
		q := e.Child("query", nsRoster)
		if t, _ := e.Attr("type"); string(t) != "set" || q.IsZero() {
			return false, nil
		}
		if s.r.cfg.RosterSize > 0 {
			s.rosterItems(q)
		}
		id, _ := e.Attr("id")
		var b stanza.Builder
		b.Element("iq", "", "type", "result", "id", string(id))
		return true, s.write(b.Bytes())
	case "presence":
		if t, _ := e.Attr("type"); string(t) != "subscribe" || s.r.cfg.RosterSize == 0 {
			return false, nil
		}
		from, _ := e.Attr("from")
		var b stanza.Builder
		b.Element("presence", "", "type", "subscribed", "to", string(from))
		return true, s.write(b.Bytes())
	}
	return false, nil
}

// waitRosters holds the start of the load until the rosters are mutual
// (each session's contacts all subscribed both ways), or for cfg.Timeout.
// It reports how many of the wanted subscriptions are in place.
func (r *run) waitRosters(done <-chan struct{}) (have, want int64) {
	want = int64(r.cfg.Sessions) * int64(r.cfg.RosterSize)
	deadline := time.Now().Add(r.cfg.Timeout)
	for {
		have = r.st.rosterBoth.Load()
		if have >= want || time.Now().After(deadline) {
			return have, want
		}
		select {
		case <-done:
			return have, want
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// rosterSummary is the result's line about rosters.
func rosterSummary(have, want int64) string {
	return strconv.FormatInt(have, 10) + " of " + strconv.FormatInt(want, 10) + " contacts subscribed both ways"
}
