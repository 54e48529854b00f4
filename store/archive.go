package store

import (
	"bytes"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Archive is the message archive (XEP-0313): per user, the messages the user
// sent and received, in archive order, each under an id that embeds the time
// it was archived, with the contact's bare JID, the direction and the raw
// stanza bytes (DESIGN §6).
//
//	entry        tableArchive       user 0x00 be64(id)               → archiveFormat dir uvarint(len(with)) with raw
//	by contact   tableArchiveWith   user 0x00 with 0x00 be64(id)     → empty
//	preferences  tableArchivePrefs  user 0x00                        → archivePrefsFormat default lists
//
// Ids. An id is unix-microseconds << archiveSeqBits | a counter, taken from
// one generator for the whole store and strictly increasing, so a user's ids
// are in archive order, a time is a key (ArchiveIDAt), and a time range — a
// query's start and end, the retention cutoff — is a key range that a bounded
// iterator or a range delete covers without a scan. The generator follows
// the clock and runs ahead of it only past 4096 ids in one microsecond. Should
// the clock have gone back since a user's last entry was written (by an
// earlier process), that user's first append in this process reads the
// user's last id (one bounded seek) and raises the generator past it.
//
// Writes. An append is one batch (the entry and its index entry) submitted
// to the group-commit writer (DB.CommitAsync) under the user's stripe lock,
// in id order; the writer commits in submission order, so a user's entries
// become durable in id order and a reader never sees an id without the
// earlier ones that were submitted before it. Ids are allocated in memory,
// so the caller knows an entry's id before it is on disk (XEP-0359
// stanza-ids are stamped on the message being delivered).
//
// Memory: every user who archived something in this process keeps a small
// entry (the checked flag, cached preferences, a pending-write counter).
type Archive struct {
	db *DB
	st *archiveState
	t  archiveTables
}

// archiveTables are the two tables an archive lives in: the user's one and,
// with other bytes, a chat room's (store/muc.go), which shares this code.
type archiveTables struct{ main, with byte }

var userArchiveTables = archiveTables{tableArchive, tableArchiveWith}

const (
	archiveFormat      = 1
	archivePrefsFormat = 1

	// archiveSeqBits is the counter part of an id: 52 bits of microseconds
	// are left, which last until the year 2112.
	archiveSeqBits = 12

	// maxArchiveContact bounds a contact bare JID: localpart, '@' and
	// domainpart of at most 1023 bytes each (RFC 7622 §3).
	maxArchiveContact = 1023 + 1 + 1023
)

// ErrInvalidArchiveContact is returned for a contact that cannot be a key.
var ErrInvalidArchiveContact = errors.New("store: invalid archive contact")

// ArchiveDir is which side of the user an archived message was on.
type ArchiveDir uint8

const (
	ArchiveInbound  ArchiveDir = 1 // received by the user
	ArchiveOutbound ArchiveDir = 2 // sent by the user
)

// ArchiveEntry is one archived message.
type ArchiveEntry struct {
	ID   uint64
	Dir  ArchiveDir
	With string // the contact's bare JID
	Raw  []byte // the stanza as archived; the receiver's to keep
}

// Time is when the entry was archived (from its id).
func (e *ArchiveEntry) Time() time.Time { return ArchiveIDTime(e.ID) }

// ArchiveIDTime is the time embedded in an id.
func ArchiveIDTime(id uint64) time.Time {
	return time.UnixMicro(int64(id >> archiveSeqBits)).UTC()
}

// ArchiveIDAt is the smallest id archived at or after t.
func ArchiveIDAt(t time.Time) uint64 {
	us := t.UnixMicro()
	switch {
	case us <= 0:
		return 0
	case uint64(us) >= 1<<(64-archiveSeqBits):
		return math.MaxUint64
	}
	return uint64(us) << archiveSeqBits
}

// archiveIDEncoding is base32hex (RFC 4648 §7): its alphabet is in ASCII
// order, so the 13-character strings sort as the ids do.
var archiveIDEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// FormatArchiveID is an id as clients see it (the XEP-0313 archive id and
// XEP-0359 stanza-id): 13 characters of base32hex, sortable.
func FormatArchiveID(id uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	return archiveIDEncoding.EncodeToString(b[:])
}

// ParseArchiveID is the inverse of FormatArchiveID; it accepts nothing else.
func ParseArchiveID(s string) (uint64, bool) {
	if len(s) != 13 {
		return 0, false
	}
	var b [8]byte
	if n, err := archiveIDEncoding.Decode(b[:], []byte(s)); err != nil || n != 8 {
		return 0, false
	}
	id := binary.BigEndian.Uint64(b[:])
	if FormatArchiveID(id) != s { // a set padding bit
		return 0, false
	}
	return id, true
}

func validArchiveContact(c string) error {
	if c == "" || len(c) > maxArchiveContact || strings.IndexByte(c, userSep) >= 0 {
		return fmt.Errorf("%w: %q", ErrInvalidArchiveContact, c)
	}
	return nil
}

// archiveState is the in-memory part of one DB's archive.
type archiveState struct {
	now  func() time.Time // the clock; tests replace it before first use
	seed maphash.Seed
	gen  struct {
		sync.Mutex
		last uint64 // the last id handed out
	}
	stripes [64]archiveStripe
}

// archiveStripe guards the users whose names hash to it. Its lock is held
// while an append is submitted, so submission order is id order per user;
// it is never held while waiting for a commit.
type archiveStripe struct {
	mu    sync.Mutex
	users map[string]*archiveUser
}

type archiveUser struct {
	checked bool          // the user's last stored id was read this process; under the stripe lock
	prefs   *ArchivePrefs // nil until loaded; under the stripe lock
	pending atomic.Int64  // appends submitted and not yet reported by the writer
}

// Archive returns the message archive.
func (db *DB) Archive() *Archive { return &Archive{db: db, st: &db.archive, t: userArchiveTables} }

func (s *archiveState) stripe(user string) *archiveStripe {
	return &s.stripes[maphash.String(s.seed, user)%uint64(len(s.stripes))]
}

// get returns user's entry, creating it. The caller holds sh.mu.
func (sh *archiveStripe) get(user string) *archiveUser {
	u := sh.users[user]
	if u == nil {
		if sh.users == nil {
			sh.users = map[string]*archiveUser{}
		}
		u = &archiveUser{}
		sh.users[user] = u
	}
	return u
}

// nextID hands out the next id, above floor.
func (s *archiveState) nextID(floor uint64) uint64 {
	now := ArchiveIDAt(s.now())
	s.gen.Lock()
	id := max(now, s.gen.last+1, floor+1)
	s.gen.last = id
	s.gen.Unlock()
	return id
}

// lastID is user's highest stored id, 0 for none.
func (a *Archive) lastID(user string) (uint64, error) {
	if !a.db.reading() {
		return 0, ErrClosed
	}
	defer a.db.doneReading()
	lo, hi := userSpan(a.t.main, user)
	it, err := a.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, fmt.Errorf("store: archive: %w", err)
	}
	var last uint64
	if it.Last() {
		last, _ = seqOfKey(it.Key())
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("store: archive: %w", err)
	}
	return last, nil
}

