package reactor

import (
	"context"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// loop is the state one gnet event loop shares among its connections. Every
// field is owned by that loop's goroutine; el is goroutine-safe.
type loop struct {
	srv    *Server
	el     gnet.EventLoop
	tickFn gnet.Runnable // posted by OnTick; allocated once

	wheel wheel
	due   []*conn // scratch for the wheel's expired entries

	// draining holds connections that are closing with output still queued;
	// each tick closes those whose output drained or whose CloseTimeout passed.
	draining []*conn
	// watch holds connections waiting for their output to reach the kernel
	// (conn.WakeWhenFlushed); each tick wakes those whose output did.
	watch []*conn
	// counts holds the output accounting of the connections that use it.
	counts map[*conn]*outCount

	// Scratch buffers shared by the loop's connections (never held across
	// callbacks). tlsBuf takes one decrypted record; zIn takes inflated output
	// (32 KiB + 1, larger than anything one Read can return, see zlib.go);
	// zOut collects deflated output and is dropped when it grew large.
	tlsBuf []byte
	zIn    []byte
	zOut   byteSink

	// stage gathers what stageFor writes during one Wakeup (a burst of
	// delivered stanzas) into one write to the socket; see conn.flushStage.
	stage    []byte
	stageFor *conn

	// Reentrancy guard. depth counts nested handler calls; a connection that
	// gnet closes meanwhile (a failed write) is told Closed once depth is 0.
	depth         int
	pendingClosed []*conn
	// cur is the connection whose OnOpen/OnTraffic is running: closing it is
	// done by returning gnet.Close (closeCur) rather than posting a close.
	cur      *conn
	closeCur bool
}

const (
	tlsBufSize = 16<<10 + 512 // one TLS record's plaintext, plus slack
	zInSize    = 32<<10 + 1   // see inflate
	zOutKeep   = 64 << 10     // zOut larger than this is released after use
)

func newLoop(s *Server, el gnet.EventLoop) *loop {
	lp := &loop{srv: s, el: el}
	lp.wheel.base = time.Now()
	lp.tickFn = gnet.RunnableFunc(lp.tick)
	return lp
}

func (lp *loop) enter() { lp.depth++ }

// leave ends a handler call; at the outermost level it delivers the Closed
// notifications that were deferred meanwhile (including ones those cause).
func (lp *loop) leave() {
	if lp.depth == 1 {
		for i := 0; i < len(lp.pendingClosed); i++ {
			c := lp.pendingClosed[i]
			lp.pendingClosed[i] = nil
			c.callClosed()
		}
		lp.pendingClosed = lp.pendingClosed[:0]
	}
	lp.depth--
}

// tick runs on the loop: fire due timers, then finish drained closes.
func (lp *loop) tick(context.Context) error {
	now := time.Now()
	lp.due = lp.wheel.advance(now, lp.due[:0])
	cur := lp.wheel.cur
	for i, c := range lp.due {
		lp.due[i] = nil
		c.fire(now, cur)
	}
	lp.due = lp.due[:0]

	j := 0
	for _, c := range lp.draining {
		if c.state != stClosing || c.closePosted {
			continue
		}
		if c.gc.OutboundBuffered() == 0 || cur >= c.sysAt {
			c.closeNow()
			continue
		}
		lp.draining[j] = c
		j++
	}
	clear(lp.draining[j:])
	lp.draining = lp.draining[:j]
	lp.watchFlushed()
	return nil
}

func (lp *loop) tlsScratch() []byte {
	if lp.tlsBuf == nil {
		lp.tlsBuf = make([]byte, tlsBufSize)
	}
	return lp.tlsBuf
}

func (lp *loop) zInScratch() []byte {
	if lp.zIn == nil {
		lp.zIn = make([]byte, zInSize)
	}
	return lp.zIn
}

// byteSink is an io.Writer appending to a reusable slice.
type byteSink struct{ b []byte }

func (w *byteSink) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// Timer wheel. One timer entry per connection (conn.tAt), due at the earlier
// of the handler's timer (userAt) and the system deadline (sysAt: the TLS
// handshake timeout). Ticks are 100 ms; a deadline further out than the
// wheel's span stays in its slot and is skipped until its tick comes.
const (
	tickDur    = 100 * time.Millisecond
	wheelSlots = 512 // 51.2 s per turn
	wheelMask  = wheelSlots - 1
)

type wheel struct {
	base  time.Time // tick 0
	cur   int64     // last tick processed
	slots [wheelSlots]*conn
}

// at returns the first tick at or after d from now. Ticks start at 1, so 0
// can mean "not armed".
func (w *wheel) at(d time.Duration) int64 {
	t := int64((time.Since(w.base) + d + tickDur - 1) / tickDur)
	if t <= w.cur {
		t = w.cur + 1
	}
	return t
}

func (w *wheel) insert(c *conn, at int64) {
	head := &w.slots[at&wheelMask]
	c.tAt = at
	c.tPrev = nil
	c.tNext = *head
	if *head != nil {
		(*head).tPrev = c
	}
	*head = c
}

func (w *wheel) remove(c *conn) {
	if c.tAt == 0 {
		return
	}
	if c.tPrev != nil {
		c.tPrev.tNext = c.tNext
	} else {
		w.slots[c.tAt&wheelMask] = c.tNext
	}
	if c.tNext != nil {
		c.tNext.tPrev = c.tPrev
	}
	c.tNext, c.tPrev, c.tAt = nil, nil, 0
}

// advance moves the wheel to now and appends the expired entries to due,
// unlinked. No handler runs here, so the slot walk cannot be disturbed.
func (w *wheel) advance(now time.Time, due []*conn) []*conn {
	target := int64(now.Sub(w.base) / tickDur)
	for w.cur < target {
		w.cur++
		for c := w.slots[w.cur&wheelMask]; c != nil; {
			next := c.tNext
			if c.tAt <= w.cur {
				w.remove(c)
				due = append(due, c)
			}
			c = next
		}
	}
	return due
}
