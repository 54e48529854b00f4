package e2e

import (
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// authAnswer tries PLAIN and returns the start of the server's answer.
// adminCall sends req to env's admin socket (as the ignis commands do) and
// returns the reply; a failed call fails the test.
func adminCall(t *testing.T, env *servertest.Env, req server.AdminRequest) server.AdminReply {
	t.Helper()
	rep, err := server.CallAdmin(env.Cfg.Data, req)
	if err != nil {
		t.Fatalf("%s: %v", req.Op, err)
	}
	return rep
}

func authAnswer(t *testing.T, env *servertest.Env, user, pass string) string {
	t.Helper()
	c := env.DialTLS()
	defer c.Close()
	io.WriteString(c, header)
	readUntil(t, c, "</stream:features>")
	io.WriteString(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass))+"</auth>")
	return readUntil(t, c, "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'")
}

// TestAdminAccountChanges: `ignis user passwd` and `ignis user del` on a
// running server (its admin socket) end the account's sessions as Prosody
// does: <reset/> "Password changed" (log in again, with the new password),
// <not-authorized/> "Account deleted"; other accounts keep theirs.
func TestAdminAccountChanges(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	admin := func(req server.AdminRequest) {
		t.Helper()
		if rep := adminCall(t, env, req); rep.Error != "" {
			t.Fatalf("%s: %s", req.Op, rep.Error)
		}
	}
	ends := func(s *stream, cond, text string) {
		t.Helper()
		s.expect("<stream:error><" + cond + " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" +
			"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>" + text + "</text></stream:error>")
		s.expect("</stream:stream>")
	}
	a1, a2 := rawStream(t, env, "alice", "one"), rawStream(t, env, "alice", "two")
	a1.online()
	bob := rawStream(t, env, "bob", "b")
	bob.online()

	admin(server.AdminRequest{Op: "user-passwd", User: "alice", Password: "new"})
	ends(a1, "reset", "Password changed")
	ends(a2, "reset", "Password changed")
	if got := authAnswer(t, env, "alice", "pw"); !strings.HasPrefix(got, "<failure ") {
		t.Errorf("old password: %s", got)
	}
	a3 := &stream{t: t, name: "alice@localhost/three", c: rawLogin(t, env, "alice", "new", "three")}
	a3.online()

	admin(server.AdminRequest{Op: "user-del", User: "alice"})
	ends(a3, "not-authorized", "Account deleted")
	if got := authAnswer(t, env, "alice", "new"); !strings.HasPrefix(got, "<failure ") {
		t.Errorf("deleted account: %s", got)
	}
	// bob was not touched: his session still answers
	bob.send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
	bob.expect("id='p1'")
}

// TestAdminAccountChangesBeforeBind: a stream that authenticated but has not
// bound is in no session table when the account changes; it still gets what
// bound sessions get, when it binds: <not-authorized/> for a deleted account,
// <reset/> for a changed password. A stream authenticated after the change
// binds as usual.
func TestAdminAccountChangesBeforeBind(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  server.AdminRequest
		cond string
		text string
	}{
		{"deleted", server.AdminRequest{Op: "user-del", User: "alice"}, "not-authorized", "Account deleted"},
		{"password", server.AdminRequest{Op: "user-passwd", User: "alice", Password: "new"}, "reset", "Password changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := servertest.Start(t)
			env.AddUser("alice", "pw")
			c := opened(t, env.DialTLS())
			io.WriteString(c, plainAuth("alice", "pw"))
			readUntil(t, c, "<success")
			opened(t, c) // the restarted stream offers bind
			if rep, err := server.CallAdmin(env.Cfg.Data, tc.req); err != nil || rep.Error != "" {
				t.Fatalf("%s: %v %s", tc.req.Op, err, rep.Error)
			}
			io.WriteString(c, "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>")
			got := readAll(t, c)
			if !strings.Contains(got, streamErr(tc.cond)+"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>"+tc.text+"</text>") ||
				!strings.HasSuffix(got, "</stream:stream>") || strings.Contains(got, "<jid>") {
				t.Fatalf("bind after the change: got %q, want a <%s/> stream error %q and no binding", got, tc.cond, tc.text)
			}
			if tc.req.Op == "user-passwd" {
				rawLogin(t, env, "alice", "new", "r") // logs in and binds with the new password
			}
		})
	}
}
