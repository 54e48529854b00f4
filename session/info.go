package session

import (
	"net/netip"
	"time"
)

// Info is what `ignis sessions` shows of a bound session.
type Info struct {
	// Addr is the client's IP address, taken when the stream started: the
	// connection's own address may not be read off its loop (it is cleared
	// when the connection closes)
	Addr  netip.Addr
	TLS   bool      // the stream was encrypted when it bound
	SM    bool      // XEP-0198 resumption is enabled
	Since time.Time // when the resource was bound (to the second)
	// Transport is "tcp", or the TransportName of a framed transport
	// (WebSocket, BOSH), "framed" if it has none
	Transport string
	// Queued is the output held for the client, in bytes: deliveries not
	// yet written and what the transport had pending when its loop last
	// looked (the session's buffers that grow; its fixed cost is not here)
	Queued int
}

// markBound records, before the stream is published in the session table,
// when it bound and whether it was encrypted: packed in one word written
// once, so other goroutines may read it after the table's lock.
func (s *Stream) markBound() {
	v := uint64(time.Now().Unix()) << 1
	if s.flags&fSecure != 0 {
		v |= 1
	}
	s.bound = v
}

// Info describes the session. Safe from any goroutine once the stream is in
// the session table.
func (s *Stream) Info() Info {
	s.inbox.mu.Lock()
	sm := s.inbox.resumeID != ""
	queued := s.inbox.bytes
	s.inbox.mu.Unlock()
	transport := "tcp"
	if s.framed {
		transport = "framed"
		if n, ok := s.tr.(interface{ TransportName() string }); ok {
			transport = n.TransportName()
		}
	}
	return Info{
		Transport: transport,
		Addr:      s.peer,
		TLS:       s.bound&1 != 0,
		SM:        sm,
		Since:     time.Unix(int64(s.bound>>1), 0),
		Queued:    queued + int(s.outPending.Load()),
	}
}
