//go:build !(amd64 || arm64 || ppc64le) || purego

package xmlscan

import "encoding/binary"

// load64 reads b[i:i+8] as a little-endian word.
func load64(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i:]) }
