package e2e

import (
	"crypto/tls"
	"io"
	"strings"
	"testing"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// TestRegisterAfterSTARTTLS: a local client registers after STARTTLS, as
// every real client does (the loopback policy once forgot where the client
// was when TLS started, and answered service-unavailable); on the plain
// stream before it, the feature is not offered and a request is refused with
// policy-violation, as the password would go in clear.
func TestRegisterAfterSTARTTLS(t *testing.T) {
	env := servertest.Start(t)
	c := env.Dial()
	io.WriteString(c, header)
	feats := readUntil(t, c, "</stream:features>")
	if strings.Contains(feats, registerFeature) {
		t.Fatalf("registration offered on a plain stream: %s", feats)
	}
	wantError(t, ask(t, c, "<iq type='get' id='p1'><query xmlns='jabber:iq:register'/></iq>"), "policy-violation")
	wantError(t, ask(t, c, "<iq type='set' id='p2'><query xmlns='jabber:iq:register'><username>mallory</username><password>in clear</password></query></iq>"), "policy-violation")

	io.WriteString(c, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	readUntil(t, c, "<proceed")
	tc := tls.Client(c, env.ClientTLS())
	io.WriteString(tc, header)
	feats = readUntil(t, tc, "</stream:features>")
	if !strings.Contains(feats, registerFeature) {
		t.Fatalf("no registration feature after STARTTLS: %s", feats)
	}
	wantResult(t, ask(t, tc, "<iq type='get' id='r1'><query xmlns='jabber:iq:register'/></iq>"), "<password")
	wantResult(t, ask(t, tc, "<iq type='set' id='r2'><query xmlns='jabber:iq:register'><username>frank</username><password>pw-frank</password></query></iq>"), "id='r2'")
	if _, err := env.Srv.DB().Accounts().Get("frank"); err != nil {
		t.Fatalf("account not created: %v", err)
	}
	if _, err := env.Srv.DB().Accounts().Get("mallory"); err == nil {
		t.Fatal("account created over a plain stream")
	}
}

// TestRegisterPlainAllowed: allow_plain restores registration without TLS.
func TestRegisterPlainAllowed(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Register.AllowPlain = true })
	c := env.Dial()
	io.WriteString(c, header)
	if feats := readUntil(t, c, "</stream:features>"); !strings.Contains(feats, registerFeature) {
		t.Fatalf("no registration feature with allow_plain: %s", feats)
	}
	wantResult(t, ask(t, c, "<iq type='set' id='r1'><query xmlns='jabber:iq:register'><username>gina</username><password>pw-gina</password></query></iq>"), "id='r1'")
}

// TestBindTwoResources: a bind request naming two resources is refused with
// bad-request rather than bound to the first; the stream stays usable.
func TestBindTwoResources(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw")
	c := rawAuth(t, env, "alice")
	wantError(t, ask(t, c, "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>one</resource><resource>two</resource></bind></iq>"), "bad-request")
	wantResult(t, ask(t, c, "<iq type='set' id='b2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>one</resource></bind></iq>"), "<jid>alice@localhost/one</jid>")
}
