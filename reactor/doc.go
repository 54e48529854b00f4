// Package reactor runs Ignis's client connections on gnet v2 event loops:
// one epoll loop per core, no goroutine per connection.
//
// Each connection is a byte pipeline owned by its loop:
//
//	socket → TLS → zlib → session.Handler.Traffic
//	session.Transport.Write → zlib → TLS → socket
//
// TLS is the standard crypto/tls in the hybrid design of TECH-NOTES §2.3: the
// handshake runs on a short-lived worker goroutine that reads from a pipe the
// loop fills; after it, records are decrypted and encrypted on the loop, the
// pipe answering "would block" (a net.Error with Temporary() true, which
// crypto/tls does not keep as a sticky error once the handshake is done; a
// test pins that). zlib (XEP-0138) is stateless deflate per write outbound
// (TECH-NOTES §3.2) and one persistent inflater fed whole sync-flush units
// inbound (§3.3).
//
// Ownership: everything per connection (the conn, its tls.Conn, inflater,
// timer) and per loop (read buffers, timer wheel) belongs to one event loop
// and is touched only there. The one exception is Transport.Wake, which any
// goroutine may call; the TLS handshake worker talks to the loop only through
// its mutex-guarded pipe and gnet's goroutine-safe AsyncWrite/Execute.
//
// Timers: each loop runs a hashed timer wheel with 100 ms ticks. gnet's
// OnTick runs on its own goroutine, so it only posts a tick task into every
// loop (EventLoop.Execute); the wheel itself runs on the loop.
package reactor
