package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"ignis/jid"
)

// This file is the only code that builds or parses keys (DESIGN §6).
//
// Every key starts with one table byte. Keys that belong to a user continue
// with the user's localpart, then a 0x00 separator, then the table's own parts
// (big-endian integers, so byte order is numeric order):
//
//	account          tableAccount  user 0x00
//	(later) roster   tableRoster   user 0x00 contact
//	(later) offline  tableOffline  user 0x00 be64(seq)
//
// A localpart never contains 0x00 (validUser rejects it; PRECIS forbids control
// characters anyway), so "al" 0x00 sorts before "alice" 0x00 and every key of
// one user in one table lies in the half-open span [table user 0x00,
// table user 0x01). That span is what per-user prefix scans iterate and what
// Accounts.Delete removes with one range delete per table.

// Table bytes. Never renumber one: they are on disk.
const (
	tableMeta    byte = 0x01 // store-wide facts (format version)
	tableAccount byte = 0x02 // Account by user

	// Per-user tables. They are listed in perUserTables so that
	// Accounts.Delete clears them with the account.
	tableRoster        byte = 0x03 // user 0x00 contact-bare-JID → roster item
	tableRosterVersion byte = 0x04 // user 0x00 → roster version counter
	tableOffline       byte = 0x05 // user 0x00 be64(seq) → offline message
	tableVCard         byte = 0x06 // user 0x00 → vCard XML (XEP-0054)
	tablePrivate       byte = 0x07 // user 0x00 namespace 0x00 local → private XML (XEP-0049)
	tableBlock         byte = 0x08 // user 0x00 JID → blocked item (XEP-0191)
	tablePrivacy       byte = 0x09 // user 0x00 list-name → privacy list (XEP-0016); "" list-name key holds the default/active names
	tableLast          byte = 0x0a // user 0x00 → last logout time and status (XEP-0012)
	tableArchive       byte = 0x0b // user 0x00 be64(id) → archived message (XEP-0313)
	tableArchivePrefs  byte = 0x0c // user 0x00 → archiving preferences

	// Tables not keyed by user.
	tableGroup       byte = 0x20 // group-name 0x00 → shared roster group definition
	tableGroupMember byte = 0x21 // group-name 0x00 user → membership
	tableUserGroups  byte = 0x22 // user 0x00 group-name → membership, by user (for roster building)

	// tableScratch holds keys written only by tests and benchmarks.
	tableScratch byte = 0x7f
)

// perUserTables are the tables whose keys all start with a user part and are
// removed with a range delete when the account is deleted. The account table is
// not listed: its single key is removed with a point delete.
var perUserTables = [...]byte{tableRoster, tableRosterVersion, tableOffline, tableVCard, tablePrivate,
	tableBlock, tablePrivacy, tableLast, tableArchive, tableArchivePrefs, tableUserGroups, tableArchiveWith,
	tablePEPNode, tablePEPItem}

const (
	userSep = 0x00 // ends the user part
	userEnd = 0x01 // userSep+1: exclusive upper bound of one user's span

	// maxUserLen is the longest localpart RFC 7622 §3.3.1 allows, in bytes.
	maxUserLen = 1023
)

// ErrInvalidUser is returned for a user part that cannot be a key: empty,
// longer than 1023 bytes, or containing a NUL byte.
var ErrInvalidUser = errors.New("store: invalid user")

func validUser(user string) error {
	switch {
	case user == "":
		return fmt.Errorf("%w: empty", ErrInvalidUser)
	case len(user) > maxUserLen:
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidUser, len(user), maxUserLen)
	case strings.IndexByte(user, userSep) >= 0:
		return fmt.Errorf("%w: contains NUL", ErrInvalidUser)
	}
	return nil
}

// userPrefix returns table user 0x00, with room for extra more bytes.
// The caller has checked the user with validUser.
func userPrefix(table byte, user string, extra int) []byte {
	k := make([]byte, 0, 1+len(user)+1+extra)
	k = append(k, table)
	k = append(k, user...)
	return append(k, userSep)
}

// userSpan returns the bounds of every key of user in table.
func userSpan(table byte, user string) (lo, hi []byte) {
	lo = userPrefix(table, user, 0)
	hi = append(lo[:len(lo)-1:len(lo)-1], userEnd)
	return lo, hi
}

// tableSpan returns the bounds of every key in table.
func tableSpan(table byte) (lo, hi []byte) {
	return []byte{table}, []byte{table + 1}
}

