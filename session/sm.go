package session

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"ignis/jid"
	"ignis/route"
	"ignis/stanza"
	"ignis/xmlscan"
)

// Stream Management (XEP-0198): acknowledgements of stanzas in both
// directions, and resumption of a stream whose TCP connection broke.
//
// Counting. Once <enable/> is answered, every stanza the client sends counts
// in hIn, and every stanza written to the client is counted and kept in an
// unacknowledged ring until the client's <a h='…'/> covers it. Counters are
// uint32 and wrap (XEP-0198 §5: h is modulo 2^32).
//
// Durability. A stanza counts in h only once its handling is durable where
// it is stored (an offline message, an archived one, a roster change):
// handlers submit synced writes to the store's writer on this loop and
// return before they commit. A stanza during whose handling nothing was
// submitted is complete at once; otherwise a fence follows it to the writer,
// which commits in submission order, and the stanza is complete when the
// fence is reported. h advances only over the prefix of complete stanzas,
// whatever order the loop and the writer finish in; an <r/> that arrives
// while stanzas before it are pending is answered once they complete.
//
// Detaching. When the connection of a resumable stream is lost without
// </stream:stream>, the stream is not shut down: it stays bound in the route
// table (deliveries keep queueing in its inbox, up to the output cap), with
// its JID, presence and unacknowledged stanzas, and is put in the Config's
// resumption registry. From then on its loop never touches it again; its
// loop-owned fields belong to whoever takes it out of the registry: a new
// stream resuming it, or its expiry.
//
// Handover. A client often resumes before the server noticed that the old
// connection is dead (a phone changed networks). The old stream is then
// still attached, and bound in the route table: the new stream finds it
// there by resumption id, among the resources of its own bare JID, and
// asks it to let go (inbox.takeover, then a Wake). On its own loop the old
// stream closes its connection and detaches exactly as if the connection
// had dropped, waking the new stream, which takes it from the registry and
// completes the resume. Until then the new stream holds its input, for
// handoverWait at most; then it answers <failed/> as for an unknown id.
//
// Expiry, and any end of a stream with unacknowledged stanzas: the stream
// shuts down as usual, then unacknowledged messages are routed again to the
// user (another resource, or offline storage), iq requests are answered with
// an error to their sender, presences are dropped.

// Stream Management namespaces; replies use the one the client used.
const (
	NSSM3 = "urn:xmpp:sm:3"
	NSSM2 = "urn:xmpp:sm:2"
)

// smAckEvery: the server asks for an acknowledgement (<r/>) once this many
// stanzas are unacknowledged, or smAckDelay after one went unacknowledged.
const (
	smAckEvery = 5
	smAckDelay = 5 * time.Second
)

// handoverWait bounds how long a <resume/> waits for the old stream, still
// attached to its connection, to let go of the session.
const handoverWait = 5 * time.Second

// SMConfig configures XEP-0198. Zero fields take defaults.
type SMConfig struct {
	ResumeTimeout time.Duration // how long a detached stream waits for a resume; default 300 s
	MaxUnacked    int           // unacknowledged stanzas allowed; default 1000, past it <resource-constraint/>
}

func (c *SMConfig) ensureDefaults() {
	if c.ResumeTimeout == 0 {
		c.ResumeTimeout = 300 * time.Second
	}
	if c.MaxUnacked == 0 {
		c.MaxUnacked = 1000
	}
}

// smState is a stream's XEP-0198 state, nil until <enable/>. It is owned by
// the stream's loop while attached; once detached, by whoever took the
// stream out of the resumption registry.
type smState struct {
	ns      string // namespace the client enabled with
	id      string // resumption id; "" when resumption was not requested
	hIn     uint32 // stanzas received from the client
	hOut    uint32 // stanzas sent to the client
	unacked ring   // the last hOut-acked stanzas sent, oldest first
	// confirms: the confirmed offers among unacked (deliver.go), in order;
	// each is confirmed when the client's h reaches its mark
	confirms []confirm
	asked    bool // our <r/> is outstanding

	// Durable completion of received stanzas (see Durability above).
	hDone  uint32   // received stanzas whose handling is complete: the h we report
	fences []uint32 // from fhead on: per outstanding fence, the hIn it completes
	fhead  int
	taken  uint32        // fences whose completion the loop has applied
	fired  atomic.Uint32 // fences reported by the writer (its goroutine)
	// waiting <r/>s, oldest first from rhead: each is answered once the
	// stanzas received before it are complete
	rWait []waitingR
	rhead int
	// owner is the stream the session is on, woken when a fence completes.
	owner     atomic.Pointer[Stream]
	fenceDone func(error)
}

