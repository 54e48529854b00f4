package e2e

import (
	"regexp"
	"strings"
	"testing"
)

const (
	nsMUCAdmin  = "http://jabber.org/protocol/muc#admin"
	nsMUCOwner  = "http://jabber.org/protocol/muc#owner"
	nsRegister  = "jabber:iq:register"
	mucRegForm  = "http://jabber.org/protocol/muc#register"
	mucVoiceReq = "http://jabber.org/protocol/muc#request"
)

// mucConfigure submits the room configuration form with fields (var, value pairs).
func mucConfigure(t *testing.T, s *stream, room, id string, fields ...string) {
	t.Helper()
	x := "<query xmlns='" + nsMUCOwner + "'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"
	for i := 0; i+1 < len(fields); i += 2 {
		x += "<field var='" + fields[i] + "'><value>" + fields[i+1] + "</value></field>"
	}
	if got := iqTo(s, id, "set", room, x+"</x></query>"); !strings.Contains(got, "type='result'") {
		t.Fatalf("configuring %s: %s", room, got)
	}
}

// mucNick is the nick a user's stream joins with: its name capitalised.
func mucNick(s *stream) string {
	user, _, _ := strings.Cut(s.name, "@")
	return strings.ToUpper(user[:1]) + user[1:]
}

// mucOpen has owner create mucRoom as an instant room, then each of
// others join it, everyone before reading the newcomer's presence.
func mucOpen(owner *stream, others ...*stream) {
	owner.t.Helper()
	mucJoin(owner, mucRoom, mucNick(owner), "")
	mucSubject(owner)
	iqTo(owner, "instant", "set", mucRoom, instant)
	in := []*stream{owner}
	for _, s := range others {
		mucJoin(s, mucRoom, mucNick(s), "")
		mucSubject(s)
		for _, o := range in {
			o.expect("</presence>")
		}
		in = append(in, s)
	}
}

// submitForm is a submitted form of formType with fields (var, value pairs).
func submitForm(formType string, fields ...string) string {
	x := "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>" + formType + "</value></field>"
	for i := 0; i+1 < len(fields); i += 2 {
		x += "<field var='" + fields[i] + "'><value>" + fields[i+1] + "</value></field>"
	}
	return x + "</x>"
}

// wantMessageError reads the next message and checks it is an error with cond.
func wantMessageError(t *testing.T, s *stream, what, cond string) {
	t.Helper()
	if got := s.expect("</message>"); !strings.Contains(got, "type='error'") || !strings.Contains(got, "<"+cond+" xmlns='"+nsStanzas+"'/>") {
		t.Fatalf("%s: %s; want %s", what, got, cond)
	}
}

// wantIQError checks that an iq answer is an error with cond.
func wantIQError(t *testing.T, got, what, cond string) {
	t.Helper()
	if !strings.Contains(got, "type='error'") || !strings.Contains(got, "<"+cond+" xmlns='"+nsStanzas+"'/>") {
		t.Fatalf("%s: %s; want %s", what, got, cond)
	}
}

