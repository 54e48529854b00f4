package e2e

import (
	"regexp"
	"testing"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

const (
	nsCommands = "http://jabber.org/protocol/commands"
	nsAdminCmd = "http://jabber.org/protocol/admin"
)

var sessionIDRe = regexp.MustCompile(`sessionid='([0-9a-f]+)'`)

// adhocForm executes node and returns the sessionid of the form it answers.
func adhocForm(s *stream, id, node string) string {
	s.t.Helper()
	s.send("<iq type='set' id='" + id + "' to='localhost'><command xmlns='" + nsCommands + "' node='" + nsAdminCmd + "#" + node + "' action='execute'/></iq>")
	s.expect("<iq type='result' id='" + id + "'")
	got := s.expect("</iq>")
	m := sessionIDRe.FindStringSubmatch(got)
	if m == nil || !regexp.MustCompile(`status='executing'`).MatchString(got) {
		s.t.Fatalf("%s: no form with a sessionid: %s", node, got)
	}
	return m[1]
}

// adhocSubmit completes session sid of node with the fields given as XML.
func adhocSubmit(s *stream, id, node, sid, fields string) {
	s.send("<iq type='set' id='" + id + "' to='localhost'><command xmlns='" + nsCommands + "' node='" + nsAdminCmd + "#" + node +
		"' sessionid='" + sid + "' action='complete'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE' type='hidden'><value>" + nsAdminCmd + "</value></field>" + fields + "</x></command></iq>")
}

func fv(v string, vals ...string) string {
	s := "<field var='" + v + "'>"
	for _, x := range vals {
		s += "<value>" + x + "</value>"
	}
	return s + "</field>"
}

// TestAdhocAdmin: XEP-0050/XEP-0133 over real sockets. The admin sees and runs
// the commands; a user sees none and is refused; add-user creates an account
// that logs in; announce reaches online users as a headline; a password
// change ends the account's sessions with <reset/> and a deletion with
// <not-authorized/>, as `ignis user` does; cancel and a stale sessionid get
// the XEP's answers.
func TestAdhocAdmin(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Admin.JIDs = []string{"alice@localhost"} })
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	a := rawStream(t, env, "alice", "r")
	b := rawStream(t, env, "bob", "r")

	// a user: no commands listed, and forbidden
	b.send("<iq type='get' id='l1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='" + nsCommands + "'/></iq>")
	b.expect("<query xmlns='http://jabber.org/protocol/disco#items' node='" + nsCommands + "'/></iq>")
	b.send("<iq type='set' id='x1' to='localhost'><command xmlns='" + nsCommands + "' node='" + nsAdminCmd + "#add-user' action='execute'/></iq>")
	b.expect("<error type='auth'><forbidden xmlns='" + nsStanzas + "'/>")

	// the admin: listed, with the command's disco#info
	a.send("<iq type='get' id='l2' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='" + nsCommands + "'/></iq>")
	a.expect("<item jid='localhost' node='" + nsAdminCmd + "#add-user' name='Add a User'/>")
	a.send("<iq type='get' id='l3' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='" + nsAdminCmd + "#announce'/></iq>")
	a.expect("<identity category='automation' type='command-node' name='Command'/><feature var='" + nsCommands + "'/>")

	// add-user in two stages; the new account logs in
	sid := adhocForm(a, "c1", "add-user")
	adhocSubmit(a, "c2", "add-user", sid, fv("accountjid", "carol@localhost")+fv("password", "s3cret")+fv("password-verify", "s3cret"))
	a.expect("sessionid='" + sid + "' status='completed'><note type='info'>Added carol@localhost</note>")
	c := &stream{t: t, name: "carol@localhost/r", c: rawLogin(t, env, "carol", "s3cret", "r")}
	// again: conflict
	sid = adhocForm(a, "c3", "add-user")
	adhocSubmit(a, "c4", "add-user", sid, fv("accountjid", "carol@localhost")+fv("password", "x")+fv("password-verify", "x"))
	a.expect("<conflict xmlns='" + nsStanzas + "'/>")

	// counts: single stage
	a.send("<iq type='set' id='n1' to='localhost'><command xmlns='" + nsCommands + "' node='" + nsAdminCmd + "#get-registered-users-num' action='execute'/></iq>")
	a.expect("<field var='registeredusersnum' type='text-single' label='The number of registered users'><value>3</value></field>")
	a.send("<iq type='set' id='n2' to='localhost'><command xmlns='" + nsCommands + "' node='" + nsAdminCmd + "#get-online-users-num' action='execute'/></iq>")
	a.expect("<field var='onlineusersnum' type='text-single' label='The number of online users'><value>3</value></field>")
	sid = adhocForm(a, "n3", "get-online-users-list")
	adhocSubmit(a, "n4", "get-online-users-list", sid, fv("max_items", "none"))
	a.expect("<value>alice@localhost</value><value>bob@localhost</value><value>carol@localhost</value>")

	// announce
	sid = adhocForm(a, "m1", "announce")
	adhocSubmit(a, "m2", "announce", sid, fv("subject", "Maintenance")+fv("announcement", "Down at noon", "Back soon"))
	b.expect("<message from='localhost' to='bob@localhost/r' type='headline'><subject>Maintenance</subject><body>Down at noon\nBack soon</body></message>")
	a.expect("status='completed'><note type='info'>Announced to 3 session(s)</note>")

	// change-user-password: carol's session ends with <reset/>; the new one works
	sid = adhocForm(a, "p1", "change-user-password")
	adhocSubmit(a, "p2", "change-user-password", sid, fv("accountjid", "carol@localhost")+fv("password", "n3w"))
	c.expect(streamErr("reset"))
	a.expect("<note type='info'>Changed the password of carol@localhost</note>")
	c = &stream{t: t, name: "carol@localhost/r", c: rawLogin(t, env, "carol", "n3w", "r")}

	// delete-user: carol's session ends with <not-authorized/>, the account is gone
	sid = adhocForm(a, "d1", "delete-user")
	adhocSubmit(a, "d2", "delete-user", sid, fv("accountjids", "carol@localhost"))
	c.expect(streamErr("not-authorized"))
	a.expect("<note type='info'>Deleted carol@localhost</note>")
	if _, err := env.Srv.DB().Accounts().Get("carol"); err == nil {
		t.Error("carol's account still exists")
	}

	// end-user-session: bob's stream ends with <policy-violation/>
	sid = adhocForm(a, "e1", "end-user-session")
	adhocSubmit(a, "e2", "end-user-session", sid, fv("accountjids", "bob@localhost"))
	b.expect(streamErr("policy-violation"))
	a.expect("<note type='info'>Ended 1 session(s)</note>")

	// cancel, then the session is gone; an unknown action is malformed
	sid = adhocForm(a, "k1", "delete-user")
	a.send("<iq type='set' id='k2' to='localhost'><command xmlns='" + nsCommands + "' node='" + nsAdminCmd + "#delete-user' sessionid='" + sid + "' action='cancel'/></iq>")
	a.expect("sessionid='" + sid + "' status='canceled'/></iq>")
	adhocSubmit(a, "k3", "delete-user", sid, fv("accountjids", "bob@localhost"))
	a.expect("<bad-request xmlns='" + nsStanzas + "'/><bad-sessionid xmlns='" + nsCommands + "'/>")
	a.send("<iq type='set' id='k4' to='localhost'><command xmlns='" + nsCommands + "' node='" + nsAdminCmd + "#announce' action='jump'/></iq>")
	a.expect("<malformed-action xmlns='" + nsCommands + "'/>")
	a.send("<iq type='set' id='k5' to='localhost'><command xmlns='" + nsCommands + "' node='urn:nope' action='execute'/></iq>")
	a.expect("<item-not-found xmlns='" + nsStanzas + "'/>")
}