// waitingR is n <r/>s that came when hIn was at.
type waitingR struct{ at, n uint32 }

// maxWaitingR bounds the waiting <r/> entries; past it a new <r/> joins the
// last entry (answered a little later, never dropped).
const maxWaitingR = 64

// smRequested handles the client's <r/>: answered now when every stanza
// received is complete, else once they are.
func (s *Stream) smRequested() {
	m := s.sm
	switch w := m.rWait[m.rhead:]; {
	case len(w) > 0 && w[len(w)-1].at == m.hIn:
		w[len(w)-1].n++
	case len(w) >= maxWaitingR:
		w[len(w)-1].at, w[len(w)-1].n = m.hIn, w[len(w)-1].n+1
	default:
		m.rWait = append(m.rWait, waitingR{at: m.hIn, n: 1})
	}
	s.smAnswerWaiting()
}

// smAnswerWaiting answers the waiting <r/>s whose stanzas are complete, in
// order. It runs on the owner's loop.
func (s *Stream) smAnswerWaiting() {
	m := s.sm
	if m == nil || s.state != stBound {
		return
	}
	m.collect()
	for m.rhead < len(m.rWait) {
		w := m.rWait[m.rhead]
		if m.hDone-w.at >= 1<<31 { // wraps: hDone is before w.at
			return
		}
		for range w.n {
			s.write(smAnswer(m.ns, m.hDone))
		}
		m.rhead++
	}
	m.rWait, m.rhead = m.rWait[:0], 0
}

// Durability is the store's writer as Stream Management sees it.
type Durability interface {
	// Submitted counts the writes ever submitted.
	Submitted() uint64
	// Fence calls done once every write submitted before it is on disk.
	Fence(done func(error))
}

func newSMState(ns string, owner *Stream) *smState {
	m := &smState{ns: ns}
	m.owner.Store(owner)
	m.fenceDone = func(error) {
		// on the writer goroutine: count it, and let the owner's loop apply it
		m.fired.Add(1)
		if s := m.owner.Load(); s != nil {
			s.tr.Wake()
		}
	}
	return m
}

// handled records that the stanza just received (hIn) was handled; mark is
// d.Submitted() from before its handling.
func (m *smState) handled(d Durability, mark uint64) {
	m.collect()
	switch {
	case d != nil && d.Submitted() != mark:
		m.fences = append(m.fences, m.hIn)
		d.Fence(m.fenceDone)
	case m.fhead < len(m.fences):
		// nothing to wait for of its own: complete with the last fence
		m.fences[len(m.fences)-1] = m.hIn
	default:
		m.hDone = m.hIn
	}
}

// collect applies the fences the writer has reported, in order.
func (m *smState) collect() {
	for n := m.fired.Load() - m.taken; n > 0; n-- {
		if t := m.fences[m.fhead]; t-m.hDone < 1<<31 { // never backwards (see adopt)
			m.hDone = t
		}
		m.fhead++
		m.taken++
	}
	if m.fhead == len(m.fences) {
		m.fences, m.fhead = m.fences[:0], 0
	}
}

// smStanza handles a stanza on a stream with Stream Management on.
func (s *Stream) smStanza(f *xmlscan.Frame) error {
	m := s.sm
	m.hIn++
	d := s.cfg.Durable
	var mark uint64
	if d != nil {
		mark = d.Submitted()
	}
	err := s.stanza(f)
	if s.sm == m {
		m.handled(d, mark)
		s.smAnswerWaiting()
	}
	return err
}

// acked is the count the client last acknowledged.
func (m *smState) acked() uint32 { return m.hOut - uint32(m.unacked.n) }

