package proxy65

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"ignis/session"
)

// fakeTransport records what a handler does; Wake only counts (the test
// runs Wakeup itself, as the loop would).
type fakeTransport struct {
	out    bytes.Buffer
	closed bool
	wakes  int
	timer  time.Duration
	full   bool // Write answers ErrOutputFull
}

func (f *fakeTransport) Write(p []byte) error {
	if f.full {
		return session.ErrOutputFull
	}
	f.out.Write(p)
	return nil
}
func (f *fakeTransport) StartTLS() error           { return nil }
func (f *fakeTransport) StartCompression() error   { return nil }
func (f *fakeTransport) TLS() *tls.ConnectionState { return nil }
func (f *fakeTransport) Close(final []byte)        { f.out.Write(final); f.closed = true }
func (f *fakeTransport) Wake()                     { f.wakes++ }
func (f *fakeTransport) SetTimer(d time.Duration)  { f.timer = d }
func (f *fakeTransport) RemoteAddr() net.Addr      { return nil }
func (f *fakeTransport) Pending() int              { return 0 }
func (f *fakeTransport) Sent() (uint64, uint64)    { return 0, 0 }
func (f *fakeTransport) WakeWhenFlushed()          {}

var hash = Hash("sid", "a@x/r", "b@x/r")

func request(h string) []byte {
	b := append([]byte{5, 1, 0, 3, byte(len(h))}, h...)
	return append(b, 0, 0)
}

// TestHandshake: the SOCKS5 exchange split at every byte, and the refusals.
func TestHandshake(t *testing.T) {
	msg := append([]byte{5, 2, 2, 0}, request(hash)...)
	want := append([]byte{5, 0, 5, 0, 0, 3, 40}, hash...)
	want = append(want, 0, 0)
	for cut := 0; cut <= len(msg); cut++ {
		r := New(Config{})
		ft := &fakeTransport{}
		h := r.Handler(ft)
		if err := h.Traffic(msg[:cut]); err != nil {
			t.Fatalf("cut %d: first part: %v", cut, err)
		}
		if err := h.Traffic(msg[cut:]); err != nil {
			t.Fatalf("cut %d: second part: %v", cut, err)
		}
		if !bytes.Equal(ft.out.Bytes(), want) || r.Streams() != 1 {
			t.Fatalf("cut %d: wrote %x, streams %d", cut, ft.out.Bytes(), r.Streams())
		}
	}
	for _, tc := range []struct {
		name  string
		in    []byte
		reply []byte
	}{
		{"socks4", []byte{4, 1, 0, 80}, nil},
		{"no no-auth method", []byte{5, 1, 2}, []byte{5, 0xff}},
		{"bind", append([]byte{5, 1, 0}, 5, 2, 0, 3, 1, 'x', 0, 0), []byte{5, 0, 5, 7}},
		{"ipv4", append([]byte{5, 1, 0}, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80), []byte{5, 0, 5, 8}},
		{"not a sha1", append([]byte{5, 1, 0}, request("short")...), []byte{5, 0, 5, 1}},
		{"a port", append([]byte{5, 1, 0}, append(request(hash)[:5+40], 0, 80)...), []byte{5, 0, 5, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeTransport{}
			h := New(Config{}).Handler(ft)
			if err := h.Traffic(tc.in); err == nil {
				t.Fatal("accepted")
			}
			if !bytes.HasPrefix(ft.out.Bytes(), tc.reply) {
				t.Errorf("wrote %x, want %x…", ft.out.Bytes(), tc.reply)
			}
		})
	}
}

// pair connects two handlers for hash and activates the stream.
func pair(t *testing.T, r *Relay) (a, b *conn, ta, tb *fakeTransport) {
	t.Helper()
	ta, tb = &fakeTransport{}, &fakeTransport{}
	b = r.Handler(tb).(*conn) // the target first
	a = r.Handler(ta).(*conn)
	for _, c := range []*conn{b, a} {
		if err := c.Traffic(append([]byte{5, 1, 0}, request(hash)...)); err != nil {
			t.Fatal(err)
		}
	}
	ta.out.Reset()
	tb.out.Reset()
	if err := r.Activate(hash); err != nil {
		t.Fatal(err)
	}
	a.Wakeup()
	b.Wakeup()
	return
}

