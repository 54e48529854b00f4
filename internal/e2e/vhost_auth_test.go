package e2e

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// hostTLSStream opens a direct TLS stream to domain (SNI and header) and
// reads its features.
func hostTLSStream(t *testing.T, env *servertest.Env, domain string) (*stream, string) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", env.TLSAddr, hostTLS(t, env, domain))
	if err != nil {
		t.Fatalf("dial tls %s: %v", domain, err)
	}
	t.Cleanup(func() { c.Close() })
	s := &stream{t: t, name: domain, c: c}
	s.send(strings.Replace(header, "to='localhost'", "to='"+domain+"'", 1))
	return s, s.expect("</stream:features>")
}

// TestVHostRegisterAndLegacyAuth: in-band registration (XEP-0077) on a
// stream to the vhost creates the vhost's account, not the primary
// domain's; XEP-0078 legacy auth on such a stream logs in there and binds
// user@vhost/resource.
func TestVHostRegisterAndLegacyAuth(t *testing.T) {
	env := startVHosts(t, func(c *server.Config) {
		c.Register.Enabled = true
		c.LegacyAuth.Enabled = true
	})
	addAccount(t, env, "erin@localhost", "primary-pw")
	s, _ := hostTLSStream(t, env, vhost)
	s.send("<iq type='set' id='r1'><query xmlns='jabber:iq:register'><username>erin</username><password>vhost-pw</password></query></iq>")
	if got := s.expect("id='r1'"); !strings.Contains(got, "type='result'") {
		t.Fatalf("registration on the vhost: %s", got)
	}
	if _, err := env.Srv.DB().Accounts().Get("erin@" + vhost); err != nil {
		t.Fatalf("the vhost's erin: %v", err)
	}
	// the primary erin keeps her password; the vhost's has its own
	hostStream(t, env, "erin@localhost/p", "primary-pw")
	hostStream(t, env, "erin@"+vhost+"/v", "vhost-pw")

	l, features := hostTLSStream(t, env, vhost)
	if !strings.Contains(features, iqAuthFeature) {
		t.Fatalf("no legacy auth on the vhost: %s", features)
	}
	l.send(legacySet("a1", "erin", "primary-pw", "old"))
	if got := l.expect("</iq>"); !strings.Contains(got, "<not-authorized") {
		t.Fatalf("the primary erin's password on the vhost: %s", got)
	}
	l.send(legacySet("a2", "erin", "vhost-pw", "old"))
	if got := l.expect("id='a2'/>"); !strings.Contains(got, "<iq type='result'") {
		t.Fatalf("legacy login on the vhost: %s", got)
	}
	l.send("<iq type='get' id='p1' to='" + vhost + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	l.expect("<iq type='result' id='p1' from='" + vhost + "' to='erin@" + vhost + "/old'/>")
}