// ack applies the client's h: it releases what h covers and reports false
// when h acknowledges stanzas never sent.
func (m *smState) ack(h uint32) bool {
	n := h - m.acked() // wraps: the distance from the last acknowledged count
	if n > uint32(m.unacked.n) {
		return false
	}
	for range n {
		m.unacked.pop()
	}
	m.unacked.shrink()
	acked, i := m.acked(), 0
	for ; i < len(m.confirms) && int32(acked-uint32(m.confirms[i].mark)) >= 0; i++ {
		m.confirms[i].done(true)
		m.confirms[i] = confirm{}
	}
	if m.confirms = m.confirms[i:]; len(m.confirms) == 0 {
		m.confirms = nil
	}
	return true
}

// sent records st as written to the client.
func (m *smState) sent(st *stanza.Stanza) {
	m.hOut++
	m.unacked.push(st)
}

// ring is a FIFO of stanzas that reuses its array: no allocation per
// stanza once it has grown to the working size.
type ring struct {
	buf  []*stanza.Stanza // len is a power of two, or 0
	head int              // index of the oldest
	n    int              // number queued
}

func (r *ring) push(st *stanza.Stanza) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = st
	r.n++
}

func (r *ring) grow() {
	size := 2 * len(r.buf)
	if size == 0 {
		size = 16
	}
	buf := make([]*stanza.Stanza, size)
	for i := range r.n {
		buf[i] = r.at(i)
	}
	r.buf, r.head = buf, 0
}

// at returns the i-th oldest stanza.
func (r *ring) at(i int) *stanza.Stanza { return r.buf[(r.head+i)&(len(r.buf)-1)] }

func (r *ring) pop() *stanza.Stanza {
	st := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	return st
}

// shrink releases a large array once the ring is empty, so an idle stream
// holds little.
func (r *ring) shrink() {
	if r.n == 0 {
		r.head = 0
		if len(r.buf) > 64 {
			r.buf = nil
		}
	}
}

// resumable is the registry of detached streams waiting to be resumed, by
// resumption id. Taking a stream out of it (take, or the expiry timer) is
// what hands over the detached stream's loop-owned fields.
//
// Lock order: a stream's inbox.mu, then mu (a stream registers itself while
// holding its inbox lock, so that a stream waiting to take it over sees it
// registered as soon as it sees inbox.takeover cleared). Nothing takes an
// inbox lock while holding mu.
type resumable struct {
	mu      sync.Mutex
	streams map[string]*detached // guarded by mu
}

type detached struct {
	s     *Stream
	bare  jid.JID
	timer *time.Timer
}

// put registers a detached stream and starts its expiry timer.
func (r *resumable) put(id string, s *Stream, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.streams == nil {
		r.streams = map[string]*detached{}
	}
	e := &detached{s: s, bare: s.jid.Bare()}
	e.timer = time.AfterFunc(d, func() { r.expire(id, s) })
	r.streams[id] = e
}

// take removes and returns the detached stream id of user bare, or nil.
func (r *resumable) take(id string, bare jid.JID) *Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.streams[id]
	if e == nil || !e.bare.Equal(bare) {
		return nil
	}
	delete(r.streams, id)
	e.timer.Stop()
	return e.s
}

// expire ends a detached stream now, unless it was taken already.
func (r *resumable) expire(id string, s *Stream) {
	r.mu.Lock()
	e := r.streams[id]
	if e == nil || e.s != s {
		r.mu.Unlock()
		return
	}
	delete(r.streams, id)
	e.timer.Stop()
	r.mu.Unlock()
	s.expire()
}

// ExpireDetached ends every detached stream now (at server shutdown): their
// unacknowledged messages go to offline storage while it is still open.
func (c *Config) ExpireDetached() {
	r := &c.resume
	r.mu.Lock()
	var all []*detached
	for id, e := range r.streams {
		delete(r.streams, id)
		e.timer.Stop()
		all = append(all, e)
	}
	r.mu.Unlock()
	for _, e := range all {
		e.s.expire()
	}
}

