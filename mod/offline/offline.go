// Package offline stores messages sent to users who have no available
// resource and delivers them when the user next sends initial presence
// (RFC 6121 §8.5.2.2, XEP-0160), stamped with the time they arrived
// (XEP-0203). Clients may instead retrieve them one by one with Flexible
// Offline Message Retrieval (XEP-0013).
//
// What is stored: messages of type normal or chat (or without a type) to an
// existing account, when they carry a body, a <store/> hint (XEP-0334) or any
// payload other than chat states. Chat-state-only messages and those with a
// <no-store/> hint are not stored; the latter bounce when they have a body,
// so their sender learns they were not delivered. Headline, groupchat and
// error messages never reach this module: the router discards, bounces or
// drops them (RFC 6121 §8.5.2.2.1-2).
//
// Durability: a message is stored with a synced commit (store.Offline,
// group commit), off the sender's loop: the hook returns at once and, should
// the commit fail, the sender gets an error afterwards. A delivered message
// stays stored, and counts against the quota, until the session confirms it
// (mod.Resource.OfferConfirmed): its bytes reached the kernel, or with
// XEP-0198 the client acknowledged it. If the session ends first, it is
// delivered again at the next login. Delivery is so at least once: a
// message is duplicated when the client got it but the session ended before
// the confirmation (bytes the kernel sent just before the connection was
// cut, an ack that never came, or a crash before the delete committed).
package offline

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// Namespaces.
const (
	// NS is Flexible Offline Message Retrieval (XEP-0013); also its disco node.
	NS = stanza.NSOffline
	// FeatureMsgOffline is the disco feature of offline storage (XEP-0160 §4).
	FeatureMsgOffline = "msgoffline"
)

// DefaultMaxPerUser and DefaultMaxBytesPerUser are the quotas when New is
// given 0.
const (
	DefaultMaxPerUser      = 1000
	DefaultMaxBytesPerUser = 16 << 20
)

var (
	errQueueFull = stanza.ErrText(stanza.ResourceConstraint, "the recipient's offline message queue is full")
	errInternal  = stanza.Err(stanza.InternalServerError)
	errNoNode    = stanza.ErrText(stanza.ItemNotFound, "no such offline message")
	errBadOp     = stanza.ErrText(stanza.BadRequest, "expected <fetch/>, <purge/> or <item/> elements")
	errOthers    = stanza.ErrText(stanza.Forbidden, "only one's own offline messages can be retrieved")
)

// Module is the offline feature. Its methods run on event loops and on
// goroutines of its own; its fields are safe for concurrent use.
type Module struct {
	// h: the store user of an account is h.User (virtual hosts);
	// its Serial runs each user's jobs, its Go the bounces and replies
	h   *mod.Handle
	db  *store.DB
	q   *store.Offline
	max store.Quota
	log *slog.Logger
	now func() time.Time // the clock, for tests

	// flex holds the sessions that used XEP-0013 and so get no automatic
	// delivery, by full JID. An entry is removed when its session becomes
	// unavailable; entries of sessions that ended without ever being
	// available are swept when the map has doubled since the last sweep.
	flex struct {
		sync.Mutex
		m     map[string]mod.Resource
		swept int
	}

	// sent tracks, per user, the messages handed to a session and not yet
	// confirmed (inflight: a flush skips them) and the confirmed ones whose
	// deletion is waiting for the user's job (done).
	sent struct {
		sync.Mutex
		inflight map[string]map[uint64]struct{}
		done     map[string][]uint64
		again    map[string]bool // a redelivery of unconfirmed messages is queued
	}
}