// TestMUCVoiceRequest: XEP-0045 §7.13 and §8.6 over real sockets: a
// visitor of a moderated room asks for voice, the moderator gets the
// approval form with the visitor's nick and JID, a second request too soon
// is refused, only moderators answer, and the approval makes the visitor a
// participant, which everyone sees and after which it may speak.
func TestMUCVoiceRequest(t *testing.T) {
	_, u := mucUsers(t, "alice", "bob", "carol", "dave")
	alice, bob, carol, dave := u["alice"], u["bob"], u["carol"], u["dave"]
	mucJoin(alice, mucRoom, "Alice", "")
	mucSubject(alice)
	mucConfigure(t, alice, mucRoom, "c1", "muc#roomconfig_moderatedroom", "1")
	if got := mucJoin(bob, mucRoom, "Bob", ""); !strings.Contains(got, "role='visitor'") {
		t.Fatalf("bob's join of a moderated room: %s", got)
	}
	mucSubject(bob)
	alice.expect("</presence>")
	mucJoin(carol, mucRoom, "Carol", "")
	mucSubject(carol)
	alice.expect("</presence>")
	bob.expect("</presence>")

	request := "<message to='" + mucRoom + "' id='vr1'>" + submitForm(mucVoiceReq, "muc#role", "participant") + "</message>"
	bob.send(request)
	got := alice.expect("</message>")
	for _, w := range []string{"from='" + mucRoom + "'", "<x xmlns='jabber:x:data' type='form'>", "<value>" + mucVoiceReq + "</value>",
		"var='muc#roomnick'", "<value>Bob</value>", "var='muc#jid'", "<value>bob@localhost/r</value>", "var='muc#request_allow'"} {
		if !strings.Contains(got, w) {
			t.Fatalf("the moderator's approval form lacks %s: %s", w, got)
		}
	}

	t.Run("refused", func(t *testing.T) {
		bob.send(strings.Replace(request, "vr1", "vr2", 1))
		wantMessageError(t, bob, "a second voice request at once", "resource-constraint")
		alice.send("<message to='" + mucRoom + "' id='vr3'>" + submitForm(mucVoiceReq, "muc#role", "participant") + "</message>")
		wantMessageError(t, alice, "a moderator asking for voice", "not-allowed")
		dave.send("<message to='" + mucRoom + "' id='vr4'>" + submitForm(mucVoiceReq, "muc#role", "participant") + "</message>")
		wantMessageError(t, dave, "a voice request from outside the room", "not-acceptable")
		carol.send("<message to='" + mucRoom + "' id='vr5'>" + submitForm(mucVoiceReq, "muc#roomnick", "Bob", "muc#request_allow", "true") + "</message>")
		wantMessageError(t, carol, "a visitor granting voice", "forbidden")
		alice.send("<message to='" + mucRoom + "' id='vr6'>" + submitForm(mucVoiceReq, "muc#roomnick", "Nobody", "muc#request_allow", "true") + "</message>")
		wantMessageError(t, alice, "granting voice to a nick not in the room", "item-not-found")
		alice.send("<message to='" + mucRoom + "' id='vr7'>" + submitForm("urn:example:other") + "</message>")
		wantMessageError(t, alice, "a form of another FORM_TYPE", "bad-request")
	})
	t.Run("granted", func(t *testing.T) {
		alice.send("<message to='" + mucRoom + "' id='va'>" + submitForm(mucVoiceReq, "muc#role", "participant",
			"muc#jid", "bob@localhost/r", "muc#roomnick", "Bob", "muc#request_allow", "true") + "</message>")
		for _, s := range []*stream{alice, bob, carol} {
			got := s.expect("</presence>")
			if !strings.Contains(got, "from='"+mucRoom+"/Bob'") || !strings.Contains(got, "role='participant'") || !strings.Contains(got, "<actor nick='Alice'/>") {
				t.Fatalf("%s saw %s", s.name, got)
			}
		}
		bob.send("<message to='" + mucRoom + "' type='groupchat' id='said'><body>thanks</body></message>")
		for _, s := range []*stream{alice, bob, carol} {
			if got := s.expect("</message>"); !strings.Contains(got, "<body>thanks</body>") || strings.Contains(got, "type='error'") {
				t.Fatalf("%s got %s", s.name, got)
			}
		}
	})
}

