package e2e

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"ignis/internal/server"
	"ignis/internal/servertest"
	"ignis/jid"
	"ignis/store"
)

// Per-domain services: each local domain has its own conference, pubsub,
// broadcast, proxy and upload service (README "Virtual hosts").

const (
	roomP = "dev@conference.localhost"
	roomV = "dev@conference." + vhost
)

// withVHost adds example.net as a virtual host.
func withVHost(c *server.Config) { c.VHosts = []server.VHost{{Domain: vhost}} }

// mamTexts queries a room's archive and returns the result messages.
func mamTexts(s *stream, room, id string) string {
	s.t.Helper()
	s.send("<iq type='set' id='" + id + "' to='" + room + "'><query xmlns='urn:xmpp:mam:2' queryid='x" + id + "'/></iq>") // not id='ID': expect stops there
	got := s.expect("id='" + id + "'")
	if fin := s.expect("</iq>"); !strings.Contains(fin, "complete='true'") {
		s.t.Fatalf("%s: archive of %s: %s%s", s.name, room, got, fin)
	}
	return got
}

// TestVHostRooms: dev@conference.localhost and dev@conference.example.net
// are two rooms: each is created by its first occupant, their messages
// and archives stay apart, and both persist across a restart, the
// primary's under its old key (the localpart), the vhost's under its JID.
func TestVHostRooms(t *testing.T) {
	dir := t.TempDir()
	env, stop := startAt(t, dir, withVHost)
	addAccount(t, env, "alice@localhost", "pw")
	addAccount(t, env, "bob@"+vhost, "pw")
	alice := hostStream(t, env, "alice@localhost/r", "pw")
	bob := hostStream(t, env, "bob@"+vhost+"/r", "pw")
	alice.online()
	bob.online()

	for _, tc := range []struct {
		s    *stream
		room string
	}{{alice, roomP}, {bob, roomV}} {
		if got := mucJoin(tc.s, tc.room, mucNick(tc.s), ""); !strings.Contains(got, "<status code='201'/>") || !strings.Contains(got, "affiliation='owner'") {
			t.Fatalf("%s creating %s: %s", tc.s.name, tc.room, got)
		}
		mucSubject(tc.s)
		mucConfigure(t, tc.s, tc.room, "p-"+tc.room, "muc#roomconfig_persistentroom", "1")
	}
	// alice joins the vhost's room too: she sees bob there, and only bob
	got := mucJoin(alice, roomV, "Alice", "")
	if !strings.Contains(got, "from='"+roomV+"/Bob'") || strings.Contains(got, "<status code='201'/>") || !strings.Contains(got, "affiliation='none'") {
		t.Fatalf("alice joining %s: %s", roomV, got)
	}
	mucSubject(alice)
	bob.expect("from='" + roomV + "/Alice'")

	alice.send("<message to='" + roomP + "' type='groupchat' id='m1'><body>on the primary</body></message>")
	if got := alice.expect("</message>"); !strings.Contains(got, "from='"+roomP+"/Alice'") || !strings.Contains(got, "by='"+roomP+"'") {
		t.Fatalf("alice's echo in %s: %s", roomP, got)
	}
	bob.send("<message to='" + roomV + "' type='groupchat' id='m2'><body>on the vhost</body></message>")
	if got := bob.expect("</message>"); !strings.Contains(got, "from='"+roomV+"/Bob'") || !strings.Contains(got, "by='"+roomV+"'") {
		t.Fatalf("bob's echo in %s: %s", roomV, got)
	}
	if got := alice.expect("</message>"); !strings.Contains(got, "from='"+roomV+"/Bob'") || !strings.Contains(got, "on the vhost") {
		t.Fatalf("alice in %s: %s", roomV, got)
	}
	checkArchives := func(when string) {
		t.Helper()
		if got := mamTexts(alice, roomP, "qp"+when); !strings.Contains(got, "on the primary") || strings.Contains(got, "on the vhost") {
			t.Fatalf("%s: archive of %s: %s", when, roomP, got)
		}
		if got := mamTexts(bob, roomV, "qv"+when); !strings.Contains(got, "on the vhost") || strings.Contains(got, "on the primary") {
			t.Fatalf("%s: archive of %s: %s", when, roomV, got)
		}
	}
	checkArchives("before")
	alice.c.Close()
	bob.c.Close()
	stop()

	env, stop = startAt(t, dir, withVHost)
	defer stop()
	// the store keys: the primary's room as before per-domain services
	for _, key := range []string{"dev", store.RoomKey("conference.localhost", jid.MustParse(roomV))} {
		if _, err := env.Srv.DB().Rooms().Get(key); err != nil {
			t.Fatalf("stored room %q: %v", key, err)
		}
	}
	alice = hostStream(t, env, "alice@localhost/r", "pw")
	bob = hostStream(t, env, "bob@"+vhost+"/r", "pw")
	alice.online()
	bob.online()
	for _, tc := range []struct {
		s          *stream
		room, want string
	}{
		{alice, roomP, "affiliation='owner'"},
		{bob, roomV, "affiliation='owner'"},
		{alice, roomV, "affiliation='none'"},
	} {
		got := mucJoin(tc.s, tc.room, mucNick(tc.s), "<history maxstanzas='0'/>")
		if strings.Contains(got, "<status code='201'/>") || !strings.Contains(got, tc.want) {
			t.Fatalf("%s joining %s after the restart: %s", tc.s.name, tc.room, got)
		}
		mucSubject(tc.s)
	}
	checkArchives("after")
}

