package store

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Blocklist is the table of JIDs each user blocks (XEP-0191): one key per
// blocked JID, user 0x00 JID, whose value is the single version byte 0x01.
// JIDs are stored in the canonical form the jid package produces; the store
// compares bytes.
//
// The Async methods are for event loops: they submit one batch and call done
// on the writer goroutine once it is on disk (see DB.CommitAsync for what done
// may do). The others wait for the fsync.
type Blocklist struct{ db *DB }

// Blocklist returns the blocklist table.
func (db *DB) Blocklist() *Blocklist { return &Blocklist{db: db} }

const blockV1 = 1

// Get returns the JIDs user blocks, in byte order.
func (b *Blocklist) Get(user string) ([]string, error) {
	if err := validUser(user); err != nil {
		return nil, err
	}
	lo, hi := userSpan(tableBlock, user)
	it, err := b.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	var out []string
	for valid := it.First(); valid; valid = it.Next() {
		j, _ := splitUserKey(tableBlock, user, it.Key())
		out = append(out, string(j))
	}
	return out, it.Close()
}

// Block adds jids to user's blocklist (blocking one again is not an error).
func (b *Blocklist) Block(user string, jids []string) error {
	batch, err := b.batch(user, jids, true)
	if err != nil {
		return err
	}
	return b.db.Commit(batch)
}

// Unblock removes jids from user's blocklist; no jids means all of them.
func (b *Blocklist) Unblock(user string, jids []string) error {
	batch, err := b.batch(user, jids, false)
	if err != nil {
		return err
	}
	return b.db.Commit(batch)
}

// BlockAsync is Block without waiting; done gets the result.
func (b *Blocklist) BlockAsync(user string, jids []string, done func(error)) {
	batch, err := b.batch(user, jids, true)
	if err != nil {
		done(err)
		return
	}
	b.db.CommitAsync(batch, done)
}

// UnblockAsync is Unblock without waiting; done gets the result.
func (b *Blocklist) UnblockAsync(user string, jids []string, done func(error)) {
	batch, err := b.batch(user, jids, false)
	if err != nil {
		done(err)
		return
	}
	b.db.CommitAsync(batch, done)
}

func (b *Blocklist) batch(user string, jids []string, add bool) (*pebble.Batch, error) {
	if err := validUser(user); err != nil {
		return nil, err
	}
	for _, j := range jids {
		if j == "" {
			return nil, fmt.Errorf("store: blocklist of %q: empty JID", user)
		}
	}
	batch := b.db.NewBatch()
	var err error
	switch {
	case add:
		for _, j := range jids {
			if err = batch.Set(userKey(tableBlock, user, j), []byte{blockV1}, nil); err != nil {
				break
			}
		}
	case len(jids) == 0:
		lo, hi := userSpan(tableBlock, user)
		err = batch.DeleteRange(lo, hi, nil)
	default:
		for _, j := range jids {
			if err = batch.Delete(userKey(tableBlock, user, j), nil); err != nil {
				break
			}
		}
	}
	if err != nil {
		_ = batch.Close()
		return nil, err
	}
	return batch, nil
}

// Users returns every user with a blocklist, in byte order.
func (b *Blocklist) Users() ([]string, error) { return b.db.usersIn(tableBlock) }