// userKey returns table user 0x00 part: the key of one item of a user's table
// (part may be empty for one-value-per-user tables).
func userKey(table byte, user string, part string) []byte {
	return append(userPrefix(table, user, len(part)), part...)
}

// userSeqKey returns table user 0x00 be64(seq): ordered items of a user.
func userSeqKey(table byte, user string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(userPrefix(table, user, 8), seq)
}

// splitUserKey returns the part after the user of a key of table, or ok=false.
func splitUserKey(table byte, user string, k []byte) (part []byte, ok bool) {
	p := userPrefix(table, user, 0)
	if len(k) < len(p) || string(k[:len(p)]) != string(p) {
		return nil, false
	}
	return k[len(p):], true
}

// seqOfKey returns the trailing be64 of a userSeqKey.
func seqOfKey(k []byte) (uint64, bool) {
	if len(k) < 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(k)-8:]), true
}

// accountKey is the key of user's Account.
func accountKey(user string) []byte { return userPrefix(tableAccount, user, 0) }

// parseAccountKey returns the user of an account key.
func parseAccountKey(k []byte) (user string, ok bool) {
	if len(k) < 3 || k[0] != tableAccount || k[len(k)-1] != userSep {
		return "", false
	}
	u := k[1 : len(k)-1]
	if len(u) > maxUserLen || strings.IndexByte(string(u), userSep) >= 0 {
		return "", false
	}
	return string(u), true
}

// metaFormatKey holds the store's format version (see formatVersion).
var metaFormatKey = []byte{tableMeta, 'f', 'o', 'r', 'm', 'a', 't'}

// scratchKey is a key for tests and benchmarks: tableScratch be64(n).
func scratchKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{tableScratch}, n)
}

// Shared roster groups (not keyed by user). A group name, like a user, never
// contains 0x00 (validGroup), so the same span arithmetic applies:
//
//	group         tableGroup        name 0x00
//	member        tableGroupMember  name 0x00 user
//	user's group  tableUserGroups   user 0x00 name   (per-user: removed with the account)

// groupKey is the key of a group's definition.
func groupKey(name string) []byte { return userPrefix(tableGroup, name, 0) }

// parseGroupKey returns the name of a group key.
func parseGroupKey(k []byte) (name string, ok bool) {
	if len(k) < 3 || k[0] != tableGroup || k[len(k)-1] != userSep {
		return "", false
	}
	n := k[1 : len(k)-1]
	if len(n) > maxUserLen || strings.IndexByte(string(n), userSep) >= 0 {
		return "", false
	}
	return string(n), true
}

// groupMemberKey is the key of user's membership in group name.
func groupMemberKey(name, user string) []byte { return userKey(tableGroupMember, name, user) }

// groupMemberSpan bounds every member key of group name.
func groupMemberSpan(name string) (lo, hi []byte) { return userSpan(tableGroupMember, name) }

// userGroupKey is the by-user index entry of user's membership in group name.
func userGroupKey(user, name string) []byte { return userKey(tableUserGroups, user, name) }

// userGroupSpan bounds every by-user index entry of user.
func userGroupSpan(user string) (lo, hi []byte) { return userSpan(tableUserGroups, user) }

// Message archive by contact (XEP-0313 queries with 'with'), an index into
// tableArchive written in the same batch as the entry it points to:
//
//	by contact    tableArchiveWith  user 0x00 contact 0x00 be64(id) → empty
//
// A contact is a bare JID, which never contains 0x00, so one contact's
// entries of one user lie in [user 0x00 contact 0x00, user 0x00 contact 0x01).
const tableArchiveWith byte = 0x0d

// archiveWithKey is the index entry of archive id of user with contact.
func archiveWithKey(user, contact string, id uint64) []byte {
	return withKey(tableArchiveWith, user, contact, id)
}

// withKey is archiveWithKey in a by-contact index table of choice (a room
// archive's, store/muc.go).
func withKey(table byte, user, contact string, id uint64) []byte {
	k := userPrefix(table, user, len(contact)+1+8)
	k = append(k, contact...)
	k = append(k, userSep)
	return binary.BigEndian.AppendUint64(k, id)
}

// archiveWithSpan bounds every index entry of user with contact.
func archiveWithSpan(user, contact string) (lo, hi []byte) {
	return withSpan(tableArchiveWith, user, contact)
}

