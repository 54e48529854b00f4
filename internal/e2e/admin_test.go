package e2e

import (
	"strings"
	"testing"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// TestAdminSessionsAndKick: `ignis sessions` lists the bound sessions of a
// running server through its admin socket, and `ignis kick` ends one with a
// <policy-violation/> stream error the client sees.
func TestAdminSessionsAndKick(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "wonderland")
	env.AddUser("bob", "builder")
	phone := rawLogin(t, env, "alice", "wonderland", "phone")
	rawLogin(t, env, "bob", "builder", "desk")

	rep, err := server.CallAdmin(env.Cfg.Data, server.AdminRequest{Op: "sessions"})
	if err != nil || rep.Error != "" {
		t.Fatalf("sessions: %v %s", err, rep.Error)
	}
	if len(rep.Sessions) != 2 {
		t.Fatalf("sessions = %+v, want alice's and bob's", rep.Sessions)
	}
	a := rep.Sessions[0]
	if a.JID != "alice@localhost/phone" || a.Addr != "127.0.0.1" || !a.TLS || a.SM || a.Since.IsZero() {
		t.Errorf("alice's session = %+v", a)
	}

	for _, tc := range []struct{ jid, wantErr string }{
		{"alice@localhost/laptop", "no session is bound to alice@localhost/laptop"},
		{"not a jid@", "is not a JID"},
	} {
		rep, err := server.CallAdmin(env.Cfg.Data, server.AdminRequest{Op: "kick", User: tc.jid})
		if err != nil || !strings.Contains(rep.Error, tc.wantErr) {
			t.Errorf("kick %s: %v %q, want %q", tc.jid, err, rep.Error, tc.wantErr)
		}
	}
	rep, err = server.CallAdmin(env.Cfg.Data, server.AdminRequest{Op: "kick", User: "alice@localhost"})
	if err != nil || rep.Error != "" || rep.Done != 1 {
		t.Fatalf("kick alice: %v %+v", err, rep)
	}
	if got := readAll(t, phone); !strings.Contains(got, "<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>") || !strings.HasSuffix(got, "</stream:stream>") {
		t.Fatalf("alice's stream got %q, want a policy-violation stream error and its end", got)
	}
}