// New returns the module over h's store. cfg bounds each account's queue.
func New(h *mod.Handle, cfg Config) *Module {
	maxPerUser, maxBytesPerUser := cfg.MaxPerUser, cfg.MaxBytesPerUser
	if maxPerUser <= 0 {
		maxPerUser = DefaultMaxPerUser
	}
	if maxBytesPerUser <= 0 {
		maxBytesPerUser = DefaultMaxBytesPerUser
	}
	db := h.DB()
	m := &Module{h: h, db: db, q: db.Offline(), max: store.Quota{Messages: maxPerUser, Bytes: maxBytesPerUser},
		log: h.Log(),
		now: time.Now}
	m.flex.m = map[string]mod.Resource{}
	m.sent.inflight = map[string]map[uint64]struct{}{}
	m.sent.done = map[string][]uint64{}
	m.sent.again = map[string]bool{}
	return m
}

// Config is the module's configuration ([offline] in the server's).
type Config struct {
	MaxPerUser      int   // messages stored per account; <= 0: DefaultMaxPerUser
	MaxBytesPerUser int64 // their total size; <= 0: DefaultMaxBytesPerUser
}

func (m *Module) Name() string { return "offline" }

func (m *Module) Register(r *mod.Registry) {
	r.OnUndeliverable(m.undeliverable)
	r.OnAvailable(m.available)
	r.OnUnavailable(m.unavailable)
	own := mod.ToAccount | mod.ToServer
	r.IQ(own, stanza.Get, NS, "offline", m.get)
	r.IQ(own, stanza.Set, NS, "offline", m.set)
	r.Feature(mod.ToServer, NS)
	r.Feature(mod.ToServer, FeatureMsgOffline)
}

// content is what decides whether a message is worth storing.
type content struct {
	body, storeHint, noStore, payload bool
	ourDelay                          bool // a delay stamped by this server: the message was stored before
	offlineItem                       bool // an XEP-0013 <offline/> marker: a retrieved copy
}

func (m *Module) inspect(st *stanza.Stanza, domain string) content {
	cl := st.Class()
	c := content{
		body:        cl.Has(stanza.ClassBody),
		storeHint:   cl.Has(stanza.ClassHintStore),
		noStore:     cl.Has(stanza.ClassHintNoStore),
		payload:     cl.Has(payloadClass),
		offlineItem: cl.Has(stanza.ClassOffline),
	}
	if cl.Has(stanza.ClassDelay) {
		// whose delay it is needs its attributes: scanned only when there is one
		it := st.Elem().Children()
		for e, ok := it.Next(); ok; e, ok = it.Next() {
			if from, _ := e.Attr("from"); string(e.NS()) == stanza.NSDelay && string(from) == domain {
				c.ourDelay = true
			}
		}
	}
	return c
}

// payloadClass: children that make a message worth storing besides a body;
// not thread, chat states, hints, delays or XEP-0013 markers.
const payloadClass = stanza.ClassClientOther | stanza.ClassReceipt | stanza.ClassMarker |
	stanza.ClassCarbonPrivate | stanza.ClassCarbon | stanza.ClassMUCUser | stanza.ClassStanzaID | stanza.ClassOther

// undeliverable is the OnUndeliverable hook: it runs on the sender's loop.
func (m *Module) undeliverable(ctx *mod.Ctx, st *stanza.Stanza) bool {
	if st.Kind != stanza.Message {
		return false
	}
	switch st.Type {
	case stanza.TypeNone, stanza.Normal, stanza.Chat:
	default:
		return false
	}
	env := ctx.Env
	c := m.inspect(st, env.Domain().String())
	// ctx.From is nil for stanzas the server sends: a stored message this
	// module is delivering, whose session went away meanwhile.
	fromUs := ctx.From == nil && c.ourDelay
	switch {
	case fromUs && c.offlineItem:
		return true // an XEP-0013 copy; the original is still stored
	case fromUs:
		// being moved back (a session ended without it): stored as it is,
		// within the quota like any other, so the quota holds exactly
	case c.noStore && !c.storeHint:
		return !c.body
	case !c.body && !c.storeHint && !c.payload:
		return true // chat states and empty messages are not kept (XEP-0085 §5.5)
	}

	user := m.h.User(st.To)
	if _, err := m.db.Accounts().Get(user); errors.Is(err, store.ErrNotFound) {
		return false // the router answers service-unavailable (RFC 6121 §8.5.2.2.1)
	} else if err != nil {
		m.log.Error("looking up the recipient", "user", user, "err", err)
		m.bounce(env, st, errInternal)
		return true
	}

	raw := st.Bytes()
	if !fromUs {
		var err error
		if raw, err = withChild(st, m.delay(env.Domain())); err != nil {
			m.log.Error("stamping an offline message", "err", err)
			m.bounce(env, st, errInternal)
			return true
		}
	}
	bare := st.To.Bare()
	err := m.q.TryStoreAsync(user, raw, m.max, func(_ uint64, err error) {
		// on the store's writer goroutine: quick, and routing goes elsewhere
		if err != nil {
			m.log.Error("storing an offline message", "user", user, "err", err)
			m.later(func() { m.bounce(env, st, errInternal) })
			return
		}
		if !fromUs {
			m.afterStore(env, bare)
		}
	})
	switch {
	case errors.Is(err, store.ErrQueueFull):
		m.bounce(env, st, errQueueFull)
	case err != nil:
		m.log.Error("storing an offline message", "user", user, "err", err)
		m.bounce(env, st, errInternal)
	}
	return true
}

