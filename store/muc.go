package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Rooms is the group chat table (XEP-0045, mod/muc): the rooms that outlive
// their occupants, each with its configuration and affiliations, and the
// rooms' message archive (history on join and XEP-0313 queries of the room
// JID), which shares the user archive's code under tables of its own.
//
//	room       tableRoom             room 0x00                   → roomFormat JSON(RoomRecord)
//	archive    tableRoomArchive      room 0x00 be64(id)          → as tableArchive
//	by sender  tableRoomArchiveWith  room 0x00 nick-JID 0x00 be64(id) → empty
//
// A room is named by its localpart at the service's domain; nothing in these
// tables belongs to a user, so deleting an account leaves them.
type Rooms struct{ db *DB }

// Table bytes of group chat (0x30–0x37 are reserved for it).
const (
	tableRoom            byte = 0x30
	tableRoomArchive     byte = 0x31
	tableRoomArchiveWith byte = 0x32

	roomFormat = 1
)

// RoomRecord is what is kept of a room: mod/muc's configuration and the
// affiliations (bare JID → owner/admin/member/outcast as the module numbers them).
type RoomRecord struct {
	Name     string            `json:"-"` // the room's localpart (the key)
	Config   json.RawMessage   `json:"config"`
	Affs     map[string]uint8  `json:"affs,omitempty"`
	Reason   map[string]string `json:"reasons,omitempty"` // why an outcast was banned, by bare JID
	Subject  string            `json:"subject,omitempty"`
	SubjFrom string            `json:"subject_from,omitempty"`
	Created  time.Time         `json:"created"`
	// Nicks are the nicks registered with the room (XEP-0045 §7.10), by bare JID.
	Nicks map[string]string `json:"nicks,omitempty"`
	// Secret keys the room's occupant ids (XEP-0421), kept so that they
	// outlive a restart.
	Secret []byte `json:"secret,omitempty"`
}

// Rooms returns the group chat table.
func (db *DB) Rooms() Rooms { return Rooms{db: db} }

// RoomArchive returns the rooms' message archive: an Archive whose "user" is
// the room's localpart and whose "with" is the sender's occupant JID.
func (db *DB) RoomArchive() *Archive {
	return &Archive{db: db, st: &db.roomArchive, t: archiveTables{tableRoomArchive, tableRoomArchiveWith}}
}

// PutAsync stores r (replacing what was stored of the room); done (may be
// nil) runs on the writer goroutine once it is on disk (see DB.CommitAsync).
func (rs Rooms) PutAsync(r *RoomRecord, done func(error)) {
	b, err := rs.putBatch(r)
	if err != nil {
		if done != nil {
			done(err)
		}
		return
	}
	rs.db.CommitAsync(b, done)
}

// Put stores r and returns once it is on disk; it blocks for an fsync.
func (rs Rooms) Put(r *RoomRecord) error {
	b, err := rs.putBatch(r)
	if err != nil {
		return err
	}
	return rs.db.Commit(b)
}

func (rs Rooms) putBatch(r *RoomRecord) (*pebble.Batch, error) {
	if err := validUser(r.Name); err != nil {
		return nil, err
	}
	v, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	b := rs.db.NewBatch()
	if err := b.Set(userKey(tableRoom, r.Name, ""), append([]byte{roomFormat}, v...), nil); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

// DeleteAsync removes a room with its archive (a destroyed room).
func (rs Rooms) DeleteAsync(name string, done func(error)) {
	if err := validUser(name); err != nil {
		if done != nil {
			done(err)
		}
		return
	}
	b := rs.db.NewBatch()
	err := b.Delete(userKey(tableRoom, name, ""), nil)
	for _, t := range []byte{tableRoomArchive, tableRoomArchiveWith} {
		if err == nil {
			lo, hi := userSpan(t, name)
			err = b.DeleteRange(lo, hi, nil)
		}
	}
	if err != nil {
		_ = b.Close()
		if done != nil {
			done(err)
		}
		return
	}
	rs.db.CommitAsync(b, done)
}

// Get returns one room, or an error wrapping ErrNotFound.
func (rs Rooms) Get(name string) (*RoomRecord, error) {
	if err := validUser(name); err != nil {
		return nil, err
	}
	if !rs.db.reading() {
		return nil, ErrClosed
	}
	defer rs.db.doneReading()
	v, closer, err := rs.db.pdb.Get(userKey(tableRoom, name, ""))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return nil, fmt.Errorf("store: room %q: %w", name, ErrNotFound)
	case err != nil:
		return nil, err
	}
	defer closer.Close()
	return decodeRoom(name, v)
}

func decodeRoom(name string, v []byte) (*RoomRecord, error) {
	if len(v) == 0 || v[0] != roomFormat {
		return nil, fmt.Errorf("store: room %q: %w", name, ErrCorrupt)
	}
	r := &RoomRecord{}
	if err := json.Unmarshal(v[1:], r); err != nil {
		return nil, fmt.Errorf("store: room %q: %w: %v", name, ErrCorrupt, err)
	}
	r.Name = name
	return r, nil
}

// List calls fn for every stored room in name order until fn returns false.
func (rs Rooms) List(fn func(*RoomRecord) bool) error {
	if !rs.db.reading() {
		return ErrClosed
	}
	defer rs.db.doneReading()
	lo, hi := tableSpan(tableRoom)
	it, err := rs.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("store: rooms: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 3 || k[len(k)-1] != userSep {
			_ = it.Close()
			return fmt.Errorf("store: room key %x: %w", k, ErrCorrupt)
		}
		r, err := decodeRoom(string(k[1:len(k)-1]), it.Value())
		if err != nil {
			_ = it.Close()
			return err
		}
		if !fn(r) {
			break
		}
	}
	return it.Close()
}