// smElement handles a Stream Management nonza. It reports false for an
// element that is not one.
func (s *Stream) smElement(f *xmlscan.Frame, ns, local string) (bool, error) {
	if ns != NSSM3 && ns != NSSM2 {
		return false, nil
	}
	switch {
	case local == "enable" && s.state == stBound && s.sm == nil:
		s.smEnable(f, ns)
	case local == "enable" || (local == "resume" && s.state == stBound):
		s.write(smFailed(ns, "unexpected-request"))
	case local == "resume" && s.state == stAuthed:
		return true, s.smResume(f, ns)
	case local == "r" && s.state == stBound && s.sm != nil:
		s.smRequested()
	case local == "a" && s.state == stBound && s.sm != nil:
		h, ok := parseH(f)
		if !ok {
			return true, stanza.StreamErr(stanza.BadFormat, "h must be an unsigned 32-bit integer")
		}
		if !s.sm.ack(h) {
			return true, handledTooHigh(h, s.sm.hOut)
		}
		s.sm.asked = false
		if s.sm.unacked.n > 0 {
			s.tr.SetTimer(smAckDelay)
		}
	default:
		return false, nil
	}
	return true, nil
}

// handledTooHigh is the stream error for an acknowledgement of more stanzas
// than were sent (XEP-0198 §4): <undefined-condition/> with the count the
// client gave and the count sent. The element is defined in sm:3 only, so
// an sm:2 stream gets it in sm:3 too.
func handledTooHigh(h, sent uint32) *stanza.StreamError {
	var b stanza.Builder
	b.Element("handled-count-too-high", "", "xmlns", NSSM3,
		"h", strconv.FormatUint(uint64(h), 10), "send-count", strconv.FormatUint(uint64(sent), 10))
	return stanza.StreamErrApp(stanza.StreamUndefinedCondition, "handled count too high", &b)
}

func parseH(f *xmlscan.Frame) (uint32, bool) {
	v, ok := f.Attr("h")
	if !ok {
		return 0, false
	}
	h, err := strconv.ParseUint(string(v), 10, 32)
	return uint32(h), err == nil
}

// smEnable answers <enable/> (XEP-0198 §3).
func (s *Stream) smEnable(f *xmlscan.Frame, ns string) {
	s.sm = newSMState(ns, s)
	var b stanza.Builder
	if v, _ := f.Attr("resume"); string(v) == "true" || string(v) == "1" {
		var id [18]byte
		_, _ = rand.Read(id[:])
		s.sm.id = hex.EncodeToString(id[:])
		s.inbox.mu.Lock()
		s.inbox.resumeID = s.sm.id // a handover finds the stream by it
		s.inbox.mu.Unlock()
		b.Start("enabled", "xmlns", ns, "id", s.sm.id, "resume", "true",
			"max", strconv.Itoa(int(s.cfg.SM.ResumeTimeout/time.Second)))
	} else {
		b.Start("enabled", "xmlns", ns)
	}
	s.write(b.Bytes())
}

func smAnswer(ns string, h uint32) []byte {
	var b stanza.Builder
	b.Start("a", "xmlns", ns, "h", strconv.FormatUint(uint64(h), 10))
	return b.Bytes()
}

func smFailed(ns, cond string) []byte {
	var b stanza.Builder
	b.Start("failed", "xmlns", ns).Element(cond, "", "xmlns", stanza.NSStanzas)
	return b.Bytes()
}

// writeStanza writes a stanza to the client, counting it if Stream
// Management is on. It is kept as unacknowledged before it is written, so a
// write that ends the stream still finds it when the stream shuts down.
func (s *Stream) writeStanza(st *stanza.Stanza) {
	if s.state == stClosed {
		return
	}
	s.cfg.Stats.StanzasOut[kindIndex(st.Kind)].Add(1)
	done := s.takeOffer(st) // nil but for confirmed offers (deliver.go)
	var before uint64
	kept := false
	if m := s.sm; m != nil {
		m.sent(st)
		if done != nil {
			m.confirms = append(m.confirms, confirm{st, done, uint64(m.hOut)})
		}
		if m.unacked.n > s.cfg.SM.MaxUnacked {
			// bounded memory; st and the rest are routed again at shutdown
			s.fail(stanza.StreamErr(stanza.StreamResourceConstraint, "too many unacknowledged stanzas"))
			return
		}
		if m.unacked.n == 1 {
			s.tr.SetTimer(smAckDelay)
		}
	} else if done != nil || liveMessage(st) {
		// without SM the transport's count tells what the kernel took (deliver.go)
		before, kept = s.keepWritten(st, done), true
	}
	s.write(st.Bytes())
	if kept {
		s.wroteKept(before)
	}
	if m := s.sm; m != nil && s.state != stClosed && !m.asked && m.unacked.n >= smAckEvery {
		s.smRequest()
	}
}