func (m *Module) bounce(env mod.Env, st *stanza.Stanza, e *stanza.Error) {
	if r := st.ErrorReply(e); r != nil {
		env.Send(r)
	}
}

// delay is the XEP-0203 element stamping the arrival time (XEP-0082 UTC).
func (m *Module) delay(domain jid.JID) []byte {
	var b stanza.Builder
	stamp := m.now().UTC().Format("2006-01-02T15:04:05.000Z")
	b.Element("delay", "", "xmlns", stanza.NSDelay, "from", domain.String(), "stamp", stamp)
	return b.Bytes()
}

// withChild returns st's bytes with child added as its last child element.
func withChild(st *stanza.Stanza, child []byte) ([]byte, error) { return st.WithChild(child) }

// afterStore closes the race between storing and logging in: a message
// whose store commits after a resource's initial presence was handled (and
// its queue flushed) would otherwise wait for the next login. It runs on
// the writer goroutine.
func (m *Module) afterStore(env mod.Env, bare jid.JID) {
	var target mod.Resource
	env.Resources(bare, func(r mod.Resource) bool {
		if r.Available() && r.Priority() >= 0 && !m.usesFlex(r) {
			target = r
			return false
		}
		return true
	})
	if target != nil {
		_ = m.do(m.h.User(bare), func() { m.flush(env, target) }) // if refused, the queue waits for the next login
	}
}

// available is the OnAvailable hook: the queue goes to the session that
// sent initial presence, unless its priority is negative (RFC 6121
// §8.5.2.1.1) or it retrieves messages itself (XEP-0013 §2.1).
func (m *Module) available(ctx *mod.Ctx, res mod.Resource) {
	if res.Priority() < 0 || m.usesFlex(res) {
		return
	}
	env := ctx.Env                                              // the job outlives ctx
	_ = m.do(m.h.User(res.JID()), func() { m.flush(env, res) }) // if refused, the queue waits for the next login
}

// do runs job after user's earlier jobs, on the handle's Serial executor:
// the work that reads or deletes a user's queue (deliveries, XEP-0013
// retrievals) runs one at a time per user, in the order the loops asked
// for it, so two resources logging in together do not both receive the
// queue, and a retrieval asked after initial presence comes after any
// delivery that presence caused. Shutdown waits for the jobs. It fails once
// the module stops or when too many jobs of user wait (logged).
func (m *Module) do(user string, job func()) error {
	err := m.h.Serial(user, func(context.Context) { job() })
	if err != nil {
		m.log.Warn("offline job refused", "user", user, "err", err)
	}
	return err
}

// later runs fn on a goroutine of the module (shutdown waits for it): the
// store's callbacks run on its writer goroutine, which must not route.
func (m *Module) later(fn func()) {
	if err := m.h.Go(func(context.Context) { fn() }); err != nil {
		m.log.Warn("offline: the module stopped before answering", "err", err)
	}
}

