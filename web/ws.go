package web

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// Close status codes (RFC 6455 §7.4.1).
const (
	closeNormal      = 1000
	closeGoingAway   = 1001
	closeProtocol    = 1002
	closeUnsupported = 1003
	closeTooBig      = 1009
)

// sendableClose reports whether a close frame may carry code (RFC 6455
// §7.4.1-2): 1004-1006 and 1015 never go on the wire, 3000-4999 are for
// libraries and applications, the rest are unassigned.
func sendableClose(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// wsGUID is RFC 6455 §1.3's magic for Sec-WebSocket-Accept.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsAccept computes Sec-WebSocket-Accept for a client's key.
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// validKey: a Sec-WebSocket-Key is 16 random bytes in base64 (RFC 6455 §4.1).
func validKey(k string) bool {
	b, err := base64.StdEncoding.DecodeString(k)
	return err == nil && len(b) == 16
}

// wsState is where the frame reader is.
type wsState uint8

const (
	wsHeader  wsState = iota // collecting a frame header (2..14 bytes)
	wsPayload                // unmasking the frame's payload
	wsClosed                 // a close frame was received or sent; input is ignored
)

// wsFrames is an incremental reader of client frames. It buffers only a
// frame header and a control frame's payload (≤ 125 bytes): text payload is
// unmasked in place and handed on as it arrives, since the XML scanner
// behind it is incremental too.
type wsFrames struct {
	hdr       [14]byte
	hn        uint8 // header bytes collected
	state     wsState
	op        byte // the current frame's opcode
	fin       bool
	inMessage bool // a fragmented text message has begun
	mpos      uint8
	mask      [4]byte
	remaining uint64
	ctl       []byte // a control frame's payload so far
}

// wsError is a protocol error, with the close status to send.
type wsError struct {
	code uint16
	text string
}

func (e *wsError) Error() string { return e.text }

// wsSink receives what the reader decodes.
type wsSink interface {
	text(p []byte) error       // a piece of a text message, unmasked
	control(op byte, p []byte) // a complete ping, pong or close frame
}

// feed decodes b (which it unmasks in place) and calls the sink. It stops
// at the first error: a wsError to close the WebSocket with, or the sink's.
func (r *wsFrames) feed(b []byte, maxFrame uint64, sink wsSink) error {
	for len(b) > 0 && r.state != wsClosed {
		if r.state == wsHeader {
			n, err := r.header(b, maxFrame)
			if err != nil {
				return err
			}
			b = b[n:]
			if r.state == wsPayload && r.remaining == 0 {
				if err := r.endFrame(sink); err != nil {
					return err
				}
			}
			continue
		}
		n := int(min(r.remaining, uint64(len(b))))
		p := b[:n]
		for i := range p {
			p[i] ^= r.mask[r.mpos&3]
			r.mpos++
		}
		b = b[n:]
		r.remaining -= uint64(n)
		if r.op >= opClose {
			r.ctl = append(r.ctl, p...)
		} else if err := sink.text(p); err != nil {
			return err
		}
		if r.remaining == 0 {
			if err := r.endFrame(sink); err != nil {
				return err
			}
		}
	}
	return nil
}

// header collects and checks a frame header; it returns the bytes consumed.
func (r *wsFrames) header(b []byte, maxFrame uint64) (int, error) {
	need := 2
	if r.hn >= 2 {
		need = r.headerLen()
	}
	n := 0
	for int(r.hn) < need && n < len(b) {
		r.hdr[r.hn] = b[n]
		r.hn++
		n++
		if r.hn == 2 {
			if err := r.checkFirst(); err != nil {
				return n, err
			}
			need = r.headerLen()
		}
	}
	if int(r.hn) < need {
		return n, nil
	}
	l := uint64(r.hdr[1] & 0x7f)
	at := 2
	switch l {
	case 126:
		l = uint64(binary.BigEndian.Uint16(r.hdr[2:]))
		at = 4
	case 127:
		l = binary.BigEndian.Uint64(r.hdr[2:])
		at = 10
	}
	if l > maxFrame {
		return n, &wsError{closeTooBig, "frame too large"}
	}
	copy(r.mask[:], r.hdr[at:at+4])
	r.mpos = 0
	r.remaining = l
	r.hn = 0
	r.state = wsPayload
	return n, nil
}

// headerLen is the full header length given its first two bytes.
func (r *wsFrames) headerLen() int {
	switch r.hdr[1] & 0x7f {
	case 126:
		return 8
	case 127:
		return 14
	}
	return 6
}

// checkFirst checks the first two header bytes (RFC 6455 §5.2, §5.5).
func (r *wsFrames) checkFirst() error {
	b0, b1 := r.hdr[0], r.hdr[1]
	if b0&0x70 != 0 {
		return &wsError{closeProtocol, "reserved bits set without an extension"}
	}
	if b1&0x80 == 0 {
		return &wsError{closeProtocol, "client frames must be masked"}
	}
	r.op, r.fin = b0&0x0f, b0&0x80 != 0
	switch r.op {
	case opText:
		if r.inMessage {
			return &wsError{closeProtocol, "a new message inside a fragmented one"}
		}
	case opContinuation:
		if !r.inMessage {
			return &wsError{closeProtocol, "a continuation frame outside a message"}
		}
	case opBinary:
		return &wsError{closeUnsupported, "XMPP over WebSocket uses text messages (RFC 7395 §3.2)"}
	case opClose, opPing, opPong:
		if !r.fin || b1&0x7f > 125 {
			return &wsError{closeProtocol, "control frames are short and not fragmented"}
		}
	default:
		return &wsError{closeProtocol, "unknown opcode"}
	}
	return nil
}

// endFrame finishes a frame: a control frame goes to the sink whole.
func (r *wsFrames) endFrame(sink wsSink) error {
	r.state = wsHeader
	switch r.op {
	case opText, opContinuation:
		r.inMessage = !r.fin
		return nil
	case opClose:
		r.state = wsClosed
	}
	sink.control(r.op, r.ctl)
	r.ctl = r.ctl[:0]
	if cap(r.ctl) > 125 {
		r.ctl = nil
	}
	return nil
}

// appendFrame appends an unmasked server frame (servers never mask, §5.1).
func appendFrame(out []byte, op byte, p []byte) []byte {
	out = append(out, 0x80|op)
	switch l := len(p); {
	case l < 126:
		out = append(out, byte(l))
	case l <= 0xffff:
		out = append(out, 126)
		out = binary.BigEndian.AppendUint16(out, uint16(l))
	default:
		out = append(out, 127)
		out = binary.BigEndian.AppendUint64(out, uint64(l))
	}
	return append(out, p...)
}

// appendClose appends a close frame with a status code.
func appendClose(out []byte, code uint16, reason string) []byte {
	var p [125]byte
	binary.BigEndian.PutUint16(p[:], code)
	n := 2 + copy(p[2:], reason)
	return appendFrame(out, opClose, p[:n])
}