func (s *Stream) smRequest() {
	s.sm.asked = true
	s.write([]byte("<r xmlns='" + s.sm.ns + "'/>"))
}

// smTimer: a stanza went unacknowledged for smAckDelay.
func (s *Stream) smTimer() {
	if m := s.sm; m != nil && m.unacked.n > 0 && !m.asked {
		s.smRequest()
	}
}

// resumable: the stream detaches, rather than ends, when its connection is lost.
func (s *Stream) resumable() bool { return s.state == stBound && s.sm != nil && s.sm.id != "" }

// detach is Closed for a resumable stream: the connection is gone but the
// session stays, waiting for a resume. After it the loop never touches s.
func (s *Stream) detach() {
	s.inbox.mu.Lock()
	if s.inbox.ending != nil {
		// the server was ending the session (shutdown, kick, a deleted
		// account) when the connection dropped: there is nothing to resume
		s.inbox.mu.Unlock()
		s.state = stClosed
		s.shutdown(true)
		return
	}
	s.register()
}

// register detaches s into the resumption registry; s.inbox.mu is held and
// register releases it. A stream waiting to take s over (a handover) is
// woken: it finds s in the registry.
func (s *Stream) register() {
	in := &s.inbox
	// what went out before SM was enabled is judged now: a resume resends
	// only what SM counted, and then the messages the kernel never took
	// go out again, before what was delivered since
	var back []*stanza.Stanza
	s.settleWritten(true, func(st *stanza.Stanza) { back = append(back, st) })
	if len(back) > 0 {
		for _, st := range back {
			in.bytes += len(st.Bytes())
		}
		in.q = append(back, in.q...)
	}
	id := s.sm.id
	s.state = stClosed
	s.scan.Reset()
	in.detached = true
	taker := in.takeover
	in.takeover = nil
	s.cfg.resume.put(id, s, s.cfg.SM.ResumeTimeout)
	in.mu.Unlock()
	// from here on s belongs to whoever takes it from the registry
	s.cfg.Stats.SMDetached.Add(1)
	if taker != nil {
		taker.tr.Wake()
	}
}

// expire ends a detached stream; the caller took it from the registry.
func (s *Stream) expire() {
	s.inbox.mu.Lock()
	s.inbox.detached = false
	s.inbox.mu.Unlock()
	s.shutdown(true)
	s.cfg.Stats.SMExpired.Add(1)
}

// requeue routes again, after the stream left the route table and its
// connection is gone, in order: what the kernel never took of what was
// written without XEP-0198, what the client never acknowledged with it,
// then what was still in the inbox. It is the one way back to the router
// for everything delivered to a session that ends.
func (s *Stream) requeue(queued []*stanza.Stanza) {
	untaken, unacked := 0, 0
	s.settleWritten(true, func(st *stanza.Stanza) {
		untaken++
		s.reroute(st)
	})
	if m := s.sm; m != nil {
		s.sm = nil
		unacked = m.unacked.n
		for m.unacked.n > 0 {
			st := m.unacked.pop()
			if len(m.confirms) > 0 && m.confirms[0].st == st {
				// a confirmed offer: its owner keeps it (deliver.go)
				m.confirms[0].done(false)
				m.confirms = m.confirms[1:]
				continue
			}
			s.reroute(st)
		}
		for _, c := range m.confirms {
			c.done(false)
		}
	}
	for _, st := range queued {
		s.reroute(st)
	}
	if untaken+unacked+len(queued) > 0 {
		s.cfg.Logger.Info("undelivered output routed again", "jid", s.jid.String(),
			"untaken", untaken, "unacked", unacked, "queued", len(queued))
	}
}

