package e2e

import (
	"bytes"
	"encoding/base64"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

const header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"

// readAll reads until the server closes the connection (bounded in time).
func readAll(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading until close: %v (got %q)", err, b)
	}
	return string(b)
}

// readUntil reads until want appears (bounded in time).
func readUntil(t testing.TB, c net.Conn, want string) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte(want)) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("waiting for %q: %v (got %q)", want, err, got)
		}
	}
	return string(got)
}

// rawLogin logs in with PLAIN over direct TLS and binds resource, as a
// minimal client of our own for what mellium cannot do.
func rawLogin(t *testing.T, env *servertest.Env, user, pass, resource string) net.Conn {
	t.Helper()
	return rawLoginOn(t, env.DialTLS(), user, pass, resource)
}

// rawLoginOn is rawLogin over a connection the test opened itself.
func rawLoginOn(t testing.TB, c net.Conn, user, pass, resource string) net.Conn {
	t.Helper()
	io.WriteString(c, header)
	readUntil(t, c, "</stream:features>")
	io.WriteString(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass))+"</auth>")
	readUntil(t, c, "<success")
	io.WriteString(c, header)
	readUntil(t, c, "</stream:features>")
	io.WriteString(c, "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>"+resource+"</resource></bind></iq>")
	readUntil(t, c, "</iq>")
	return c
}

// utf16LE encodes ASCII s as UTF-16LE.
func utf16LE(s string) string {
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		b = append(b, s[i], 0)
	}
	return string(b)
}

func streamErr(cond string) string {
	return "<stream:error><" + cond + " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
}

// TestBadInput sends each kind of bad input and checks the stream error the
// client receives, and that the server then closes the stream and the
// connection.
func TestBadInput(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) {
		c.Limits.MaxStanzaBytes = 10000
		c.Limits.PreAuthIdle = server.Duration{Duration: time.Second}
	})
	big := "<message><body>" + strings.Repeat("a", 20000) + "</body></message>"
	for _, tc := range []struct {
		name, send, cond string
	}{
		{"not-well-formed", header + "<message><body></message>", "not-well-formed"},
		{"bad-utf8", header + "<message><body>\xff\xfe</body></message>", "not-well-formed"},
		{"comment", header + "<!-- hello -->", "restricted-xml"},
		{"dtd", "<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY x 'y'>]>", "restricted-xml"},
		{"processing-instruction", header + "<?php echo 1 ?>", "restricted-xml"},
		{"undeclared-entity", header + "<message><body>&lol;</body></message>", "restricted-xml"},
		{"wrong-stream-namespace", "<stream:stream xmlns='jabber:client' xmlns:stream='http://example.com/streams' to='localhost' version='1.0'>", "invalid-namespace"},
		{"wrong-content-namespace", "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>", "invalid-namespace"},
		{"unknown-host", "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0'>", "host-unknown"},
		{"old-version", "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='0.9'>", "unsupported-version"},
		{"latin1", "<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>", "unsupported-encoding"},
		// RFC 6120 §11.6: UTF-16, told by its first bytes (XML Appendix F)
		{"utf16-bom", "\xff\xfe" + utf16LE(header), "unsupported-encoding"},
		{"utf16le", utf16LE(header), "unsupported-encoding"},
		{"utf16be", "\x00<\x00?\x00x", "unsupported-encoding"},
		// refused at its start tag, not when (if ever) it closes
		{"second-header", header + strings.TrimPrefix(header, "<?xml version='1.0'?>"), "unsupported-stanza-type"},
		{"stanza-too-large", header + big, "policy-violation"},
		{"too-deep", header + "<message>" + strings.Repeat("<x>", 40) + strings.Repeat("</x>", 40) + "</message>", "policy-violation"},
		{"stanza-before-auth", header + "<message to='bob@localhost'><body>hi</body></message>", "not-authorized"},
		{"iq-before-auth", header + "<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>", "not-authorized"},
		{"unknown-top-level-element", header + "<foo xmlns='urn:example'/>", "unsupported-stanza-type"},
		{"silence-before-auth", header, "connection-timeout"},
		{"silence-before-header", "", "connection-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := env.Dial()
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			got := readAll(t, c)
			if !strings.Contains(got, streamErr(tc.cond)) {
				t.Fatalf("got %q\nwant a <%s/> stream error", got, tc.cond)
			}
			if !strings.HasSuffix(got, "</stream:stream>") {
				t.Fatalf("stream not closed with </stream:stream>: %q", got)
			}
			if !strings.HasPrefix(got, "<?xml version='1.0'?><stream:stream ") {
				t.Fatalf("no stream header before the error: %q", got)
			}
		})
	}
}

