package session

// Transports are the labels of Stats.Conns: a plain TCP stream, the web
// listener's framings (their TransportName), and "framed" for any other.
var Transports = [...]string{"tcp", "websocket", "bosh", "framed"}

// Connection states in Stats.Conns.
const (
	ConnNegotiating = iota // not bound yet (or never: refused, failed)
	ConnBound              // a resource is bound on this connection
	nConnStates
)

// connCount is a stream's entry in Stats.Conns: the transport's index in
// Transports and the state it is counted in, +1 (0: not counted).
type connCount struct {
	tix   uint8
	state uint8
}

// transportIndex is t's index in Transports.
func transportIndex(t Transport) uint8 {
	if _, framed := t.(Framer); !framed {
		return 0
	}
	if n, ok := t.(interface{ TransportName() string }); ok {
		for i, name := range Transports {
			if name == n.TransportName() {
				return uint8(i)
			}
		}
	}
	return uint8(len(Transports) - 1)
}

// connOpened counts the connection as negotiating; New calls it once.
func (s *Stream) connOpened() {
	s.conn = connCount{tix: transportIndex(s.tr), state: ConnNegotiating + 1}
	s.cfg.Stats.Conns[s.conn.tix][ConnNegotiating].Add(1)
}

// connBound moves the connection to bound, when a resource is bound on it
// (bind, legacy authentication, or a resume that took a session over).
func (s *Stream) connBound() {
	if s.conn.state != ConnNegotiating+1 {
		return
	}
	s.cfg.Stats.Conns[s.conn.tix][ConnNegotiating].Add(-1)
	s.cfg.Stats.Conns[s.conn.tix][ConnBound].Add(1)
	s.conn.state = ConnBound + 1
}

// connClosed uncounts the connection, whatever its state; a detached
// stream (XEP-0198) keeps its session but no longer has a connection.
func (s *Stream) connClosed() {
	if s.conn.state == 0 {
		return
	}
	s.cfg.Stats.Conns[s.conn.tix][s.conn.state-1].Add(-1)
	s.conn.state = 0
}
