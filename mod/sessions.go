package mod

// SessionLister is implemented by an Env that can list every bound session
// of the server (route.Router does): what a broadcast to all online users
// walks. It is not part of Env so that small test environments need not
// implement it.
type SessionLister interface {
	// EachResource calls fn for every bound resource until fn returns false.
	// fn runs without the table's locks held.
	EachResource(fn func(Resource) bool)
}
