package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	mjid "mellium.im/xmpp/jid"

	"ignis/internal/server"
	"ignis/internal/servertest"
	"ignis/jid"
	"ignis/store"
)

// vhost is the virtual host the tests in this file serve beside localhost.
const vhost = "example.net"

// startVHosts runs a server for localhost with example.net as a virtual host.
func startVHosts(t *testing.T, edit ...func(*server.Config)) *servertest.Env {
	t.Helper()
	return servertest.Start(t, append([]func(*server.Config){func(c *server.Config) {
		c.VHosts = []server.VHost{{Domain: vhost}}
	}}, edit...)...)
}

// addAccount creates the account of a bare JID on any local domain.
func addAccount(t *testing.T, env *servertest.Env, bare, pass string) {
	t.Helper()
	key := store.UserKey(env.Cfg.Domain, jid.MustParse(bare))
	if err := env.Srv.DB().Accounts().Create(key, pass); err != nil {
		t.Fatalf("creating %s: %v", bare, err)
	}
}

// hostTLS trusts the self-signed certificate the server made for domain,
// and names domain by SNI.
func hostTLS(t *testing.T, env *servertest.Env, domain string) *tls.Config {
	t.Helper()
	file := filepath.Join(env.Cfg.Data, "cert.pem")
	if domain != env.Cfg.Domain {
		file = filepath.Join(env.Cfg.Data, "vhosts", domain, "cert.pem")
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading the certificate of %s: %v", domain, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("the certificate of %s is not PEM", domain)
	}
	return &tls.Config{ServerName: domain, RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// hostLogin logs a mellium client in as full over STARTTLS, verifying the
// certificate of full's domain.
func hostLogin(t *testing.T, env *servertest.Env, full, pass string, mech sasl.Mechanism) (*xmpp.Session, error) {
	t.Helper()
	addr := mjid.MustParse(full)
	return xmpp.NewClientSession(testCtx(t), addr, traced(t, env.Dial()),
		xmpp.StartTLS(hostTLS(t, env, addr.Domainpart())), xmpp.SASL("", pass, mech), xmpp.BindResource())
}

// hostStream logs in with PLAIN over direct TLS to full's domain (SNI and
// stream header) and binds its resource: a raw client for what mellium
// does not do.
func hostStream(t *testing.T, env *servertest.Env, full, pass string) *stream {
	t.Helper()
	j := jid.MustParse(full)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", env.TLSAddr, hostTLS(t, env, j.Domain()))
	if err != nil {
		t.Fatalf("dial tls %s: %v", j.Domain(), err)
	}
	t.Cleanup(func() { c.Close() })
	head := strings.Replace(header, "to='localhost'", "to='"+j.Domain()+"'", 1)
	io.WriteString(c, head)
	readUntil(t, c, "</stream:features>")
	io.WriteString(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+
		base64.StdEncoding.EncodeToString([]byte("\x00"+j.Local()+"\x00"+pass))+"</auth>")
	readUntil(t, c, "<success")
	io.WriteString(c, head)
	readUntil(t, c, "</stream:features>")
	io.WriteString(c, "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>"+j.Resource()+"</resource></bind></iq>")
	if got := readUntil(t, c, "</iq>"); !strings.Contains(got, "<jid>"+full+"</jid>") {
		t.Fatalf("bind of %s: %s", full, got)
	}
	return &stream{t: t, name: full, c: c}
}

// TestVHostAccounts: the same localpart on two local domains is two
// accounts, each with its own password; a mellium client logs in to the
// virtual host (certificate verified for its name) and is bound there.
func TestVHostAccounts(t *testing.T) {
	env := startVHosts(t)
	addAccount(t, env, "alice@localhost", "primary-pw")
	addAccount(t, env, "alice@"+vhost, "vhost-pw")
	for _, tc := range []struct {
		full, pass string
		ok         bool
	}{
		{"alice@" + vhost + "/r", "vhost-pw", true},
		{"alice@" + vhost + "/r", "primary-pw", false},
		{"alice@localhost/r", "vhost-pw", false},
		{"alice@localhost/r", "primary-pw", true},
		{"bob@" + vhost + "/r", "vhost-pw", false},
	} {
		for _, mech := range []sasl.Mechanism{sasl.ScramSha256Plus, sasl.ScramSha1, sasl.Plain} {
			s, err := hostLogin(t, env, tc.full, tc.pass, mech)
			if (err == nil) != tc.ok {
				t.Fatalf("%s with %s and %q: err %v, want ok=%v", mech.Name, tc.full, tc.pass, err, tc.ok)
			}
			if err == nil {
				if got, want := s.LocalAddr().Bare().String(), mjid.MustParse(tc.full).Bare().String(); got != want {
					t.Errorf("%s bound %s, want %s", mech.Name, got, want)
				}
				s.Close()
			}
		}
	}
}

// TestVHostChat: users of two local domains chat through the router, with
// the addresses each domain gives; the rosters of the two alices are apart.
func TestVHostChat(t *testing.T) {
	env := startVHosts(t)
	addAccount(t, env, "alice@localhost", "pw1")
	addAccount(t, env, "alice@"+vhost, "pw2")
	s1, err := hostLogin(t, env, "alice@localhost/a", "pw1", sasl.ScramSha256)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := hostLogin(t, env, "alice@"+vhost+"/b", "pw2", sasl.ScramSha256)
	if err != nil {
		t.Fatal(err)
	}
	a, b := serve(t, s1), serve(t, s2)
	a.presence(t)
	b.presence(t)
	a.send(t, message{To: "alice@" + vhost, Type: "chat", ID: "m1", Body: "hello other me"})
	if m := b.expect(t); m.From != a.LocalAddr().String() || !strings.HasPrefix(m.From, "alice@localhost/") || m.Body != "hello other me" {
		t.Fatalf("vhost alice got %+v", m)
	}
	b.send(t, message{To: a.LocalAddr().String(), Type: "chat", ID: "m2", Body: "hi back"})
	if m := a.expect(t); m.From != b.LocalAddr().String() || !strings.HasPrefix(m.From, "alice@"+vhost+"/") || m.Body != "hi back" {
		t.Fatalf("primary alice got %+v", m)
	}

	r1 := hostStream(t, env, "alice@localhost/raw", "pw1")
	r2 := hostStream(t, env, "alice@"+vhost+"/raw", "pw2")
	r1.send("<iq type='set' id='s1'><query xmlns='jabber:iq:roster'><item jid='friend@elsewhere.example' name='F'/></query></iq>")
	r1.expect("id='s1'")
	r2.send("<iq type='get' id='g2'><query xmlns='jabber:iq:roster'/></iq>")
	if got := r2.expect("</iq>"); strings.Contains(got, "friend@elsewhere.example") {
		t.Fatalf("the vhost alice sees the primary alice's roster: %s", got)
	}
	r1.send("<iq type='get' id='g1'><query xmlns='jabber:iq:roster'/></iq>")
	if got := r1.expect("</iq>"); !strings.Contains(got, "<item jid='friend@elsewhere.example'") {
		t.Fatalf("the primary alice's roster: %s", got)
	}
}

// TestVHostSubscription: a presence subscription handshake between users of
// two local domains (RFC 6121 §3.1), with the roster pushes and presence
// each side gets, and nothing sent to another server.
func TestVHostSubscription(t *testing.T) {
	env := startVHosts(t)
	addAccount(t, env, "romeo@localhost", "pw")
	addAccount(t, env, "juliet@"+vhost, "pw")
	romeo := hostStream(t, env, "romeo@localhost/r", "pw")
	juliet := hostStream(t, env, "juliet@"+vhost+"/j", "pw")
	for _, s := range []*stream{romeo, juliet} {
		s.send("<iq type='get' id='r0'><query xmlns='jabber:iq:roster'/></iq>") // roster pushes come to interested resources
		s.expect("id='r0'")
		s.online()
	}
	romeo.send("<presence to='juliet@" + vhost + "' type='subscribe'/>")
	romeo.expect("<item jid='juliet@" + vhost + "' subscription='none' ask='subscribe'/>")
	juliet.expect("<presence from='romeo@localhost' to='juliet@" + vhost + "' type='subscribe'/>")
	juliet.send("<presence to='romeo@localhost' type='subscribed'/>")
	juliet.expect("<item jid='romeo@localhost' subscription='from'/>")
	romeo.expect("<item jid='juliet@" + vhost + "' subscription='to'/>")
	romeo.expect("<presence from='juliet@" + vhost + "' to='romeo@localhost' type='subscribed'/>")
	romeo.expect("<presence from='juliet@" + vhost + "/j' to='romeo@localhost'/>")

	// stored under each user's own account
	db := env.Srv.DB()
	if it, err := db.Roster().Get("romeo", "juliet@"+vhost); err != nil || it.Sub != store.SubTo {
		t.Fatalf("romeo's item: %+v %v", it, err)
	}
	if it, err := db.Roster().Get("juliet@"+vhost, "romeo@localhost"); err != nil || it.Sub != store.SubFrom {
		t.Fatalf("juliet's item: %+v %v", it, err)
	}
}

// TestVHostOffline: a message to an offline user of the other domain is
// stored and delivered when that user logs in; a user the vhost does not
// have gets the sender service-unavailable.
func TestVHostOffline(t *testing.T) {
	env := startVHosts(t)
	addAccount(t, env, "alice@localhost", "pw")
	addAccount(t, env, "carol@"+vhost, "pw")
	addAccount(t, env, "carol@localhost", "pw")
	a := hostStream(t, env, "alice@localhost/a", "pw")
	a.send("<message to='carol@" + vhost + "' id='o1' type='chat'><body>while you were out</body></message>")
	a.send("<message to='nobody@" + vhost + "' id='o2' type='chat'><body>x</body></message>")
	if got := a.expect("</message>"); !strings.Contains(got, "id='o2'") || !strings.Contains(got, "<service-unavailable") {
		t.Fatalf("to a user the vhost does not have: %s", got)
	}
	// the error to o2 came after o1 was handed to offline storage
	if n, err := env.Srv.DB().Offline().Count("carol"); err != nil || n != 0 {
		t.Fatalf("localhost's carol has %d offline messages (%v)", n, err)
	}
	c := hostStream(t, env, "carol@"+vhost+"/c", "pw")
	c.send("<presence/>")
	if got := c.expect("</message>"); !strings.Contains(got, "from='alice@localhost/a'") || !strings.Contains(got, "while you were out") {
		t.Fatalf("carol got %s", got)
	}
}

// TestVHostTLS: the certificate comes by SNI: the vhost's name gets its own,
// any other name the primary domain's.
func TestVHostTLS(t *testing.T) {
	env := startVHosts(t)
	for _, tc := range []struct{ sni, want string }{
		{vhost, vhost},
		{"localhost", "localhost"},
		{"", "localhost"},
		{"unknown.example", "localhost"},
	} {
		c, err := tls.Dial("tcp", env.TLSAddr, &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("sni %q: %v", tc.sni, err)
		}
		cert := c.ConnectionState().PeerCertificates[0]
		c.Close()
		if cert.Subject.CommonName != tc.want || !slices.Contains(cert.DNSNames, tc.want) {
			t.Errorf("sni %q: certificate for %s %v, want %s", tc.sni, cert.Subject.CommonName, cert.DNSNames, tc.want)
		}
	}
}

// TestVHostStream: a stream header names the domain; one not served gets
// host-unknown; the vhost answers disco#info as the primary does and lists
// the services (which live under the primary domain).
func TestVHostStream(t *testing.T) {
	env := startVHosts(t)
	c := env.Dial()
	io.WriteString(c, strings.Replace(header, "to='localhost'", "to='nowhere.example'", 1))
	if got := readUntil(t, c, "</stream:stream>"); !strings.Contains(got, streamErr("host-unknown")) {
		t.Fatalf("unknown host: %s", got)
	}
	c = env.Dial()
	io.WriteString(c, strings.Replace(header, "to='localhost'", "to='"+vhost+"'", 1))
	if got := readUntil(t, c, "</stream:features>"); !strings.Contains(got, "from='"+vhost+"'") {
		t.Fatalf("the vhost's stream header: %s", got)
	}

	addAccount(t, env, "alice@"+vhost, "pw")
	a := hostStream(t, env, "alice@"+vhost+"/a", "pw")
	a.send("<iq type='get' id='i1' to='" + vhost + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	info := a.expect("</iq>")
	a.send("<iq type='get' id='i1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	primary := a.expect("</iq>")
	if !strings.Contains(info, "<identity category='server' type='im'") ||
		strings.Replace(info, "from='"+vhost+"'", "from='localhost'", 1) != primary {
		t.Fatalf("disco#info of the vhost:\n%s\nof the primary domain:\n%s", info, primary)
	}
	a.send("<iq type='get' id='i2' to='" + vhost + "'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	if items := a.expect("</iq>"); !strings.Contains(items, "<item jid='conference."+vhost+"'") || strings.Contains(items, "localhost") {
		t.Fatalf("disco#items of the vhost: %s", items)
	}
}

// TestVHostS2S: a virtual host federates as itself: its user's message to
// another server goes over a link that authenticated the vhost (dialback,
// the peer checking back with the vhost), and the answer comes back to it
// over that link (XEP-0288).
func TestVHostS2S(t *testing.T) {
	alog, blog := newLogSink(), newLogSink()
	a := fedServer(t, "a.test", alog, func(c *server.Config) { c.VHosts = []server.VHost{{Domain: "v.test"}} })
	b := fedServer(t, "b.test", blog)
	resolve(a, b)
	resolve(b, a, "v.test")
	addAccount(t, a, "carol@v.test", "pw")
	carol := hostStream(t, a, "carol@v.test/r", "pw")
	bob := fedLogin(t, b, "bob")
	carol.online()
	bob.online()

	carol.send("<message to='bob@b.test' id='v1' type='chat'><body>from the vhost</body></message>")
	bob.expect("<message from='carol@v.test/r' to='bob@b.test' id='v1' type='chat'><body>from the vhost</body></message>")
	blog.wait(t, "incoming link authenticated", "domain=v.test", "by=dialback")
	alog.wait(t, "link up", "domain=b.test")

	bob.send("<message to='carol@v.test/r' id='v2' type='chat'><body>back to the vhost</body></message>")
	carol.expect("<message from='bob@b.test/r' to='carol@v.test/r' id='v2' type='chat'><body>back to the vhost</body></message>")
	// the answer came back over the vhost's link (XEP-0288), whose pair
	// (b.test to v.test) b.test routes back over it
	if n := b.Srv.S2S().BidiRoutes(); n != 1 {
		t.Errorf("b.test has %d bidirectional routes, want the one back to v.test", n)
	}
}

// TestVHostAdmin: the admin socket takes user@vhost where it takes a user:
// the account is made on the vhost (the client logs in there, not on the
// primary domain); a password change ends only that account's sessions;
// info lists the vhost; a domain not served is refused.
func TestVHostAdmin(t *testing.T) {
	env := startVHosts(t)
	call := func(req server.AdminRequest) server.AdminReply { t.Helper(); return adminCall(t, env, req) }
	if rep := call(server.AdminRequest{Op: "info"}); rep.Domain != "localhost" || !slices.Equal(rep.Hosts, []string{vhost}) {
		t.Fatalf("info: %+v", rep)
	}
	if rep := call(server.AdminRequest{Op: "user-add", User: "dave@" + vhost, Password: "vpw"}); rep.Error != "" {
		t.Fatalf("user-add: %s", rep.Error)
	}
	if rep := call(server.AdminRequest{Op: "user-add", User: "dave", Password: "ppw"}); rep.Error != "" {
		t.Fatalf("user-add: %s", rep.Error)
	}
	if rep := call(server.AdminRequest{Op: "user-add", User: "dave@example.org", Password: "x"}); !strings.Contains(rep.Error, "not example.org") {
		t.Fatalf("user-add on a domain not served: %+v", rep)
	}
	users := call(server.AdminRequest{Op: "user-list"}).Users
	slices.Sort(users)
	if !slices.Equal(users, []string{"dave", "dave@" + vhost}) {
		t.Fatalf("user-list: %q", users)
	}
	vd := hostStream(t, env, "dave@"+vhost+"/v", "vpw")
	pd := hostStream(t, env, "dave@localhost/p", "ppw")
	if rep := call(server.AdminRequest{Op: "user-passwd", User: "dave@" + vhost, Password: "new"}); rep.Error != "" {
		t.Fatalf("user-passwd: %s", rep.Error)
	}
	if got := readAll(t, vd.c); !strings.Contains(got, "<reset xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>") {
		t.Fatalf("the vhost dave's stream got %q, want <reset/>", got)
	}
	pd.send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
	pd.expect("id='p1'") // the primary dave's session goes on
	hostStream(t, env, "dave@"+vhost+"/v2", "new")
}

// TestVHostArchive: a chat between users of two local domains is archived
// (XEP-0313) for both, each message stamped with the recipient's own
// stanza-id; the vhost's alice has an archive of her own, apart from the
// primary domain's alice.
func TestVHostArchive(t *testing.T) {
	env := startVHosts(t, func(c *server.Config) { c.Archive.Enabled = true })
	addAccount(t, env, "alice@localhost", "pw")
	addAccount(t, env, "alice@"+vhost, "pw")
	addAccount(t, env, "bob@"+vhost, "pw")
	a := hostStream(t, env, "alice@localhost/a", "pw")
	va := hostStream(t, env, "alice@"+vhost+"/v", "pw")
	b := hostStream(t, env, "bob@"+vhost+"/b", "pw")
	for _, s := range []*stream{a, va, b} {
		s.online()
	}
	a.send("<message to='bob@" + vhost + "' id='c1' type='chat'><body>hello bob</body></message>")
	if got := b.expect("</message>"); !strings.Contains(got, "hello bob") || !strings.Contains(got, "by='bob@"+vhost+"'") {
		t.Fatalf("bob got %s, want a stanza-id by his own JID", got)
	}
	b.send("<message to='alice@localhost' id='c2' type='chat'><body>hello alice</body></message>")
	if got := a.expect("</message>"); !strings.Contains(got, "hello alice") || !strings.Contains(got, "by='alice@localhost'") {
		t.Fatalf("alice got %s, want a stanza-id by her own JID", got)
	}
	query := "<iq type='set' id='q1'><query xmlns='urn:xmpp:mam:2' queryid='q1'/></iq>"
	for _, tc := range []struct {
		s    *stream
		want []string
	}{
		{a, []string{"hello bob", "hello alice"}},
		{b, []string{"hello bob", "hello alice"}},
		{va, nil},
	} {
		tc.s.send(query)
		got := tc.s.expect("</iq>")
		if !strings.Contains(got, "<fin xmlns='urn:xmpp:mam:2' complete='true'") {
			t.Fatalf("%s: query: %s", tc.s.name, got)
		}
		if n := strings.Count(got, "<result xmlns='urn:xmpp:mam:2'"); n != len(tc.want) {
			t.Fatalf("%s: %d archived messages, want %d: %s", tc.s.name, n, len(tc.want), got)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Fatalf("%s: archive lacks %q: %s", tc.s.name, w, got)
			}
		}
	}
}
