package store

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// PrivacyType is what a privacy list item matches on (XEP-0016 §2.1).
type PrivacyType uint8

const (
	PrivacyFallThrough  PrivacyType = iota // no type: matches every stanza
	PrivacyJID                             // Value is a JID (full, bare, domain/resource or domain)
	PrivacyGroup                           // Value is a roster group name
	PrivacySubscription                    // Value is none, to, from or both
)

// PrivacyStanzas is the set of stanza kinds an item applies to; zero means
// all of them.
type PrivacyStanzas uint8

const (
	PrivacyMessage     PrivacyStanzas = 1 << iota // incoming messages
	PrivacyIQ                                     // incoming iq
	PrivacyPresenceIn                             // incoming presence notifications
	PrivacyPresenceOut                            // outgoing presence notifications
)

// PrivacyItem is one rule of a privacy list.
type PrivacyItem struct {
	Type    PrivacyType
	Value   string // empty for PrivacyFallThrough
	Allow   bool   // action allow, else deny
	Order   uint32 // lists are kept sorted by Order
	Stanzas PrivacyStanzas
}

// PrivacyList is a named, ordered list of items.
type PrivacyList struct {
	Name  string
	Items []PrivacyItem
}

// Privacy is the privacy-list table (XEP-0016): user 0x00 name → list, and
// user 0x00 (empty name) → the name of the user's default list. Active lists
// are per session and never stored.
//
// Writes come in a waiting form and an Async form for event loops, as in
// Blocklist.
type Privacy struct{ db *DB }

// Privacy returns the privacy-list table.
func (db *DB) Privacy() *Privacy { return &Privacy{db: db} }

const privacyV1 = 1

// Load returns user's default list name ("" for none) and every list, in
// name order.
func (p *Privacy) Load(user string) (def string, lists []PrivacyList, err error) {
	if err := validUser(user); err != nil {
		return "", nil, err
	}
	lo, hi := userSpan(tablePrivacy, user)
	it, err := p.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return "", nil, err
	}
	for valid := it.First(); valid; valid = it.Next() {
		name, _ := splitUserKey(tablePrivacy, user, it.Key())
		if len(name) == 0 {
			d := decoder{b: it.Value()}
			if ver := d.byte(); ver != privacyV1 && d.err == nil {
				d.err = fmt.Errorf("%w: privacy default format %d", ErrCorrupt, ver)
			}
			def = string(d.bytes())
			if d.err != nil {
				_ = it.Close()
				return "", nil, fmt.Errorf("store: privacy default of %q: %w", user, d.err)
			}
			continue
		}
		l, err := decodePrivacyList(it.Value())
		if err != nil {
			_ = it.Close()
			return "", nil, fmt.Errorf("store: privacy list %q of %q: %w", name, user, err)
		}
		l.Name = string(name)
		lists = append(lists, l)
	}
	return def, lists, it.Close()
}

// PutList stores (creates or replaces) a list. Its items must be sorted by Order.
func (p *Privacy) PutList(user string, l PrivacyList) error {
	return p.sync(p.putBatch(user, l))
}

// DeleteList removes a list, and with clearDefault the default-list record
// in the same batch (for removing the default list). Removing a missing list
// is not an error.
func (p *Privacy) DeleteList(user, name string, clearDefault bool) error {
	return p.sync(p.deleteBatch(user, name, clearDefault))
}

// SetDefault records the default list's name; "" means no default.
func (p *Privacy) SetDefault(user, name string) error {
	return p.sync(p.defaultBatch(user, name))
}

// PutListAsync is PutList without waiting; done gets the result.
func (p *Privacy) PutListAsync(user string, l PrivacyList, done func(error)) {
	p.async(done)(p.putBatch(user, l))
}

// DeleteListAsync is DeleteList without waiting; done gets the result.
func (p *Privacy) DeleteListAsync(user, name string, clearDefault bool, done func(error)) {
	p.async(done)(p.deleteBatch(user, name, clearDefault))
}

// SetDefaultAsync is SetDefault without waiting; done gets the result.
func (p *Privacy) SetDefaultAsync(user, name string, done func(error)) {
	p.async(done)(p.defaultBatch(user, name))
}

