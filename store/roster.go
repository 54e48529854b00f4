package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// Subscription is the presence subscription between a user and a contact,
// as the user's roster item says it (RFC 6121 §2.1.2.5).
type Subscription uint8

const (
	SubNone Subscription = 0
	SubTo   Subscription = 1 // the user receives the contact's presence
	SubFrom Subscription = 2 // the contact receives the user's presence
	SubBoth              = SubTo | SubFrom
)

var subNames = [...]string{"none", "to", "from", "both"}

func (s Subscription) String() string { return subNames[s&SubBoth] }

// RosterItem is one contact in a user's roster, with the subscription state
// of RFC 6121 Appendix A: Sub, plus Ask ("Pending Out") and PendingIn
// ("Pending In"). The transitions between states are package im's; the
// store keeps the items.
type RosterItem struct {
	JID       string       // the contact's bare JID; the key
	Name      string       // the user's name for the contact; may be empty
	Groups    []string     // roster groups
	Sub       Subscription // none, to, from, both
	Ask       bool         // the user asked to subscribe and has no answer yet (Pending Out)
	PendingIn []byte       // the contact's unanswered subscribe stanza (Pending In), nil if none
	Approved  bool         // the user pre-approved the contact's subscription (RFC 6121 §3.4)
	// Hidden marks an item that exists only to remember a pending-in
	// request from someone the user never added: it is not part of the
	// roster the user sees, gets or is pushed (RFC 6121 §3.1.3).
	Hidden bool
}

// sameVisible reports whether two items look the same to the user's client:
// the fields a roster get or push shows.
func sameVisible(a, b RosterItem, aok, bok bool) bool {
	av, bv := aok && !a.Hidden, bok && !b.Hidden
	if av != bv {
		return false
	}
	if !av {
		return true
	}
	return a.Name == b.Name && slices.Equal(a.Groups, b.Groups) && a.Sub == b.Sub && a.Ask == b.Ask && a.Approved == b.Approved
}

// Equal reports whether a and b hold the same, the contact's JID aside.
func (it RosterItem) Equal(b RosterItem) bool {
	return sameVisible(it, b, true, true) && it.Hidden == b.Hidden && string(it.PendingIn) == string(b.PendingIn) &&
		(it.PendingIn == nil) == (b.PendingIn == nil)
}

// empty reports whether a hidden item remembers nothing any more.
func (it *RosterItem) empty() bool {
	return it.Hidden && it.PendingIn == nil && it.Sub == SubNone && !it.Ask && !it.Approved
}

// Roster is the roster table: each user's items, keyed by the contact's
// bare JID, and a per-user version counter (XEP-0237) bumped in the same
// batch as every change the user can see.
//
// Writes go through a RosterTxn, which holds the touched users' locks from
// its first read to the submission of its batch, so that per user the
// batches are submitted in version order. Until a batch is on disk its
// items sit in an in-memory overlay that later transactions read (they must
// see their predecessors' writes); plain reads (Get, List, Version) see only
// what is on disk, so nothing is shown to a client before it is durable.
type Roster struct {
	db *DB
	st *rosterState
}

// rosterState is the in-memory part of one DB's roster table.
type rosterState struct {
	seed  maphash.Seed
	locks [64]sync.Mutex // per-user (hashed) transaction locks; never taken on the writer goroutine

	mu      sync.Mutex // guards pend, watch and cache
	pend    map[string]*rosterPending
	watch   []RosterWatcher
	nextSeq uint64
	cache   map[string]*rosterCache // held users' rosters (roster_cache.go)
}

// rosterPending is what one user has submitted and not yet seen committed.
type rosterPending struct {
	ver   uint64 // the newest version handed out
	n     int    // batches in flight
	items map[string]pendingItem
}

type pendingItem struct {
	it  RosterItem
	del bool
	seq uint64 // which transaction wrote it
}

// RosterChange is one change a user can see: an item added or changed, or
// removed.
type RosterChange struct {
	Item    RosterItem
	Removed bool
}

// RosterWatcher is told, after a batch is on disk, of each user whose roster
// changed visibly: the new version and the changes (roster pushes, RFC 6121
// §2.1.6). It runs on the commit's goroutine (the store's writer for async
// commits) before the transaction's own done callback, and must not block
// or write to the store.
type RosterWatcher func(user string, ver uint64, changes []RosterChange)

// Roster returns the roster table.
func (db *DB) Roster() *Roster { return &Roster{db: db, st: &db.roster} }

// Watch registers w for every later visible change.
func (r *Roster) Watch(w RosterWatcher) {
	r.st.mu.Lock()
	r.st.watch = append(r.st.watch, w)
	r.st.mu.Unlock()
}

