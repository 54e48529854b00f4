package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Group is a shared roster group (Openfire's shared groups): every member
// sees every other member in their roster, under the group's display name.
type Group struct {
	Name    string   // the key; never contains NUL
	Display string   // the roster group name members see; Create defaults it to Name
	Members []string // localparts, in byte order
}

// Groups is the shared-group table. A group is stored as three kinds of
// keys: its definition, one key per member under the group, and one index
// key per member under the user (so building a roster reads only that
// user's span). Every change writes all of them in one synced batch.
//
// Deleting an account removes the user's index keys (tableUserGroups is a
// per-user table) but not the member keys under the groups: Get may list a
// user that no longer exists, and RemoveMember cleans it up.
type Groups struct{ db *DB }

// Groups returns the shared-group table.
func (db *DB) Groups() *Groups { return &Groups{db: db} }

// ErrInvalidGroup is returned for a group name that cannot be a key: empty,
// longer than 1023 bytes, or containing a NUL byte.
var ErrInvalidGroup = errors.New("store: invalid group name")

func validGroup(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidGroup)
	case len(name) > maxUserLen:
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidGroup, len(name), maxUserLen)
	case strings.IndexByte(name, userSep) >= 0:
		return fmt.Errorf("%w: contains NUL", ErrInvalidGroup)
	}
	return nil
}

// Create adds an empty group. An empty display means the name. It fails with
// ErrExists if the group exists. Synced before it returns.
func (g *Groups) Create(name, display string) error {
	if err := validGroup(name); err != nil {
		return err
	}
	if display == "" {
		display = name
	}
	g.db.groupsMu.Lock()
	defer g.db.groupsMu.Unlock()
	if _, err := g.display(name); err == nil {
		return fmt.Errorf("store: group %q: %w", name, ErrExists)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	b := g.db.NewBatch()
	if err := b.Set(groupKey(name), appendGroup(nil, display), nil); err != nil {
		_ = b.Close()
		return err
	}
	return g.db.Commit(b)
}

// Delete removes a group and every membership in it. The error wraps
// ErrNotFound if there is no such group. Synced before it returns.
func (g *Groups) Delete(name string) error {
	if err := validGroup(name); err != nil {
		return err
	}
	g.db.groupsMu.Lock()
	defer g.db.groupsMu.Unlock()
	if _, err := g.display(name); err != nil {
		return err
	}
	members, err := g.members(name)
	if err != nil {
		return err
	}
	b := g.db.NewBatch()
	err = b.Delete(groupKey(name), nil)
	if err == nil {
		lo, hi := groupMemberSpan(name)
		err = b.DeleteRange(lo, hi, nil)
	}
	for _, u := range members {
		if err != nil {
			break
		}
		err = b.Delete(userGroupKey(u, name), nil)
	}
	if err != nil {
		_ = b.Close()
		return err
	}
	return g.db.Commit(b)
}

// AddMember makes user (a localpart) a member of group name; adding a member
// again is not an error. The error wraps ErrNotFound if there is no such
// group. Synced before it returns.
func (g *Groups) AddMember(name, user string) error {
	if err := validMember(name, user); err != nil {
		return err
	}
	g.db.groupsMu.Lock()
	defer g.db.groupsMu.Unlock()
	if _, err := g.display(name); err != nil {
		return err
	}
	return g.membership(name, user, true)
}

// RemoveMember takes user out of group name. The error wraps ErrNotFound if
// user is not a member. Synced before it returns.
func (g *Groups) RemoveMember(name, user string) error {
	if err := validMember(name, user); err != nil {
		return err
	}
	g.db.groupsMu.Lock()
	defer g.db.groupsMu.Unlock()
	ok, err := g.has(groupMemberKey(name, user))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("store: %q in group %q: %w", user, name, ErrNotFound)
	}
	return g.membership(name, user, false)
}

func validMember(name, user string) error {
	if err := validGroup(name); err != nil {
		return err
	}
	return validUser(user)
}