func (p *Privacy) sync(b *pebble.Batch, err error) error {
	if err != nil {
		return err
	}
	return p.db.Commit(b)
}

func (p *Privacy) async(done func(error)) func(*pebble.Batch, error) {
	return func(b *pebble.Batch, err error) {
		if err != nil {
			done(err)
			return
		}
		p.db.CommitAsync(b, done)
	}
}

func validListName(user, name string) error {
	if err := validUser(user); err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("store: privacy list of %q: empty name", user)
	}
	return nil
}

func (p *Privacy) putBatch(user string, l PrivacyList) (*pebble.Batch, error) {
	if err := validListName(user, l.Name); err != nil {
		return nil, err
	}
	return p.one(func(b *pebble.Batch) error {
		return b.Set(userKey(tablePrivacy, user, l.Name), appendPrivacyList(nil, l), nil)
	})
}

func (p *Privacy) deleteBatch(user, name string, clearDefault bool) (*pebble.Batch, error) {
	if err := validListName(user, name); err != nil {
		return nil, err
	}
	return p.one(func(b *pebble.Batch) error {
		if clearDefault {
			if err := b.Delete(userKey(tablePrivacy, user, ""), nil); err != nil {
				return err
			}
		}
		return b.Delete(userKey(tablePrivacy, user, name), nil)
	})
}

func (p *Privacy) defaultBatch(user, name string) (*pebble.Batch, error) {
	if err := validUser(user); err != nil {
		return nil, err
	}
	return p.one(func(b *pebble.Batch) error {
		k := userKey(tablePrivacy, user, "")
		if name == "" {
			return b.Delete(k, nil)
		}
		v := binary.AppendUvarint([]byte{privacyV1}, uint64(len(name)))
		return b.Set(k, append(v, name...), nil)
	})
}

func (p *Privacy) one(fill func(*pebble.Batch) error) (*pebble.Batch, error) {
	b := p.db.NewBatch()
	if err := fill(b); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

// Privacy list value, version 1:
//
//	0x01                       format version
//	uvarint                    n, the number of items
//	n × {
//	  byte                     PrivacyType
//	  uvarint len, bytes       Value
//	  byte                     1 allow, 0 deny
//	  uvarint                  Order
//	  byte                     PrivacyStanzas
//	}
func appendPrivacyList(dst []byte, l PrivacyList) []byte {
	dst = append(dst, privacyV1)
	dst = binary.AppendUvarint(dst, uint64(len(l.Items)))
	for _, it := range l.Items {
		dst = append(dst, byte(it.Type))
		dst = binary.AppendUvarint(dst, uint64(len(it.Value)))
		dst = append(dst, it.Value...)
		a := byte(0)
		if it.Allow {
			a = 1
		}
		dst = append(dst, a)
		dst = binary.AppendUvarint(dst, uint64(it.Order))
		dst = append(dst, byte(it.Stanzas))
	}
	return dst
}

func decodePrivacyList(v []byte) (PrivacyList, error) {
	var l PrivacyList
	d := decoder{b: v}
	if ver := d.byte(); ver != privacyV1 {
		if d.err != nil {
			return l, d.err
		}
		return l, fmt.Errorf("%w: privacy list format %d", ErrCorrupt, ver)
	}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		return l, fmt.Errorf("%w: %d privacy items", ErrCorrupt, n)
	}
	for range n {
		var it PrivacyItem
		it.Type = PrivacyType(d.byte())
		it.Value = string(d.bytes())
		it.Allow = d.byte() == 1
		o := d.uvarint()
		it.Stanzas = PrivacyStanzas(d.byte())
		if d.err != nil {
			return l, d.err
		}
		if it.Type > PrivacySubscription || o > 1<<32-1 || it.Stanzas > 0xf {
			return l, fmt.Errorf("%w: privacy item", ErrCorrupt)
		}
		it.Order = uint32(o)
		l.Items = append(l.Items, it)
	}
	if d.err != nil {
		return l, d.err
	}
	if len(d.b) != 0 {
		return l, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return l, nil
}

// Users returns every user with privacy lists (or a default list's name), in byte order.
func (p *Privacy) Users() ([]string, error) { return p.db.usersIn(tablePrivacy) }