// TestRelay: pairing, a third party refused, activation errors, relaying
// both ways, the other end closing once it has written what it got.
func TestRelay(t *testing.T) {
	r := New(Config{})
	if err := r.Activate(hash); !errors.Is(err, ErrNoStream) {
		t.Errorf("activating nothing: %v", err)
	}
	lone := r.Handler(&fakeTransport{}).(*conn)
	lone.Traffic(append([]byte{5, 1, 0}, request(Hash("s2", "a", "b"))...))
	if err := r.Activate(Hash("s2", "a", "b")); !errors.Is(err, ErrOneSided) {
		t.Errorf("activating a one-sided stream: %v", err)
	}
	if err := lone.Traffic([]byte("early")); err == nil {
		t.Error("data before activation was taken")
	}

	a, b, ta, tb := pair(t, r)
	if err := r.Activate(hash); !errors.Is(err, ErrActive) {
		t.Errorf("activating twice: %v", err)
	}
	third := r.Handler(&fakeTransport{})
	if err := third.Traffic(append([]byte{5, 1, 0}, request(hash)...)); err == nil {
		t.Error("a third party joined")
	}
	a.Traffic([]byte("hello "))
	a.Traffic([]byte("bob"))
	b.Wakeup()
	b.Traffic([]byte("hi"))
	a.Wakeup()
	if tb.out.String() != "hello bob" || ta.out.String() != "hi" {
		t.Errorf("b got %q, a got %q", tb.out.String(), ta.out.String())
	}
	a.Traffic([]byte("bye"))
	a.Closed(nil)
	b.Wakeup()
	if tb.out.String() != "hello bobbye" || !tb.closed {
		t.Errorf("after a left, b got %q, closed %v", tb.out.String(), tb.closed)
	}
	b.Closed(nil)
	if n := r.Streams(); n != 1 { // the lone one
		t.Errorf("%d streams left, want 1", n)
	}
}

// TestLimits: max_bytes, max_buffer, pacing and the timeout.
func TestLimits(t *testing.T) {
	t.Run("max bytes", func(t *testing.T) {
		a, _, _, _ := pair(t, New(Config{MaxBytes: 10}))
		if err := a.Traffic(make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		if err := a.Traffic([]byte{1}); !errors.Is(err, errOverBytes) {
			t.Errorf("byte 11: %v", err)
		}
	})
	t.Run("max buffer", func(t *testing.T) {
		a, b, _, tb := pair(t, New(Config{MaxBuffer: 4096}))
		tb.full = true // b's socket does not drain
		a.Traffic(make([]byte, 4000))
		b.Wakeup()
		if err := a.Traffic(make([]byte, 200)); !errors.Is(err, errOverBuffer) {
			t.Errorf("past the buffer: %v", err)
		}
	})
	t.Run("pacing", func(t *testing.T) {
		a, b, _, tb := pair(t, New(Config{RatePerSec: 10000}))
		a.Traffic(make([]byte, 5000))
		b.Wakeup()
		if n := tb.out.Len(); n != 1000 || tb.timer != timerTick {
			t.Errorf("first paced write %d bytes (timer %v), want a tenth of a second's 1000", n, tb.timer)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		r := New(Config{Timeout: time.Second})
		ft := &fakeTransport{}
		c := r.Handler(ft).(*conn)
		if ft.timer != time.Second {
			t.Errorf("timer %v, want the timeout", ft.timer)
		}
		c.Timer(time.Now().Add(2 * time.Second))
		if !ft.closed {
			t.Error("not closed after the timeout")
		}
	})
}

// pipeTransport is a fakeTransport whose socket can be handed to the pumps:
// one end of an in-memory pipe.
type pipeTransport struct {
	fakeTransport
	nc net.Conn
}

func (d *pipeTransport) Detach() (net.Conn, error) { return d.nc, nil }

// TestDetachCountsFirstRead: what the loop read in the call that detached an
// end counts against max_bytes (it went out uncounted, up to a whole read
// buffer past the limit).
func TestDetachCountsFirstRead(t *testing.T) {
	r := New(Config{MaxBytes: 10})
	aPeer, aNC := net.Pipe()
	bPeer, bNC := net.Pipe()
	defer aPeer.Close()
	ta, tb := &pipeTransport{nc: aNC}, &pipeTransport{nc: bNC}
	b := r.Handler(tb).(*conn)
	a := r.Handler(ta).(*conn)
	for _, c := range []*conn{b, a} {
		if err := c.Traffic(append([]byte{5, 1, 0}, request(hash)...)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Activate(hash); err != nil {
		t.Fatal(err)
	}
	if err := a.Traffic(make([]byte, 12)); err != nil { // read as the stream went active: a detaches
		t.Fatal(err)
	}
	b.Wakeup() // b detaches: the pumps start
	_ = bPeer.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := bPeer.Read(make([]byte, 64))
	if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the target read %d bytes (%v) of a stream limited to 10; want the stream closed", n, err)
	}
}