// reroute gives one undelivered stanza another chance: a message goes to
// the user again (another resource, or offline storage), an iq request is
// answered with an error, anything else is dropped.
func (s *Stream) reroute(st *stanza.Stanza) {
	if done := s.takeOffer(st); done != nil {
		done(false) // a confirmed offer that was never written: its owner keeps it
		return
	}
	// a stanza shared by many receivers (a room's broadcast) carries no
	// 'to': it was for this session, whose address the router needs now
	to := st.To
	if to.IsZero() {
		to = s.jid
	}
	switch st.Kind {
	case stanza.Message:
		switch st.Type {
		case stanza.TypeNone, stanza.Normal, stanza.Chat:
		default:
			return
		}
		if isCarbon(st) {
			return // a copy of a message the user has elsewhere (XEP-0280)
		}
		s.cfg.Router.SendTo(to, st)
	case stanza.IQ:
		if st.Type == stanza.Get || st.Type == stanza.Set {
			if reply := st.WithAddrs(st.From, to).ErrorReply(stanza.Err(stanza.ServiceUnavailable)); reply != nil {
				s.cfg.Router.Send(reply)
			}
		}
	}
}

const nsCarbons = "urn:xmpp:carbons:2"

func isCarbon(st *stanza.Stanza) bool {
	it := st.Elem().Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		if string(c.NS()) == nsCarbons {
			return true
		}
	}
	return false
}

// smResume answers <resume/> on an authenticated stream (XEP-0198 §5): it
// adopts the session of the stream previd names, if it belongs to the same
// user. A detached stream is adopted at once. A stream still attached to its
// connection is asked to let go first (a handover): the resume then waits,
// holding later input, until that stream wakes this one (handoverDone).
func (s *Stream) smResume(f *xmlscan.Frame, ns string) error {
	prev, _ := f.Attr("previd")
	h, ok := parseH(f)
	if !ok {
		return stanza.StreamErr(stanza.BadFormat, "h must be an unsigned 32-bit integer")
	}
	id := string(prev)
	if id == "" {
		s.write(smFailed(ns, "item-not-found"))
		return nil
	}
	if old := s.cfg.resume.take(id, s.jid.Bare()); old != nil {
		return s.adopt(old, ns, h)
	}
	old, detached := s.askTakeover(id)
	switch {
	case old != nil:
		s.hand = &handover{old: old, id: id, ns: ns, h: h}
		// the wait takes the one timer: it ends by the negotiation deadline
		// (if that passed, at the next tick)
		s.tr.SetTimer(max(min(handoverWait, s.negotiationLeft()), time.Millisecond))
		return nil
	case detached:
		// it lost its connection between take and askTakeover
		if old := s.cfg.resume.take(id, s.jid.Bare()); old != nil {
			return s.adopt(old, ns, h)
		}
	}
	s.write(smFailed(ns, "item-not-found"))
	return nil
}

