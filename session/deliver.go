package session

import (
	"sync"
	"sync/atomic"

	"ignis/stanza"
)

// Deliver implements route.Endpoint: it queues st and wakes the stream's
// loop when the queue goes from empty to non-empty, so TLS and zlib always
// run on the owner loop. Over the output cap the stream ends as a slow
// reader. Any goroutine may call it.
func (s *Stream) Deliver(st *stanza.Stanza) bool { return s.enqueue(st, false, nil) }

// Offer implements mod.Resource: Deliver, but refusing (without penalty)
// once half the output cap is pending.
func (s *Stream) Offer(st *stanza.Stanza) bool { return s.enqueue(st, true, nil) }

// OfferConfirmed implements mod.Resource: Offer, and once accepted, done
// tells whether st was confirmed (see offers).
func (s *Stream) OfferConfirmed(st *stanza.Stanza, done func(ok bool)) bool {
	return s.enqueue(st, true, done)
}

// offers tracks stanzas offered with OfferConfirmed until their fate is
// known. Without XEP-0198 a stanza is confirmed once the transport reports
// every byte up to its end taken by the kernel (Transport.Sent); with it,
// once the client acknowledges it (smState.confirms). A stanza whose
// stream ends first is not routed again: done(false) leaves it with its
// owner (offline storage). Only confirmed offers pay for the tracking.
//
// Without XEP-0198, written also holds the live messages (liveMessage)
// written since the kernel last took everything: a message the kernel never
// took when the connection closes is routed again, exactly as an
// unacknowledged one is with XEP-0198 (requeue), and one it took is not.
type offers struct {
	n       atomic.Int32                  // len(queued): lets the ordinary path skip the lock
	queued  map[*stanza.Stanza]func(bool) // guarded by inbox.mu: offered, not yet written
	written []confirm                     // loop-owned: written without SM, oldest first
}

// confirm is a written stanza waiting for its confirmation: the transport
// flushing past mark (bytes), or with SM the client acknowledging mark (hOut).
// Without SM, done is nil for a live message.
type confirm struct {
	st   *stanza.Stanza // with SM: to find it among the unacknowledged
	done func(ok bool)
	mark uint64
}

// unwritten is the mark of a stanza kept before its write and not (yet)
// written: the kernel never passes it.
const unwritten = ^uint64(0)

// writtenSlots is the backing array of written while it is short. It comes
// from a pool when a stanza is written and goes back once the kernel took
// everything: an idle stream holds none, and a delivery allocates nothing.
const writtenSlots = 8

var writtenPool = sync.Pool{New: func() any { return new([writtenSlots]confirm) }}

// keep appends c to written.
func (o *offers) keep(c confirm) {
	if o.written == nil {
		o.written = writtenPool.Get().(*[writtenSlots]confirm)[:0]
	}
	o.written = append(o.written, c)
}

// drop forgets the first n entries of written (settled and zeroed), giving
// the array back once it is empty.
func (o *offers) drop(n int) {
	switch {
	case n == 0:
		return
	case n < len(o.written):
		k := copy(o.written, o.written[n:])
		clear(o.written[k:])
		o.written = o.written[:k]
		return
	}
	if cap(o.written) == writtenSlots {
		writtenPool.Put((*[writtenSlots]confirm)(o.written[:writtenSlots]))
	}
	o.written = nil // a longer array (a burst) goes to the collector
}

// liveMessage reports whether st is a message its user would miss if the
// connection lost it: chat or normal with a body, not a carbon copy. Other
// stanzas are not worth the tracking: a presence is state that the next
// login learns again (RFC 6121 §4.3 probes), an iq answers a request of the
// session that is gone, a chat state or receipt (no body) says nothing
// later, a groupchat message stays in the room's history.
func liveMessage(st *stanza.Stanza) bool {
	if st.Kind != stanza.Message {
		return false
	}
	switch st.Type {
	case stanza.TypeNone, stanza.Normal, stanza.Chat:
	default:
		return false
	}
	// the class is cached on the stanza: the router's hooks (offline
	// storage, carbons) have computed it already
	c := st.Class()
	return c.Has(stanza.ClassBody) && !c.Has(stanza.ClassCarbon)
}

// takeOffer returns and forgets the done of a stanza offered with
// OfferConfirmed and not written yet, or nil.
func (s *Stream) takeOffer(st *stanza.Stanza) func(bool) {
	o := &s.inbox.offers
	if o.n.Load() == 0 {
		return nil
	}
	s.inbox.mu.Lock()
	done := o.queued[st]
	if done != nil {
		delete(o.queued, st)
		o.n.Add(-1)
	}
	s.inbox.mu.Unlock()
	return done
}

// keepWritten records, before it is written without SM, a confirmed offer
// (done) or a live message: kept first, so that a write that ends the
// stream still finds it when the connection is gone. It returns the
// transport's count before the write, for wroteKept.
func (s *Stream) keepWritten(st *stanza.Stanza, done func(bool)) uint64 {
	before, _ := s.tr.Sent()
	s.inbox.offers.keep(confirm{st: st, done: done, mark: unwritten})
	return before
}