// TestVHostServiceDisco: disco#items of each local domain lists its own
// services only; each service answers disco#info with its identity; the
// proxy's streamhost and the upload slot belong to the domain asked.
func TestVHostServiceDisco(t *testing.T) {
	env := startVHosts(t, func(c *server.Config) {
		c.Proxy65.Enabled, c.Proxy65.Listen = true, "127.0.0.1:0"
		c.Upload.Enabled, c.Upload.Listen = true, "127.0.0.1:0"
	})
	addAccount(t, env, "alice@"+vhost, "pw")
	a := hostStream(t, env, "alice@"+vhost+"/r", "pw")
	for _, tc := range []struct{ domain, other string }{{"localhost", vhost}, {vhost, "localhost"}} {
		got := iqTo(a, "i-"+tc.domain, "get", tc.domain, "<query xmlns='http://jabber.org/protocol/disco#items'/>")
		for _, s := range []string{"conference", "pubsub", "broadcast", "proxy", "upload"} {
			if !strings.Contains(got, "<item jid='"+s+"."+tc.domain+"'") {
				t.Errorf("disco#items of %s lacks %s.%s: %s", tc.domain, s, tc.domain, got)
			}
		}
		if strings.Contains(got, "."+tc.other+"'") {
			t.Errorf("disco#items of %s lists a service of %s: %s", tc.domain, tc.other, got)
		}
	}
	for svc, id := range map[string]string{
		"conference": "<identity category='conference' type='text'",
		"pubsub":     "<identity category='pubsub' type='service'",
		"broadcast":  "<identity category='component' type='generic'",
		"proxy":      "<identity category='proxy' type='bytestreams'",
		"upload":     "<identity category='store' type='file'",
	} {
		got := iqTo(a, "n-"+svc, "get", svc+"."+vhost, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
		if !strings.Contains(got, "from='"+svc+"."+vhost+"'") || !strings.Contains(got, id) {
			t.Errorf("disco#info of %s.%s: %s", svc, vhost, got)
		}
	}
	got := iqTo(a, "sh", "get", "proxy."+vhost, "<query xmlns='"+nsBytestreams+"'/>")
	if !strings.Contains(got, "<streamhost jid='proxy."+vhost+"' host='"+vhost+"'") {
		t.Errorf("streamhost of proxy.%s: %s", vhost, got)
	}
	port := strconv.Itoa(env.Srv.UploadAddr().(*net.TCPAddr).Port)
	got = iqTo(a, "up", "get", "upload."+vhost, "<request xmlns='urn:xmpp:http:upload:0' filename='a.txt' size='3'/>")
	if !strings.Contains(got, "<put url='https://"+vhost+":"+port+"/upload/") {
		t.Errorf("upload slot of upload.%s: %s", vhost, got)
	}
}

// TestVHostPubsub: a node of pubsub.example.net is apart from the node of
// that name on pubsub.localhost: both can be created, items go to one.
func TestVHostPubsub(t *testing.T) {
	env := startVHosts(t)
	addAccount(t, env, "alice@localhost", "pw")
	addAccount(t, env, "bob@"+vhost, "pw")
	alice := hostStream(t, env, "alice@localhost/r", "pw")
	bob := hostStream(t, env, "bob@"+vhost+"/r", "pw")
	svcV, svcP := "pubsub."+vhost, "pubsub.localhost"
	for _, tc := range []struct {
		s   *stream
		svc string
	}{{bob, svcV}, {alice, svcP}} {
		if got := iqTo(tc.s, "c-"+tc.svc, "set", tc.svc, "<pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='news'/></pubsub>"); !strings.Contains(got, "type='result'") {
			t.Fatalf("%s creating news on %s: %s", tc.s.name, tc.svc, got)
		}
	}
	pub := "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='news'><item id='i1'><entry xmlns='urn:example'>vhost news</entry></item></publish></pubsub>"
	if got := iqTo(bob, "p1", "set", svcV, pub); !strings.Contains(got, "type='result'") {
		t.Fatalf("publishing on %s: %s", svcV, got)
	}
	items := "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='news'/></pubsub>"
	if got := iqTo(alice, "g1", "get", svcV, items); !strings.Contains(got, "vhost news") {
		t.Fatalf("items of news on %s: %s", svcV, got)
	}
	if got := iqTo(alice, "g2", "get", svcP, items); !strings.Contains(got, "type='result'") || strings.Contains(got, "vhost news") {
		t.Fatalf("items of news on %s: %s", svcP, got)
	}
	// alice owns the primary's node, not the vhost's
	del := "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='news'/></pubsub>"
	if got := iqTo(alice, "d1", "set", svcV, del); !strings.Contains(got, "<forbidden xmlns='"+nsStanzas+"'/>") {
		t.Fatalf("alice deleting news on %s: %s", svcV, got)
	}
}

// TestVHostBroadcast: all@broadcast.example.net reaches example.net's
// online users only, all@broadcast.localhost localhost's only.
func TestVHostBroadcast(t *testing.T) {
	env := startVHosts(t, func(c *server.Config) { c.Admin.JIDs = []string{"admin@localhost"} })
	for _, u := range []string{"admin@localhost", "bob@localhost", "carol@" + vhost, "dave@" + vhost} {
		addAccount(t, env, u, "pw")
	}
	admin := hostStream(t, env, "admin@localhost/r", "pw")
	bob := hostStream(t, env, "bob@localhost/r", "pw")
	carol := hostStream(t, env, "carol@"+vhost+"/r", "pw")
	dave := hostStream(t, env, "dave@"+vhost+"/r", "pw")
	for _, s := range []*stream{admin, bob, carol, dave} {
		s.online()
	}
	admin.send("<message to='all@broadcast." + vhost + "' type='headline'><body>vhost news</body></message>")
	for _, s := range []*stream{carol, dave} {
		s.expect("vhost news</body>" + addressed("all@broadcast."+vhost) + "</message>")
	}
	admin.send("<message to='all@broadcast.localhost' type='headline'><body>primary news</body></message>")
	// bob's first broadcast is the primary's: the vhost's did not reach him
	if got := bob.expect("</message>"); !strings.Contains(got, "primary news</body>"+addressed("all@broadcast.localhost")) {
		t.Fatalf("bob got %s", got)
	}
	// and the primary's reached no one of the vhost: their next message is this one
	admin.send("<message to='all@broadcast." + vhost + "' type='headline'><body>second</body></message>")
	for _, s := range []*stream{carol, dave} {
		if got := s.expect("</message>"); !strings.Contains(got, "second</body>") {
			t.Fatalf("%s got %s", s.name, got)
		}
	}
}

// TestVHostRoomAdmin: the admin socket lists the rooms of every domain's
// service; a room JID picks the service, a bare name the primary's.
func TestVHostRoomAdmin(t *testing.T) {
	env := startVHosts(t)
	addAccount(t, env, "alice@localhost", "pw")
	addAccount(t, env, "bob@"+vhost, "pw")
	alice := hostStream(t, env, "alice@localhost/r", "pw")
	bob := hostStream(t, env, "bob@"+vhost+"/r", "pw")
	for _, tc := range []struct {
		s    *stream
		room string
	}{{alice, roomP}, {bob, roomV}} {
		tc.s.online()
		mucJoin(tc.s, tc.room, mucNick(tc.s), "")
		mucSubject(tc.s)
		iqTo(tc.s, "c-"+tc.room, "set", tc.room, instant)
	}
	call := func(req server.AdminRequest) server.AdminReply { t.Helper(); return adminCall(t, env, req) }
	list := func() (out []string) {
		for _, r := range call(server.AdminRequest{Op: "room-list"}).Rooms {
			out = append(out, r.JID)
		}
		return out
	}
	if got := list(); strings.Join(got, " ") != roomP+" "+roomV { // the primary's first
		t.Fatalf("room-list: %q", got)
	}
	if rep := call(server.AdminRequest{Op: "room-destroy", Room: roomV, Message: "moved"}); rep.Error != "" || rep.Done != 1 {
		t.Fatalf("destroying %s: %+v", roomV, rep)
	}
	if got := bob.expect("</presence>"); !strings.Contains(got, "from='"+roomV+"/Bob'") || !strings.Contains(got, "<reason>moved</reason>") {
		t.Fatalf("bob in the destroyed room: %s", got)
	}
	if rep := call(server.AdminRequest{Op: "room-destroy", Room: "dev@conference.example.org"}); !strings.Contains(rep.Error, "not a room of this server") {
		t.Fatalf("a room of no local service: %+v", rep)
	}
	if rep := call(server.AdminRequest{Op: "room-destroy", Room: "dev"}); rep.Error != "" {
		t.Fatalf("destroying dev (the primary's): %+v", rep)
	}
	if got := alice.expect("</presence>"); !strings.Contains(got, "from='"+roomP+"/Alice'") || !strings.Contains(got, "<destroy/>") {
		t.Fatalf("alice in the destroyed room: %s", got)
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("room-list after both: %q", got)
	}
}

// TestVHostServiceList: a vhost's services list narrows its own services:
// with ["muc"] example.net has conference.example.net and nothing else
// (pubsub.example.net is served by nobody), while localhost keeps all.
func TestVHostServiceList(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) {
		c.VHosts = []server.VHost{{Domain: vhost, Services: &[]string{"muc"}}}
	})
	addAccount(t, env, "alice@"+vhost, "pw")
	a := hostStream(t, env, "alice@"+vhost+"/r", "pw")
	got := iqTo(a, "i1", "get", vhost, "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	if !strings.Contains(got, "<item jid='conference."+vhost+"'") || strings.Count(got, "<item ") != 1 {
		t.Fatalf("disco#items of %s: %s", vhost, got)
	}
	got = iqTo(a, "i2", "get", "pubsub."+vhost, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	if !strings.Contains(got, "type='error'") || !strings.Contains(got, "<remote-server-not-found xmlns='"+nsStanzas+"'/>") {
		t.Fatalf("disco#info of pubsub.%s: %s", vhost, got)
	}
	got = iqTo(a, "i3", "get", "localhost", "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	for _, s := range []string{"conference", "pubsub", "broadcast"} {
		if !strings.Contains(got, "<item jid='"+s+".localhost'") {
			t.Fatalf("disco#items of localhost: %s", got)
		}
	}
}