// withSpan is archiveWithSpan in a by-contact index table of choice.
func withSpan(table byte, user, contact string) (lo, hi []byte) {
	lo = append(userPrefix(table, user, len(contact)+1), contact...)
	lo = append(lo, userSep)
	hi = append(lo[:len(lo)-1:len(lo)-1], userEnd)
	return lo, hi
}

// parseArchiveWithKey splits an index entry into its parts.
func parseArchiveWithKey(k []byte) (user, contact string, id uint64, ok bool) {
	return parseWithKey(tableArchiveWith, k)
}

// parseWithKey is parseArchiveWithKey in a by-contact index table of choice.
func parseWithKey(table byte, k []byte) (user, contact string, id uint64, ok bool) {
	if len(k) < 1+1+1+1+8 || k[0] != table {
		return "", "", 0, false
	}
	rest := k[1 : len(k)-8]
	u := strings.IndexByte(string(rest), userSep)
	if u < 1 || rest[len(rest)-1] != userSep || u >= len(rest)-2 {
		return "", "", 0, false
	}
	id, _ = seqOfKey(k)
	return string(rest[:u]), string(rest[u+1 : len(rest)-1]), id, true
}

// parseUserSeqKey returns the user and sequence of a userSeqKey of table.
func parseUserSeqKey(table byte, k []byte) (user string, seq uint64, ok bool) {
	if len(k) < 1+1+1+8 || k[0] != table || k[len(k)-9] != userSep {
		return "", 0, false
	}
	u := k[1 : len(k)-9]
	if len(u) > maxUserLen || strings.IndexByte(string(u), userSep) >= 0 {
		return "", 0, false
	}
	seq, _ = seqOfKey(k)
	return string(u), seq, true
}

// Virtual hosts. A local account's user part in every per-user key is made
// here and nowhere else:
//
//	primary domain   localpart          (what every key held before virtual hosts)
//	other domain     localpart@domain   (a bare JID)
//
// A localpart never contains '@' (RFC 7622 §3.3.1), so the two kinds never
// collide, and data written before virtual hosts existed stays valid.

// UserKey is the user part of the keys of user's account, whose domain is
// local; primary is the server's primary domain.
func UserKey(primary string, user jid.JID) string {
	if user.Domain() == primary {
		return user.Local()
	}
	return user.Bare().String() // a substring of user: no allocation
}

// UserOfKey is UserKey's inverse: the bare JID of the account a user part
// (as Accounts.List returns it) belongs to.
func UserOfKey(primary, key string) (jid.JID, error) {
	if strings.IndexByte(key, '@') < 0 {
		return jid.New(key, primary, "")
	}
	j, err := jid.Parse(key)
	if err != nil {
		return jid.JID{}, err
	}
	if j.Local() == "" || !j.IsBare() || j.Domain() == primary {
		return jid.JID{}, fmt.Errorf("%w: %q is not an account of another domain", ErrInvalidUser, key)
	}
	return j, nil
}

// Services of virtual hosts. Every local domain has its own group chat
// service (conference.localhost, conference.example.net); a room's key in
// the room tables (its record and its archive) is made here and nowhere
// else, as UserKey does for accounts:
//
//	the primary domain's service   localpart                   (what rooms were keyed by before)
//	another domain's service       localpart@service-domain    (the room's bare JID)
//
// so rooms stored before per-domain services stay the primary domain's
// service's. Pubsub service nodes need no mapping: their owner key part is
// already the service's whole domain (PubsubService).

// RoomKey is the store key of a room; primaryService is the domain of the
// primary domain's group chat service.
func RoomKey(primaryService string, room jid.JID) string { return UserKey(primaryService, room) }

// RoomOfKey is RoomKey's inverse: the room's bare JID.
func RoomOfKey(primaryService, key string) (jid.JID, error) {
	j, err := UserOfKey(primaryService, key)
	if err != nil {
		return jid.JID{}, fmt.Errorf("store: room key %q: %w", key, ErrCorrupt)
	}
	return j, nil
}

// usersIn returns every user with a key in a per-user table, in byte
// order: one seek per user, not a read of every key.
func (db *DB) usersIn(table byte) ([]string, error) {
	lo, hi := tableSpan(table)
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	var out []string
	for valid := it.First(); valid; {
		k := it.Key()[1:]
		i := bytes.IndexByte(k, userSep)
		if i < 0 {
			valid = it.Next() // not a user's key
			continue
		}
		user := string(k[:i])
		out = append(out, user)
		_, next := userSpan(table, user)
		valid = it.SeekGE(next)
	}
	return out, it.Close()
}
