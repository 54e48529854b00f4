package session

import (
	"testing"

	"ignis/stanza"
)

// TestBacklog: what a fan-out sees of a session: the bytes delivered and
// not yet written, none once its loop wrote them, and the output cap.
func TestBacklog(t *testing.T) {
	cfg := testConfig(t)
	s, _ := login(t, cfg, true)
	st := stanza.MustParse([]byte("<message type='groupchat' from='r@conference.localhost/b' to='alice@localhost/r' id='g'><body>hi</body></message>"))
	for range 2 {
		if !s.Deliver(st) {
			t.Fatal("refused")
		}
	}
	if held, limit := s.Backlog(); held != 2*len(st.Bytes()) || limit != s.cfg.Limits.MaxPendingOut {
		t.Fatalf("Backlog() = %d, %d; want %d, %d", held, limit, 2*len(st.Bytes()), s.cfg.Limits.MaxPendingOut)
	}
	s.Wakeup()
	if held, _ := s.Backlog(); held != 0 {
		t.Fatalf("after the loop wrote them: %d bytes held", held)
	}
}
