package reactor

import (
	"bytes"
	"crypto/tls"
	"testing"
	"unsafe"
)

// TestTLSBufferFields pins what releaseTLSBuffers relies on: crypto/tls.Conn
// has rawInput and hand (bytes.Buffer) and input (bytes.Reader). A Go
// upgrade that changes them fails here instead of silently keeping memory.
func TestTLSBufferFields(t *testing.T) {
	if !tlsBufs.ok {
		t.Fatal("crypto/tls.Conn no longer has rawInput/input/hand of the expected types")
	}
	var c tls.Conn
	raw := (*bytes.Buffer)(unsafe.Add(unsafe.Pointer(&c), tlsBufs.rawInput))
	raw.Grow(4096)
	hand := (*bytes.Buffer)(unsafe.Add(unsafe.Pointer(&c), tlsBufs.hand))
	hand.Grow(1500)
	releaseTLSBuffers(&c)
	if raw.Cap() != 0 || hand.Cap() != 0 {
		t.Fatalf("buffers kept: rawInput cap %d, hand cap %d", raw.Cap(), hand.Cap())
	}
	raw.WriteString("partial record")
	raw.Grow(4096)
	releaseTLSBuffers(&c)
	if raw.Len() != len("partial record") {
		t.Fatal("a buffer holding data was released")
	}
}
