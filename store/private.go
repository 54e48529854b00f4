package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// Private is the private XML storage table (XEP-0049): per user, one element
// per qualified name (namespace and local name), stored as the raw XML the
// user set.
//
// Value, version 1:
//
//	0x01    format version
//	bytes   the element, e.g. <storage xmlns='storage:bookmarks'>…</storage>
type Private struct{ db *DB }

// PrivateItem is one stored element and the name it is stored under.
type PrivateItem struct {
	NS, Local string
	XML       []byte
}

const privateV1 = 1

// PrivateWatcher is told of the elements a user stored with Set or
// SetAsync once they are on disk (another feature keeps a table of its own
// in step, e.g. XEP-0402 bookmarks with XEP-0049's). It runs on the
// committing goroutine and must not block or write to the store there.
type PrivateWatcher func(user string, items []PrivateItem)

type privateState struct {
	mu    sync.Mutex
	watch []PrivateWatcher
}

// Watch registers w for every later Set and SetAsync.
func (p Private) Watch(w PrivateWatcher) {
	p.db.private.mu.Lock()
	p.db.private.watch = append(p.db.private.watch, w)
	p.db.private.mu.Unlock()
}

func (p Private) told(user string, items []PrivateItem) {
	p.db.private.mu.Lock()
	ws := p.db.private.watch
	p.db.private.mu.Unlock()
	for _, w := range ws {
		w(user, items)
	}
}

// SetQuiet is Set without telling the watchers: what a watcher uses to
// write back without an echo.
func (p Private) SetQuiet(user string, items ...PrivateItem) error {
	b, err := p.batch(user, items)
	if err != nil {
		return err
	}
	return p.db.Commit(b)
}

// Private returns the private XML storage table.
func (db *DB) Private() Private { return Private{db: db} }

// privatePart is the key part after the user: ns 0x00 local. Neither may
// contain 0x00 (XML forbids it in names anyway), so the split is unambiguous.
func privatePart(ns, local string) (string, error) {
	if local == "" || strings.IndexByte(ns, 0) >= 0 || strings.IndexByte(local, 0) >= 0 {
		return "", fmt.Errorf("store: private: invalid element name {%q}%q", ns, local)
	}
	return ns + "\x00" + local, nil
}

// Get returns a copy of the element user stored as {ns}local, or an error
// wrapping ErrNotFound.
func (p Private) Get(user, ns, local string) ([]byte, error) {
	if err := validUser(user); err != nil {
		return nil, err
	}
	part, err := privatePart(ns, local)
	if err != nil {
		return nil, err
	}
	val, closer, err := p.db.pdb.Get(userKey(tablePrivate, user, part))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("store: private {%s}%s of %q: %w", ns, local, user, ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	defer closer.Close()
	if len(val) == 0 || val[0] != privateV1 {
		return nil, fmt.Errorf("store: private {%s}%s of %q: %w: format %x", ns, local, user, ErrCorrupt, val[:min(len(val), 1)])
	}
	return append([]byte(nil), val[1:]...), nil
}

// Set stores items for user in one batch (all or none) and returns once they
// are on disk. It blocks for an fsync: on an event loop use SetAsync.
func (p Private) Set(user string, items ...PrivateItem) error {
	err := p.SetQuiet(user, items...)
	if err == nil {
		p.told(user, items)
	}
	return err
}

// SetAsync is Set without waiting: done (run on the writer goroutine, see
// DB.CommitAsync) gets the result once the items are on disk.
func (p Private) SetAsync(user string, items []PrivateItem, done func(error)) {
	b, err := p.batch(user, items)
	if err != nil {
		done(err)
		return
	}
	p.db.CommitAsync(b, func(err error) {
		if err == nil {
			p.told(user, items)
		}
		done(err)
	})
}

func (p Private) batch(user string, items []PrivateItem) (*pebble.Batch, error) {
	if err := validUser(user); err != nil {
		return nil, err
	}
	b := p.db.NewBatch()
	for _, it := range items {
		part, err := privatePart(it.NS, it.Local)
		if err == nil {
			val := make([]byte, 0, 1+len(it.XML))
			val = append(append(val, privateV1), it.XML...)
			err = b.Set(userKey(tablePrivate, user, part), val, nil)
		}
		if err != nil {
			_ = b.Close()
			return nil, err
		}
	}
	return b, nil
}