func (m *Module) unavailable(_ *mod.Ctx, res mod.Resource) {
	full := res.JID().String()
	m.flex.Lock()
	if m.flex.m[full] == res {
		delete(m.flex.m, full)
	}
	m.flex.Unlock()
}

// flush delivers user's stored messages in order to res. It runs as one of
// user's jobs. A message stays stored until res confirms it (confirmed);
// messages handed over and not yet confirmed are skipped, so a second flush
// (another login, a message just stored) does not send them twice.
func (m *Module) flush(env mod.Env, res mod.Resource) {
	user := m.h.User(res.JID())
	err := m.q.List(user, func(seq uint64, raw []byte) bool {
		if env.Lookup(res.JID()) != res || !res.Available() {
			return false
		}
		if !m.handOut(user, seq) {
			return true // with a session already
		}
		st, err := stanza.Parse(raw)
		if err != nil {
			m.handBack(user, seq)
			m.log.Error("unreadable offline message left in the store", "user", user, "seq", seq, "err", err)
			return true
		}
		done := func(ok bool) { m.confirmed(env, res.JID(), seq, ok) }
		if !offer(env, res, st.WithAddrs(st.From, res.JID()), done) {
			m.handBack(user, seq)
			return false // the session went away: the rest stays stored
		}
		return true
	})
	if err != nil && !errors.Is(err, store.ErrClosed) {
		m.log.Error("reading offline messages", "user", user, "err", err)
	}
}

// handOut marks user's message seq as with a session; false if it already is.
func (m *Module) handOut(user string, seq uint64) bool {
	m.sent.Lock()
	defer m.sent.Unlock()
	set := m.sent.inflight[user]
	if _, ok := set[seq]; ok {
		return false
	}
	if set == nil {
		set = map[uint64]struct{}{}
		m.sent.inflight[user] = set
	}
	set[seq] = struct{}{}
	return true
}

// inflight reports whether user's message seq is with a session, waiting
// for its confirmation.
func (m *Module) inflight(user string, seq uint64) bool {
	m.sent.Lock()
	defer m.sent.Unlock()
	_, ok := m.sent.inflight[user][seq]
	return ok
}

// handBack unmarks seq: it is delivered at the next flush.
func (m *Module) handBack(user string, seq uint64) {
	m.sent.Lock()
	defer m.sent.Unlock()
	m.forget(user, seq)
}

// forget drops seq from user's inflight set; m.sent is held.
func (m *Module) forget(user string, seq uint64) {
	set := m.sent.inflight[user]
	delete(set, seq)
	if len(set) == 0 {
		delete(m.sent.inflight, user)
	}
}

// confirmed is a session's verdict on a message it was offered; it runs on
// the session's loop, so the delete goes to the user's job goroutine, and
// the deletes confirmed meanwhile go in one commit. A message not confirmed
// stays stored for the next login.
func (m *Module) confirmed(env mod.Env, to jid.JID, seq uint64, ok bool) {
	user := m.h.User(to)
	m.sent.Lock()
	if !ok {
		m.forget(user, seq)
		again := !m.sent.again[user]
		m.sent.again[user] = true
		m.sent.Unlock()
		if again {
			// another resource of the user may take it now, as it would
			// take a message that just arrived
			err := m.do(user, func() {
				m.sent.Lock()
				delete(m.sent.again, user)
				m.sent.Unlock()
				m.afterStore(env, to.Bare())
			})
			if err != nil {
				m.sent.Lock()
				delete(m.sent.again, user) // the next failure queues it again
				m.sent.Unlock()
			}
		}
		return
	}
	q, queued := m.sent.done[user]
	m.sent.done[user] = append(q, seq)
	m.sent.Unlock()
	if !queued {
		if err := m.do(user, func() { m.deleteConfirmed(user) }); err != nil {
			// left stored, delivered again later: at least once
			m.sent.Lock()
			delete(m.sent.done, user)
			m.sent.Unlock()
		}
	}
}

