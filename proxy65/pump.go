package proxy65

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// detachable is a transport whose socket can be handed over to a goroutine
// (reactor's connections on a plain listener).
type detachable interface{ Detach() (net.Conn, error) }

// Once activated, a stream whose both ends could be detached is relayed by
// two goroutines with blocking I/O: a sender is then held back by TCP
// itself when the receiver (or the pace) is slower, which the loops, which
// read whatever arrives, cannot do. Handshake and pairing stay on the loops.

// detached registers the net.Conn of side c.side and starts the pumps once
// both ends are there. Loop of c.
func (r *Relay) detached(c *conn, nc net.Conn) {
	s := c.st
	s.mu.Lock()
	if s.gone { // the other end left meanwhile
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.nc[c.side] = nc
	if s.nc[0] == nil || s.nc[1] == nil {
		s.mu.Unlock()
		return
	}
	// what each end was given on the loop before the other detached
	pre := s.inbox
	s.inbox = [2][]byte{}
	// what the loops relayed counts against the stream's byte limit too
	s.relayedBytes.Store(s.relayed)
	s.mu.Unlock()
	s.lastIO.Store(time.Now().UnixNano())
	r.wg.Add(2)
	var left atomic.Int32
	end := func() {
		if left.Add(1) == 2 {
			s.nc[0].Close()
			s.nc[1].Close()
			r.drop(s)
		}
		r.wg.Done()
	}
	go func() { defer end(); r.pump(s, s.nc[0], s.nc[1], pre[1]) }()
	go func() { defer end(); r.pump(s, s.nc[1], s.nc[0], pre[0]) }()
}

// pump copies src to dst within the stream's limits; at src's end it
// half-closes dst, on any failure or limit it closes both ends.
func (r *Relay) pump(s *stream, src, dst net.Conn, prefix []byte) {
	abort := func(why error) {
		if why != nil {
			r.cfg.Logger.Info("proxy65 stream closed", "hash", s.hash, "why", why.Error())
		}
		src.Close()
		dst.Close()
	}
	if s.relayedBytes.Load() > r.cfg.MaxBytes {
		// what the loops took, this prefix included, is already past the limit
		abort(errOverBytes)
		return
	}
	if len(prefix) > 0 {
		// held on the loop, not yet let out: paced like any other read
		if wait := s.pace(len(prefix), r.cfg.RatePerSec); wait > 0 {
			time.Sleep(wait)
		}
		_ = dst.SetWriteDeadline(time.Now().Add(r.cfg.Timeout))
		if _, err := dst.Write(prefix); err != nil {
			abort(nil)
			return
		}
	}
	buf := make([]byte, 32<<10)
	for {
		_ = src.SetReadDeadline(time.Now().Add(r.cfg.Timeout))
		n, err := src.Read(buf)
		if n > 0 {
			s.lastIO.Store(time.Now().UnixNano())
			if s.relayedBytes.Add(int64(n)) > r.cfg.MaxBytes {
				abort(errOverBytes)
				return
			}
			if wait := s.pace(n, r.cfg.RatePerSec); wait > 0 {
				time.Sleep(wait)
			}
			_ = dst.SetWriteDeadline(time.Now().Add(r.cfg.Timeout))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				abort(nil)
				return
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			if tc, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = tc.CloseWrite() // the other way may go on
			}
			return
		case errors.Is(err, os.ErrDeadlineExceeded):
			// idle this way; the stream is idle only if the other way is too
			if time.Since(time.Unix(0, s.lastIO.Load())) >= r.cfg.Timeout {
				abort(errors.New("proxy65: idle"))
				return
			}
		default:
			abort(nil)
			return
		}
	}
}

// pace returns how long to wait before writing n more bytes at rate
// bytes per second (a bucket of one second's worth shared by both ways).
func (s *stream) pace(n int, rate int64) time.Duration {
	if rate <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.last.IsZero() {
		s.last, s.tokens = now, float64(rate)/10
	}
	s.tokens = min(s.tokens+now.Sub(s.last).Seconds()*float64(rate), float64(rate))
	s.last = now
	s.tokens -= float64(n)
	if s.tokens >= 0 {
		return 0
	}
	return time.Duration(-s.tokens / float64(rate) * float64(time.Second))
}

// drop forgets a finished stream.
func (r *Relay) drop(s *stream) {
	r.mu.Lock()
	if r.streams[s.hash] == s {
		delete(r.streams, s.hash)
	}
	r.mu.Unlock()
}

// Close ends the detached streams and waits for their goroutines (the
// loops' connections end with the reactor).
func (r *Relay) Close() {
	r.mu.Lock()
	for _, s := range r.streams {
		s.mu.Lock()
		for _, nc := range s.nc {
			if nc != nil {
				nc.Close()
			}
		}
		s.mu.Unlock()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
