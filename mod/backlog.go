package mod

// Backlogged is a Resource that tells how much output it holds for its
// client (a client session does). A fan-out to many sessions (a group chat
// room) paces itself by it rather than queueing without bound.
type Backlogged interface {
	// Backlog returns the bytes held for the client (deliveries not yet
	// written and what the transport has pending) and the cap past which
	// the session ends as a slow reader.
	Backlog() (held, limit int)
}
