package route

import (
	"errors"
	"hash/maphash"
	"sync"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// Endpoint is a bound resource; session.Stream implements it.
type Endpoint interface {
	mod.Resource
	// Deliver queues st for the peer. It may be called from any goroutine and
	// must not block; it reports false if the endpoint is gone or refused it.
	Deliver(st *stanza.Stanza) bool
	// Replaced is called (from any goroutine) when a newer session bound the
	// same full JID and this one must end with a <conflict/> stream error.
	Replaced()
}

// ConflictPolicy says what a bind of an already bound full JID does (RFC 6120 §7.7.2.2).
type ConflictPolicy uint8

const (
	// Replace ends the old session with a conflict stream error (the usual
	// choice of Prosody, ejabberd and Openfire).
	Replace ConflictPolicy = iota
	// Refuse refuses the new bind with a conflict stanza error.
	Refuse
)

// ErrConflict is returned by Bind under the Refuse policy.
var ErrConflict = errors.New("route: resource already bound")

// ErrTooManySessions is returned by BindAtMost when the account already has
// its maximum of sessions (ejabberd's max_user_sessions).
var ErrTooManySessions = errors.New("route: too many sessions for the account")

const numShards = 64

// Table is the in-memory session table: bare JID → bound resources, split in
// shards by a hash of the bare JID so that binds and lookups on different
// users rarely contend.
type Table struct {
	seed   maphash.Seed
	shards [numShards]shard
}

type shard struct {
	mu struct {
		sync.RWMutex
		byBare map[string][]Endpoint // guarded by mu; slices are replaced, never mutated in place
	}
}

// NewTable returns an empty table.
func NewTable() *Table {
	t := &Table{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].mu.byBare = map[string][]Endpoint{}
	}
	return t
}

func (t *Table) shard(bare string) *shard {
	return &t.shards[maphash.String(t.seed, bare)%numShards]
}

// Bind adds e under its full JID. With Replace, an endpoint already bound to
// the same full JID is removed and returned (the caller ends it); with
// Refuse, Bind fails with ErrConflict.
func (t *Table) Bind(e Endpoint, policy ConflictPolicy) (old Endpoint, err error) {
	return t.BindAtMost(e, policy, 0)
}

// BindAtMost is Bind refusing, with ErrTooManySessions, a bind that would
// give the account more than max resources; max <= 0 is no limit. A bind
// that replaces a resource of the same name does not add one.
func (t *Table) BindAtMost(e Endpoint, policy ConflictPolicy, max int) (old Endpoint, err error) {
	j := e.JID()
	bare := j.Bare().String()
	sh := t.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	cur := sh.mu.byBare[bare]
	next := make([]Endpoint, 0, len(cur)+1)
	for _, c := range cur {
		if c.JID().Resource() == j.Resource() {
			if policy == Refuse {
				return nil, ErrConflict
			}
			old = c
			continue
		}
		next = append(next, c)
	}
	if max > 0 && len(next) >= max {
		return nil, ErrTooManySessions
	}
	sh.mu.byBare[bare] = append(next, e)
	return old, nil
}

// Unbind removes e if it is still bound (a replaced endpoint is not).
func (t *Table) Unbind(e Endpoint) {
	bare := e.JID().Bare().String()
	sh := t.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	cur := sh.mu.byBare[bare]
	for i, c := range cur {
		if c == e {
			if len(cur) == 1 {
				delete(sh.mu.byBare, bare)
				return
			}
			next := make([]Endpoint, 0, len(cur)-1)
			next = append(next, cur[:i]...)
			sh.mu.byBare[bare] = append(next, cur[i+1:]...)
			return
		}
	}
}

// Lookup returns the endpoint bound to a full JID, or nil.
func (t *Table) Lookup(full jid.JID) Endpoint {
	var found Endpoint
	t.Resources(full.Bare(), func(e Endpoint) bool {
		if e.JID().Resource() == full.Resource() {
			found = e
			return false
		}
		return true
	})
	return found
}

// Resources calls fn for each endpoint bound under bare until fn returns
// false. fn runs without the shard lock held.
func (t *Table) Resources(bare jid.JID, fn func(Endpoint) bool) {
	for _, e := range t.Bound(bare) {
		if !fn(e) {
			return
		}
	}
}

// Bound returns the endpoints bound under bare at this moment. The slice is
// the table's own (replaced, never changed, on bind and unbind): the caller
// must not modify it.
func (t *Table) Bound(bare jid.JID) []Endpoint {
	b := bare.String()
	sh := t.shard(b)
	sh.mu.RLock()
	cur := sh.mu.byBare[b]
	sh.mu.RUnlock()
	return cur
}

// Each calls fn for every bound endpoint until fn returns false, one shard
// at a time and without its lock held, so fn may end sessions (the admin's
// session list, shutdown).
func (t *Table) Each(fn func(Endpoint) bool) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		var es []Endpoint
		for _, v := range sh.mu.byBare {
			es = append(es, v...)
		}
		sh.mu.RUnlock()
		for _, e := range es {
			if !fn(e) {
				return
			}
		}
	}
}

// Count returns the number of bound endpoints.
func (t *Table) Count() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		for _, v := range sh.mu.byBare {
			n += len(v)
		}
		sh.mu.RUnlock()
	}
	return n
}

// Swap replaces old, bound under a full JID, with e, bound under the same
// one, without the conflict path: a resumed stream (XEP-0198) takes over its
// detached predecessor's place. It reports false if old is no longer bound.
func (t *Table) Swap(old, e Endpoint) bool {
	bare := old.JID().Bare().String()
	sh := t.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	cur := sh.mu.byBare[bare]
	for i, c := range cur {
		if c == old {
			next := make([]Endpoint, len(cur))
			copy(next, cur)
			next[i] = e
			sh.mu.byBare[bare] = next
			return true
		}
	}
	return false
}
