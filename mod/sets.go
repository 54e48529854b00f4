package mod

import "slices"

// Sets holds a small set of values per key, the first inline. It is for
// state kept per session where nearly every key has one value (the room a
// session joined, the entity it sent directed presence to): a map of maps
// costs ~440 B per key for one value, a map of slices a slice header and
// an array; here a key with one value is one entry of one map. The zero
// value is empty; a Sets is not safe for concurrent use.
type Sets[K, V comparable] struct {
	one  map[K]V
	more map[K][]V // the values after the first
}

// Add adds v to k's set. It reports false, adding nothing, when k has max
// values already (v not among them); max <= 0 is no cap.
func (s *Sets[K, V]) Add(k K, v V, max int) bool {
	first, ok := s.one[k]
	switch {
	case !ok:
		if s.one == nil {
			s.one = map[K]V{}
		}
		s.one[k] = v
		return true
	case first == v:
		return true
	}
	rest := s.more[k]
	if slices.Contains(rest, v) {
		return true
	}
	if max > 0 && 1+len(rest) >= max {
		return false
	}
	if s.more == nil {
		s.more = map[K][]V{}
	}
	s.more[k] = append(rest, v)
	return true
}

// Remove takes v out of k's set.
func (s *Sets[K, V]) Remove(k K, v V) {
	first, ok := s.one[k]
	if !ok {
		return
	}
	rest := s.more[k]
	if first == v {
		if len(rest) == 0 {
			delete(s.one, k)
			return
		}
		// the last of the others takes the inline place
		s.one[k] = rest[len(rest)-1]
		rest = rest[:len(rest)-1]
	} else if i := slices.Index(rest, v); i >= 0 {
		rest = slices.Delete(rest, i, i+1)
	} else {
		return
	}
	if len(rest) == 0 {
		delete(s.more, k)
	} else {
		s.more[k] = rest
	}
}

// Values returns a copy of k's set.
func (s *Sets[K, V]) Values(k K) []V {
	first, ok := s.one[k]
	if !ok {
		return nil
	}
	return append([]V{first}, s.more[k]...)
}

// Take returns k's set and empties it.
func (s *Sets[K, V]) Take(k K) []V {
	out := s.Values(k)
	s.Drop(k)
	return out
}

// Drop empties k's set.
func (s *Sets[K, V]) Drop(k K) {
	delete(s.one, k)
	delete(s.more, k)
}

// Len is the size of k's set.
func (s *Sets[K, V]) Len(k K) int {
	if _, ok := s.one[k]; !ok {
		return 0
	}
	return 1 + len(s.more[k])
}

// Keys is how many keys have a value.
func (s *Sets[K, V]) Keys() int { return len(s.one) }