// adopt takes over the session of old, a detached stream taken from the
// registry, and completes the resume.
func (s *Stream) adopt(old *Stream, ns string, h uint32) error {
	// old is ours now: take its inbox and send later deliveries our way
	old.inbox.mu.Lock()
	queued := old.inbox.q
	old.inbox.q, old.inbox.bytes = nil, 0
	old.inbox.detached = false
	old.inbox.moved = s
	offered := old.inbox.offers.queued
	old.inbox.offers.queued = nil
	old.inbox.offers.n.Store(0)
	old.inbox.mu.Unlock()

	s.jid = old.jid
	s.markBound()
	if !s.cfg.Router.Table().Swap(old, s) {
		// replaced by a new bind meanwhile: the old session is over
		s.jid = old.jid.Bare()
		old.inbox.mu.Lock()
		old.inbox.moved = nil
		old.inbox.q = queued
		old.inbox.offers.queued = offered
		old.inbox.offers.n.Store(int32(len(offered)))
		old.inbox.mu.Unlock()
		old.expire()
		s.write(smFailed(ns, "item-not-found"))
		return nil
	}
	s.cfg.strangers.remove(s) // the session table lists it now (shutdown.go)
	s.adoptOffers(offered)
	s.pres.Store(old.pres.Load())
	s.last.Store(old.last.Load())
	s.csi, old.csi = old.csi, nil
	s.sm, old.sm = old.sm, nil
	s.sm.ns, s.sm.asked = ns, false
	s.sm.owner.Store(s)
	s.sm.collect()
	s.sm.rWait, s.sm.rhead = s.sm.rWait[:0], 0 // asked on the old connection: <resumed/> answers them
	// <resumed/> must count what the client will not resend, so it reports
	// every stanza received. Fences still out then (only when a handover
	// follows the last stanza within a commit's time) complete shortly.
	s.sm.hDone = s.sm.hIn
	s.inbox.mu.Lock()
	s.inbox.resumeID = s.sm.id // the session can be resumed, or handed over, again
	s.inbox.mu.Unlock()
	s.state = stBound
	s.connBound()
	s.tr.SetTimer(0)
	if !s.sm.ack(h) {
		return handledTooHigh(h, s.sm.hOut)
	}
	s.cfg.Stats.SMResumed.Add(1)
	var b stanza.Builder
	b.Start("resumed", "xmlns", ns, "previd", s.sm.id, "h", strconv.FormatUint(uint64(s.sm.hDone), 10))
	s.write(b.Bytes())
	// resend what was not acknowledged, then what arrived meanwhile
	m := s.sm
	for i := range m.unacked.n {
		s.write(m.unacked.at(i).Bytes())
		if s.state == stClosed {
			return errClosed
		}
	}
	if m.unacked.n > 0 {
		s.tr.SetTimer(smAckDelay)
	}
	s.deliverQueued(queued)
	if s.state == stClosed {
		return errClosed
	}
	return nil
}

// handover is a resume waiting for the old stream, still attached to its
// connection, to let go of the session. Loop-owned by the resuming stream.
type handover struct {
	old    *Stream  // asked to let go: its inbox.takeover is the resuming stream
	id     string   // the resumption id (previd)
	ns     string   // the namespace of the <resume/>
	h      uint32   // the client's count
	held   [][]byte // input that came meanwhile, each element standalone
	size   int      // bytes in held
	closed bool     // </stream:stream> came after held
}

// askTakeover finds the attached stream of the same user with resumption id
// id and asks it to let go of its session. It reports detached when that
// stream is detached already (it is in the registry then).
func (s *Stream) askTakeover(id string) (old *Stream, detached bool) {
	s.cfg.Router.Table().Resources(s.jid.Bare(), func(e route.Endpoint) bool {
		o, ok := e.(*Stream)
		if !ok || o == s || o.cfg != s.cfg {
			return true
		}
		in := &o.inbox
		in.mu.Lock()
		defer in.mu.Unlock()
		if in.resumeID != id {
			return true
		}
		switch {
		case in.detached:
			detached = true
		case in.ended || in.moved != nil || in.replaced || in.overflow || in.ending != nil || in.takeover != nil:
			// ending anyway, or another resume got there first
		default:
			in.takeover = s
			old = o
		}
		return false
	})
	if old != nil {
		old.tr.Wake()
	}
	return old, detached
}

// handOver runs on the loop of a stream that another one asked to let go
// of its session (inbox.takeover), with s.inbox.mu held; it releases it.
// The connection is closed and the stream detaches as if it had dropped,
// keeping its unacknowledged stanzas and its inbox for the new stream.
func (s *Stream) handOver() {
	// XEP-0198 §5 says the old stream SHOULD get a <conflict/> stream error, which tells a client still reading it why (Prosody just closes it).
	se := stanza.StreamErr(stanza.StreamConflict, "the session was resumed on another connection")
	final := s.framing().AppendClose(s.framing().AppendError(nil, se))
	s.cfg.Logger.Debug("stream handed over", "jid", s.jid.String())
	tr := s.tr
	tr.SetTimer(0)
	s.register() // s is not ours any more; tr still is
	tr.Close(final)
}

// monoBase makes mono a monotonic clock: time.Since reads the monotonic
// reading, so a wall clock step moves no deadline.
var monoBase = time.Now()