// wroteKept marks the stanza kept last as written: it has left once the
// kernel took every byte written up to now. If nothing went out (the write
// ended the stream) it stays unwritten, to be handed back at the end.
func (s *Stream) wroteKept(before uint64) {
	o := &s.inbox.offers
	w, _ := s.tr.Sent()
	if w == before || len(o.written) == 0 {
		return
	}
	o.written[len(o.written)-1].mark = w
	s.tr.WakeWhenFlushed()
}

// settleWritten confirms the offers written without SM that the kernel has
// taken, and forgets the live messages it took. At the end (final: the
// connection is gone, its count is final) what is left the kernel never
// took: the offers fail (their owner keeps them), and the messages, and
// whatever else was kept unwritten, go to back, oldest first.
func (s *Stream) settleWritten(final bool, back func(*stanza.Stanza)) {
	o := &s.inbox.offers
	if len(o.written) == 0 {
		return
	}
	_, flushed := s.tr.Sent()
	i := 0
	for ; i < len(o.written) && o.written[i].mark <= flushed; i++ {
		if done := o.written[i].done; done != nil {
			done(true)
		}
		o.written[i] = confirm{}
	}
	if final {
		for ; i < len(o.written); i++ {
			c := o.written[i]
			o.written[i] = confirm{}
			if c.done != nil {
				c.done(false)
			} else {
				back(c.st)
			}
		}
	}
	o.drop(i)
	if len(o.written) > 0 {
		s.tr.WakeWhenFlushed()
	}
}

// adoptOffers takes the queued offers of a stream this one resumes, with
// its inbox.
func (s *Stream) adoptOffers(offered map[*stanza.Stanza]func(bool)) {
	if len(offered) == 0 {
		return
	}
	in := &s.inbox
	in.mu.Lock()
	if in.offers.queued == nil {
		in.offers.queued = map[*stanza.Stanza]func(bool){}
	}
	for st, done := range offered {
		in.offers.queued[st] = done
	}
	in.offers.n.Store(int32(len(in.offers.queued)))
	in.mu.Unlock()
}

func (s *Stream) enqueue(st *stanza.Stanza, offer bool, done func(bool)) bool {
	in := &s.inbox
	in.mu.Lock()
	if to := in.moved; to != nil {
		in.mu.Unlock()
		return to.enqueue(st, offer, done) // resumed on another stream (sm.go)
	}
	limit := s.cfg.Limits.MaxPendingOut
	switch {
	case in.closed:
		// unbound: whoever routed st looked s up just before; an offer is
		// refused (the offline queue keeps it), a delivery routed again
		in.mu.Unlock()
		if offer {
			return false
		}
		s.cfg.routeLate(s, st)
		return true
	case in.ended || in.overflow:
		// ending: queued for shutdown to route again, up to twice the cap
		if offer || in.bytes+len(st.Bytes()) > 2*limit {
			in.mu.Unlock()
			return false
		}
		in.q = append(in.q, st)
		in.bytes += len(st.Bytes())
		in.mu.Unlock()
		return true
	}
	pending := in.bytes + len(st.Bytes())
	if offer {
		// a bulk delivery waits for the client to read what the transport
		// holds too, or it would trip the slow-reader limit there
		limit /= 2
		pending += int(s.outPending.Load())
	}
	if pending > limit {
		if offer || in.detached {
			// an offer waits: refused without penalty, and retried once the
			// loop refreshed outPending; nobody reads a detached stream:
			// refuse (the router stores the message), do not end it
			wake := !in.detached
			in.mu.Unlock()
			if wake {
				s.tr.Wake()
			}
			return false
		}
		// a slow reader: the stream ends, and st with the rest of the
		// queue is routed again at shutdown
		in.overflow = true
		in.q = append(in.q, st)
		in.bytes += len(st.Bytes())
		in.mu.Unlock()
		s.tr.Wake()
		return true
	}
	wake := len(in.q) == 0
	in.q = append(in.q, st)
	in.bytes += len(st.Bytes())
	if done != nil {
		if in.offers.queued == nil {
			in.offers.queued = map[*stanza.Stanza]func(bool){}
		}
		in.offers.queued[st] = done
		in.offers.n.Add(1)
	}
	in.mu.Unlock()
	if wake {
		s.tr.Wake()
	}
	return true
}

// takeQueued empties the inbox of a stream that left the route table; later
// deliveries are routed again (enqueue).
func (s *Stream) takeQueued() []*stanza.Stanza {
	s.inbox.mu.Lock()
	defer s.inbox.mu.Unlock()
	s.inbox.closed = true
	q := s.inbox.q
	s.inbox.q, s.inbox.bytes = nil, 0
	return q
}

// Replaced implements route.Endpoint: a newer session bound this resource.
func (s *Stream) Replaced() {
	s.inbox.mu.Lock()
	s.inbox.replaced = true
	id := s.inbox.detachedID()
	s.inbox.mu.Unlock()
	if id != "" {
		s.cfg.expireSoon(id, s) // a detached stream ends now (sm.go)
		return
	}
	s.tr.Wake()
}