// AppendAsync archives raw for user and returns its id at once, before it
// is on disk. done (may be nil) is called once the entry is on disk or
// failed, on the writer goroutine (see DB.CommitAsync for what it must not
// do). A returned error means nothing was submitted and done is not called.
// raw is copied. On a user's first append in the process it reads the
// user's last id (one seek); otherwise it does no I/O.
func (a *Archive) AppendAsync(user string, dir ArchiveDir, with string, raw []byte, done func(error)) (uint64, error) {
	if err := validUser(user); err != nil {
		return 0, err
	}
	if err := validArchiveContact(with); err != nil {
		return 0, err
	}
	if dir != ArchiveInbound && dir != ArchiveOutbound {
		return 0, fmt.Errorf("store: archive direction %d", dir)
	}
	sh := a.st.stripe(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.get(user)
	var floor uint64
	if !u.checked {
		last, err := a.lastID(user)
		if err != nil {
			return 0, err
		}
		floor, u.checked = last, true
	}
	id := a.st.nextID(floor)

	v := appendArchiveValue(make([]byte, 0, 2+binary.MaxVarintLen64+len(with)+len(raw)), dir, with, raw)
	b := a.db.NewBatch()
	err := b.Set(userSeqKey(a.t.main, user, id), v, nil)
	if err == nil {
		err = b.Set(withKey(a.t.with, user, with, id), nil, nil)
	}
	if err != nil {
		_ = b.Close()
		return 0, err
	}
	u.pending.Add(1)
	err = a.db.w.submit(&commitReq{b: b, cb: func(err error) {
		u.pending.Add(-1)
		if done != nil {
			done(err)
		}
	}})
	if err != nil {
		u.pending.Add(-1)
		return 0, err
	}
	return id, nil
}

// Append is AppendAsync that returns once the entry is on disk. It blocks
// for an fsync: never on an event loop.
func (a *Archive) Append(user string, dir ArchiveDir, with string, raw []byte) (uint64, error) {
	done := make(chan error, 1)
	id, err := a.AppendAsync(user, dir, with, raw, func(err error) { done <- err })
	if err != nil {
		return 0, err
	}
	return id, <-done
}

// Settle returns once every append of user submitted before the call is on
// disk (or failed), so a query that follows sees them. It costs nothing when
// none is pending; otherwise it waits for the writer. Not on an event loop.
func (a *Archive) Settle(user string) error {
	sh := a.st.stripe(user)
	sh.mu.Lock()
	u := sh.users[user]
	sh.mu.Unlock()
	if u == nil || u.pending.Load() == 0 {
		return nil
	}
	// The writer commits in submission order: when this empty batch is
	// reported, everything submitted before it has been.
	return a.db.Commit(a.db.NewBatch())
}

// appendArchiveValue encodes an entry's value.
func appendArchiveValue(dst []byte, dir ArchiveDir, with string, raw []byte) []byte {
	dst = append(dst, archiveFormat, byte(dir))
	dst = binary.AppendUvarint(dst, uint64(len(with)))
	dst = append(dst, with...)
	return append(dst, raw...)
}

// decodeArchiveValue decodes a stored entry; Raw is a copy.
func decodeArchiveValue(id uint64, v []byte) (ArchiveEntry, error) {
	if len(v) < 3 || v[0] != archiveFormat || (v[1] != byte(ArchiveInbound) && v[1] != byte(ArchiveOutbound)) {
		return ArchiveEntry{}, ErrCorrupt
	}
	n, w := binary.Uvarint(v[2:])
	if w <= 0 || n > uint64(len(v)-2-w) {
		return ArchiveEntry{}, ErrCorrupt
	}
	rest := v[2+w:]
	return ArchiveEntry{ID: id, Dir: ArchiveDir(v[1]), With: string(rest[:n]), Raw: slices.Clone(rest[n:])}, nil
}

// Get returns one entry, or an error wrapping ErrNotFound.
func (a *Archive) Get(user string, id uint64) (ArchiveEntry, error) {
	if err := validUser(user); err != nil {
		return ArchiveEntry{}, err
	}
	if !a.db.reading() {
		return ArchiveEntry{}, ErrClosed
	}
	defer a.db.doneReading()
	return a.get(user, id)
}

// get is Get under the read guard.
func (a *Archive) get(user string, id uint64) (ArchiveEntry, error) {
	v, closer, err := a.db.pdb.Get(userSeqKey(a.t.main, user, id))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return ArchiveEntry{}, fmt.Errorf("store: archive %q %s: %w", user, FormatArchiveID(id), ErrNotFound)
	case err != nil:
		return ArchiveEntry{}, err
	}
	defer closer.Close()
	e, err := decodeArchiveValue(id, v)
	if err != nil {
		return ArchiveEntry{}, fmt.Errorf("store: archive %q %s: %w", user, FormatArchiveID(id), err)
	}
	return e, nil
}

