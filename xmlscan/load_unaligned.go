//go:build (amd64 || arm64 || ppc64le) && !purego

package xmlscan

import "unsafe"

// load64 reads b[i:i+8] as a little-endian word; the caller has checked that
// i+8 <= len(b). These CPUs load unaligned words natively, and the plain load
// spares the hot loops a slice, its bounds check and a register.
func load64(b []byte, i int) uint64 {
	return *(*uint64)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), i))
}
