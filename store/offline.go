package store

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// Offline is the offline-message table (XEP-0160): per user, the raw bytes
// of the messages that arrived while the user had no available resource, in
// arrival order under a per-user sequence number.
//
//	key    tableOffline user 0x00 be64(seq)
//	value  offlineFormat, then the stanza's bytes as stored
//
// Sequence numbers and message counts live in memory. A user's are recovered
// on first use from the stored span (its last key gives the next number; the
// scan counts the rest), which costs one scan of at most the quota's worth of
// keys per user per process. Stores that are submitted but not yet committed
// are counted, so quota checks made by concurrent senders add up.
//
// Writes are synced (group commit, DB.Commit): a message is acknowledged to
// its sender only once it is on disk. Stores for one user are submitted to the
// writer under the user's mutex, in sequence order; the writer commits in
// submission order, so when any later synced commit has returned, every store
// submitted before it is on disk too.
type Offline struct {
	db *DB
	st *offlineState
}

// offlineFormat is the first byte of every offline value.
const offlineFormat = 1

// ErrQueueFull is returned by TryStoreAsync when the user's queue is at its
// quota: as many messages as allowed, or no room for this one's bytes.
var ErrQueueFull = errors.New("store: offline queue is full")

// offlineState is the in-memory part of one DB's offline table.
type offlineState struct {
	seed   maphash.Seed
	shards [32]struct {
		mu    sync.Mutex
		users map[string]*offlineUser
	}
}

// offlineUser is one user's counters. Entries are kept for the life of the
// process once a user has had offline activity, so sequence numbers never
// repeat within a process.
type offlineUser struct {
	// mu guards loaded and next, and is held while a write for the user is
	// submitted, so submission order is sequence order. It is never held
	// while waiting for a commit, and never taken on the writer goroutine.
	mu     sync.Mutex
	loaded bool
	next   uint64 // the sequence number of the next store

	// count is stored plus submitted messages; gen changes on DeleteAll, so
	// a failed store that DeleteAll already cleared is not uncounted twice.
	// Atomic because failed commits report on the writer goroutine.
	count atomic.Int64
	bytes atomic.Int64 // the stored messages' sizes, counted like count
	gen   atomic.Uint64

	// dmu serializes Delete's read-check-commit for the user.
	dmu sync.Mutex
}

// Totals sums the offline queues of the accounts that had offline activity
// since the store was opened (queues are counted when first touched): users
// with messages waiting, the messages, and their bytes.
func (o *Offline) Totals() (users, messages int, bytes int64) {
	for i := range o.st.shards {
		sh := &o.st.shards[i]
		sh.mu.Lock()
		for _, u := range sh.users {
			if n := u.count.Load(); n > 0 {
				users++
				messages += int(n)
				bytes += u.bytes.Load()
			}
		}
		sh.mu.Unlock()
	}
	return users, messages, bytes
}

// Offline returns the offline-message table.
func (db *DB) Offline() *Offline { return &Offline{db: db, st: &db.offline} }

