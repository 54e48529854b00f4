package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
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

	// Reserved for per-user tables whose code lands later. They are listed in
	// perUserTables now so that Accounts.Delete already clears them.
	tableRoster        byte = 0x03
	tableRosterVersion byte = 0x04
	tableOffline       byte = 0x05

	// tableScratch holds keys written only by tests and benchmarks.
	tableScratch byte = 0x7f
)

// perUserTables are the tables whose keys all start with a user part and are
// removed with a range delete when the account is deleted. The account table is
// not listed: its single key is removed with a point delete.
var perUserTables = [...]byte{tableRoster, tableRosterVersion, tableOffline}

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
