package store

import (
	"slices"
	"strings"
)

// The roster cache keeps the rosters of users who are online in memory, so
// that what reads them on every presence (the broadcast to subscribers,
// probes, privacy and blocking checks) does not go to Pebble each time.
//
// A user's roster is cached between Hold and the matching Release (the
// presence feature holds it while the user has an available session): it
// is loaded at the first read after Hold, and dropped at the last Release.
// It is kept equal to the disk by the one write path: each transaction's
// writes are applied to it when its batch is on disk, before the watchers
// hear of them, so a read from the cache sees exactly what a read from the
// disk at that moment would. Account deletion, which clears the table
// without a transaction, drops the cached copy.
//
// Cached items are immutable: a write replaces the user's slice with a new
// one, so readers walk theirs without a lock.

// rosterCache is one held user's entry, guarded by rosterState.mu.
type rosterCache struct {
	holds int
	snap  *cachedRoster // nil until loaded
	// gen counts the commits that touched the user: a load that saw it
	// change read a disk that may predate one, and is not kept.
	gen uint64
}

// cachedRoster is one version of a user's roster, never modified.
type cachedRoster struct {
	ver   uint64
	items []RosterItem // in key order (by contact), hidden ones included
}

// Hold starts caching user's roster (loaded at the next read); calls nest,
// and each must be matched by a Release.
func (r *Roster) Hold(user string) {
	st := r.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.cache == nil {
		st.cache = map[string]*rosterCache{}
	}
	e := st.cache[user]
	if e == nil {
		e = &rosterCache{}
		st.cache[user] = e
	}
	e.holds++
}

// Release ends one Hold; at the last, the cached roster is dropped.
func (r *Roster) Release(user string) {
	st := r.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if e := st.cache[user]; e != nil {
		if e.holds--; e.holds <= 0 {
			delete(st.cache, user)
		}
	}
}

// Cached reports how many users' rosters are held and how many of those
// are loaded (for tests and statistics).
func (r *Roster) Cached() (held, loaded int) {
	st := r.st
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, e := range st.cache {
		held++
		if e.snap != nil {
			loaded++
		}
	}
	return held, loaded
}

// cached returns user's cached roster, loading it if the user is held and
// it is not loaded yet; nil if the user is not held (the caller reads the
// disk).
func (r *Roster) cached(user string) (*cachedRoster, error) {
	st := r.st
	st.mu.Lock()
	e := st.cache[user]
	if e == nil {
		st.mu.Unlock()
		return nil, nil
	}
	if c := e.snap; c != nil {
		st.mu.Unlock()
		return c, nil
	}
	gen := e.gen
	st.mu.Unlock()
	// read without the lock: a commit landing meanwhile changes gen
	c := &cachedRoster{}
	ver, err := r.listDisk(user, func(it RosterItem) bool {
		c.items = append(c.items, frozen(it))
		return true
	})
	if err != nil {
		return nil, err
	}
	c.ver = ver
	c.items = exact(c.items)
	st.mu.Lock()
	if st.cache[user] == e && e.gen == gen {
		e.snap = c
	}
	st.mu.Unlock()
	return c, nil // a consistent snapshot either way
}

// get finds contact in c.
func (c *cachedRoster) get(contact string) (RosterItem, bool) {
	i, ok := slices.BinarySearchFunc(c.items, contact, func(it RosterItem, k string) int { return strings.Compare(it.JID, k) })
	if !ok {
		return RosterItem{}, false
	}
	return c.items[i], true
}

// cacheWrite is one item a committed transaction wrote.
type cacheWrite struct {
	it  RosterItem // it.JID is the contact
	del bool
}

// applyCommitted brings the cached rosters of touched up to date with a
// batch now on disk: its writes, in order, and the users' versions. Called
// with st.mu held, on the commit's goroutine; ok false (the batch failed)
// drops them instead, to be read again.
func (st *rosterState) applyCommitted(touched []string, writes map[string][]cacheWrite, vers map[string]uint64, ok bool) {
	for _, u := range touched {
		e := st.cache[u]
		if e == nil {
			continue
		}
		e.gen++
		switch {
		case !ok:
			e.snap = nil
		case e.snap != nil:
			e.snap = e.snap.with(writes[u], vers[u])
		}
	}
}

// with returns a copy of c with ws applied and version ver.
func (c *cachedRoster) with(ws []cacheWrite, ver uint64) *cachedRoster {
	if len(ws) == 0 {
		return &cachedRoster{ver: ver, items: c.items}
	}
	items := slices.Clone(c.items)
	for _, w := range ws {
		i, ok := slices.BinarySearchFunc(items, w.it.JID, func(it RosterItem, k string) int { return strings.Compare(it.JID, k) })
		switch {
		case w.del && ok:
			items = slices.Delete(items, i, i+1)
		case w.del:
		case ok:
			items[i] = frozen(w.it)
		default:
			items = slices.Insert(items, i, frozen(w.it))
		}
	}
	return &cachedRoster{ver: ver, items: exact(items)}
}

// forget drops user's cached roster (kept held): the table was changed
// behind the transactions' back.
func (st *rosterState) forget(user string) {
	st.mu.Lock()
	if e := st.cache[user]; e != nil {
		e.snap = nil
		e.gen++
	}
	st.mu.Unlock()
}

// exact returns items in an array of their size: what append grew is
// up to twice that, and a cached roster lives as long as its user is online.
func exact(items []RosterItem) []RosterItem {
	if len(items) == cap(items) {
		return items
	}
	out := make([]RosterItem, len(items))
	copy(out, items)
	return out
}

// frozen is a copy of it that shares nothing with it and whose slices are
// full, so that a reader appending to them (as to its Groups) gets a new
// array instead of writing into the cache.
func frozen(it RosterItem) RosterItem {
	if it.Groups != nil {
		g := make([]string, len(it.Groups))
		copy(g, it.Groups)
		it.Groups = g
	}
	if it.PendingIn != nil {
		p := make([]byte, len(it.PendingIn))
		copy(p, it.PendingIn)
		it.PendingIn = p
	}
	return it
}