// ArchiveQuery selects a page of a user's archive.
type ArchiveQuery struct {
	// With, if not empty, is a contact's bare JID: only entries with them
	// (read through the by-contact index).
	With string
	// MinID <= id < MaxID bound the result set (MaxID 0: no upper bound):
	// a query's start and end (ArchiveIDAt), after-id and before-id.
	MinID, MaxID uint64
	// After and Before, when not zero, page through the result set
	// (XEP-0059): only ids above After and below Before.
	After, Before uint64
	// Limit is the page size; below 1 the page is empty (only counting).
	Limit int
	// FromEnd takes the last Limit entries of what is left instead of the
	// first (RSM <before/>, e.g. the latest page).
	FromEnd bool
	// Filter, if set, drops the entries it returns false for (a full-JID
	// 'with'). The result set is then not counted.
	Filter func(*ArchiveEntry) bool
	// CountLimit: the result set is counted when it has at most this many
	// entries, by a scan of at most CountLimit+1 keys; 0: only when the
	// page holds the whole result set, which costs nothing. The scan is not
	// cheap on the entries (their values are read with the keys): about
	// 0.4 µs a key on a million-message archive.
	CountLimit int
}

// ArchivePage is the answer to an ArchiveQuery.
type ArchivePage struct {
	Entries []ArchiveEntry // in archive order
	// Complete: there is nothing more in the page's direction: after the
	// last entry, or, FromEnd, before the first.
	Complete bool
	// Count is the size of the result set (After and Before aside) and
	// Index the position of Entries[0] in it; -1 when not counted.
	Count, Index int
}

