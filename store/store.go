// Package store is Ignis's durable storage, kept in an embedded Pebble
// database in the data folder.
//
// Its rules (DESIGN §6):
//   - Data is reached through typed tables (Accounts, later the roster and
//     offline queues), never through raw keys; keys.go alone builds and parses
//     keys, and every value starts with a format-version byte.
//   - A write the server acknowledges (an IQ result, an XEP-0198 <a/>) is
//     synced to disk before the acknowledgement: it goes through DB.Commit or
//     DB.CommitAsync, which commit with pebble.Sync in groups.
//   - One logical change is one batch, so it is applied whole or not at all.
package store

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

var (
	// ErrNotFound is returned when a record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists is returned when creating a record that already exists.
	ErrExists = errors.New("store: already exists")
	// ErrLocked is wrapped by Open's error when another DB, in this process
	// or another, holds the data folder. The CLI then talks to the running
	// server instead.
	ErrLocked = errors.New("store: data folder is in use")
	// ErrClosed is returned by writes submitted after Close.
	ErrClosed = errors.New("store: closed")
	// ErrCorrupt is wrapped by errors about stored values that do not decode.
	ErrCorrupt = errors.New("store: corrupt value")
)

// formatVersion is the store's layout version, kept at metaFormatKey. Open
// refuses a data folder written by a newer layout.
const formatVersion = 1

// DB is an open store. Its methods are safe for concurrent use.
type DB struct {
	pdb  *pebble.DB
	lock *pebble.Lock
	opts Options // defaults applied
	w    writer

	accounts Accounts
	// The tables with in-memory state of their own (counters, caches,
	// pending writes), set up in Open.
	roster      rosterState
	offline     offlineState
	archive     archiveState
	roomArchive archiveState // store/muc.go
	private     privateState
	// groupsMu serializes the read-check-write of shared group changes
	// (administrative and rare).
	groupsMu sync.Mutex
}

// Open opens (creating if needed) the store in o.Dir/db. o must not be nil; it
// is copied, so the caller may reuse it. The error wraps ErrLocked when
// another DB holds the folder.
func Open(o *Options) (*DB, error) {
	if o == nil {
		return nil, errors.New("store: Open needs Options (at least Dir)")
	}
	opts := *o
	if opts.Dir == "" && opts.FS == nil {
		return nil, errors.New("store: Options.Dir is empty")
	}
	opts.ensureDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}

	dir := opts.FS.PathJoin(opts.Dir, "db")
	if err := opts.FS.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// Take Pebble's LOCK ourselves so a held lock can be told apart from any
	// other failure to open.
	lock, err := pebble.LockDirectory(dir, opts.FS)
	if err != nil {
		// Creating the LOCK file fails with a *fs.PathError (permissions, a
		// missing folder). Everything else means another holder: fcntl's
		// EAGAIN/EACCES from another process, Pebble's "lock held by current
		// process", or EAGAIN from a vfs.MemFS.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("store: locking %s: %w", dir, err)
		}
		return nil, fmt.Errorf("store: %s: %w: %w", dir, ErrLocked, err)
	}

	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref() // the DB holds its own reference
	pdb, err := pebble.Open(dir, opts.pebbleOptions(cache, lock))
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("store: opening %s: %w", dir, err)
	}

	db := &DB{pdb: pdb, lock: lock, opts: opts}
	db.roster = rosterState{seed: maphash.MakeSeed(), pend: map[string]*rosterPending{}}
	db.offline = offlineState{seed: maphash.MakeSeed()}
	db.archive = archiveState{now: time.Now, seed: maphash.MakeSeed()}
	db.roomArchive = archiveState{now: time.Now, seed: maphash.MakeSeed()}
	db.accounts.db = db
	db.accounts.seed = maphash.MakeSeed()
	db.w.start(db)
	if err := db.checkFormat(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// checkFormat records formatVersion in a new store and refuses a newer one.
func (db *DB) checkFormat() error {
	v, closer, err := db.pdb.Get(metaFormatKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		b := db.NewBatch()
		if err := b.Set(metaFormatKey, []byte{formatVersion}, nil); err != nil {
			_ = b.Close()
			return err
		}
		return db.Commit(b)
	case err != nil:
		return fmt.Errorf("store: reading format: %w", err)
	}
	defer closer.Close()
	switch {
	case len(v) != 1:
		return fmt.Errorf("store: format record %x: %w", v, ErrCorrupt)
	case v[0] > formatVersion:
		return fmt.Errorf("store: data folder has format %d; this build reads up to %d", v[0], formatVersion)
	}
	return nil
}

// Close drains and stops the writer (every write already submitted is
// committed and reported), then closes Pebble and releases the folder.
// Writes submitted after Close fail with ErrClosed; reads after Close are a
// bug (Pebble panics), so the server closes the store after its loops stop.
func (db *DB) Close() error {
	if !db.w.stop() {
		return ErrClosed
	}
	err := db.pdb.Close()
	if lerr := db.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

// Accounts returns the account table.
func (db *DB) Accounts() *Accounts { return &db.accounts }

// NewBatch returns an empty batch to fill and pass to Commit or CommitAsync.
func (db *DB) NewBatch() *pebble.Batch { return db.pdb.NewBatch() }

// Commit commits b durably (pebble.Sync) through the writer goroutine, grouped
// with other waiting batches, and returns when it is on disk. It takes
// ownership of b and closes it. It blocks for an fsync: never call it from an
// event loop (use CommitAsync), nor from a CommitAsync callback.
func (db *DB) Commit(b *pebble.Batch) error {
	r := getReq()
	r.b = b
	if err := db.w.submit(r); err != nil {
		putReq(r)
		return err
	}
	err := <-r.done
	putReq(r)
	return err
}

// CommitAsync is Commit without waiting: done, if not nil, receives the result
// once b is on disk (or failed). done runs on the writer goroutine, so it must
// be quick and must not block, call Commit, or call CommitAsync (with a full
// queue that would deadlock); hand the result to the event loop instead.
// CommitAsync itself blocks only while the queue is full (Options.CommitQueue).
// It takes ownership of b and closes it.
func (db *DB) CommitAsync(b *pebble.Batch, done func(error)) {
	r := &commitReq{b: b, cb: done}
	if done == nil {
		r.cb = func(error) {}
	}
	if err := db.w.submit(r); err != nil {
		r.cb(err)
	}
}

// Commit requests are pooled for the synchronous path, whose done channel
// would otherwise be allocated per call.
var reqPool = sync.Pool{New: func() any { return &commitReq{done: make(chan error, 1)} }}

func getReq() *commitReq { return reqPool.Get().(*commitReq) }

func putReq(r *commitReq) {
	r.b = nil
	reqPool.Put(r)
}
