package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// LastActivity is what the server remembers of a user's last logout
// (XEP-0012 §3): when their last session stopped being available, and the
// status text of the unavailable presence it sent, if any.
type LastActivity struct {
	Time   time.Time // when the logout happened; stored to the millisecond
	Status string    // <status/> of the last unavailable presence; may be empty
}

// LastActivities is the last-activity table: one record per user, user 0x00.
//
// Value, version 1:
//
//	0x01       format version
//	be64       Unix time of the logout in milliseconds (two's complement)
//	bytes      the status text, UTF-8 (may be empty)
//
// The record is informational and never acknowledged to anyone, so the
// module writes it with PutAsync and does not wait; it still goes through
// the group-commit writer like every other write.
type LastActivities struct{ db *DB }

const lastV1 = 1

// LastActivities returns the last-activity table.
func (db *DB) LastActivities() LastActivities { return LastActivities{db: db} }

// Get returns user's last-activity record, or an error wrapping ErrNotFound
// if they never logged out since the account was created.
func (l LastActivities) Get(user string) (LastActivity, error) {
	if err := validUser(user); err != nil {
		return LastActivity{}, err
	}
	val, closer, err := l.db.pdb.Get(userKey(tableLast, user, ""))
	if errors.Is(err, pebble.ErrNotFound) {
		return LastActivity{}, fmt.Errorf("store: last activity of %q: %w", user, ErrNotFound)
	} else if err != nil {
		return LastActivity{}, err
	}
	defer closer.Close()
	if len(val) < 9 || val[0] != lastV1 {
		return LastActivity{}, fmt.Errorf("store: last activity of %q: %w: %x", user, ErrCorrupt, val[:min(len(val), 9)])
	}
	ms := int64(binary.BigEndian.Uint64(val[1:9]))
	return LastActivity{Time: time.UnixMilli(ms), Status: string(val[9:])}, nil
}

// Put replaces user's record and returns once it is on disk. It blocks for
// an fsync: on an event loop use PutAsync.
func (l LastActivities) Put(user string, a LastActivity) error {
	b, err := l.batch(user, a)
	if err != nil {
		return err
	}
	return l.db.Commit(b)
}

// PutAsync is Put without waiting: done, if not nil, gets the result on the
// writer goroutine (see DB.CommitAsync for what it may do).
func (l LastActivities) PutAsync(user string, a LastActivity, done func(error)) {
	b, err := l.batch(user, a)
	if err != nil {
		if done != nil {
			done(err)
		}
		return
	}
	l.db.CommitAsync(b, done)
}

func (l LastActivities) batch(user string, a LastActivity) (*pebble.Batch, error) {
	if err := validUser(user); err != nil {
		return nil, err
	}
	val := make([]byte, 9, 9+len(a.Status))
	val[0] = lastV1
	binary.BigEndian.PutUint64(val[1:9], uint64(a.Time.UnixMilli()))
	val = append(val, a.Status...)
	b := l.db.NewBatch()
	if err := b.Set(userKey(tableLast, user, ""), val, nil); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}