// Close ends the stream with se after the stanzas already delivered (an
// administrator or a feature ending a session, e.g. a deleted account). Any
// goroutine may call it.
func (s *Stream) Close(se *stanza.StreamError) {
	s.inbox.mu.Lock()
	if to := s.inbox.moved; to != nil {
		s.inbox.mu.Unlock()
		to.Close(se)
		return
	}
	if s.inbox.ending == nil {
		s.inbox.ending = se
	}
	id := s.inbox.detachedID()
	s.inbox.mu.Unlock()
	if id != "" {
		s.cfg.expireSoon(id, s)
		return
	}
	s.tr.Wake()
}

// Wakeup implements Handler: write out what was delivered. It is also how
// the two streams of a XEP-0198 handover (sm.go) signal each other: the old
// one lets go of its session, the new one then completes the resume.
func (s *Stream) Wakeup() {
	if s.hand != nil && !s.handoverDone(false) {
		return // the old stream has not let go yet
	}
	in := &s.inbox
	in.mu.Lock()
	if in.takeover != nil && !in.replaced && !in.overflow && in.ending == nil && s.resumable() {
		s.handOver() // unlocks in.mu; what is queued stays for the new stream
		return
	}
	if s.state == stClosed {
		in.mu.Unlock() // what is queued stays for shutdown or the stream resuming this one
		return
	}
	replaced, overflow, ending := in.replaced, in.overflow, in.ending
	var q []*stanza.Stanza
	if !overflow && !replaced && (ending == nil || ending.Cond != stanza.SystemShutdown) {
		// a slow reader, a replaced session or a server stopping gets no
		// more: the queue is routed again when it ends (requeue)
		q = in.q
		in.q, in.bytes = nil, 0
	}
	in.mu.Unlock()
	s.settleWritten(false, nil)
	s.smAnswerWaiting() // a fence may have completed stanzas an <r/> waits for (sm.go)
	if replaced {
		// RFC 6120 §7.7.2.2: the old session ends with a conflict stream error;
		// it is no longer in the table, and the resource stays online in the
		// new session, so no unavailable presence goes out for it
		s.pres.Store(0)
		s.fail(stanza.StreamErr(stanza.StreamConflict, "replaced by a new session"))
		return
	}
	s.deliverQueued(q)
	if s.state == stClosed {
		return
	}
	s.outPending.Store(int64(s.tr.Pending()))
	if overflow {
		s.fail(stanza.StreamErr(stanza.StreamPolicyViolation, "too much output pending for a slow reader"))
		return
	}
	if ending != nil {
		s.fail(ending)
	}
}

// deliverQueued writes out delivered stanzas, holding back what can wait
// for an inactive client (csi.go).
// If writing ends the stream, what is left is routed again (sm.go), as
// unacknowledged stanzas are, after what was written before it.
func (s *Stream) deliverQueued(q []*stanza.Stanza) {
	for i, st := range q {
		q[i] = nil
		if s.hold(st) {
			continue
		}
		s.flushHeld() // what was held goes out before anything that could not wait
		s.writeStanza(st)
		if s.state == stClosed {
			for _, rest := range q[i+1:] {
				s.handBack(rest)
			}
			return
		}
	}
}

// lateQueue holds deliveries that reached a stream after it left the route
// table, to be routed again off the sender's loop (routing one may deliver
// to a stream of that loop). One goroutine at a time drains it, started on
// demand and counted in Config.late, so they keep their order (RFC 6120
// §10.1), a burst costs no goroutine each, and Shutdown waits for them.
type lateQueue struct {
	mu      sync.Mutex
	q       []lateDelivery
	running bool
}

type lateDelivery struct {
	s  *Stream
	st *stanza.Stanza
}

// routeLate queues st, delivered to s after s was unbound, to be routed again.
func (c *Config) routeLate(s *Stream, st *stanza.Stanza) {
	lq := &c.lateQ
	lq.mu.Lock()
	lq.q = append(lq.q, lateDelivery{s, st})
	start := !lq.running
	if start {
		lq.running = true
		c.late.Add(1)
	}
	lq.mu.Unlock()
	if start {
		go c.drainLate()
	}
}

func (c *Config) drainLate() {
	defer c.late.Done()
	lq := &c.lateQ
	for {
		lq.mu.Lock()
		if len(lq.q) == 0 {
			lq.q, lq.running = nil, false
			lq.mu.Unlock()
			return
		}
		d := lq.q[0]
		lq.q[0] = lateDelivery{}
		lq.q = lq.q[1:]
		lq.mu.Unlock()
		d.s.reroute(d.st)
	}
}

// expireSoon ends detached stream s off the caller's goroutine, which may
// hold what the expiry takes (its unacknowledged messages are routed
// again); Shutdown waits for it, so they reach offline storage before the
// store closes.
func (c *Config) expireSoon(id string, s *Stream) {
	c.late.Add(1)
	go func() {
		defer c.late.Done()
		c.resume.expire(id, s)
	}()
}
