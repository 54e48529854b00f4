package mod

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"ignis/jid"
	"ignis/stanza"
	"ignis/store"
)

// Handle is what a module gets from the server, in the manner of Prosody's
// module API (module:log, module:add_timer, module:hook…), typed: its name,
// a logger that says which module speaks, the store and the server's domain,
// routing once the server runs, timers and goroutines that end when the
// module stops, and a per-user ordered executor. A module is built with its
// handle (New(h, Config)) and registers its handlers with the Registry.
type Handle struct {
	name   string
	log    *slog.Logger
	db     *store.DB
	domain jid.JID

	mu      sync.Mutex
	env     Env // set by Runtime.Start
	ctx     context.Context
	cancel  context.CancelFunc
	stopped bool
	wg      sync.WaitGroup
	queues  map[string]*queue // Serial's per-key queues; a key is present while its queue runs
}

// ErrStopped is returned for work handed to a stopped module.
var ErrStopped = errors.New("mod: module stopped")

// MaxSerialPending caps the tasks waiting in one Serial queue: a user
// cannot pile up unbounded work behind a slow one.
const MaxSerialPending = 256

// NewHandle makes a stand-alone handle (tests, tools); servers get theirs
// from a Runtime. log may be nil.
func NewHandle(name string, db *store.DB, domain jid.JID, log *slog.Logger) *Handle {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Handle{name: name, log: log.With("mod", name), db: db, domain: domain,
		ctx: ctx, cancel: cancel, queues: map[string]*queue{}}
}

// Name is the module's name.
func (h *Handle) Name() string { return h.name }

// Log is the module's logger (every line says "mod=<name>").
func (h *Handle) Log() *slog.Logger { return h.log }

// DB is the store.
func (h *Handle) DB() *store.DB { return h.db }

// Domain is the server's domain.
func (h *Handle) Domain() jid.JID { return h.domain }

// User is the store's user part of a local account (store.UserKey): the
// one mapping every module's per-user store access goes through.
func (h *Handle) User(user jid.JID) string { return store.UserKey(h.domain.Domain(), user) }

// UserJID is the bare JID of the account a store user part names.
func (h *Handle) UserJID(key string) (jid.JID, error) { return store.UserOfKey(h.domain.Domain(), key) }

// Env is routing; nil until the server starts the module.
func (h *Handle) Env() Env {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.env
}

// Context is done once the module is stopping.
func (h *Handle) Context() context.Context { return h.ctx }

// Go runs fn on a goroutine the module's Stop waits for; fn should return
// once ctx is done. It reports ErrStopped after Stop.
func (h *Handle) Go(fn func(ctx context.Context)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return ErrStopped
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		fn(h.ctx)
	}()
	return nil
}

// Every runs fn now and then every interval until the module stops.
func (h *Handle) Every(interval time.Duration, fn func(ctx context.Context)) error {
	return h.Go(func(ctx context.Context) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			fn(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// After runs fn once after d unless the module stops first or cancel is
// called.
func (h *Handle) After(d time.Duration, fn func(ctx context.Context)) (cancel func(), err error) {
	stop := make(chan struct{})
	var once sync.Once
	err = h.Go(func(ctx context.Context) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-stop:
		case <-t.C:
			fn(ctx)
		}
	})
	return func() { once.Do(func() { close(stop) }) }, err
}

// ReplyStored answers iq once the store write it asked for ended with
// err: the empty result, then then (if not nil), or internal-server-error.
// It runs on a goroutine of the module: store callbacks run on the writer
// goroutine, which must not run other features' hooks.
func (h *Handle) ReplyStored(env Env, iq *stanza.Stanza, err error, then func()) {
	gerr := h.Go(func(context.Context) {
		AnswerStored(env, h.log, iq, err)
		if err == nil && then != nil {
			then()
		}
	})
	if gerr != nil {
		h.log.Warn(h.name+": no reply, the module stopped", "from", iq.From.String(), "stored", err == nil)
	}
}

// AnswerStored answers iq for the store write it asked for, which ended
// with err: the empty result, or internal-server-error with the failure
// logged. It sends only the reply, so a store callback may call it.
func AnswerStored(env Env, log *slog.Logger, iq *stanza.Stanza, err error) {
	if err != nil {
		log.Error("storing failed", "from", iq.From.String(), "err", err)
		if reply := iq.ErrorReply(stanza.Err(stanza.InternalServerError)); reply != nil {
			env.Send(reply)
		}
		return
	}
	env.Send(iq.Result(nil))
}

type queue struct{ tasks []func(ctx context.Context) }

// Serial runs fn after every task queued before it under the same key (a
// user's bare JID: that user's work in order, different users in parallel),
// on a goroutine of the module. It reports ErrStopped after Stop and an
// error when MaxSerialPending tasks already wait under key.
func (h *Handle) Serial(key string, fn func(ctx context.Context)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return ErrStopped
	}
	if q := h.queues[key]; q != nil {
		if len(q.tasks) >= MaxSerialPending {
			return fmt.Errorf("mod: %s: %d tasks already wait for %s", h.name, len(q.tasks), key)
		}
		q.tasks = append(q.tasks, fn)
		return nil
	}
	q := &queue{tasks: []func(context.Context){fn}}
	h.queues[key] = q
	h.wg.Add(1)
	go h.drain(key, q)
	return nil
}