func (s *offlineState) user(user string) *offlineUser {
	sh := &s.shards[maphash.String(s.seed, user)%uint64(len(s.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.users[user]
	if u == nil {
		if sh.users == nil {
			sh.users = map[string]*offlineUser{}
		}
		u = &offlineUser{}
		sh.users[user] = u
	}
	return u
}

// reading takes the writer's lock for reading so Close (which takes it for
// writing) waits until the read is done: Pebble panics on reads after Close.
// Nothing may be submitted while it is held. It reports false once closed.
func (db *DB) reading() bool {
	db.w.mu.RLock()
	if db.w.closed {
		db.w.mu.RUnlock()
		return false
	}
	return true
}

func (db *DB) doneReading() { db.w.mu.RUnlock() }

// load recovers u's counters from disk. The caller holds u.mu.
func (o *Offline) load(user string, u *offlineUser) error {
	if u.loaded {
		return nil
	}
	if !o.db.reading() {
		return ErrClosed
	}
	defer o.db.doneReading()
	lo, hi := userSpan(tableOffline, user)
	it, err := o.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("store: offline scan: %w", err)
	}
	var n, size int64
	var last uint64
	for ok := it.First(); ok; ok = it.Next() {
		n++
		size += int64(len(it.Value()) - 1)
		if s, ok := seqOfKey(it.Key()); ok {
			last = s
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("store: offline scan: %w", err)
	}
	u.next, u.loaded = last+1, true
	u.count.Store(n)
	u.bytes.Store(size)
	return nil
}

// Store stores raw as user's next message and returns once it is on disk.
// It blocks for an fsync: never call it on an event loop (use StoreAsync).
func (o *Offline) Store(user string, raw []byte) (seq uint64, err error) {
	done := make(chan error, 1)
	err = o.TryStoreAsync(user, raw, Quota{}, func(s uint64, err error) {
		seq = s
		done <- err
	})
	if err != nil {
		return 0, err
	}
	return seq, <-done
}

// StoreAsync is Store without waiting: done receives the sequence number once
// the message is on disk, or the error. done runs on the writer goroutine
// (see DB.CommitAsync for what it must not do), or, for an error found before
// anything was submitted, on the caller's goroutine before StoreAsync returns.
// raw is copied; the caller may reuse it.
func (o *Offline) StoreAsync(user string, raw []byte, done func(seq uint64, err error)) {
	if err := o.TryStoreAsync(user, raw, Quota{}, done); err != nil {
		done(0, err)
	}
}

// Quota bounds one user's queue; zero fields mean no limit.
type Quota struct {
	Messages int   // stored messages
	Bytes    int64 // their total size
}

// TryStoreAsync is StoreAsync with a quota: when user already has q.Messages
// messages (stored or on their way), or raw would take their size past
// q.Bytes, it returns an error wrapping ErrQueueFull and stores nothing. The
// check and the count are made under the user's lock, so concurrent senders
// never take the queue past its quota. Any returned error means nothing was
// submitted and done will not be called; otherwise done is called once, on
// the writer goroutine.
func (o *Offline) TryStoreAsync(user string, raw []byte, q Quota, done func(seq uint64, err error)) error {
	if err := validUser(user); err != nil {
		return err
	}
	u := o.st.user(user)
	u.mu.Lock()
	if err := o.load(user, u); err != nil {
		u.mu.Unlock()
		return err
	}
	if q.Messages > 0 && u.count.Load() >= int64(q.Messages) {
		u.mu.Unlock()
		return fmt.Errorf("%w: %q has %d messages", ErrQueueFull, user, q.Messages)
	}
	if q.Bytes > 0 && u.bytes.Load()+int64(len(raw)) > q.Bytes {
		u.mu.Unlock()
		return fmt.Errorf("%w: %q has %d bytes stored", ErrQueueFull, user, u.bytes.Load())
	}
	seq, gen := u.next, u.gen.Load()
	b := o.db.NewBatch()
	v := make([]byte, 0, 1+len(raw))
	v = append(append(v, offlineFormat), raw...)
	if err := b.Set(userSeqKey(tableOffline, user, seq), v, nil); err != nil {
		u.mu.Unlock()
		_ = b.Close()
		return err
	}
	r := &commitReq{b: b, cb: func(err error) {
		if err != nil && u.gen.Load() == gen {
			u.count.Add(-1)
			u.bytes.Add(-int64(len(raw)))
		}
		done(seq, err)
	}}
	if err := o.db.w.submit(r); err != nil {
		u.mu.Unlock()
		return err
	}
	u.next++
	u.count.Add(1)
	u.bytes.Add(int64(len(raw)))
	u.mu.Unlock()
	return nil
}

// List calls fn with user's messages in order until fn returns false. raw is
// fn's to keep. The messages are read before the first call, so fn may call
// the store (a message stored meanwhile is not listed).
func (o *Offline) List(user string, fn func(seq uint64, raw []byte) bool) error {
	if err := validUser(user); err != nil {
		return err
	}
	type item struct {
		seq uint64
		raw []byte
	}
	var items []item
	err := o.scan(user, func(seq uint64, v []byte) error {
		items = append(items, item{seq, v})
		return nil
	})
	if err != nil {
		return err
	}
	for _, it := range items {
		if !fn(it.seq, it.raw) {
			break
		}
	}
	return nil
}

// scan reads user's messages under the read guard; fn gets a copy of each
// stanza.
func (o *Offline) scan(user string, fn func(seq uint64, raw []byte) error) error {
	if !o.db.reading() {
		return ErrClosed
	}
	defer o.db.doneReading()
	lo, hi := userSpan(tableOffline, user)
	it, err := o.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("store: offline list: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		seq, _ := seqOfKey(it.Key())
		raw, err := offlineValue(it.Value())
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("store: offline %q #%d: %w", user, seq, err)
		}
		if err := fn(seq, raw); err != nil {
			_ = it.Close()
			return err
		}
	}
	return it.Close()
}

// offlineValue checks the format byte and copies the stanza out.
func offlineValue(v []byte) ([]byte, error) {
	if len(v) < 1 || v[0] != offlineFormat {
		return nil, ErrCorrupt
	}
	return slices.Clone(v[1:]), nil
}

// Get returns one stored message, or an error wrapping ErrNotFound.
func (o *Offline) Get(user string, seq uint64) ([]byte, error) {
	if err := validUser(user); err != nil {
		return nil, err
	}
	if !o.db.reading() {
		return nil, ErrClosed
	}
	defer o.db.doneReading()
	v, closer, err := o.db.pdb.Get(userSeqKey(tableOffline, user, seq))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return nil, fmt.Errorf("store: offline %q #%d: %w", user, seq, ErrNotFound)
	case err != nil:
		return nil, err
	}
	defer closer.Close()
	raw, err := offlineValue(v)
	if err != nil {
		return nil, fmt.Errorf("store: offline %q #%d: %w", user, seq, err)
	}
	return raw, nil
}

// Count returns how many messages user has, counting stores not yet
// committed.
func (o *Offline) Count(user string) (int, error) {
	n, _, err := o.Usage(user)
	return n, err
}

// Usage returns how many messages user has and their total size, counting
// stores not yet committed: what the quota is checked against.
func (o *Offline) Usage(user string) (messages int, bytes int64, err error) {
	if err := validUser(user); err != nil {
		return 0, 0, err
	}
	u := o.st.user(user)
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := o.load(user, u); err != nil {
		return 0, 0, err
	}
	return int(u.count.Load()), u.bytes.Load(), nil
}

// Delete removes the listed messages of user that exist and returns how many
// that was, once the removal is on disk. Runs of consecutive numbers become
// one range delete. It blocks for an fsync: not on an event loop.
func (o *Offline) Delete(user string, seqs ...uint64) (int, error) {
	if err := validUser(user); err != nil {
		return 0, err
	}
	if len(seqs) == 0 {
		return 0, nil
	}
	u := o.st.user(user)
	u.dmu.Lock()
	defer u.dmu.Unlock()
	u.mu.Lock()
	err := o.load(user, u)
	gen := u.gen.Load()
	u.mu.Unlock()
	if err != nil {
		return 0, err
	}

	seqs = slices.Clone(seqs)
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	if seqs[len(seqs)-1] == math.MaxUint64 {
		seqs = seqs[:len(seqs)-1] // never assigned; and it has no exclusive upper bound
		if len(seqs) == 0 {
			return 0, nil
		}
	}
	present, size, err := o.existing(user, seqs)
	if err != nil || len(present) == 0 {
		return 0, err
	}
	b := o.db.NewBatch()
	for i := 0; i < len(present); {
		j := i + 1
		for j < len(present) && present[j] == present[j-1]+1 {
			j++
		}
		lo := userSeqKey(tableOffline, user, present[i])
		if j-i == 1 {
			err = b.Delete(lo, nil)
		} else {
			err = b.DeleteRange(lo, userSeqKey(tableOffline, user, present[j-1]+1), nil)
		}
		if err != nil {
			_ = b.Close()
			return 0, err
		}
		i = j
	}
	done := make(chan error, 1)
	u.mu.Lock()
	err = o.db.w.submit(&commitReq{b: b, cb: func(err error) { done <- err }})
	if err == nil && u.gen.Load() == gen {
		// counted at submission, as stores are; a failed delete leaves the
		// count low, which only lets the quota allow a little more
		u.count.Add(-int64(len(present)))
		u.bytes.Add(-size)
	}
	u.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if err := <-done; err != nil {
		return 0, err
	}
	return len(present), nil
}

// existing returns the members of sorted seqs that are stored for user, and
// the size of those messages.
func (o *Offline) existing(user string, seqs []uint64) ([]uint64, int64, error) {
	if !o.db.reading() {
		return nil, 0, ErrClosed
	}
	defer o.db.doneReading()
	it, err := o.db.pdb.NewIter(&pebble.IterOptions{
		LowerBound: userSeqKey(tableOffline, user, seqs[0]),
		UpperBound: userSeqKey(tableOffline, user, seqs[len(seqs)-1]+1),
	})
	if err != nil {
		return nil, 0, err
	}
	var out []uint64
	var size int64
	i := 0
	for ok := it.First(); ok && i < len(seqs); ok = it.Next() {
		s, _ := seqOfKey(it.Key())
		for i < len(seqs) && seqs[i] < s {
			i++
		}
		if i < len(seqs) && seqs[i] == s {
			out = append(out, s)
			size += int64(len(it.Value()) - 1)
			i++
		}
	}
	return out, size, it.Close()
}

// DeleteAll removes every message of user with one range delete and returns
// once that is on disk. It blocks for an fsync: not on an event loop.
func (o *Offline) DeleteAll(user string) error {
	done := make(chan error, 1)
	if err := o.DeleteAllAsync(user, func(err error) { done <- err }); err != nil {
		return err
	}
	return <-done
}

// DeleteAllAsync is DeleteAll without waiting: done runs on the writer
// goroutine once the range delete is on disk (or failed). Every store of
// user submitted before the call is removed with the rest; later ones are
// kept. A returned error means nothing was submitted and done is not called.
//
// Because it always commits, and the writer commits in submission order, the
// call to done also proves every write submitted before DeleteAllAsync, for
// any user, is on disk.
func (o *Offline) DeleteAllAsync(user string, done func(error)) error {
	if err := validUser(user); err != nil {
		return err
	}
	u := o.st.user(user)
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := o.load(user, u); err != nil {
		return err
	}
	b := o.db.NewBatch()
	lo, hi := userSpan(tableOffline, user)
	if err := b.DeleteRange(lo, hi, nil); err != nil {
		_ = b.Close()
		return err
	}
	if err := o.db.w.submit(&commitReq{b: b, cb: done}); err != nil {
		return err
	}
	u.gen.Add(1)
	u.count.Store(0)
	u.bytes.Store(0)
	return nil
}