// bounds are the iterator bounds of ids [lo, hi) (hi 0: no bound) of user's
// entries, or of its index entries with contact.
func (t archiveTables) bounds(user, with string, lo, hi uint64) (l, h []byte) {
	if with == "" {
		l = userSeqKey(t.main, user, lo)
		if hi == 0 {
			_, h = userSpan(t.main, user)
		} else {
			h = userSeqKey(t.main, user, hi)
		}
		return l, h
	}
	l = withKey(t.with, user, with, lo)
	if hi == 0 {
		_, h = withSpan(t.with, user, with)
	} else {
		h = withKey(t.with, user, with, hi)
	}
	return l, h
}

// Query returns a page of user's archive. It seeks straight to the page
// (bounded iterators over the id range, or over the contact's index range)
// and reads Limit+1 keys, plus the count scan if asked for.
func (a *Archive) Query(user string, q ArchiveQuery) (ArchivePage, error) {
	page := ArchivePage{Count: -1, Index: -1}
	if err := validUser(user); err != nil {
		return page, err
	}
	if q.With != "" {
		if err := validArchiveContact(q.With); err != nil {
			return page, err
		}
	}
	lo, hi := q.MinID, q.MaxID
	empty := hi != 0 && lo >= hi
	if q.After != 0 {
		if q.After == math.MaxUint64 {
			empty = true
		} else if q.After+1 > lo {
			lo = q.After + 1
		}
	}
	if q.Before != 0 && (hi == 0 || q.Before < hi) {
		hi = q.Before
	}
	empty = empty || (hi != 0 && lo >= hi)

	if !a.db.reading() {
		return page, ErrClosed
	}
	defer a.db.doneReading()
	page.Complete = true
	if !empty && q.Limit > 0 {
		var err error
		if page.Entries, page.Complete, err = a.page(user, q, lo, hi); err != nil {
			return page, err
		}
	}
	switch {
	case q.Filter != nil:
	case page.Complete && ((!q.FromEnd && q.After == 0) || (q.FromEnd && q.Before == 0)) && q.Limit > 0:
		// the page is the whole result set: counted for free
		page.Count, page.Index = len(page.Entries), 0
		if len(page.Entries) == 0 {
			page.Index = -1
		}
	case q.CountLimit > 0:
		if err := a.count(user, q, &page); err != nil {
			return page, err
		}
	}
	return page, nil
}