// ErrInvalidContact is returned for a contact JID that cannot be a key.
var ErrInvalidContact = errors.New("store: invalid roster contact")

func validContact(c string) error {
	if c == "" || len(c) > 3071 {
		return fmt.Errorf("%w: %q", ErrInvalidContact, c)
	}
	return nil
}

// Get returns user's item for contact as it is on disk, or an error
// wrapping ErrNotFound. Hidden items are returned too. For a held user the
// item comes from the cache and shares its memory: it must not be
// modified in place (appending to its slices is safe).
func (r *Roster) Get(user, contact string) (RosterItem, error) {
	if err := validUser(user); err != nil {
		return RosterItem{}, err
	}
	var it RosterItem
	c, err := r.cached(user)
	ok := false
	switch {
	case err != nil:
	case c != nil:
		if it, ok = c.get(contact); !ok {
			it.JID = contact
		}
	default:
		it, ok, err = r.getDisk(r.db.pdb, user, contact)
	}
	if err == nil && !ok {
		err = fmt.Errorf("store: roster item %q of %q: %w", contact, user, ErrNotFound)
	}
	return it, err
}

// List calls fn with each item of user's roster on disk, hidden ones
// included, in key order, until fn returns false, and returns the version
// those items have: both come from one snapshot. For a held user they come
// from the cache, and, as Get's, must not be modified in place.
func (r *Roster) List(user string, fn func(RosterItem) bool) (ver uint64, err error) {
	if err := validUser(user); err != nil {
		return 0, err
	}
	c, err := r.cached(user)
	if err != nil || c == nil {
		if err == nil {
			ver, err = r.listDisk(user, fn)
		}
		return ver, err
	}
	for _, it := range c.items {
		if !fn(it) {
			break
		}
	}
	return c.ver, nil
}

// listDisk is List from a Pebble snapshot.
func (r *Roster) listDisk(user string, fn func(RosterItem) bool) (ver uint64, err error) {
	snap := r.db.pdb.NewSnapshot()
	defer snap.Close()
	if ver, err = readVersion(snap, user); err != nil {
		return 0, err
	}
	lo, hi := userSpan(tableRoster, user)
	iter, err := snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, err
	}
	for valid := iter.First(); valid; valid = iter.Next() {
		part, ok := splitUserKey(tableRoster, user, iter.Key())
		if !ok {
			_ = iter.Close()
			return 0, fmt.Errorf("store: roster key %q: %w", iter.Key(), ErrCorrupt)
		}
		it, err := decodeRosterItem(iter.Value())
		if err != nil {
			_ = iter.Close()
			return 0, fmt.Errorf("store: roster item %q of %q: %w", part, user, err)
		}
		it.JID = string(part)
		if !fn(it) {
			break
		}
	}
	return ver, iter.Close()
}

// Version returns user's roster version on disk (0 for a roster never
// changed).
func (r *Roster) Version(user string) (uint64, error) {
	if err := validUser(user); err != nil {
		return 0, err
	}
	return readVersion(r.db.pdb, user)
}

// Put stores it in user's roster as one synced transaction and returns the
// roster version afterwards. It blocks for an fsync: on an event loop use
// PutAsync.
func (r *Roster) Put(user string, it RosterItem) (uint64, error) {
	tx := r.Begin(user)
	tx.Put(user, it)
	return tx.Commit(user)
}

// PutAsync is Put without waiting: done gets the version (or the error) on
// the store's writer goroutine once the item is on disk.
func (r *Roster) PutAsync(user string, it RosterItem, done func(ver uint64, err error)) {
	tx := r.Begin(user)
	tx.Put(user, it)
	tx.CommitAsync(func(err error) { done(tx.Version(user), err) })
}

// Delete removes contact from user's roster as one synced transaction and
// returns the version afterwards (unchanged if there was no such item).
func (r *Roster) Delete(user, contact string) (uint64, error) {
	tx := r.Begin(user)
	tx.Delete(user, contact)
	return tx.Commit(user)
}

// DeleteAsync is Delete without waiting; done runs like PutAsync's.
func (r *Roster) DeleteAsync(user, contact string, done func(ver uint64, err error)) {
	tx := r.Begin(user)
	tx.Delete(user, contact)
	tx.CommitAsync(func(err error) { done(tx.Version(user), err) })
}

// RosterTxn is a change to the rosters of one or more users, committed as
// one batch with each touched user's version bump. Begin locks the users;
// Commit, CommitAsync or Abort unlocks them. A RosterTxn is used by one
// goroutine.
type RosterTxn struct {
	r     *Roster
	users []string
	locks []int
	items map[txnKey]*txnItem
	order []txnKey // first-touch order, for deterministic batches and pushes
	vers  map[string]uint64
	err   error
	done  bool
}

