package presence

import (
	"slices"

	"ignis/jid"
	"ignis/mod"
)

// directed is, per session, the entities it sent directed available
// presence to while available (RFC 6121 §4.6.3), which get unavailable
// presence when it goes unavailable. Guarded by Module.mu.
//
// Nearly every session has none or one (the room it joined), and there may
// be a million: a map of maps cost ~440 B per session for one entry. The
// first target is kept inline in one; only a session with more has a
// slice in more. A target's JID is the one its presence was routed with,
// so its string is shared with that stanza (and with a room's occupant
// record), never copied.
type directed struct {
	one  map[mod.Resource]jid.JID
	more map[mod.Resource][]jid.JID // the targets after the first
}

// add records to for res; false when res already has max targets (to not among them).
func (d *directed) add(res mod.Resource, to jid.JID, max int) bool {
	first, ok := d.one[res]
	switch {
	case !ok:
		if d.one == nil {
			d.one = map[mod.Resource]jid.JID{}
		}
		d.one[res] = to
		return true
	case first == to:
		return true
	}
	rest := d.more[res]
	if slices.Contains(rest, to) {
		return true
	}
	if 1+len(rest) >= max {
		return false
	}
	if d.more == nil {
		d.more = map[mod.Resource][]jid.JID{}
	}
	d.more[res] = append(rest, to)
	return true
}

// remove forgets to for res.
func (d *directed) remove(res mod.Resource, to jid.JID) {
	first, ok := d.one[res]
	if !ok {
		return
	}
	rest := d.more[res]
	if first == to {
		if len(rest) == 0 {
			delete(d.one, res)
			return
		}
		// the last of the others takes the inline place
		d.one[res] = rest[len(rest)-1]
		rest = rest[:len(rest)-1]
	} else if i := slices.Index(rest, to); i >= 0 {
		rest = slices.Delete(rest, i, i+1)
	}
	if len(rest) == 0 {
		delete(d.more, res)
	} else {
		d.more[res] = rest
	}
}

// take returns res's targets and forgets them.
func (d *directed) take(res mod.Resource) []jid.JID {
	first, ok := d.one[res]
	if !ok {
		return nil
	}
	out := append([]jid.JID{first}, d.more[res]...)
	d.drop(res)
	return out
}

// drop forgets res's targets.
func (d *directed) drop(res mod.Resource) {
	delete(d.one, res)
	delete(d.more, res)
}

// count is how many targets res has.
func (d *directed) count(res mod.Resource) int {
	if _, ok := d.one[res]; !ok {
		return 0
	}
	return 1 + len(d.more[res])
}
