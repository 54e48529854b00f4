package xmlscan

import "sync"

// Carry slabs come in a few sizes: most carried tails are the end of one TCP
// read, a KiB or two. Larger elements take slabs of their own size class, and
// ones beyond the largest class are not pooled.
var slabSizes = [...]int{2 << 10, 8 << 10, 32 << 10, 128 << 10}

var slabPools [len(slabSizes)]sync.Pool

// getSlab returns an empty buffer with room for n bytes and its pool box.
func getSlab(n int) ([]byte, *[]byte) {
	for c, size := range slabSizes {
		if n <= size {
			if p, _ := slabPools[c].Get().(*[]byte); p != nil {
				return (*p)[:0], p
			}
			b := make([]byte, 0, size)
			return b, &b
		}
	}
	return make([]byte, 0, n), nil
}

func putSlab(b []byte, box *[]byte) {
	if box == nil {
		return
	}
	for c, size := range slabSizes {
		if cap(b) == size {
			*box = b[:0]
			slabPools[c].Put(box)
			return
		}
	}
}

// keep starts carry with tail, the unfinished construct, in the buffer
// feedCarry left empty if it is large enough.
func (s *Scanner) keep(tail []byte) {
	if cap(s.carry) < len(tail) {
		s.dropCarry()
		s.carry, s.slab = getSlab(len(tail))
	}
	s.carry = append(s.carry[:0], tail...)
}

// grow makes room for n more bytes in carry.
func (s *Scanner) grow(n int) {
	if len(s.carry)+n <= cap(s.carry) {
		return
	}
	need := len(s.carry) + n
	b, box := getSlab(min(max(need, 2*len(s.carry)), max(need, int(s.maxElem))))
	b = append(b, s.carry...)
	putSlab(s.carry, s.slab)
	s.carry, s.slab = b, box
}

// dropCarry returns carry to its pool: an idle stream holds no input buffer.
func (s *Scanner) dropCarry() {
	if s.carry != nil {
		putSlab(s.carry, s.slab)
	}
	s.carry, s.slab = nil, nil
}
