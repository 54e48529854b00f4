package e2e

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// Live messages (to an online session without XEP-0198) that the server has
// written but the kernel has not taken when the connection closes are
// routed again, like unacknowledged ones with XEP-0198: each message
// reaches the user exactly once, either on the cut connection (what the
// kernel took, which the client reads after the cut) or afterwards.

// TestLiveMessagesSurviveCut: alice's client stops reading while bob's
// messages pile up in the server for her; then her connection is cut (as a
// slow reader at the output cap, by a new login with the same resource, or
// by `ignis kick`). She reads what the kernel took on the old connection,
// logs in again with the same resource, and gets every other message there,
// none twice.
func TestLiveMessagesSurviveCut(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cap    int // max_pending_output
		size   int // bytes of each body
		n      int // messages to send; 0: until the server cuts alice
		cut    func(t *testing.T, env *servertest.Env) *offClient
		errCon string
	}{
		{name: "slow reader at the output cap", cap: 64 << 10, size: 4000, errCon: "policy-violation"},
		{name: "resource conflict", cap: 64 << 20, size: 16000, n: 500, errCon: "conflict",
			cut: func(t *testing.T, env *servertest.Env) *offClient {
				// binding the same resource again replaces the session
				// (RFC 6120 §7.7.2.2); the new one gets the rest live
				c := rawAuth(t, env, "alice")
				io.WriteString(c, "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>a</resource></bind></iq>")
				readUntil(t, c, "</iq>")
				return offClientOn(c, "alice@localhost/a")
			}},
		{name: "kick", cap: 64 << 20, size: 16000, n: 500, errCon: "policy-violation",
			cut: func(t *testing.T, env *servertest.Env) *offClient {
				rep, err := server.CallAdmin(env.Cfg.Data, server.AdminRequest{Op: "kick", User: "alice@localhost/a"})
				if err != nil || rep.Error != "" || rep.Done != 1 {
					t.Fatalf("kick: %v %+v", err, rep)
				}
				return nil
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogSink()
			env := servertest.StartLogged(t, logs, func(c *server.Config) {
				c.LogLevel = "info"
				c.Limits.MaxPendingOut = tc.cap
				c.Limits.CloseTimeout.Duration = 200 * time.Millisecond
			})
			env.AddUser("alice", "pw")
			env.AddUser("bob", "pw")
			// the presence echo, then alice reads nothing until the cut
			d := slowAvailable(t, env, 20*time.Second)

			bob := offLogin(t, env, "bob", "b")
			body := strings.Repeat("x", tc.size)
			sent := 0
			if tc.n > 0 {
				for ; sent < tc.n; sent++ {
					bob.send(t, chat("alice@localhost/a", fmt.Sprintf("m%d", sent), body))
				}
				// answered once every message before it is routed to alice
				bob.iq(t, "get", "sync", "<ping xmlns='urn:xmpp:ping'/>")
			} else {
				// until the server gives up on alice (her session leaves the
				// table), paced by pings; bounded so the test ends either way
				for gone := false; !gone && sent < 20000; {
					bob.send(t, chat("alice@localhost/a", fmt.Sprintf("m%d", sent), body))
					if sent++; sent%50 == 0 {
						bob.iq(t, "get", fmt.Sprintf("p%d", sent), "<ping xmlns='urn:xmpp:ping'/>")
						gone = env.Srv.Router().Table().Count() == 1
					}
				}
			}
			var fresh *offClient
			if tc.cut != nil {
				fresh = tc.cut(t, env)
			}
			// once the connection is gone (no drain within close_timeout),
			// what it did not take is routed again
			logs.wait(t, "undelivered output routed again", "jid=alice@localhost/a")

			// the old connection: what the kernel took, up to the cut (a
			// stanza cut short ends the reading), then the end
			got := map[string]int{}
			for {
				s, err := nextElem[offStanza](d)
				if err != nil {
					break
				}
				if s.XMLName.Local == "message" {
					got[s.ID]++
				}
			}
			before := len(got)
			if before == sent {
				t.Fatalf("the old connection read all %d messages: nothing was left in the server", sent)
			}
			t.Logf("sent %d; the cut connection read %d", sent, before)

			if fresh == nil {
				// the rest was stored offline: it comes with available presence
				fresh = offLogin(t, env, "alice", "a")
				fresh.available(t)
			}
			for len(got) < sent {
				s, ok := fresh.poll(t, 5*time.Second)
				if !ok {
					var miss []string
					for i := range sent {
						if got[fmt.Sprintf("m%d", i)] == 0 {
							miss = append(miss, fmt.Sprintf("m%d", i))
						}
					}
					var bobGot []string
					for len(bob.in) > 0 {
						b := <-bob.in
						bobGot = append(bobGot, b.XMLName.Local+" "+b.ID+" "+b.cond())
					}
					t.Fatalf("missing %v; bob got %v", miss, bobGot)
				}
				if s.XMLName.Local != "message" {
					t.Fatalf("got a %s (id %q, error %q), want a message", s.XMLName.Local, s.ID, s.cond())
				}
				if got[s.ID]++; got[s.ID] > 1 {
					t.Fatalf("%s arrived twice", s.ID)
				}
			}
			// nothing more: no copy of a message the cut connection read
			for _, s := range fresh.iq(t, "get", "end", "<ping xmlns='urn:xmpp:ping'/>") {
				if s.XMLName.Local == "message" {
					t.Fatalf("after all %d messages: %s again", sent, s.ID)
				}
			}
		})
	}
}
