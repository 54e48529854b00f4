package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"ignis/scram"
)

// Account is one user's credentials. The password itself is never stored:
// only SCRAM keys for each hash (RFC 5802 §3), each with its own salt.
type Account struct {
	User    string                      // the localpart, normalized by the caller
	Keys    [scram.NumHashes]scram.Keys // indexed by scram.Hash
	Created time.Time                   // millisecond precision, UTC
}

// Accounts is the account table, keyed by localpart. Callers pass localparts
// already normalized (PRECIS UsernameCaseMapped, done by the jid package); the
// store compares bytes.
//
// Create, SetPassword and Delete read, check and write. Two of them on the
// same user are serialized by one of a fixed set of mutexes chosen by hashing
// the user, held across the synced commit. Different users rarely share a
// mutex, so their commits still meet in the writer's groups.
type Accounts struct {
	db    *DB
	seed  maphash.Seed   // set by Open
	locks [64]sync.Mutex // guard read-check-write of the accounts hashing to them
}

func (a *Accounts) lock(user string) *sync.Mutex {
	m := &a.locks[maphash.String(a.seed, user)%uint64(len(a.locks))]
	m.Lock()
	return m
}

// Create adds user with password, which is prepared (RFC 8265 OpaqueString)
// and turned into keys for every hash, each with a fresh salt. It fails with
// ErrExists if the user exists. The account is on disk when Create returns nil.
// It blocks for the key derivation and an fsync: do not call it on an event loop.
func (a *Accounts) Create(user, password string) error {
	if err := validUser(user); err != nil {
		return err
	}
	// Cheap early answer before spending PBKDF2 time; rechecked under the lock.
	if _, err := a.get(user); err == nil {
		return fmt.Errorf("store: account %q: %w", user, ErrExists)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	acc := Account{User: user, Created: time.Now().UTC().Truncate(time.Millisecond)}
	if err := a.deriveKeys(&acc, password); err != nil {
		return err
	}

	m := a.lock(user)
	defer m.Unlock()
	if _, err := a.get(user); err == nil {
		return fmt.Errorf("store: account %q: %w", user, ErrExists)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	return a.put(&acc)
}

// Get returns user's account, or an error wrapping ErrNotFound.
func (a *Accounts) Get(user string) (Account, error) {
	if err := validUser(user); err != nil {
		return Account{}, err
	}
	return a.get(user)
}

// Keys returns user's keys for hash h, for SASL SCRAM and PLAIN. The error
// wraps ErrNotFound if there is no such user or no keys for h.
func (a *Accounts) Keys(user string, h scram.Hash) (scram.Keys, error) {
	if int(h) >= scram.NumHashes {
		return scram.Keys{}, fmt.Errorf("store: unknown hash %d", h)
	}
	acc, err := a.Get(user)
	if err != nil {
		return scram.Keys{}, err
	}
	k := acc.Keys[h]
	if len(k.StoredKey) == 0 {
		return scram.Keys{}, fmt.Errorf("store: account %q has no %s keys: %w", user, h.Name(), ErrNotFound)
	}
	return k, nil
}

// SetPassword replaces user's keys with keys for password, with fresh salts.
// The error wraps ErrNotFound if there is no such user. Synced like Create.
func (a *Accounts) SetPassword(user, password string) error {
	if err := validUser(user); err != nil {
		return err
	}
	var fresh Account
	if err := a.deriveKeys(&fresh, password); err != nil {
		return err
	}
	m := a.lock(user)
	defer m.Unlock()
	acc, err := a.get(user)
	if err != nil {
		return err
	}
	acc.Keys = fresh.Keys
	return a.put(&acc)
}

// Delete removes user's account and, in the same batch, everything else the
// user owns (one range delete per per-user table). The error wraps ErrNotFound
// if there is no such user. Synced like Create.
func (a *Accounts) Delete(user string) error {
	if err := validUser(user); err != nil {
		return err
	}
	m := a.lock(user)
	defer m.Unlock()
	if _, err := a.get(user); err != nil {
		return err
	}
	b := a.db.NewBatch()
	err := b.Delete(accountKey(user), nil)
	for _, t := range perUserTables {
		if err != nil {
			break
		}
		lo, hi := userSpan(t, user)
		err = b.DeleteRange(lo, hi, nil)
	}
	if err != nil {
		_ = b.Close()
		return err
	}
	err = a.db.Commit(b)
	a.db.roster.forget(user) // the roster went without a roster transaction
	return err
}

// List calls fn with each user in byte order until fn returns false. It reads
// a consistent snapshot: accounts created while it runs may be missed.
func (a *Accounts) List(fn func(user string) bool) error {
	lo, hi := tableSpan(tableAccount)
	it, err := a.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for valid := it.First(); valid; valid = it.Next() {
		user, ok := parseAccountKey(it.Key())
		if !ok {
			_ = it.Close()
			return fmt.Errorf("store: account key %q: %w", it.Key(), ErrCorrupt)
		}
		if !fn(user) {
			break
		}
	}
	return it.Close()
}

// Count returns the number of accounts. It scans the table (O(n)); it is
// meant for administration, not for a hot path.
func (a *Accounts) Count() (int, error) {
	n := 0
	err := a.List(func(string) bool { n++; return true })
	return n, err
}

func (a *Accounts) deriveKeys(acc *Account, password string) error {
	prepared, err := scram.Prepare(password)
	if err != nil {
		return fmt.Errorf("store: password: %w", err)
	}
	iter := a.db.opts.ScramIterations
	for h := range scram.NumHashes {
		acc.Keys[h] = scram.Derive(scram.Hash(h), prepared, scram.NewSalt(), iter)
	}
	return nil
}

func (a *Accounts) get(user string) (Account, error) {
	v, closer, err := a.db.pdb.Get(accountKey(user))
	if errors.Is(err, pebble.ErrNotFound) {
		return Account{}, fmt.Errorf("store: account %q: %w", user, ErrNotFound)
	} else if err != nil {
		return Account{}, err
	}
	defer closer.Close()
	acc, err := decodeAccount(v) // copies out of v, which dies with closer
	if err != nil {
		return Account{}, fmt.Errorf("store: account %q: %w", user, err)
	}
	acc.User = user
	return acc, nil
}

func (a *Accounts) put(acc *Account) error {
	b := a.db.NewBatch()
	if err := b.Set(accountKey(acc.User), appendAccount(nil, acc), nil); err != nil {
		_ = b.Close()
		return err
	}
	return a.db.Commit(b)
}

// Account value, version 1:
//
//	0x01                      format version
//	varint                    Created, Unix milliseconds
//	byte                      n, the number of key sets
//	n × {
//	  byte                    scram.Hash
//	  uvarint                 iterations
//	  uvarint len, bytes      salt
//	  uvarint len, bytes      StoredKey (len = hash size)
//	  uvarint len, bytes      ServerKey (len = hash size)
//	}
//
// The user is the key, so it is not repeated. Hashes without keys are left out.
const accountV1 = 1

func appendAccount(dst []byte, acc *Account) []byte {
	dst = append(dst, accountV1)
	dst = binary.AppendVarint(dst, acc.Created.UnixMilli())
	n := 0
	for _, k := range acc.Keys {
		if len(k.StoredKey) > 0 {
			n++
		}
	}
	dst = append(dst, byte(n))
	for h, k := range acc.Keys {
		if len(k.StoredKey) == 0 {
			continue
		}
		dst = append(dst, byte(h))
		dst = binary.AppendUvarint(dst, uint64(k.Iter))
		for _, p := range [...][]byte{k.Salt, k.StoredKey, k.ServerKey} {
			dst = binary.AppendUvarint(dst, uint64(len(p)))
			dst = append(dst, p...)
		}
	}
	return dst
}

// decodeAccount parses a value written by appendAccount. The byte slices of the
// result share one copy of v, so v may be reused afterwards.
func decodeAccount(v []byte) (Account, error) {
	var acc Account
	d := decoder{b: v}
	if ver := d.byte(); ver != accountV1 {
		if d.err != nil {
			return acc, d.err
		}
		return acc, fmt.Errorf("%w: account format %d", ErrCorrupt, ver)
	}
	ms := d.varint()
	n := int(d.byte())
	if d.err == nil && n > scram.NumHashes {
		return acc, fmt.Errorf("%w: %d key sets", ErrCorrupt, n)
	}
	d.b = append([]byte(nil), d.b...) // one copy for every slice below
	for range n {
		h := int(d.byte())
		iter := d.uvarint()
		salt, stored, server := d.bytes(), d.bytes(), d.bytes()
		if d.err != nil {
			return acc, d.err
		}
		switch {
		case h >= scram.NumHashes:
			return acc, fmt.Errorf("%w: hash %d", ErrCorrupt, h)
		case len(acc.Keys[h].StoredKey) > 0:
			return acc, fmt.Errorf("%w: hash %d twice", ErrCorrupt, h)
		case iter < 1 || iter > 1<<31-1:
			return acc, fmt.Errorf("%w: %d iterations", ErrCorrupt, iter)
		case len(stored) != scram.Hash(h).Size() || len(server) != scram.Hash(h).Size():
			return acc, fmt.Errorf("%w: %s key lengths %d, %d", ErrCorrupt, scram.Hash(h).Name(), len(stored), len(server))
		}
		acc.Keys[h] = scram.Keys{Salt: salt, Iter: int(iter), StoredKey: stored, ServerKey: server}
	}
	if d.err != nil {
		return acc, d.err
	}
	if len(d.b) != 0 {
		return acc, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	acc.Created = time.UnixMilli(ms).UTC()
	return acc, nil
}

// decoder reads a value front to back; the first error sticks and later reads
// return zero values.
type decoder struct {
	b   []byte
	err error
}

var errShort = fmt.Errorf("%w: truncated", ErrCorrupt)

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errShort
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return x
}

// bytes returns the next length-prefixed part, sharing d.b's memory.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}
