package reactor

import (
	"bytes"
	"compress/zlib"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// recorder is a Handler that keeps what Traffic got.
type recorder struct {
	got    bytes.Buffer
	closed []error
}

func (r *recorder) Traffic(p []byte) error { r.got.Write(p); return nil }
func (r *recorder) Wakeup()                {}
func (r *recorder) Timer(time.Time)        {}
func (r *recorder) Closed(err error)       { r.closed = append(r.closed, err) }

// idleGC stands in for a gnet.Conn in loop-only unit tests.
type idleGC struct {
	gnet.Conn
	closes int
}

func (g *idleGC) OutboundBuffered() int { return 0 }
func (g *idleGC) Close() error          { g.closes++; return nil }

func newUnitConn(h *recorder) (*conn, *idleGC) {
	s := &Server{}
	s.cfg.ensureDefaults()
	lp := newLoop(s, nil)
	gc := &idleGC{}
	return &conn{gc: gc, lp: lp, h: h}, gc
}

// TestInflateSplitInvariant feeds sync-flushed zlib from the standard
// library in random chunks. Units of exactly 1 KiB make some units end on a
// 32 KiB window boundary, the case where the inflater would otherwise read
// past the end of its input (see unitReader).
func TestInflateSplitInvariant(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sizes func(r *rand.Rand) int
		chunk int
	}{
		{name: "aligned-1KiB/chunk=7", sizes: func(*rand.Rand) int { return 1024 }, chunk: 7},
		{name: "aligned-1KiB/chunk=1500", sizes: func(*rand.Rand) int { return 1024 }, chunk: 1500},
		{name: "aligned-32KiB/chunk=4096", sizes: func(*rand.Rand) int { return 32 << 10 }, chunk: 4096},
		{name: "random/chunk=64", sizes: func(r *rand.Rand) int { return 1 + r.IntN(3000) }, chunk: 64},
		{name: "large/chunk=16KiB", sizes: func(r *rand.Rand) int { return 1 + r.IntN(200<<10) }, chunk: 16 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(1, 2))
			var wire, want bytes.Buffer
			zw := zlib.NewWriter(&wire)
			for range 200 {
				msg := make([]byte, tc.sizes(rnd))
				for i := range msg {
					msg[i] = "abcdefgh<>/ '"[rnd.IntN(13)]
				}
				want.Write(msg)
				_, _ = zw.Write(msg)
				_ = zw.Flush()
			}
			h := &recorder{}
			c, gc := newUnitConn(h)
			c.zin = newInflater()
			in := wire.Bytes()
			for len(in) > 0 {
				n := 1 + rnd.IntN(tc.chunk)
				n = min(n, len(in))
				chunk := append([]byte(nil), in[:n]...) // borrowed in real life
				c.inflate(chunk)
				clear(chunk)
				in = in[n:]
				if c.state != stOpen {
					t.Fatalf("closed: %v", c.closeErr)
				}
			}
			if gc.closes != 0 || !bytes.Equal(h.got.Bytes(), want.Bytes()) {
				t.Fatalf("got %d bytes, want %d (equal=%v)", h.got.Len(), want.Len(), bytes.Equal(h.got.Bytes(), want.Bytes()))
			}
			if c.zin.carry != nil {
				t.Fatalf("carry kept %d bytes after the last unit", len(c.zin.carry))
			}
		})
	}
}

func TestInflateBadHeader(t *testing.T) {
	h := &recorder{}
	c, gc := newUnitConn(h)
	c.zin = newInflater()
	c.inflate([]byte("<stream:stream>"))
	if c.state != stClosing || gc.closes != 1 || c.closeErr != errZlibHeader {
		t.Fatalf("state %v closes %d err %v", c.state, gc.closes, c.closeErr)
	}
}

// TestDeflateRoundTrip: per-write stateless output is one zlib stream.
func TestDeflateRoundTrip(t *testing.T) {
	var w byteSink
	w.b = append(w.b, 0x78, 0x01)
	var want bytes.Buffer
	for i := range 50 {
		msg := bytes.Repeat([]byte("<message to='a@b'>hi</message>"), i)
		want.Write(msg)
		deflate(&w, msg)
		if !bytes.HasSuffix(w.b, syncMarker) {
			t.Fatal("write not ending in a sync flush")
		}
	}
	zr, err := zlib.NewReader(bytes.NewReader(w.b))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, want.Len())
	if _, err := zr.Read(got[:0]); err != nil {
		t.Fatal(err)
	}
	n := 0
	for n < len(got) {
		m, err := zr.Read(got[n:])
		n += m
		if err != nil {
			break
		}
	}
	if !bytes.Equal(got[:n], want.Bytes()) {
		t.Fatalf("round trip: %d of %d bytes", n, want.Len())
	}
}
