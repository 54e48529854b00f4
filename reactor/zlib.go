package reactor

import (
	"bytes"
	"errors"
	"io"

	"github.com/klauspost/compress/flate"
)

// XEP-0138 stream compression (TECH-NOTES §3).
//
// Outbound: after the two-byte zlib header, every Write is one
// flate.StatelessDeflate call without a dictionary, which ends in a sync
// flush (00 00 ff ff). The connection keeps no compressor state, and no
// stanza can be used as context against another (the CRIME-style concern
// that got XEP-0138 obsoleted).
//
// Inbound: the peer's stream needs its 32 KiB window, so each compressed
// connection keeps one flate reader (~37 KiB). Inflaters cannot resume after
// running out of input (they store the error), so the reader is only ever fed
// whole sync-flush units: input up to the last 00 00 ff ff marker; a partial
// unit waits in carry.

const (
	// maxCarry bounds a compressed unit still waiting for its flush marker.
	maxCarry   = 1 << 20
	zlibHdrLen = 2
)

var (
	errZlibHeader = errors.New("reactor: bad zlib header")
	errCarry      = errors.New("reactor: compressed input without a sync flush for too long")
	syncMarker    = []byte{0, 0, 0xff, 0xff}
)

// deflate appends p as a sync-flushed deflate segment.
func deflate(w *byteSink, p []byte) {
	_ = flate.StatelessDeflate(w, p, false, nil) // byteSink never fails
}

// inflater is a connection's inbound zlib state. Owned by its loop.
type inflater struct {
	fr    io.Reader // flate reader over src; created after the zlib header
	src   unitReader
	carry []byte // input after the last flush marker; nil when empty
	hdr   int    // zlib header bytes consumed (0..2)
	cmf   byte
}

func newInflater() *inflater { return &inflater{} }

// unitReader is the flate reader's source: one or more whole flush units,
// possibly borrowed, consumed before inflate returns.
//
// Running dry panics with errDry, recovered in readUnit. Within a whole unit
// the inflater never runs dry; at the end of one it can: when a unit's output
// ends exactly at a 32 KiB window boundary, the window flush already handed
// out all of it, the closing empty stored block yields nothing, and Read goes
// on to the next block header. Returning an error there would poison the
// reader for good; the panic unwinds before any state changes (the byte is
// requested at a block boundary, in nextBlock), so the next unit resumes.
type unitReader struct{ b []byte }

type dryPanic struct{}

var errDry = dryPanic{}

func (r *unitReader) ReadByte() (byte, error) {
	if len(r.b) == 0 {
		panic(errDry)
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

func (r *unitReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		if len(p) == 0 {
			return 0, nil
		}
		panic(errDry)
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// readUnit is fr.Read with the dry panic turned into dry == true.
func (z *inflater) readUnit(out []byte) (n int, dry bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(dryPanic); !ok {
				panic(r)
			}
			n, dry, err = 0, true, nil
		}
	}()
	n, err = z.fr.Read(out)
	return n, false, err
}

// inflate takes compressed input (borrowed), decompresses every complete
// unit and hands the output to the handler in chunks of at most 32 KiB.
func (c *conn) inflate(p []byte) {
	z := c.zin
	data := p
	if len(z.carry) > 0 {
		z.carry = append(z.carry, p...)
		data = z.carry
	}
	for z.hdr < zlibHdrLen && len(data) > 0 {
		if !z.header(data[0]) {
			c.closeAfterFlush(errZlibHeader)
			return
		}
		data = data[1:]
	}
	end := bytes.LastIndex(data, syncMarker)
	if end < 0 {
		if len(z.carry) > 0 {
			z.carry = data // already an owned copy
		} else {
			z.keep(data)
		}
		if len(z.carry) > maxCarry {
			c.closeAfterFlush(errCarry)
		}
		return
	}
	end += len(syncMarker)
	z.src.b = data[:end]
	out := c.lp.zInScratch()
	for c.state == stOpen && c.zin == z {
		n, dry, err := z.readUnit(out)
		if n > 0 {
			c.traffic(out[:n])
		}
		if err != nil {
			c.closeAfterFlush(err) // io.EOF too: the peer ended the zlib stream
			break
		}
		// Output shorter than out means the reader stopped at a flush point
		// (a window flush returns at most 32 KiB); with src empty that is
		// the end of the units.
		if dry || (len(z.src.b) == 0 && n < len(out)) {
			break
		}
	}
	z.src.b = nil
	if c.zin == z {
		z.keep(data[end:])
	}
}

// header checks one zlib header byte (RFC 1950 §2.2): deflate with a window
// of at most 32 KiB, valid check bits, no preset dictionary.
func (z *inflater) header(b byte) bool {
	if z.hdr == 0 {
		if b&0x0f != 8 || b>>4 > 7 {
			return false
		}
		z.cmf = b
		z.hdr = 1
		return true
	}
	if (uint16(z.cmf)<<8|uint16(b))%31 != 0 || b&0x20 != 0 {
		return false
	}
	z.hdr = zlibHdrLen
	z.fr = flate.NewReader(&z.src)
	return true
}

// keep stores rest (which may alias carry or borrowed input) as the carry.
func (z *inflater) keep(rest []byte) {
	if len(rest) == 0 {
		z.carry = nil
		return
	}
	z.carry = append([]byte(nil), rest...)
}