// drain runs q's tasks until none is left, then retires the queue.
func (h *Handle) drain(key string, q *queue) {
	defer h.wg.Done()
	for {
		h.mu.Lock()
		if len(q.tasks) == 0 {
			delete(h.queues, key)
			h.mu.Unlock()
			return
		}
		fn := q.tasks[0]
		q.tasks[0] = nil
		q.tasks = q.tasks[1:]
		h.mu.Unlock()
		fn(h.ctx)
	}
}

// stop refuses new work, cancels the context and waits for the module's
// goroutines (queued Serial tasks still run, seeing ctx done) or ctx.
func (h *Handle) stop(ctx context.Context) error {
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	h.cancel()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mod: %s did not stop: %w", h.name, ctx.Err())
	}
}

// Starter is a module with work of its own to begin once routing exists
// (timers, goroutines through its Handle). Start must not block.
type Starter interface {
	Start(ctx context.Context) error
}

// Stopper is a module with something to finish at shutdown (before its
// handle's goroutines are waited for).
type Stopper interface {
	Stop(ctx context.Context) error
}

// Runtime owns the modules' handles: it makes them, starts the modules in
// order and stops them in reverse.
type Runtime struct {
	db      *store.DB
	domain  jid.JID
	log     *slog.Logger
	handles []*Handle
	mods    []Module
	started int // how many of mods were started
}

// NewRuntime returns a runtime for modules over db serving domain.
func NewRuntime(db *store.DB, domain jid.JID, log *slog.Logger) *Runtime {
	if log == nil {
		log = slog.Default()
	}
	return &Runtime{db: db, domain: domain, log: log}
}

// Handle makes the handle of the module called name.
func (rt *Runtime) Handle(name string) *Handle {
	h := NewHandle(name, rt.db, rt.domain, rt.log)
	rt.handles = append(rt.handles, h)
	return h
}

// Start gives every handle env and starts the modules in order; if one
// fails, those already started are stopped and its error returned.
func (rt *Runtime) Start(ctx context.Context, env Env, mods []Module) error {
	for _, h := range rt.handles {
		h.mu.Lock()
		h.env = env
		h.mu.Unlock()
	}
	rt.mods = mods
	for i, m := range mods {
		if s, ok := m.(Starter); ok {
			if err := s.Start(ctx); err != nil {
				rt.started = i
				return errors.Join(fmt.Errorf("mod: starting %s: %w", m.Name(), err), rt.Stop(ctx))
			}
		}
		rt.started = i + 1
	}
	return nil
}

// Stop stops the started modules in reverse order, then ends every
// handle's timers and goroutines.
func (rt *Runtime) Stop(ctx context.Context) error {
	var errs []error
	for i := rt.started - 1; i >= 0; i-- {
		if s, ok := rt.mods[i].(Stopper); ok {
			if err := s.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("mod: stopping %s: %w", rt.mods[i].Name(), err))
			}
		}
	}
	rt.started = 0
	for i := len(rt.handles) - 1; i >= 0; i-- {
		if err := rt.handles[i].stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