// deleteConfirmed deletes the messages of user confirmed so far, then lets
// later flushes see the numbers as free (a listing made before the delete
// committed may still name them). It runs as one of user's jobs.
func (m *Module) deleteConfirmed(user string) {
	m.sent.Lock()
	seqs := m.sent.done[user]
	delete(m.sent.done, user)
	m.sent.Unlock()
	if _, err := m.q.Delete(user, seqs...); err != nil && !errors.Is(err, store.ErrClosed) {
		// left stored and in flight: not delivered again by this process,
		// and at the next start delivered once more
		m.log.Error("deleting delivered offline messages", "user", user, "err", err)
		return
	}
	m.sent.Lock()
	for _, seq := range seqs {
		m.forget(user, seq)
	}
	m.sent.Unlock()
}

// offer hands st to res, waiting while res has too much output pending: a
// long queue is paced by the client's reading instead of tripping its
// slow-reader limit. It gives up when the session ends or after a minute
// without progress. Once it returned true, res calls done.
func offer(env mod.Env, res mod.Resource, st *stanza.Stanza, done func(bool)) bool {
	wait := 5 * time.Millisecond
	deadline := time.Now().Add(time.Minute)
	for !res.OfferConfirmed(st, done) {
		if env.Lookup(res.JID()) != res || !res.Available() || time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait) // a flush runs on its own goroutine, never on a loop
		wait = min(2*wait, 200*time.Millisecond)
	}
	return true
}

// XEP-0013.

// markFlex records that res retrieves its messages itself.
func (m *Module) markFlex(env mod.Env, res mod.Resource) {
	full := res.JID().String()
	m.flex.Lock()
	defer m.flex.Unlock()
	m.flex.m[full] = res
	if n := len(m.flex.m); n > 2*m.flex.swept+64 {
		for k, r := range m.flex.m {
			if env.Lookup(r.JID()) != r {
				delete(m.flex.m, k)
			}
		}
		m.flex.swept = len(m.flex.m)
	}
}

func (m *Module) usesFlex(res mod.Resource) bool {
	m.flex.Lock()
	defer m.flex.Unlock()
	return len(m.flex.m) > 0 && m.flex.m[res.JID().String()] == res
}

// request is a parsed <offline/> iq.
type request struct {
	fetch, purge bool
	view, remove []uint64
	unknownNode  bool // an item names a node that cannot exist
}

func parseRequest(iq *stanza.Stanza) (request, error) {
	var r request
	it := iq.Payload().Children()
	for e, ok := it.Next(); ok; e, ok = it.Next() {
		if string(e.NS()) != NS {
			continue
		}
		switch string(e.Local()) {
		case "fetch":
			r.fetch = true
		case "purge":
			r.purge = true
		case "item":
			node, _ := e.Attr("node")
			seq, err := strconv.ParseUint(string(node), 10, 64)
			if err != nil {
				r.unknownNode = true
			}
			switch action, _ := e.Attr("action"); string(action) {
			case "view":
				r.view = append(r.view, seq)
			case "remove":
				r.remove = append(r.remove, seq)
			default:
				return r, errBadOp
			}
		}
	}
	return r, nil
}

// owner checks that an <offline/> iq is about the sender's own account and
// returns its user.
func owner(ctx *mod.Ctx) (string, error) {
	if ctx.From == nil {
		return "", errOthers
	}
	self := ctx.From.JID().Bare()
	if ctx.Target.Local() != "" && !ctx.Target.Equal(self) {
		return "", errOthers
	}
	return mod.UserKey(ctx.Env, self), nil
}

