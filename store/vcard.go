package store

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// VCards is the vCard table (XEP-0054): one vCard element per user, stored
// as the raw XML the user set. The store does not look inside it; the feature
// checks that it is one standalone, well-formed element before storing it.
//
// Value, version 1:
//
//	0x01    format version
//	bytes   the <vCard xmlns='vcard-temp'>…</vCard> element
type VCards struct{ db *DB }

const vcardV1 = 1

// VCards returns the vCard table.
func (db *DB) VCards() VCards { return VCards{db: db} }

// Get returns a copy of user's vCard, or an error wrapping ErrNotFound.
func (v VCards) Get(user string) ([]byte, error) {
	if err := validUser(user); err != nil {
		return nil, err
	}
	val, closer, err := v.db.pdb.Get(userKey(tableVCard, user, ""))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("store: vcard of %q: %w", user, ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	defer closer.Close()
	if len(val) == 0 || val[0] != vcardV1 {
		return nil, fmt.Errorf("store: vcard of %q: %w: format %x", user, ErrCorrupt, val[:min(len(val), 1)])
	}
	return append([]byte(nil), val[1:]...), nil
}

// Set replaces user's vCard with xml and returns once it is on disk. It
// blocks for an fsync: on an event loop use SetAsync.
func (v VCards) Set(user string, xml []byte) error {
	b, err := v.batch(user, xml)
	if err != nil {
		return err
	}
	return v.db.Commit(b)
}

// SetAsync is Set without waiting: done (run on the writer goroutine, see
// DB.CommitAsync) gets the result once the vCard is on disk.
func (v VCards) SetAsync(user string, xml []byte, done func(error)) {
	b, err := v.batch(user, xml)
	if err != nil {
		done(err)
		return
	}
	v.db.CommitAsync(b, done)
}

func (v VCards) batch(user string, xml []byte) (*pebble.Batch, error) {
	if err := validUser(user); err != nil {
		return nil, err
	}
	val := make([]byte, 0, 1+len(xml))
	val = append(append(val, vcardV1), xml...)
	b := v.db.NewBatch()
	if err := b.Set(userKey(tableVCard, user, ""), val, nil); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}