// TestSASLFailures checks the <failure/> conditions of RFC 6120 §6.5 and the
// limit on failed attempts.
func TestSASLFailures(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "wonderland")
	plain := func(user, pass string) string {
		return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	}
	// a TLS stream at its features, not authenticated
	atFeatures := func(t *testing.T) net.Conn {
		t.Helper()
		c := env.DialTLS()
		io.WriteString(c, header)
		readUntil(t, c, "</stream:features>")
		return c
	}
	t.Run("unknown-mechanism", func(t *testing.T) {
		c := atFeatures(t)
		io.WriteString(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>")
		readUntil(t, c, "<invalid-mechanism/>")
	})
	t.Run("plain-without-tls", func(t *testing.T) {
		c := env.Dial()
		io.WriteString(c, header)
		feats := readUntil(t, c, "</stream:features>")
		if strings.Contains(feats, "<mechanism>PLAIN</mechanism>") {
			t.Fatalf("PLAIN offered on an unencrypted stream: %s", feats)
		}
		io.WriteString(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+plain("alice", "wonderland")+"</auth>")
		readUntil(t, c, "<encryption-required/>")
	})
	t.Run("bad-base64", func(t *testing.T) {
		c := atFeatures(t)
		io.WriteString(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!!not base64</auth>")
		readUntil(t, c, "<incorrect-encoding/>")
	})
	t.Run("wrong-password-then-limit", func(t *testing.T) {
		c := atFeatures(t)
		for i := 0; i < 2; i++ {
			io.WriteString(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+plain("alice", "nope")+"</auth>")
			readUntil(t, c, "<not-authorized/></failure>")
		}
		io.WriteString(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+plain("alice", "nope")+"</auth>")
		got := readAll(t, c)
		if !strings.Contains(got, streamErr("policy-violation")) {
			t.Fatalf("third failure: got %q, want a policy-violation stream error", got)
		}
	})
	t.Run("unknown-user", func(t *testing.T) {
		c := atFeatures(t)
		io.WriteString(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+plain("mallory", "x")+"</auth>")
		readUntil(t, c, "<not-authorized/></failure>")
	})
	t.Run("plain-success", func(t *testing.T) {
		c := atFeatures(t)
		io.WriteString(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+plain("alice", "wonderland")+"</auth>")
		readUntil(t, c, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'")
		io.WriteString(c, header)
		feats := readUntil(t, c, "</stream:features>")
		if !strings.Contains(feats, "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>") {
			t.Fatalf("no bind feature after authentication: %s", feats)
		}
		// the seed's login: bind, legacy session, then an iq nobody serves
		io.WriteString(c, "<iq type='set' id='h1q24-3'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>ZY-fordestiny</resource></bind></iq>")
		readUntil(t, c, "<jid>alice@localhost/ZY-fordestiny</jid>")
		io.WriteString(c, "<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
		readUntil(t, c, "id='s1'")
		io.WriteString(c, "<iq type='get' id='u1' to='localhost'><query xmlns='urn:example:unknown'/></iq>")
		got := readUntil(t, c, "</iq>")
		if !strings.Contains(got, "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>") {
			t.Fatalf("unknown iq namespace: got %q, want service-unavailable", got)
		}
		io.WriteString(c, "<message to='a@b@c' id='j1'><body>x</body></message>")
		got = readUntil(t, c, "</message>")
		if !strings.Contains(got, "<jid-malformed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>") {
			t.Fatalf("bad to: got %q, want jid-malformed", got)
		}
		io.WriteString(c, "</stream:stream>")
		if got := readAll(t, c); !strings.HasSuffix(got, "</stream:stream>") {
			t.Fatalf("closing: got %q", got)
		}
	})
}