type txnKey struct{ user, contact string }

type txnItem struct {
	old, cur     RosterItem
	oldOK, curOK bool // whether the item exists: before the transaction, now
	dirty        bool // written by the transaction
}

// Begin starts a transaction over users' rosters. Only those users' items
// may be read or written in it.
func (r *Roster) Begin(users ...string) *RosterTxn {
	tx := &RosterTxn{r: r, users: users, items: map[txnKey]*txnItem{}, vers: map[string]uint64{}}
	for _, u := range users {
		i := int(maphash.String(r.st.seed, u) % uint64(len(r.st.locks)))
		if !slices.Contains(tx.locks, i) {
			tx.locks = append(tx.locks, i)
		}
	}
	slices.Sort(tx.locks) // one global order: no deadlock between transactions
	for _, i := range tx.locks {
		r.st.locks[i].Lock()
	}
	return tx
}

func (tx *RosterTxn) unlock() {
	if tx.done {
		return
	}
	tx.done = true
	for _, i := range slices.Backward(tx.locks) {
		tx.r.st.locks[i].Unlock()
	}
}

func (tx *RosterTxn) check(user string) error {
	if tx.done {
		return errors.New("store: roster transaction already ended")
	}
	if !slices.Contains(tx.users, user) {
		return fmt.Errorf("store: roster transaction does not hold user %q", user)
	}
	return validUser(user)
}

// item returns the transaction's copy of user's item for contact, loading it
// from the overlay or the disk.
func (tx *RosterTxn) item(user, contact string) *txnItem {
	k := txnKey{user, contact}
	if ti := tx.items[k]; ti != nil {
		return ti
	}
	ti := &txnItem{}
	tx.items[k] = ti
	tx.order = append(tx.order, k)
	if err := tx.check(user); err != nil {
		tx.fail(err)
		return ti
	}
	if err := validContact(contact); err != nil {
		tx.fail(err)
		return ti
	}
	st := tx.r.st
	st.mu.Lock()
	p, inFlight := st.pend[user], false
	if p != nil {
		var pi pendingItem
		if pi, inFlight = p.items[contact]; inFlight {
			ti.old, ti.oldOK = cloneItem(pi.it), !pi.del
		}
	}
	st.mu.Unlock()
	if !inFlight {
		it, ok, err := tx.r.getDisk(tx.r.db.pdb, user, contact)
		if err != nil {
			tx.fail(err)
		}
		ti.old, ti.oldOK = it, ok
	}
	ti.old.JID = contact
	ti.cur, ti.curOK = cloneItem(ti.old), ti.oldOK
	return ti
}

func (tx *RosterTxn) fail(err error) {
	if tx.err == nil {
		tx.err = err
	}
}

// Get returns user's item for contact as this transaction sees it: with
// every earlier transaction's writes, committed or not, and its own.
func (tx *RosterTxn) Get(user, contact string) (RosterItem, bool, error) {
	ti := tx.item(user, contact)
	return cloneItem(ti.cur), ti.curOK, tx.err
}

// Put sets user's item it (it.JID is the contact).
func (tx *RosterTxn) Put(user string, it RosterItem) {
	ti := tx.item(user, it.JID)
	ti.cur, ti.curOK, ti.dirty = cloneItem(it), true, true
}

// Delete removes user's item for contact, if there is one.
func (tx *RosterTxn) Delete(user, contact string) {
	ti := tx.item(user, contact)
	if ti.curOK {
		ti.cur, ti.curOK, ti.dirty = RosterItem{JID: contact}, false, true
	}
}

// Count returns how many items user's roster has, hidden ones left out, as
// this transaction sees it.
func (tx *RosterTxn) Count(user string) (int, error) {
	if err := tx.check(user); err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	n := 0
	// the transaction's own view first, then in-flight writes, then the disk
	for k, ti := range tx.items {
		if k.user == user {
			seen[k.contact] = true
			if ti.curOK && !ti.cur.Hidden {
				n++
			}
		}
	}
	st := tx.r.st
	st.mu.Lock()
	if p := st.pend[user]; p != nil {
		for c, pi := range p.items {
			if !seen[c] {
				seen[c] = true
				if !pi.del && !pi.it.Hidden {
					n++
				}
			}
		}
	}
	st.mu.Unlock()
	_, err := tx.r.List(user, func(it RosterItem) bool {
		if !seen[it.JID] && !it.Hidden {
			n++
		}
		return true
	})
	return n, err
}

