package muc

import (
	"sort"

	"ignis/jid"

	"ignis/stanza"
)

// RoomInfo describes a live room for the server's administrators (the web
// console and the REST API).
type RoomInfo struct {
	JID         string `json:"jid"`
	Name        string `json:"name,omitempty"`
	Occupants   int    `json:"occupants"`
	Persistent  bool   `json:"persistent"`
	Public      bool   `json:"public"`
	MembersOnly bool   `json:"members_only,omitempty"`
	Password    bool   `json:"password,omitempty"` // password-protected
	Locked      bool   `json:"locked,omitempty"`   // created and not configured yet (XEP-0045 §10.1)
}

// Rooms lists the live rooms, persistent or not, sorted by JID: read from
// the service's map and each room under its own lock, as disco#items does.
func (m *Module) Rooms() []RoomInfo {
	m.mu.Lock()
	rooms := make([]*room, 0, len(m.byName))
	for _, r := range m.byName {
		rooms = append(rooms, r)
	}
	m.mu.Unlock()
	out := make([]RoomInfo, 0, len(rooms))
	for _, r := range rooms {
		r.mu.Lock()
		if !r.gone {
			out = append(out, RoomInfo{JID: r.jid.String(), Name: r.cfg.Name, Occupants: len(r.occupants),
				Persistent: r.cfg.Persistent, Public: r.cfg.Public, MembersOnly: r.cfg.MembersOnly,
				Password: r.cfg.Password != "", Locked: r.locked})
		}
		r.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].JID < out[j].JID })
	return out
}

// Destroy destroys a room by its localpart as an owner would (XEP-0045
// §10.9): every occupant is told, with reason, and a persistent room's
// record and archive go; it returns once the store has committed that.
// found is false if there is no such room.
func (m *Module) Destroy(name, reason string) (found bool, err error) {
	m.mu.Lock()
	r := m.byName[name]
	m.mu.Unlock()
	if r == nil {
		return false, nil
	}
	var b stanza.Builder
	b.Start("destroy")
	if reason != "" {
		b.Element("reason", reason)
	}
	b.End()
	var deleted func(error)
	done := make(chan error, 1)
	if m.h.DB() != nil {
		deleted = func(err error) { done <- err }
	} else {
		done <- nil
	}
	r.mu.Lock()
	if r.gone {
		r.mu.Unlock()
		return false, nil
	}
	out := r.destroyWith(&extra{x: b.Bytes()}, deleted)
	r.mu.Unlock()
	m.afterLeave(r)
	if env := m.h.Env(); env != nil {
		m.send(env, out)
	}
	return true, <-done
}

// Domain is the service's domain (conference.DOMAIN), zero until started.
func (m *Module) Domain() jid.JID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.domain
}