// page reads the entries of the page. The caller holds the read guard.
func (a *Archive) page(user string, q ArchiveQuery, lo, hi uint64) ([]ArchiveEntry, bool, error) {
	l, h := a.t.bounds(user, q.With, lo, hi)
	it, err := a.db.pdb.NewIter(&pebble.IterOptions{LowerBound: l, UpperBound: h})
	if err != nil {
		return nil, false, fmt.Errorf("store: archive query: %w", err)
	}
	first, next := it.First, it.Next
	if q.FromEnd {
		first, next = it.Last, it.Prev
	}
	// With a contact, the entries the index names are read through a second
	// iterator over the same id range, positioned by seeks that go one way
	// (cheaper than a Get each, which starts from scratch).
	var main *pebble.Iterator
	if q.With != "" {
		ml, mh := a.t.bounds(user, "", lo, hi)
		if main, err = a.db.pdb.NewIter(&pebble.IterOptions{LowerBound: ml, UpperBound: mh}); err != nil {
			_ = it.Close()
			return nil, false, fmt.Errorf("store: archive query: %w", err)
		}
		defer main.Close()
	}
	out := make([]ArchiveEntry, 0, min(q.Limit, 64))
	more := false
	for ok := first(); ok; ok = next() {
		id, _ := seqOfKey(it.Key())
		var e ArchiveEntry
		if q.With == "" {
			v, err := it.ValueAndErr()
			if err == nil {
				e, err = decodeArchiveValue(id, v)
			}
			if err != nil {
				_ = it.Close()
				return nil, false, fmt.Errorf("store: archive %q %s: %w", user, FormatArchiveID(id), err)
			}
		} else {
			k := userSeqKey(a.t.main, user, id)
			var found bool
			if q.FromEnd {
				found = main.SeekLT(userSeqKey(a.t.main, user, id+1)) && bytes.Equal(main.Key(), k)
			} else {
				found = main.SeekGE(k) && bytes.Equal(main.Key(), k)
			}
			if !found {
				if err := main.Error(); err != nil {
					_ = it.Close()
					return nil, false, fmt.Errorf("store: archive query: %w", err)
				}
				continue // an index entry left by an account deletion
			}
			v, err := main.ValueAndErr()
			if err == nil {
				e, err = decodeArchiveValue(id, v)
			}
			if err != nil {
				_ = it.Close()
				return nil, false, fmt.Errorf("store: archive %q %s: %w", user, FormatArchiveID(id), err)
			}
		}
		if q.Filter != nil && !q.Filter(&e) {
			continue
		}
		if len(out) == q.Limit {
			more = true
			break
		}
		out = append(out, e)
	}
	if err := it.Close(); err != nil {
		return nil, false, fmt.Errorf("store: archive query: %w", err)
	}
	if q.FromEnd {
		slices.Reverse(out)
	}
	return out, !more, nil
}