// TestMUCRegistration: XEP-0045 §7.10 and §7.12 over real sockets: the
// registration form, a nick registered (which makes a member), the
// reserved-nick query, the nick refused to others (join, nick change,
// registration), members-only rooms, and unregistering.
func TestMUCRegistration(t *testing.T) {
	_, u := mucUsers(t, "alice", "bob", "carol", "dave")
	alice, bob, carol, dave := u["alice"], u["bob"], u["carol"], u["dave"]
	mucOpen(alice)

	info := iqTo(bob, "d1", "get", mucRoom, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	for _, f := range []string{nsRegister, mucRegForm, mucVoiceReq} {
		if !strings.Contains(info, "var='"+f+"'") {
			t.Fatalf("room disco#info lacks %s: %s", f, info)
		}
	}
	form := iqTo(bob, "r1", "get", mucRoom, "<query xmlns='"+nsRegister+"'/>")
	if !strings.Contains(form, "<value>"+mucRegForm+"</value>") || !strings.Contains(form, "var='muc#register_roomnick'") || strings.Contains(form, "<registered/>") {
		t.Fatalf("the registration form: %s", form)
	}
	register := func(s *stream, id, nick string) string {
		return iqTo(s, id, "set", mucRoom, "<query xmlns='"+nsRegister+"'>"+submitForm(mucRegForm, "muc#register_roomnick", nick)+"</query>")
	}
	if got := register(bob, "r2", "Bobby"); !strings.Contains(got, "type='result'") {
		t.Fatalf("registering: %s", got)
	}
	if got := iqTo(bob, "r3", "get", mucRoom, "<query xmlns='"+nsRegister+"'/>"); !strings.Contains(got, "<registered/><username>Bobby</username>") {
		t.Fatalf("the form of a registered user: %s", got)
	}
	roomUser := "<query xmlns='http://jabber.org/protocol/disco#info' node='x-roomuser-item'/>"
	if got := iqTo(bob, "r4", "get", mucRoom, roomUser); !strings.Contains(got, "<identity category='conference' type='text' name='Bobby'/>") {
		t.Fatalf("bob's reserved nick: %s", got)
	}
	if got := iqTo(carol, "r5", "get", mucRoom, roomUser); strings.Contains(got, "<identity") || !strings.Contains(got, "type='result'") {
		t.Fatalf("carol's reserved nick (none): %s", got)
	}
	if got := iqTo(alice, "r6", "get", mucRoom, "<query xmlns='"+nsMUCAdmin+"'><item affiliation='member'/></query>"); !strings.Contains(got, "jid='bob@localhost' nick='Bobby'") {
		t.Fatalf("registering made no member: %s", got)
	}

	t.Run("reserved", func(t *testing.T) {
		mucRefused(carol, mucRoom, "Bobby", "", "conflict")
		wantIQError(t, register(carol, "r7", "Bobby"), "registering another's nick", "conflict")
		wantIQError(t, register(carol, "r8", ""), "registering without a nick", "not-acceptable")
		wantIQError(t, iqTo(carol, "r9", "set", mucRoom, "<query xmlns='"+nsRegister+"'>"+submitForm("urn:example:other", "muc#register_roomnick", "C")+"</query>"),
			"a form of another FORM_TYPE", "bad-request")
		mucJoin(carol, mucRoom, "Carol", "")
		mucSubject(carol)
		alice.expect("</presence>")
		carol.send("<presence to='" + mucRoom + "/Bobby'/>")
		if got := carol.expect("</presence>"); !strings.Contains(got, "<conflict") {
			t.Fatalf("a nick change to a registered nick: %s", got)
		}
		// the one it is registered to joins with it
		mucJoin(bob, mucRoom, "Bobby", "")
		mucSubject(bob)
		for _, s := range []*stream{alice, carol} {
			s.expect("</presence>")
		}
	})
	t.Run("members-only", func(t *testing.T) {
		mucConfigure(t, alice, mucRoom, "c2", "muc#roomconfig_membersonly", "1")
		wantIQError(t, iqTo(dave, "r10", "get", mucRoom, "<query xmlns='"+nsRegister+"'/>"), "a non-member's registration in a members-only room", "not-allowed")
		mucRefused(dave, mucRoom, "Dave", "", "registration-required")
		// unregistering a member of a members-only room takes it out (321)
		if got := iqTo(bob, "r11", "set", mucRoom, "<query xmlns='"+nsRegister+"'><remove/></query>"); !strings.Contains(got, "<status code='321'/>") || !strings.Contains(got, "type='result'") {
			t.Fatalf("unregistering: %s", got)
		}
		if got := alice.expect("</presence>"); !strings.Contains(got, "from='"+mucRoom+"/Bobby'") || !strings.Contains(got, "<status code='321'/>") {
			t.Fatalf("alice saw %s", got)
		}
		if got := iqTo(alice, "r12", "get", mucRoom, "<query xmlns='"+nsMUCAdmin+"'><item affiliation='member'/></query>"); strings.Contains(got, "bob@localhost") {
			t.Fatalf("bob is still a member: %s", got)
		}
		wantIQError(t, iqTo(alice, "r13", "set", mucRoom, "<query xmlns='"+nsRegister+"'><remove/></query>"), "unregistering without a registration", "item-not-found")
	})
}

var relayIDRe = regexp.MustCompile(`id='(muc\.[^']+)'`)

// TestMUCOccupantIQ: iqs to an occupant's JID go to the occupant from the
// asker's occupant JID, and the answer (result or error) comes back from
// the occupant JID with the asker's id; vCards are answered for the
// occupant's account; an answer not from the one asked is dropped; a
// non-occupant, a nick not in the room and a room without private messages
// get their errors.
func TestMUCOccupantIQ(t *testing.T) {
	_, u := mucUsers(t, "alice", "bob", "carol")
	alice, bob, carol := u["alice"], u["bob"], u["carol"]
	mucOpen(alice, bob)
	if got := bob.iq("vc", "<iq type='set' id='vc'><vCard xmlns='vcard-temp'><FN>Bob Builder</FN></vCard></iq>"); !strings.Contains(got, "type='result'") {
		t.Fatalf("bob's vCard: %s", got)
	}

	alice.send("<iq type='get' id='p1' to='" + mucRoom + "/Bob'><ping xmlns='urn:xmpp:ping'/></iq>")
	got := bob.expect("</iq>")
	m := relayIDRe.FindStringSubmatch(got)
	if m == nil || !strings.Contains(got, "from='"+mucRoom+"/Alice'") || !strings.Contains(got, "type='get'") || !strings.Contains(got, "<ping xmlns='urn:xmpp:ping'/>") ||
		strings.Contains(got, "alice@localhost") {
		t.Fatalf("bob got %s", got)
	}
	// an answer from someone else with that id is not passed on
	carol.send("<iq type='result' id='" + m[1] + "' to='" + mucRoom + "/Alice'/>")
	bob.send("<iq type='result' id='" + m[1] + "' to='" + mucRoom + "/Alice'/>")
	if got := alice.expect("id='p1'"); !strings.Contains(got, "from='"+mucRoom+"/Bob'") || !strings.Contains(got, "type='result'") {
		t.Fatalf("alice got %s", got)
	}
	alice.expect(">")

	t.Run("error-answer", func(t *testing.T) {
		alice.send("<iq type='get' id='v1' to='" + mucRoom + "/Bob'><query xmlns='jabber:iq:version'/></iq>")
		m := relayIDRe.FindStringSubmatch(bob.expect("</iq>"))
		if m == nil {
			t.Fatal("no relayed id")
		}
		bob.send("<iq type='error' id='" + m[1] + "' to='" + mucRoom + "/Alice'><error type='cancel'><service-unavailable xmlns='" + nsStanzas + "'/></error></iq>")
		// the next iq alice sees is this answer: carol's forged result was dropped
		got := alice.expect("</iq>")
		if !strings.Contains(got, "from='"+mucRoom+"/Bob'") || !strings.Contains(got, "id='v1'") || strings.Count(got, "<iq") != 1 {
			t.Fatalf("alice got %s", got)
		}
		wantIQError(t, got, "bob's error answer", "service-unavailable")
	})
	t.Run("vcard", func(t *testing.T) {
		got := iqTo(alice, "vc1", "get", mucRoom+"/Bob", "<vCard xmlns='vcard-temp'/>")
		if !strings.Contains(got, "from='"+mucRoom+"/Bob'") || !strings.Contains(got, "type='result'") || !strings.Contains(got, "<FN>Bob Builder</FN>") {
			t.Fatalf("bob's vCard through the room: %s", got)
		}
	})
	t.Run("errors", func(t *testing.T) {
		wantIQError(t, iqTo(alice, "e1", "get", mucRoom+"/Nobody", "<ping xmlns='urn:xmpp:ping'/>"), "an iq to a nick not in the room", "item-not-found")
		wantIQError(t, iqTo(carol, "e2", "get", mucRoom+"/Bob", "<query xmlns='jabber:iq:version'/>"), "a non-occupant's iq", "not-acceptable")
		mucConfigure(t, alice, mucRoom, "c2", "muc#roomconfig_allowpm", "none")
		wantIQError(t, iqTo(bob, "e3", "get", mucRoom+"/Alice", "<query xmlns='jabber:iq:version'/>"), "an iq in a room without private messages", "forbidden")
	})
}

var occupantIDRe = regexp.MustCompile(`<occupant-id xmlns='urn:xmpp:occupant-id:0' id='([^']+)'/>`)

// TestMUCRestart: a persistent room keeps what these features add across
// a restart: a user's occupant id (XEP-0421) is the same after it, and a
// registered nick stays registered and reserved.
func TestMUCRestart(t *testing.T) {
	dir := t.TempDir()
	env, stop := startAt(t, dir)
	addUsers(env, "alice", "bob", "carol")
	alice := rawStream(t, env, "alice", "r")
	alice.online()
	before := occupantIDRe.FindStringSubmatch(mucJoin(alice, mucRoom, "Alice", ""))
	mucSubject(alice)
	mucConfigure(t, alice, mucRoom, "p1", "muc#roomconfig_persistentroom", "1")
	bob := rawStream(t, env, "bob", "r")
	bob.online()
	if got := iqTo(bob, "r1", "set", mucRoom, "<query xmlns='"+nsRegister+"'>"+submitForm(mucRegForm, "muc#register_roomnick", "Bobby")+"</query>"); !strings.Contains(got, "type='result'") {
		t.Fatalf("registering: %s", got)
	}
	alice.c.Close()
	bob.c.Close()
	stop()

	env, stop = startAt(t, dir)
	defer stop()
	alice = rawStream(t, env, "alice", "r")
	alice.online()
	after := occupantIDRe.FindStringSubmatch(mucJoin(alice, mucRoom, "Alice", ""))
	if before == nil || after == nil || before[1] != after[1] {
		t.Fatalf("alice's occupant id before and after the restart: %v, %v", before, after)
	}
	carol := rawStream(t, env, "carol", "r")
	carol.online()
	mucRefused(carol, mucRoom, "Bobby", "", "conflict")
	bob = rawStream(t, env, "bob", "r")
	bob.online()
	if got := iqTo(bob, "r2", "get", mucRoom, "<query xmlns='"+nsRegister+"'/>"); !strings.Contains(got, "<registered/><username>Bobby</username>") {
		t.Fatalf("bob's registration after the restart: %s", got)
	}
}