// Version returns user's roster version after this transaction (valid once
// it is committed or submitted).
func (tx *RosterTxn) Version(user string) uint64 { return tx.vers[user] }

// Abort ends the transaction without writing anything.
func (tx *RosterTxn) Abort() { tx.unlock() }

// Commit commits the transaction and waits until it is on disk; the
// watchers have run when it returns. It returns the version of the first
// user given, if any. It blocks for an fsync: never call it on an event loop.
func (tx *RosterTxn) Commit(user ...string) (uint64, error) {
	ch := make(chan error, 1)
	tx.CommitAsync(func(err error) { ch <- err })
	err := <-ch
	if len(user) > 0 {
		return tx.vers[user[0]], err
	}
	return 0, err
}

// CommitAsync submits the transaction's batch and unlocks its users. Once
// the batch is on disk the watchers are told of the visible changes, then
// done (if not nil) runs, both on the store's writer goroutine: done must
// be quick, must not block and must not write to the store. With nothing to
// write, done runs at once on the caller's goroutine.
func (tx *RosterTxn) CommitAsync(done func(error)) {
	if done == nil {
		done = func(error) {}
	}
	if tx.err != nil {
		tx.unlock()
		done(tx.err)
		return
	}
	if tx.done {
		done(errors.New("store: roster transaction already ended"))
		return
	}
	st := tx.r.st
	b := tx.r.db.NewBatch()
	changes := map[string][]RosterChange{}
	writes := map[string][]cacheWrite{}
	var touched []string
	st.mu.Lock()
	st.nextSeq++
	seq := st.nextSeq
	for _, k := range tx.order {
		ti := tx.items[k]
		if !ti.dirty || (ti.curOK && ti.cur.empty()) && !ti.oldOK {
			continue
		}
		if ti.curOK && ti.cur.empty() {
			ti.cur, ti.curOK = RosterItem{JID: k.contact}, false // nothing left to remember
		}
		var err error
		if ti.curOK {
			err = b.Set(userKey(tableRoster, k.user, k.contact), appendRosterItem(nil, &ti.cur), nil)
		} else {
			err = b.Delete(userKey(tableRoster, k.user, k.contact), nil)
		}
		if err != nil {
			st.mu.Unlock()
			_ = b.Close()
			tx.unlock()
			done(err)
			return
		}
		p := st.pend[k.user]
		if p == nil {
			p = &rosterPending{items: map[string]pendingItem{}}
			if p.ver, err = readVersion(tx.r.db.pdb, k.user); err != nil {
				st.mu.Unlock()
				_ = b.Close()
				tx.unlock()
				done(err)
				return
			}
			st.pend[k.user] = p
		}
		p.items[k.contact] = pendingItem{it: cloneItem(ti.cur), del: !ti.curOK, seq: seq}
		w := cacheWrite{it: frozen(ti.cur), del: !ti.curOK}
		w.it.JID = k.contact
		writes[k.user] = append(writes[k.user], w)
		if !slices.Contains(touched, k.user) {
			touched = append(touched, k.user)
			p.n++
		}
		if !sameVisible(ti.old, ti.cur, ti.oldOK, ti.curOK) {
			c := RosterChange{Item: cloneItem(ti.cur), Removed: !ti.curOK || ti.cur.Hidden}
			c.Item.JID = k.contact
			changes[k.user] = append(changes[k.user], c)
		}
	}
	for _, u := range touched {
		p := st.pend[u]
		if len(changes[u]) > 0 {
			p.ver++
			if err := b.Set(userKey(tableRosterVersion, u, ""), binary.AppendUvarint([]byte{rosterVersionV1}, p.ver), nil); err != nil {
				tx.fail(err)
			}
		}
		tx.vers[u] = p.ver
	}
	for _, u := range tx.users {
		if _, ok := tx.vers[u]; ok {
			continue
		}
		if p := st.pend[u]; p != nil {
			tx.vers[u] = p.ver
		} else if v, err := readVersion(tx.r.db.pdb, u); err == nil {
			tx.vers[u] = v
		}
	}
	watchers := st.watch
	st.mu.Unlock()
	if len(touched) == 0 {
		_ = b.Close()
		tx.unlock()
		done(nil)
		return
	}
	tx.r.db.CommitAsync(b, func(err error) {
		st.mu.Lock()
		for _, u := range touched {
			p := st.pend[u]
			for c, pi := range p.items {
				if pi.seq == seq {
					delete(p.items, c)
				}
			}
			if p.n--; p.n == 0 {
				delete(st.pend, u)
			}
		}
		// before the watchers: a client pushed a change and reading its
		// roster at once sees it
		st.applyCommitted(touched, writes, tx.vers, err == nil)
		st.mu.Unlock()
		if err == nil {
			for _, u := range touched {
				if cs := changes[u]; len(cs) > 0 {
					for _, w := range watchers {
						w(u, tx.vers[u], cs)
					}
				}
			}
		}
		done(err)
	})
	tx.unlock()
}

