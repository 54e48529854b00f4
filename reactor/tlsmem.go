package reactor

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"unsafe"
)

// crypto/tls keeps its input buffers at their high-water mark forever: the
// ClientHello (≈1.7 KB with a post-quantum key share) leaves rawInput at
// 2 KiB and hand at 1.5 KiB on every connection, and one 16 KB record leaves
// 16 KiB. There is no API to give them back, so once a read has drained them
// the loop releases them by resetting the fields in place. Their offsets
// are found by name and type once; if a Go release renames or retypes them,
// tlsBufs.ok is false and nothing is touched (TestTLSBufferFields fails, so
// the loss is noticed).
var tlsBufs = findTLSBuffers()

type tlsBufferFields struct {
	ok                    bool
	rawInput, input, hand uintptr // offsets in tls.Conn
}

func findTLSBuffers() tlsBufferFields {
	t := reflect.TypeOf(tls.Conn{})
	off := func(name string, want reflect.Type) (uintptr, bool) {
		f, ok := t.FieldByName(name)
		return f.Offset, ok && f.Type == want
	}
	var f tlsBufferFields
	var ok1, ok2, ok3 bool
	f.rawInput, ok1 = off("rawInput", reflect.TypeOf(bytes.Buffer{}))
	f.input, ok2 = off("input", reflect.TypeOf(bytes.Reader{}))
	f.hand, ok3 = off("hand", reflect.TypeOf(bytes.Buffer{}))
	f.ok = ok1 && ok2 && ok3
	return f
}

// keepRawInput is the rawInput capacity kept between reads: what small
// records need anyway, so a chatty connection does not reallocate per read.
const keepRawInput = 1024

// releaseTLSBuffers drops tc's empty input buffers. Only the owning loop may
// call it, after the handshake, between reads (nothing else touches tc then).
func releaseTLSBuffers(tc *tls.Conn) {
	if !tlsBufs.ok {
		return
	}
	p := unsafe.Pointer(tc)
	in := (*bytes.Reader)(unsafe.Add(p, tlsBufs.input))
	raw := (*bytes.Buffer)(unsafe.Add(p, tlsBufs.rawInput))
	hand := (*bytes.Buffer)(unsafe.Add(p, tlsBufs.hand))
	if in.Len() != 0 || raw.Len() != 0 {
		return // a partial record or undelivered plaintext: keep everything
	}
	if raw.Cap() > keepRawInput {
		in.Reset(nil) // it may still point into rawInput's array
		*raw = bytes.Buffer{}
	}
	if hand.Len() == 0 && hand.Cap() > 0 {
		*hand = bytes.Buffer{}
	}
}
