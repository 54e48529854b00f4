package session

import (
	"testing"
	"unsafe"
)

// TestStreamSize keeps every session's struct within its allocation size
// class: 8 bytes past 576 cost 64 per session (the 640 B class).
func TestStreamSize(t *testing.T) {
	n := unsafe.Sizeof(Stream{})
	t.Logf("Stream: %d B (inbox %d B)", n, unsafe.Sizeof(inbox{}))
	if n > 576 {
		t.Fatalf("Stream grew to %d B: past the 576 B size class", n)
	}
}