// request checks a XEP-0013 iq from the owner: its operations, which ok
// allows for the iq's type (errBadOp otherwise). The sender's session is
// marked as one that retrieves its messages itself (markFlex).
func (m *Module) request(ctx *mod.Ctx, iq *stanza.Stanza, ok func(request) bool) (string, request, error) {
	user, err := owner(ctx)
	if err != nil {
		return "", request{}, err
	}
	r, err := parseRequest(iq)
	switch {
	case err != nil:
		return "", request{}, err
	case !ok(r):
		return "", request{}, errBadOp
	}
	m.markFlex(ctx.Env, ctx.From)
	return user, r, nil
}

// get: <fetch/> sends every stored message not being delivered, <item action='view'/> the named
// ones, each marked with its node; the messages stay stored.
func (m *Module) get(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	user, r, err := m.request(ctx, iq, func(r request) bool { return len(r.remove) == 0 && !r.purge && (r.fetch || len(r.view) > 0) })
	if err != nil {
		return nil, err
	}
	env, to := ctx.Env, ctx.From.JID()
	err = m.do(user, func() {
		send := func(seq uint64, raw []byte) {
			var b stanza.Builder
			b.Start("offline", "xmlns", NS).Element("item", "", "node", strconv.FormatUint(seq, 10))
			st, err := stanza.Parse(raw)
			if err == nil {
				raw, err = withChild(st, b.Bytes())
			}
			if err == nil {
				st, err = stanza.Parse(raw)
			}
			if err != nil {
				m.log.Error("unreadable offline message", "user", user, "seq", seq, "err", err)
				return
			}
			env.Send(st.WithAddrs(st.From, to))
		}
		var rerr error
		if r.fetch {
			rerr = m.q.List(user, func(seq uint64, raw []byte) bool {
				if !m.inflight(user, seq) {
					send(seq, raw) // one handed to a session already is as good as delivered
				}
				return true
			})
		} else {
			if r.unknownNode {
				rerr = errNoNode
			}
			for _, seq := range r.view {
				raw, err := m.q.Get(user, seq)
				if err != nil {
					rerr = err
					continue
				}
				send(seq, raw)
			}
		}
		m.reply(env, iq, rerr)
	})
	return nil, busy(err)
}

// set: <purge/> deletes every stored message, <item action='remove'/> the
// named ones.
func (m *Module) set(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	user, r, err := m.request(ctx, iq, func(r request) bool { return len(r.view) == 0 && !r.fetch && (r.purge || len(r.remove) > 0) })
	if err != nil {
		return nil, err
	}
	env := ctx.Env
	if r.purge {
		// Submitted here, on the sender's loop, so it is committed after
		// every message this session sent before it: the result also says
		// those that were stored offline are on disk.
		err := m.q.DeleteAllAsync(user, func(err error) { m.later(func() { m.reply(env, iq, err) }) })
		if err != nil {
			return nil, err
		}
		return nil, nil
	}
	err = m.do(user, func() {
		n, err := m.q.Delete(user, r.remove...)
		if err == nil && (n < len(unique(r.remove)) || r.unknownNode) {
			err = errNoNode
		}
		m.reply(env, iq, err)
	})
	return nil, busy(err)
}

// busy is the answer to a request whose job was refused: the module is
// stopping, or too many of the user's jobs wait.
func busy(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mod.ErrStopped):
		return stanza.Err(stanza.ServiceUnavailable)
	}
	return stanza.Err(stanza.ResourceConstraint)
}

func unique(s []uint64) map[uint64]struct{} {
	u := make(map[uint64]struct{}, len(s))
	for _, v := range s {
		u[v] = struct{}{}
	}
	return u
}

// reply answers iq with a result, or with the error (ErrNotFound becomes
// item-not-found; other non-stanza errors internal-server-error).
func (m *Module) reply(env mod.Env, iq *stanza.Stanza, err error) {
	var se *stanza.Error
	switch {
	case err == nil:
		env.Send(iq.Result(nil))
	case errors.As(err, &se):
		m.bounce(env, iq, se)
	case errors.Is(err, store.ErrNotFound):
		m.bounce(env, iq, errNoNode)
	default:
		m.log.Error("offline retrieval", "err", err)
		m.bounce(env, iq, errInternal)
	}
}
