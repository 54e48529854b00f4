package session

import (
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// Transport is one client connection as the stream sees it: plaintext in and
// out, with TLS and zlib applied underneath. reactor's connection implements it.
//
// Every method except Wake runs on the connection's event loop only.
type Transport interface {
	// Write queues p (plaintext) for the peer; p is copied or written before
	// Write returns. It returns ErrOutputFull, queueing nothing, when the bytes
	// already pending for a slow reader exceed the configured cap.
	Write(p []byte) error
	// StartTLS begins a server TLS handshake once what is queued (the
	// <proceed/>) has gone out in plaintext. Input after it is TLS records.
	StartTLS() error
	// StartCompression makes later output zlib-compressed and later input
	// inflated (XEP-0138), once what is queued (the <compressed/>) has gone out.
	StartCompression() error
	// TLS returns the connection state once a handshake has completed, else nil.
	TLS() *tls.ConnectionState
	// Close queues final (may be nil) regardless of the output cap, flushes,
	// and closes the connection. Handler.Closed follows.
	Close(final []byte)
	// Wake may be called from any goroutine: Handler.Wakeup runs on the loop
	// soon after. Calls made before it runs coalesce.
	Wake()
	// SetTimer arms the connection's one timer: Handler.Timer runs on the loop
	// about d from now. d <= 0 disarms it.
	SetTimer(d time.Duration)
	RemoteAddr() net.Addr
	// Pending is how many bytes are queued for the peer that the kernel has
	// not taken yet (after TLS and zlib).
	Pending() int
	// Sent counts the bytes queued for the peer since its first call (after
	// TLS and zlib) and how many of them the kernel has taken: a stanza
	// written when written was w has left the server's buffers once
	// flushed >= w. After the connection closed, flushed is the last count
	// known (a lower bound). Only the connections that call it keep the count.
	Sent() (written, flushed uint64)
	// WakeWhenFlushed asks for a Handler.Wakeup once what is written now
	// has been taken by the kernel (not at all if the connection closes).
	WakeWhenFlushed()
}

// Handler is what a Transport drives; Stream implements it. All methods run on
// the connection's event loop.
type Handler interface {
	// Traffic hands over plaintext input; p is borrowed until it returns.
	// After a non-nil error the transport closes the connection (the handler
	// has already queued whatever the peer should see, e.g. a stream error).
	Traffic(p []byte) error
	Wakeup()             // after Transport.Wake
	Timer(now time.Time) // after the timer armed with SetTimer fires
	Closed(err error)    // the connection is gone (err nil on a clean close)
}

// ErrOutputFull is returned by Transport.Write past the pending-output cap.
var ErrOutputFull = errors.New("session: pending output over the limit")