// membership writes (in true) or deletes both keys of user's membership of
// group name, the group's member key and the user's group key, in one
// synced batch.
func (g *Groups) membership(name, user string, in bool) error {
	b := g.db.NewBatch()
	for _, k := range [...][]byte{groupMemberKey(name, user), userGroupKey(user, name)} {
		var err error
		if in {
			err = b.Set(k, []byte{groupV1}, nil)
		} else {
			err = b.Delete(k, nil)
		}
		if err != nil {
			_ = b.Close()
			return err
		}
	}
	return g.db.Commit(b)
}

// Get returns a group with its members. The error wraps ErrNotFound if there
// is no such group.
func (g *Groups) Get(name string) (Group, error) {
	if err := validGroup(name); err != nil {
		return Group{}, err
	}
	display, err := g.display(name)
	if err != nil {
		return Group{}, err
	}
	members, err := g.members(name)
	if err != nil {
		return Group{}, err
	}
	return Group{Name: name, Display: display, Members: members}, nil
}

// List calls fn with each group, members included, in name order until fn
// returns false.
func (g *Groups) List(fn func(Group) bool) error {
	lo, hi := tableSpan(tableGroup)
	it, err := g.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for valid := it.First(); valid; valid = it.Next() {
		name, ok := parseGroupKey(it.Key())
		if !ok {
			_ = it.Close()
			return fmt.Errorf("store: group key %q: %w", it.Key(), ErrCorrupt)
		}
		display, err := decodeGroup(it.Value())
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("store: group %q: %w", name, err)
		}
		members, err := g.members(name)
		if err != nil {
			_ = it.Close()
			return err
		}
		if !fn(Group{Name: name, Display: display, Members: members}) {
			break
		}
	}
	return it.Close()
}

// GroupsOf returns the groups user belongs to, members included, in name
// order: what a roster merges in. It reads the user's index span, then each
// group.
func (g *Groups) GroupsOf(user string) ([]Group, error) {
	if err := validUser(user); err != nil {
		return nil, err
	}
	lo, hi := userGroupSpan(user)
	it, err := g.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	var names []string
	for valid := it.First(); valid; valid = it.Next() {
		n, _ := splitUserKey(tableUserGroups, user, it.Key())
		names = append(names, string(n))
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	out := make([]Group, 0, len(names))
	for _, n := range names {
		gr, err := g.Get(n)
		if errors.Is(err, ErrNotFound) {
			continue // deleted between the two reads
		} else if err != nil {
			return nil, err
		}
		out = append(out, gr)
	}
	return out, nil
}

func (g *Groups) display(name string) (string, error) {
	v, closer, err := g.db.pdb.Get(groupKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", fmt.Errorf("store: group %q: %w", name, ErrNotFound)
	} else if err != nil {
		return "", err
	}
	defer closer.Close()
	d, err := decodeGroup(v)
	if err != nil {
		return "", fmt.Errorf("store: group %q: %w", name, err)
	}
	return d, nil
}

func (g *Groups) members(name string) ([]string, error) {
	lo, hi := groupMemberSpan(name)
	it, err := g.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	var out []string
	for valid := it.First(); valid; valid = it.Next() {
		u, _ := splitUserKey(tableGroupMember, name, it.Key())
		out = append(out, string(u))
	}
	return out, it.Close()
}

func (g *Groups) has(k []byte) (bool, error) {
	_, closer, err := g.db.pdb.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, closer.Close()
}

// Group value, version 1:
//
//	0x01                 format version
//	uvarint len, bytes   display name
//
// Member and index values are the single byte 0x01.
const groupV1 = 1

func appendGroup(dst []byte, display string) []byte {
	dst = append(dst, groupV1)
	dst = binary.AppendUvarint(dst, uint64(len(display)))
	return append(dst, display...)
}

func decodeGroup(v []byte) (display string, err error) {
	d := decoder{b: v}
	if ver := d.byte(); ver != groupV1 {
		if d.err != nil {
			return "", d.err
		}
		return "", fmt.Errorf("%w: group format %d", ErrCorrupt, ver)
	}
	s := string(d.bytes())
	if d.err != nil {
		return "", d.err
	}
	if len(d.b) != 0 {
		return "", fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return s, nil
}
