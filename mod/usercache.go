package mod

import "sync"

// UserCache holds one immutable value per user: loaded on first use,
// replaced whole by each change once it is on disk (copy on write), so
// readers use a value without holding a lock. Blocklists and privacy lists
// keep their users' lists in one.
type UserCache[T any] struct {
	mu   sync.RWMutex
	vals map[string]T
	gen  uint64 // bumped by every change; a load that saw another gen is not cached
}

// Get returns user's value, calling load when it is not cached. A value
// load reports not ok (a store failure) is returned but not cached; one
// loaded while a change went to disk is not cached either, since it may
// predate the change.
func (c *UserCache[T]) Get(user string, load func() (v T, ok bool)) T {
	c.mu.RLock()
	v, ok := c.vals[user]
	gen := c.gen
	c.mu.RUnlock()
	if ok {
		return v
	}
	v, ok = load()
	if !ok {
		return v
	}
	c.mu.Lock()
	if cur, cached := c.vals[user]; cached {
		v = cur
	} else if c.gen == gen {
		if c.vals == nil {
			c.vals = map[string]T{}
		}
		c.vals[user] = v
	}
	c.mu.Unlock()
	return v
}

// Change records a change that is on disk: a cached value is replaced by
// edit's copy of it; an uncached one is loaded afresh on next use.
func (c *UserCache[T]) Change(user string, edit func(cur T) T) {
	c.mu.Lock()
	if cur, ok := c.vals[user]; ok {
		c.vals[user] = edit(cur)
	}
	c.gen++
	c.mu.Unlock()
}

// Forget drops user's value (their last session went away).
func (c *UserCache[T]) Forget(user string) {
	c.mu.Lock()
	delete(c.vals, user)
	c.mu.Unlock()
}

// LastSession reports whether res is the only bound resource of its user:
// what a per-user cache is dropped on when res goes away.
func LastSession(env Env, res Resource) bool {
	others := false
	env.Resources(res.JID().Bare(), func(r Resource) bool {
		others = r != res
		return !others
	})
	return !others
}