func cloneItem(it RosterItem) RosterItem {
	it.Groups = slices.Clone(it.Groups)
	it.PendingIn = slices.Clone(it.PendingIn)
	return it
}

func (r *Roster) getDisk(rd pebble.Reader, user, contact string) (RosterItem, bool, error) {
	v, closer, err := rd.Get(userKey(tableRoster, user, contact))
	if errors.Is(err, pebble.ErrNotFound) {
		return RosterItem{JID: contact}, false, nil
	} else if err != nil {
		return RosterItem{}, false, err
	}
	defer closer.Close()
	it, err := decodeRosterItem(v)
	if err != nil {
		return RosterItem{}, false, fmt.Errorf("store: roster item %q of %q: %w", contact, user, err)
	}
	it.JID = contact
	return it, true, nil
}

func readVersion(rd pebble.Reader, user string) (uint64, error) {
	v, closer, err := rd.Get(userKey(tableRosterVersion, user, ""))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	defer closer.Close()
	d := decoder{b: v}
	if f := d.byte(); f != rosterVersionV1 && d.err == nil {
		return 0, fmt.Errorf("store: roster version of %q: %w: format %d", user, ErrCorrupt, f)
	}
	ver := d.uvarint()
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: trailing bytes", ErrCorrupt)
	}
	if d.err != nil {
		return 0, fmt.Errorf("store: roster version of %q: %w", user, d.err)
	}
	return ver, nil
}

// FormatVersion is how a roster version is written in the 'ver' attribute
// (XEP-0237: an opaque string).
func FormatVersion(v uint64) string { return strconv.FormatUint(v, 10) }

// Roster values, version 1:
//
//	0x01                     format version
//	byte                     flags: bits 0-1 Sub, 2 Ask, 3 Approved, 4 Hidden, 5 PendingIn present
//	uvarint len, bytes       Name
//	uvarint n                number of groups
//	n × uvarint len, bytes   group names
//	[uvarint len, bytes]     PendingIn, if flag 5
//
// The contact JID is the key, so it is not repeated. The version key holds
// 0x01 then the uvarint version.
const (
	rosterItemV1    = 1
	rosterVersionV1 = 1

	flAsk      = 1 << 2
	flApproved = 1 << 3
	flHidden   = 1 << 4
	flPending  = 1 << 5
)

func appendRosterItem(dst []byte, it *RosterItem) []byte {
	fl := byte(it.Sub & SubBoth)
	if it.Ask {
		fl |= flAsk
	}
	if it.Approved {
		fl |= flApproved
	}
	if it.Hidden {
		fl |= flHidden
	}
	if it.PendingIn != nil {
		fl |= flPending
	}
	dst = append(dst, rosterItemV1, fl)
	dst = binary.AppendUvarint(dst, uint64(len(it.Name)))
	dst = append(dst, it.Name...)
	dst = binary.AppendUvarint(dst, uint64(len(it.Groups)))
	for _, g := range it.Groups {
		dst = binary.AppendUvarint(dst, uint64(len(g)))
		dst = append(dst, g...)
	}
	if it.PendingIn != nil {
		dst = binary.AppendUvarint(dst, uint64(len(it.PendingIn)))
		dst = append(dst, it.PendingIn...)
	}
	return dst
}

// decodeRosterItem parses a value of appendRosterItem; the result does not
// share v's memory.
func decodeRosterItem(v []byte) (RosterItem, error) {
	var it RosterItem
	d := decoder{b: v}
	if f := d.byte(); f != rosterItemV1 {
		if d.err != nil {
			return it, d.err
		}
		return it, fmt.Errorf("%w: roster item format %d", ErrCorrupt, f)
	}
	fl := d.byte()
	it.Sub = Subscription(fl & 3)
	it.Ask, it.Approved, it.Hidden = fl&flAsk != 0, fl&flApproved != 0, fl&flHidden != 0
	it.Name = string(d.bytes())
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		return it, fmt.Errorf("%w: %d groups", ErrCorrupt, n)
	}
	for range n {
		g := d.bytes()
		if d.err != nil {
			break
		}
		it.Groups = append(it.Groups, string(g))
	}
	if fl&flPending != 0 {
		p := d.bytes()
		if d.err == nil {
			it.PendingIn = append([]byte{}, p...)
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return it, d.err
}
