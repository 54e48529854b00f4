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

	// after OnlyFor: the users who may have a value other than empty;
	// anyone else gets empty, neither loaded nor cached
	sparse  bool
	empty   T
	holders map[string]struct{}
}

// OnlyFor says that users are the only ones whose value is not empty
// (those with a stored list), so Get answers anyone else with empty at
// once, without a load and without keeping an entry for them: most users
// block nobody, and a cached empty value cost ~50 B per online user.
// Change adds its user. Call it before the first Get.
func (c *UserCache[T]) OnlyFor(empty T, users []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sparse, c.empty = true, empty
	c.holders = make(map[string]struct{}, len(users))
	for _, u := range users {
		c.holders[u] = struct{}{}
	}
}

// Get returns user's value, calling load when it is not cached. A value
// load reports not ok (a store failure) is returned but not cached; one
// loaded while a change went to disk is not cached either, since it may
// predate the change.
func (c *UserCache[T]) Get(user string, load func() (v T, ok bool)) T {
	c.mu.RLock()
	v, ok := c.vals[user]
	gen := c.gen
	if !ok && c.sparse {
		if _, held := c.holders[user]; !held {
			v, ok = c.empty, true
		}
	}
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
// edit's copy of it; an uncached one is loaded afresh on next use (until
// then, Get answers with the value before the change).
func (c *UserCache[T]) Change(user string, edit func(cur T) T) {
	c.mu.Lock()
	if cur, ok := c.vals[user]; ok {
		c.vals[user] = edit(cur)
	}
	if c.sparse {
		c.holders[user] = struct{}{}
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
