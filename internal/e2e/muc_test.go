package e2e

import (
	"regexp"
	"strings"
	"testing"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

const (
	mucRoom = "lobby@conference.localhost"
	nsMUC   = "http://jabber.org/protocol/muc"
	nsMUCU  = "http://jabber.org/protocol/muc#user"
	instant = "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query>"
)

// mucJoin sends a join to room/nick (with extra inside <x xmlns=muc/>) and
// returns everything up to the self-presence (status 110).
func mucJoin(s *stream, room, nick, extra string) string {
	s.t.Helper()
	s.send("<presence to='" + room + "/" + nick + "'><x xmlns='" + nsMUC + "'>" + extra + "</x></presence>")
	got := s.expect("<status code='110'/></x>")
	return got + s.expect("</presence>")
}

// mucSubject reads up to the end of the subject message that ends a join.
func mucSubject(s *stream) string {
	s.t.Helper()
	got := s.expect("id='subject'>")
	return got + s.expect("</message>")
}

// mucError sends a join that must fail with cond.
func mucRefused(s *stream, room, nick, extra, cond string) {
	s.t.Helper()
	s.send("<presence to='" + room + "/" + nick + "'><x xmlns='" + nsMUC + "'>" + extra + "</x></presence>")
	got := s.expect("</presence>")
	if !strings.Contains(got, "type='error'") || !strings.Contains(got, "<"+cond+" xmlns='"+nsStanzas+"'/>") {
		s.t.Fatalf("%s joining %s/%s: %s; want %s", s.name, room, nick, got, cond)
	}
}

// iqTo sends an iq and returns the answer with that id.
func iqTo(s *stream, id, typ, to, payload string) string {
	s.t.Helper()
	s.send("<iq type='" + typ + "' id='" + id + "' to='" + to + "'>" + payload + "</iq>")
	got := s.expect("id='" + id + "'") // with what came before (a kick's presences)
	if got += s.expect(">"); strings.HasSuffix(got, "/>") {
		return got // self-closing: nothing more belonged to it
	}
	return got + s.expect("</iq>")
}

func mucUsers(t *testing.T, names ...string) (*servertest.Env, map[string]*stream) {
	env := servertest.Start(t)
	out := map[string]*stream{}
	for _, n := range names {
		env.AddUser(n, "pw")
		out[n] = rawStream(t, env, n, "r")
		out[n].online()
	}
	return env, out
}

var stanzaIDRe = regexp.MustCompile(`<stanza-id xmlns='urn:xmpp:sid:0' id='([^']+)' by='` + mucRoom + `'/>`)

// TestMUCCore: XEP-0045 over real sockets: a locked room until the owner
// accepts the instant configuration, joins with the occupant list first and
// self-presence last, nick conflict, groupchat with stanza-id and
// occupant-id to everyone, private messages, nick change (303), subject
// rules, self-ping, history with delay, leaving, a session that dies.
func TestMUCCore(t *testing.T) {
	_, u := mucUsers(t, "alice", "bob", "carol")
	alice, bob, carol := u["alice"], u["bob"], u["carol"]

	got := mucJoin(alice, mucRoom, "Alice", "")
	for _, w := range []string{"affiliation='owner' role='moderator'", "<status code='201'/>", "<occupant-id xmlns='urn:xmpp:occupant-id:0' id='"} {
		if !strings.Contains(got, w) {
			t.Fatalf("creator's self-presence %s lacks %s", got, w)
		}
	}
	mucSubject(alice)

	t.Run("locked", func(t *testing.T) {
		mucRefused(bob, mucRoom, "Bob", "", "item-not-found")
		if ans := iqTo(alice, "cfg1", "set", mucRoom, instant); !strings.Contains(ans, "type='result'") {
			t.Fatalf("instant room: %s", ans)
		}
	})
	t.Run("join", func(t *testing.T) {
		got := mucJoin(bob, mucRoom, "Bob", "")
		a, b := strings.Index(got, "from='"+mucRoom+"/Alice'"), strings.Index(got, "from='"+mucRoom+"/Bob'")
		if a < 0 || b < a {
			t.Fatalf("bob's join: %s; want Alice's presence before his own", got)
		}
		if strings.Contains(got[:b], "jid='alice@") {
			t.Fatalf("a semi-anonymous room showed alice's JID to bob: %s", got)
		}
		mucSubject(bob)
		// the owner (a moderator) sees bob's real JID
		if got := alice.expect("</presence>"); !strings.Contains(got, "from='"+mucRoom+"/Bob'") || !strings.Contains(got, "jid='bob@localhost/r'") {
			t.Fatalf("alice saw %s", got)
		}
	})
	t.Run("conflict", func(t *testing.T) {
		mucRefused(carol, mucRoom, "Bob", "", "conflict")
	})
	t.Run("groupchat", func(t *testing.T) {
		alice.send("<message to='" + mucRoom + "' type='groupchat' id='g1'><body>hello room</body></message>")
		var ids []string
		for _, s := range []*stream{alice, bob} {
			got := s.expect("</message>")
			m := stanzaIDRe.FindStringSubmatch(got)
			if !strings.Contains(got, "from='"+mucRoom+"/Alice' type='groupchat' id='g1'") || !strings.Contains(got, "<body>hello room</body>") ||
				m == nil || !strings.Contains(got, "occupant-id") {
				t.Fatalf("%s got %s", s.name, got)
			}
			ids = append(ids, m[1])
		}
		if ids[0] != ids[1] {
			t.Fatalf("stanza-ids differ: %v", ids)
		}
		carol.send("<message to='" + mucRoom + "' type='groupchat' id='g2'><body>not in</body></message>")
		if got := carol.expect("</message>"); !strings.Contains(got, "<not-acceptable xmlns='"+nsStanzas+"'/>") {
			t.Fatalf("a non-occupant's groupchat: %s", got)
		}
	})
	t.Run("private", func(t *testing.T) {
		bob.send("<message to='" + mucRoom + "/Alice' type='chat' id='p1'><body>psst</body></message>")
		got := alice.expect("</message>")
		if !strings.Contains(got, "from='"+mucRoom+"/Bob' type='chat' id='p1'") || !strings.Contains(got, "<body>psst</body>") {
			t.Fatalf("alice got %s", got)
		}
		bob.send("<message to='" + mucRoom + "/Nobody' type='chat' id='p2'><body>?</body></message>")
		if got := bob.expect("</message>"); !strings.Contains(got, "<item-not-found") {
			t.Fatalf("a private message to nobody: %s", got)
		}
	})
	t.Run("subject", func(t *testing.T) {
		bob.send("<message to='" + mucRoom + "' type='groupchat' id='s1'><subject>bob's</subject></message>")
		if got := bob.expect("</message>"); !strings.Contains(got, "<forbidden") {
			t.Fatalf("a participant's subject change: %s", got)
		}
		alice.send("<message to='" + mucRoom + "' type='groupchat' id='s2'><subject>Plans</subject></message>")
		for _, s := range []*stream{alice, bob} {
			if got := s.expect("</message>"); !strings.Contains(got, "<subject>Plans</subject>") {
				t.Fatalf("%s got %s", s.name, got)
			}
		}
	})
	t.Run("nick-change", func(t *testing.T) {
		bob.send("<presence to='" + mucRoom + "/Alice'/>")
		if got := bob.expect("</presence>"); !strings.Contains(got, "<conflict") {
			t.Fatalf("taking alice's nick: %s", got)
		}
		bob.send("<presence to='" + mucRoom + "/Bobby'/>")
		got := alice.expect("from='" + mucRoom + "/Bobby'")
		if !strings.Contains(got, "type='unavailable'") || !strings.Contains(got, "nick='Bobby'") || !strings.Contains(got, "<status code='303'/>") {
			t.Fatalf("alice saw %s", got)
		}
		alice.expect("</presence>")
		got = bob.expect("from='" + mucRoom + "/Bobby'")
		if !strings.Contains(got, "<status code='303'/><status code='110'/>") {
			t.Fatalf("bob saw %s", got)
		}
		bob.expect("<status code='110'/></x>")
		bob.expect("</presence>")
	})
	t.Run("self-ping", func(t *testing.T) {
		if got := iqTo(bob, "sp1", "get", mucRoom+"/Bobby", "<ping xmlns='urn:xmpp:ping'/>"); !strings.Contains(got, "type='result'") {
			t.Fatalf("self-ping: %s", got)
		}
		if got := iqTo(carol, "sp2", "get", mucRoom+"/Bobby", "<ping xmlns='urn:xmpp:ping'/>"); !strings.Contains(got, "<not-acceptable") {
			t.Fatalf("a non-occupant's self-ping: %s", got)
		}
	})
	t.Run("history", func(t *testing.T) {
		mucJoin(carol, mucRoom, "Carol", "<history maxstanzas='5'/>")
		got := mucSubject(carol)
		if !strings.Contains(got, "<body>hello room</body>") || !strings.Contains(got, "<delay xmlns='urn:xmpp:delay' from='"+mucRoom+"' stamp='") {
			t.Fatalf("carol's history: %s", got)
		}
		for _, s := range []*stream{alice, bob} {
			s.expect("from='" + mucRoom + "/Carol'")
			s.expect("</presence>")
		}
		carol.send("<presence to='" + mucRoom + "/Carol' type='unavailable'/>")
		for _, s := range []*stream{alice, bob, carol} {
			got := s.expect("</presence>")
			if !strings.Contains(got, "from='"+mucRoom+"/Carol'") || !strings.Contains(got, "type='unavailable'") {
				t.Fatalf("%s saw %s", s.name, got)
			}
		}
		// no history asked for: none
		mucJoin(carol, mucRoom, "Carol", "<history maxstanzas='0'/>")
		if got = mucSubject(carol); strings.Contains(got, "<body>") {
			t.Fatalf("history with maxstanzas 0: %s", got)
		}
		for _, s := range []*stream{alice, bob} {
			s.expect("from='" + mucRoom + "/Carol'")
			s.expect("</presence>")
		}
	})
	t.Run("session-dies", func(t *testing.T) {
		carol.c.Close()
		for _, s := range []*stream{alice, bob} {
			got := s.expect("</presence>")
			if !strings.Contains(got, "from='"+mucRoom+"/Carol'") || !strings.Contains(got, "type='unavailable'") {
				t.Fatalf("%s saw %s", s.name, got)
			}
		}
	})
}

// TestMUCMultiSession: two resources of one user share a nick: one
// occupant; the others see one presence; the occupant leaves with the last.
func TestMUCMultiSession(t *testing.T) {
	env, u := mucUsers(t, "alice", "bob")
	alice, bob := u["alice"], u["bob"]
	mucJoin(alice, mucRoom, "Alice", "")
	mucSubject(alice)
	iqTo(alice, "c1", "set", mucRoom, instant)
	mucJoin(bob, mucRoom, "Bob", "")
	mucSubject(bob)
	alice.expect("</presence>")
	bob2 := rawStream(t, env, "bob", "two")
	bob2.online()
	got := mucJoin(bob2, mucRoom, "Bob", "")
	if !strings.Contains(got, "from='"+mucRoom+"/Alice'") {
		t.Fatalf("second session's join: %s", got)
	}
	mucSubject(bob2)
	alice.send("<message to='" + mucRoom + "' type='groupchat' id='m'><body>both</body></message>")
	for _, s := range []*stream{bob, bob2} {
		if got := s.expect("</message>"); !strings.Contains(got, "<body>both</body>") {
			t.Fatalf("%s got %s", s.name, got)
		}
	}
	alice.expect("</message>")
	bob.send("<presence to='" + mucRoom + "/Bob' type='unavailable'/>")
	if got := bob.expect("</presence>"); !strings.Contains(got, "type='unavailable'") {
		t.Fatalf("the leaving session: %s", got)
	}
	bob2.send("<presence to='" + mucRoom + "/Bob' type='unavailable'/>")
	// alice hears of bob leaving once, when the last session goes
	if got := alice.expect("</presence>"); !strings.Contains(got, "from='"+mucRoom+"/Bob'") || !strings.Contains(got, "type='unavailable'") {
		t.Fatalf("alice saw %s", got)
	}
}

// TestMUCModeration: configuration form, password, members-only, max
// occupants, kick, ban, voice, admin lists, disco, invitations, destroy.
func TestMUCModeration(t *testing.T) {
	_, u := mucUsers(t, "alice", "bob", "carol", "dave")
	alice, bob, carol, dave := u["alice"], u["bob"], u["carol"], u["dave"]
	mucJoin(alice, mucRoom, "Alice", "")
	mucSubject(alice)
	form := iqTo(alice, "f1", "get", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#owner'/>")
	for _, f := range []string{"muc#roomconfig_persistentroom", "muc#roomconfig_publicroom", "muc#roomconfig_membersonly",
		"muc#roomconfig_roomsecret", "muc#roomconfig_moderatedroom", "muc#roomconfig_maxusers", "muc#roomconfig_whois",
		"muc#roomconfig_changesubject", "muc#maxhistoryfetch", "muc#roomconfig_allowpm", "muc#roomconfig_allowinvites"} {
		if !strings.Contains(form, "var='"+f+"'") {
			t.Fatalf("the configuration form lacks %s: %s", f, form)
		}
	}
	// XEP-0045's registry types maxusers list-single; aioxmpp refuses the form otherwise
	if !strings.Contains(form, "var='muc#roomconfig_maxusers' type='list-single'") || !strings.Contains(form, "<option><value>10</value></option>") {
		t.Fatalf("maxusers is not a list-single with options: %s", form)
	}
	submit := func(id string, fields ...string) string {
		x := "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>" +
			"<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"
		for i := 0; i+1 < len(fields); i += 2 {
			x += "<field var='" + fields[i] + "'><value>" + fields[i+1] + "</value></field>"
		}
		return iqTo(alice, id, "set", mucRoom, x+"</x></query>")
	}
	if bad := submit("f2", "muc#roomconfig_maxusers", "none"); !strings.Contains(bad, "<not-acceptable") {
		t.Fatalf("a bad form: %s", bad)
	}
	if ok := submit("f3", "muc#roomconfig_roomname", "Lobby", "muc#roomconfig_passwordprotectedroom", "1",
		"muc#roomconfig_roomsecret", "s3cret", "muc#roomconfig_maxusers", "3"); !strings.Contains(ok, "type='result'") {
		t.Fatalf("configuring: %s", ok)
	}
	if got := iqTo(bob, "f4", "get", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#owner'/>"); !strings.Contains(got, "<forbidden") {
		t.Fatalf("a non-owner's form request: %s", got)
	}
	t.Run("disco", func(t *testing.T) {
		info := iqTo(bob, "d1", "get", mucRoom, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
		for _, w := range []string{"category='conference'", "var='muc_passwordprotected'", "var='muc_public'", "var='muc_temporary'",
			"muc#roominfo", "var='muc#roominfo_occupants'"} {
			if !strings.Contains(info, w) {
				t.Fatalf("room disco#info lacks %s: %s", w, info)
			}
		}
		items := iqTo(bob, "d2", "get", "conference.localhost", "<query xmlns='http://jabber.org/protocol/disco#items'/>")
		if !strings.Contains(items, "jid='"+mucRoom+"'") {
			t.Fatalf("service disco#items: %s", items)
		}
		svc := iqTo(bob, "d3", "get", "conference.localhost", "<query xmlns='http://jabber.org/protocol/disco#info'/>")
		if !strings.Contains(svc, "var='"+nsMUC+"'") || !strings.Contains(svc, "category='conference'") {
			t.Fatalf("service disco#info: %s", svc)
		}
	})
	t.Run("password", func(t *testing.T) {
		mucRefused(bob, mucRoom, "Bob", "", "not-authorized")
		mucJoin(bob, mucRoom, "Bob", "<password>s3cret</password>")
		mucSubject(bob)
		alice.expect("</presence>")
		mucJoin(carol, mucRoom, "Carol", "<password>s3cret</password>")
		mucSubject(carol)
		alice.expect("</presence>")
		bob.expect("</presence>")
		mucRefused(dave, mucRoom, "Dave", "<password>s3cret</password>", "service-unavailable")
	})
	t.Run("voice", func(t *testing.T) {
		if got := iqTo(bob, "v0", "set", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Carol' role='visitor'/></query>"); !strings.Contains(got, "<forbidden") {
			t.Fatalf("a participant revoking voice: %s", got)
		}
		if got := iqTo(alice, "v1", "set", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Carol' role='visitor'/></query>"); !strings.Contains(got, "type='result'") {
			t.Fatalf("revoking voice: %s", got)
		}
		if got := carol.expect("</presence>"); !strings.Contains(got, "role='visitor'") {
			t.Fatalf("carol saw %s", got)
		}
		bob.expect("role='visitor'")
		bob.expect("</presence>")
		carol.send("<message to='" + mucRoom + "' type='groupchat' id='vm'><body>hi</body></message>")
		if got := carol.expect("</message>"); !strings.Contains(got, "<forbidden") {
			t.Fatalf("a visitor speaking: %s", got)
		}
		list := iqTo(alice, "v2", "get", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#admin'><item role='visitor'/></query>")
		if !strings.Contains(list, "nick='Carol'") {
			t.Fatalf("visitor list: %s", list)
		}
	})
	t.Run("kick", func(t *testing.T) {
		if got := iqTo(alice, "k1", "set", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Carol' role='none'><reason>calm down</reason></item></query>"); !strings.Contains(got, "type='result'") {
			t.Fatalf("kick: %s", got)
		}
		for _, s := range []*stream{carol, bob} {
			got := s.expect("</presence>")
			if !strings.Contains(got, "type='unavailable'") || !strings.Contains(got, "<status code='307'/>") || !strings.Contains(got, "<reason>calm down</reason>") {
				t.Fatalf("%s saw %s", s.name, got)
			}
		}
	})
	t.Run("ban", func(t *testing.T) {
		if got := iqTo(bob, "b0", "set", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#admin'><item jid='carol@localhost' affiliation='outcast'/></query>"); !strings.Contains(got, "<forbidden") {
			t.Fatalf("a participant banning: %s", got)
		}
		if got := iqTo(alice, "b1", "set", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#admin'><item jid='carol@localhost' affiliation='outcast'/></query>"); !strings.Contains(got, "type='result'") {
			t.Fatalf("ban: %s", got)
		}
		mucRefused(carol, mucRoom, "Carol", "<password>s3cret</password>", "forbidden")
		list := iqTo(alice, "b2", "get", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast'/></query>")
		if !strings.Contains(list, "jid='carol@localhost'") {
			t.Fatalf("outcast list: %s", list)
		}
		// a present occupant who is banned leaves with 301
		if got := iqTo(alice, "b3", "set", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#admin'><item jid='bob@localhost' affiliation='outcast'/></query>"); !strings.Contains(got, "type='result'") || !strings.Contains(got, "<status code='301'/>") {
			t.Fatalf("ban: %s", got)
		}
		if got := bob.expect("</presence>"); !strings.Contains(got, "<status code='301'/>") {
			t.Fatalf("bob saw %s", got)
		}
		iqTo(alice, "b4", "set", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#admin'><item jid='bob@localhost' affiliation='none'/></query>")
	})
	t.Run("members-only", func(t *testing.T) {
		if ok := submit("f5", "muc#roomconfig_membersonly", "1", "muc#roomconfig_passwordprotectedroom", "0"); !strings.Contains(ok, "type='result'") {
			t.Fatalf("configuring: %s", ok)
		}
		mucRefused(dave, mucRoom, "Dave", "", "registration-required")
		iqTo(alice, "m1", "set", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#admin'><item jid='dave@localhost' affiliation='member'/></query>")
		mucJoin(dave, mucRoom, "Dave", "")
		mucSubject(dave)
		alice.expect("</presence>")
		list := iqTo(alice, "m2", "get", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='member'/></query>")
		if !strings.Contains(list, "jid='dave@localhost'") {
			t.Fatalf("member list: %s", list)
		}
	})
	t.Run("invite", func(t *testing.T) {
		// mediated: bob becomes a member by alice's invitation
		alice.send("<message to='" + mucRoom + "' id='i1'><x xmlns='" + nsMUCU + "'><invite to='bob@localhost'><reason>join us</reason></invite></x></message>")
		got := bob.expect("</message>")
		if !strings.Contains(got, "from='"+mucRoom+"'") || !strings.Contains(got, "<invite from='alice@localhost'><reason>join us</reason></invite>") {
			t.Fatalf("bob got %s", got)
		}
		bob.send("<message to='" + mucRoom + "' id='i2'><x xmlns='" + nsMUCU + "'><decline to='alice@localhost'><reason>busy</reason></decline></x></message>")
		if got := alice.expect("</message>"); !strings.Contains(got, "<decline from='bob@localhost'><reason>busy</reason></decline>") {
			t.Fatalf("alice got %s", got)
		}
		// direct (XEP-0249): the server only routes it
		alice.send("<message to='carol@localhost' id='i3'><x xmlns='jabber:x:conference' jid='" + mucRoom + "' reason='come'/></message>")
		if got := carol.expect("</message>"); !strings.Contains(got, "jabber:x:conference") || !strings.Contains(got, "jid='"+mucRoom+"'") {
			t.Fatalf("carol got %s", got)
		}
	})
	t.Run("destroy", func(t *testing.T) {
		got := iqTo(alice, "x1", "set", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#owner'><destroy jid='new@conference.localhost'><reason>moved</reason></destroy></query>")
		if !strings.Contains(got, "type='result'") && !strings.Contains(got, "<destroy") {
			t.Fatalf("destroy: %s", got)
		}
		if got := dave.expect("</presence>"); !strings.Contains(got, "<destroy jid='new@conference.localhost'><reason>moved</reason></destroy>") {
			t.Fatalf("dave saw %s", got)
		}
		if got := iqTo(bob, "x2", "get", mucRoom, "<query xmlns='http://jabber.org/protocol/disco#info'/>"); !strings.Contains(got, "<item-not-found") {
			t.Fatalf("disco of a destroyed room: %s", got)
		}
	})
}

// TestMUCPersistentMAM: a persistent room, its affiliations and archive
// survive a restart; the archive answers XEP-0313 queries with paging.
func TestMUCPersistentMAM(t *testing.T) {
	dir := t.TempDir()
	env, stop := startAt(t, dir)
	addUsers(env, "alice", "bob")
	alice := rawStream(t, env, "alice", "r")
	alice.online()
	mucJoin(alice, mucRoom, "Alice", "")
	mucSubject(alice)
	cfg := "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='muc#roomconfig_persistentroom'><value>1</value></field>" +
		"<field var='muc#roomconfig_membersonly'><value>1</value></field></x></query>"
	if got := iqTo(alice, "p1", "set", mucRoom, cfg); !strings.Contains(got, "type='result'") {
		t.Fatalf("configuring: %s", got)
	}
	iqTo(alice, "p2", "set", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#admin'><item jid='bob@localhost' affiliation='member'/></query>")
	for _, b := range []string{"one", "two", "three"} {
		alice.send("<message to='" + mucRoom + "' type='groupchat' id='" + b + "'><body>" + b + "</body></message>")
		alice.expect("</message>")
	}
	// MAM, two pages of two
	alice.send("<iq type='set' id='q1' to='" + mucRoom + "'><query xmlns='urn:xmpp:mam:2' queryid='a'><set xmlns='http://jabber.org/protocol/rsm'><max>2</max></set></query></iq>")
	got := alice.expect("id='q1'")
	if strings.Count(got, "<result xmlns='urn:xmpp:mam:2' queryid='a'") != 2 || !strings.Contains(got, "<body>one</body>") || !strings.Contains(got, "<body>two</body>") {
		t.Fatalf("first page: %s", got)
	}
	fin := alice.expect("</iq>")
	last := regexp.MustCompile(`<last>([^<]+)</last>`).FindStringSubmatch(fin)
	if !strings.Contains(fin, "complete='false'") || last == nil {
		t.Fatalf("first fin: %s", fin)
	}
	alice.send("<iq type='set' id='q2' to='" + mucRoom + "'><query xmlns='urn:xmpp:mam:2' queryid='b'><set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>" + last[1] + "</after></set></query></iq>")
	got = alice.expect("id='q2'")
	if strings.Count(got, "queryid='b'") != 1 || !strings.Contains(got, "<body>three</body>") || strings.Contains(got, "alice@localhost/r'") && strings.Contains(got, "from='alice@") {
		t.Fatalf("second page: %s", got)
	}
	if fin := alice.expect("</iq>"); !strings.Contains(fin, "complete='true'") {
		t.Fatalf("second fin: %s", fin)
	}
	alice.c.Close()
	stop()

	env, stop = startAt(t, dir)
	defer stop()
	bob := rawStream(t, env, "bob", "r")
	bob.online()
	got = mucJoin(bob, mucRoom, "Bob", "<history maxstanzas='2'/>")
	if !strings.Contains(got, "affiliation='member'") {
		t.Fatalf("bob's join after the restart: %s", got)
	}
	alice = rawStream(t, env, "alice", "r")
	alice.online()
	if got := iqTo(alice, "p3", "get", mucRoom, "<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='owner'/></query>"); !strings.Contains(got, "jid='alice@localhost'") {
		t.Fatalf("owners after the restart: %s", got)
	}
}

// TestMUCLimits: the [muc] limits: a message burst then resource-constraint,
// rooms per owner, who may create rooms.
func TestMUCLimits(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) {
		c.MUC.MessageRate = 0.001
		c.MUC.MessageBurst = 3
		c.MUC.MaxRoomsPerUser = 1
	})
	addUsers(env, "alice")
	alice := rawStream(t, env, "alice", "r")
	alice.online()
	mucJoin(alice, mucRoom, "Alice", "")
	mucSubject(alice)
	iqTo(alice, "c", "set", mucRoom, instant)
	for i := range 3 {
		alice.send("<message to='" + mucRoom + "' type='groupchat'><body>b</body></message>")
		if got := alice.expect("</message>"); strings.Contains(got, "type='error'") {
			t.Fatalf("message %d of the burst: %s", i, got)
		}
	}
	alice.send("<message to='" + mucRoom + "' type='groupchat' id='over'><body>b</body></message>")
	if got := alice.expect("</message>"); !strings.Contains(got, "<resource-constraint xmlns='"+nsStanzas+"'/>") {
		t.Fatalf("past the burst: %s", got)
	}
	mucRefused(alice, "second@conference.localhost", "Alice", "", "resource-constraint")

	only := servertest.Start(t, func(c *server.Config) {
		c.MUC.Create = "admins"
		c.Admin.JIDs = []string{"root@localhost"}
	})
	addUsers(only, "bob", "root")
	bob := rawStream(t, only, "bob", "r")
	bob.online()
	mucRefused(bob, mucRoom, "Bob", "", "not-allowed")
	root := rawStream(t, only, "root", "r")
	root.online()
	if got := mucJoin(root, mucRoom, "Root", ""); !strings.Contains(got, "<status code='201'/>") {
		t.Fatalf("an admin creating a room: %s", got)
	}
}