// count fills in Count and Index when the result set has at most
// q.CountLimit entries. The caller holds the read guard.
func (a *Archive) count(user string, q ArchiveQuery, page *ArchivePage) error {
	if q.MaxID != 0 && q.MinID >= q.MaxID {
		page.Count = 0
		return nil
	}
	l, h := a.t.bounds(user, q.With, q.MinID, q.MaxID)
	it, err := a.db.pdb.NewIter(&pebble.IterOptions{LowerBound: l, UpperBound: h})
	if err != nil {
		return fmt.Errorf("store: archive count: %w", err)
	}
	var firstID uint64
	if len(page.Entries) > 0 {
		firstID = page.Entries[0].ID
	}
	n, before := 0, 0
	for ok := it.First(); ok && n <= q.CountLimit; ok = it.Next() {
		n++
		if id, _ := seqOfKey(it.Key()); id < firstID {
			before++
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("store: archive count: %w", err)
	}
	if n <= q.CountLimit {
		page.Count, page.Index = n, before
		if len(page.Entries) == 0 {
			page.Index = -1
		}
	}
	return nil
}

// DeleteBefore removes every entry of every user archived before t (and
// their index entries) with range deletes, and returns once that is on disk,
// with how many ranges were deleted. It visits each user, and each pair of
// user and contact, with one seek, and commits in batches of up to 1024
// ranges. It blocks: run it on a background goroutine.
func (a *Archive) DeleteBefore(t time.Time) (int, error) {
	cut := ArchiveIDAt(t)
	if cut == 0 {
		return 0, nil
	}
	total := 0
	for _, table := range []byte{a.t.main, a.t.with} {
		lo, hi := tableSpan(table)
		for from := lo; from != nil; {
			b := a.db.NewBatch()
			n, next, err := a.collectOld(b, table, from, hi, cut, 1024)
			if err == nil && n > 0 {
				err = a.db.Commit(b)
			} else {
				_ = b.Close()
			}
			if err != nil {
				return total, err
			}
			total += n
			from = next
		}
	}
	return total, nil
}

// collectOld adds to b range deletes of the ids below cut of at most max
// users (or user-contact pairs) of table, starting at key from, and returns
// how many it added and where to go on (nil at the end).
func (a *Archive) collectOld(b *pebble.Batch, table byte, from, hi []byte, cut uint64, max int) (int, []byte, error) {
	if !a.db.reading() {
		return 0, nil, ErrClosed
	}
	defer a.db.doneReading()
	it, err := a.db.pdb.NewIter(&pebble.IterOptions{LowerBound: from, UpperBound: hi})
	if err != nil {
		return 0, nil, fmt.Errorf("store: archive retention: %w", err)
	}
	n := 0
	var next []byte
	for ok := it.First(); ok; {
		var (
			id           uint64
			dlo, dhi, up []byte
		)
		if table == a.t.main {
			user, seq, ok := parseUserSeqKey(table, it.Key())
			if !ok {
				_ = it.Close()
				return n, nil, fmt.Errorf("store: archive key %x: %w", it.Key(), ErrCorrupt)
			}
			id, dlo, dhi = seq, userSeqKey(table, user, 0), userSeqKey(table, user, cut)
			_, up = userSpan(table, user)
		} else {
			user, with, seq, ok := parseWithKey(table, it.Key())
			if !ok {
				_ = it.Close()
				return n, nil, fmt.Errorf("store: archive index key %x: %w", it.Key(), ErrCorrupt)
			}
			id, dlo, dhi = seq, withKey(table, user, with, 0), withKey(table, user, with, cut)
			_, up = withSpan(table, user, with)
		}
		if id < cut { // the first entry is old: some are
			if n == max {
				next = slices.Clone(it.Key())
				break
			}
			if err := b.DeleteRange(dlo, dhi, nil); err != nil {
				_ = it.Close()
				return n, nil, err
			}
			n++
		}
		ok = it.SeekGE(up)
	}
	if err := it.Close(); err != nil {
		return n, nil, fmt.Errorf("store: archive retention: %w", err)
	}
	return n, next, nil
}

// ArchiveDefault is what happens to messages with contacts on neither list
// of the preferences (XEP-0313 §6).
type ArchiveDefault uint8

const (
	ArchiveAlways ArchiveDefault = iota // archive them
	ArchiveNever                        // do not
	ArchiveRoster                       // archive those with contacts in the user's roster
)

// ArchivePrefs are a user's archiving preferences. Always and Never hold
// bare JIDs; the zero value is the default: archive everything.
type ArchivePrefs struct {
	Default       ArchiveDefault
	Always, Never []string
}

// maxPrefsJIDs bounds the lists, so a preferences value stays small.
const maxPrefsJIDs = 1000

// Prefs returns user's preferences, read once and then kept in memory. The
// lists are shared: the caller must not modify them.
func (a *Archive) Prefs(user string) (ArchivePrefs, error) {
	if err := validUser(user); err != nil {
		return ArchivePrefs{}, err
	}
	sh := a.st.stripe(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.get(user)
	if u.prefs == nil {
		p, err := a.readPrefs(user)
		if err != nil {
			return ArchivePrefs{}, err
		}
		u.prefs = &p
	}
	return *u.prefs, nil
}

func (a *Archive) readPrefs(user string) (ArchivePrefs, error) {
	if !a.db.reading() {
		return ArchivePrefs{}, ErrClosed
	}
	defer a.db.doneReading()
	v, closer, err := a.db.pdb.Get(userKey(tableArchivePrefs, user, ""))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return ArchivePrefs{}, nil
	case err != nil:
		return ArchivePrefs{}, err
	}
	defer closer.Close()
	p, err := decodePrefs(v)
	if err != nil {
		return ArchivePrefs{}, fmt.Errorf("store: archive prefs of %q: %w", user, err)
	}
	return p, nil
}

// SetPrefs stores user's preferences and returns once they are on disk.
// It blocks for an fsync: not on an event loop.
func (a *Archive) SetPrefs(user string, p ArchivePrefs) error {
	if err := validUser(user); err != nil {
		return err
	}
	if p.Default > ArchiveRoster {
		return fmt.Errorf("store: archive default %d", p.Default)
	}
	if len(p.Always)+len(p.Never) > maxPrefsJIDs {
		return fmt.Errorf("store: more than %d JIDs in archive prefs", maxPrefsJIDs)
	}
	for _, j := range slices.Concat(p.Always, p.Never) {
		if err := validArchiveContact(j); err != nil {
			return err
		}
	}
	p = ArchivePrefs{Default: p.Default, Always: slices.Clone(p.Always), Never: slices.Clone(p.Never)}
	b := a.db.NewBatch()
	if err := b.Set(userKey(tableArchivePrefs, user, ""), appendPrefs(nil, &p), nil); err != nil {
		_ = b.Close()
		return err
	}
	if err := a.db.Commit(b); err != nil {
		return err
	}
	// Set after the commit, under the lock a loader holds while it reads:
	// a load either finds this or ran entirely before it.
	sh := a.st.stripe(user)
	sh.mu.Lock()
	sh.get(user).prefs = &p
	sh.mu.Unlock()
	return nil
}

func appendPrefs(dst []byte, p *ArchivePrefs) []byte {
	dst = append(dst, archivePrefsFormat, byte(p.Default))
	for _, l := range [][]string{p.Always, p.Never} {
		dst = binary.AppendUvarint(dst, uint64(len(l)))
		for _, j := range l {
			dst = binary.AppendUvarint(dst, uint64(len(j)))
			dst = append(dst, j...)
		}
	}
	return dst
}

func decodePrefs(v []byte) (ArchivePrefs, error) {
	if len(v) < 2 || v[0] != archivePrefsFormat || v[1] > byte(ArchiveRoster) {
		return ArchivePrefs{}, ErrCorrupt
	}
	p := ArchivePrefs{Default: ArchiveDefault(v[1])}
	v = v[2:]
	for _, l := range []*[]string{&p.Always, &p.Never} {
		n, w := binary.Uvarint(v)
		if w <= 0 || n > maxPrefsJIDs {
			return ArchivePrefs{}, ErrCorrupt
		}
		v = v[w:]
		for range n {
			m, w := binary.Uvarint(v)
			if w <= 0 || m > uint64(len(v)-w) {
				return ArchivePrefs{}, ErrCorrupt
			}
			*l = append(*l, string(v[w:w+int(m)]))
			v = v[w+int(m):]
		}
	}
	if len(v) != 0 {
		return ArchivePrefs{}, ErrCorrupt
	}
	return p, nil
}
