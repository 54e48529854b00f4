// Package proxy65 is the relay of the SOCKS5 bytestreams proxy (XEP-0065):
// the handlers of the proxy's listener, run on the reactor's event loops
// like client streams. Each connection goes through a SOCKS5 handshake (RFC
// 1928: no authentication, CONNECT to a DOMAINNAME that is
// SHA1(SID + initiator JID + target JID) in hex, port 0); the two
// connections naming one hash are paired, and once the initiator asks the
// proxy (mod/proxy65) to activate the stream their bytes are relayed.
//
// Ownership: a conn belongs to its connection's loop. The two ends of a
// stream may be on different loops, so what one end hands the other goes
// through the stream's mutex-guarded inboxes and Transport.Wake (the one
// Transport method any goroutine may call); the receiving end writes it on
// its own loop. Once activated, each end's socket is detached from its
// loop (reactor's Detach) at its first event and, when both are, two
// goroutines relay with blocking I/O (pump.go): TCP then holds a sender
// back to the receiver's pace or the rate, which a loop, reading whatever
// arrives, cannot do. A transport that cannot detach relays on its loop.
//
// Limits: a stream relays at most MaxBytes in all; RatePerSec, if set,
// paces it; what waits on a loop for the other end is capped at MaxBuffer,
// past which the stream is closed. A connection not activated within
// Timeout of its accept, or a stream idle that long, is closed.
package proxy65

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config is the relay's configuration; zero fields take the defaults named.
type Config struct {
	MaxBytes   int64         // bytes relayed per stream (both ways); default 512 MiB
	RatePerSec int64         // bytes per second per stream; 0: no pacing
	MaxBuffer  int           // bytes waiting for one end; default 1 MiB
	Timeout    time.Duration // pairing and idle timeout; default 60 s
	Logger     *slog.Logger
}

// Relay pairs and relays the proxy's connections. Its methods are safe for
// concurrent use.
type Relay struct {
	cfg     Config
	mu      sync.Mutex
	streams map[string]*stream // by hash, from the first handshake to the last close
	wg      sync.WaitGroup     // the pumps of detached streams
}

// New returns a relay.
func New(cfg Config) *Relay {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 512 << 20
	}
	if cfg.MaxBuffer <= 0 {
		cfg.MaxBuffer = 1 << 20
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Relay{cfg: cfg, streams: map[string]*stream{}}
}

// Hash is the SOCKS5 address of a bytestream (XEP-0065 §5.3.2).
func Hash(sid, initiator, target string) string {
	h := sha1.Sum([]byte(sid + initiator + target))
	return hex.EncodeToString(h[:])
}

// Activation errors.
var (
	ErrNoStream    = errors.New("proxy65: no such stream")
	ErrOneSided    = errors.New("proxy65: only one party is connected")
	ErrActive      = errors.New("proxy65: the stream is already active")
	errEarlyData   = errors.New("proxy65: data before activation")
	errOverBuffer  = errors.New("proxy65: a receiver fell too far behind")
	errOverBytes   = errors.New("proxy65: the stream's byte limit was reached")
	errBadSOCKS    = errors.New("proxy65: bad SOCKS5 handshake")
	errThirdParty  = errors.New("proxy65: the stream already has two parties")
	errPeerIsGone  = errors.New("proxy65: the other party left")
	errNotUsable   = errors.New("proxy65: the stream cannot be used")
	errUnsupported = errors.New("proxy65: unsupported SOCKS5 request")
)

// Activate starts relaying the stream of hash (both parties connected).
func (r *Relay) Activate(hash string) error {
	r.mu.Lock()
	s := r.streams[hash]
	r.mu.Unlock()
	if s == nil {
		return ErrNoStream
	}
	s.mu.Lock()
	switch {
	case s.active:
		s.mu.Unlock()
		return ErrActive
	case s.ends[0] == nil || s.ends[1] == nil || s.gone:
		s.mu.Unlock()
		return ErrOneSided
	}
	s.active = true
	ends := s.ends
	s.mu.Unlock()
	for _, c := range ends {
		c.t.Wake() // each end enters its relaying state on its own loop
	}
	r.cfg.Logger.Debug("proxy65 stream activated", "hash", hash)
	return nil
}

// Streams is how many streams are known (waiting or relaying).
func (r *Relay) Streams() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.streams)
}

// stream is one bytestream: its two ends and what each waits to write.
type stream struct {
	hash string
	mu   sync.Mutex
	// guarded by mu
	ends    [2]*conn    // [0] the first to connect (the target), [1] the second
	inbox   [2][]byte   // bytes for ends[i] to write
	closing [2]bool     // ends[i] is to close once its inbox is written
	active  bool        // activated: bytes may flow
	gone    bool        // an end left: nothing more is accepted
	relayed int64       // bytes taken from both ends
	tokens  float64     // pacing bucket (RatePerSec)
	last    time.Time   // when tokens was refilled
	nc      [2]net.Conn // the ends handed over to the pumps (pump.go)

	relayedBytes atomic.Int64 // taken by the pumps
	lastIO       atomic.Int64 // unix nanoseconds of the pumps' last read
}

// join adds c to the stream of its hash as the first or second end.
func (r *Relay) join(c *conn, hash string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.streams[hash]
	if s == nil {
		s = &stream{hash: hash}
		r.streams[hash] = s
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.gone:
		return errNotUsable
	case s.ends[0] == nil:
		s.ends[0], c.side = c, 0
	case s.ends[1] == nil:
		s.ends[1], c.side = c, 1
	default:
		return errThirdParty
	}
	c.st = s
	return nil
}

// leave takes c out of its stream; the other end closes once it has
// written what it was given.
func (r *Relay) leave(c *conn) {
	s := c.st
	if s == nil {
		return
	}
	s.mu.Lock()
	s.ends[c.side] = nil
	s.inbox[c.side] = nil
	s.gone = true
	peer := s.ends[1-c.side]
	if peer != nil {
		s.closing[1-c.side] = true
	}
	if nc := s.nc[1-c.side]; nc != nil {
		nc.Close() // it detached and waits for this end, which will not come
		s.nc[1-c.side] = nil
		peer = nil
	}
	empty := s.ends[0] == nil && s.ends[1] == nil
	s.mu.Unlock()
	if peer != nil {
		peer.t.Wake()
	}
	if empty {
		r.mu.Lock()
		if r.streams[s.hash] == s {
			delete(r.streams, s.hash)
		}
		r.mu.Unlock()
	}
}