func mono() int64 { return int64(time.Since(monoBase)) }

// negotiationLeft is the time left until the negotiation deadline set at
// accept (pre_auth_idle); zero or less once it passed.
func (s *Stream) negotiationLeft() time.Duration { return time.Duration(s.negBy - mono()) }

// handoverDone runs when a resume waiting for a handover is woken (timeout
// false) or its wait is over (timeout true). It reports false if the old
// stream still has not let go and the resume goes on waiting. Otherwise the
// resume completes or fails, and the input held meanwhile is processed.
func (s *Stream) handoverDone(timeout bool) bool {
	h := s.hand
	in := &h.old.inbox
	in.mu.Lock()
	waiting := in.takeover == s
	if waiting && timeout {
		in.takeover = nil
	}
	in.mu.Unlock()
	if waiting && !timeout {
		return false
	}
	s.hand = nil
	var err error
	var old *Stream
	if !waiting {
		// the old stream let go (or ended): if it let go, it is registered
		old = s.cfg.resume.take(h.id, s.jid.Bare())
	}
	if old != nil {
		err = s.adopt(old, h.ns, h.h)
	} else {
		s.write(smFailed(h.ns, "item-not-found"))
		// back to the deadline from accept: a failed resume gives no more time
		if left := s.negotiationLeft(); left > 0 {
			s.tr.SetTimer(left)
		} else {
			err = stanza.StreamErr(stanza.ConnectionTimeout, "")
		}
	}
	if err == nil {
		err = s.replay(h)
	}
	if err != nil {
		s.inputError(err)
	}
	return true
}

// cancelHandover gives up a waiting resume (the stream is ending).
func (s *Stream) cancelHandover() {
	h := s.hand
	s.hand = nil
	in := &h.old.inbox
	in.mu.Lock()
	if in.takeover == s {
		in.takeover = nil
	}
	in.mu.Unlock()
}

// holdInput keeps an element that arrived while a resume waits for a
// handover, standalone (with the stream header's namespace declarations it
// uses), to be processed after it. Held input is bounded by the stanza size
// limit.
func (s *Stream) holdInput(f *xmlscan.Frame) error {
	own, _, _ := f.Standalone()
	h := s.hand
	h.size += len(own)
	if h.size > s.cfg.Limits.MaxStanzaBytes {
		return stanza.StreamErr(stanza.StreamPolicyViolation, "too much input while the session is handed over")
	}
	h.held = append(h.held, own)
	return nil
}

// replay processes the input held during a handover, in order. A replayed
// <resume/> that waits in turn holds the rest again.
func (s *Stream) replay(h *handover) error {
	for i, raw := range h.held {
		if s.state == stClosed {
			return errClosed
		}
		if s.hand != nil {
			for _, rest := range h.held[i:] {
				s.hand.held = append(s.hand.held, rest)
				s.hand.size += len(rest)
			}
			s.hand.closed = h.closed
			return nil
		}
		e, err := xmlscan.ParseElem(raw, stanza.NSClient)
		if err != nil {
			return stanza.StreamErr(stanza.StreamInternalServerError, "") // unreachable: the scanner framed it
		}
		if err := (*sink)(s).Element(&xmlscan.Frame{Elem: e}); err != nil {
			return err
		}
	}
	switch {
	case s.state == stClosed:
		return errClosed
	case s.hand != nil:
		s.hand.closed = h.closed
		return nil
	case h.closed:
		return (*sink)(s).StreamClose()
	}
	return nil
}

// inputError handles an error of input processed outside Traffic, as
// Traffic would: a stream error ends the stream, a restart starts a new
// scan (what was held after it is dropped, as bytes after <compress/> are).
func (s *Stream) inputError(err error) {
	var se *stanza.StreamError
	switch {
	case errors.Is(err, errClosed):
	case errors.Is(err, errRestart):
		s.scan.Reset()
		s.scan.SetLimits(s.cfg.scan)
	case errors.As(err, &se):
		s.fail(se)
	default:
		s.fail(stanza.StreamErr(stanza.StreamInternalServerError, ""))
	}
}
