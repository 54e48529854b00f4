package e2e

import (
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

const iqAuthFeature = "<auth xmlns='http://jabber.org/features/iq-auth'/>"

// legacyStream opens a direct TLS stream and reads its features.
func legacyStream(t *testing.T, env *servertest.Env, name string) (*stream, string) {
	t.Helper()
	s := &stream{t: t, name: name, c: env.DialTLS()}
	s.send(header)
	return s, s.expect("</stream:features>")
}

func legacySet(id, user, pass, res string) string {
	q := "<iq type='set' id='" + id + "'><query xmlns='jabber:iq:auth'>"
	if user != "" {
		q += "<username>" + user + "</username>"
	}
	if pass != "" {
		q += "<password>" + pass + "</password>"
	}
	if res != "" {
		q += "<resource>" + res + "</resource>"
	}
	return q + "</query></iq>"
}

// TestLegacyAuth: XEP-0078 over real sockets with the switch on.
func TestLegacyAuth(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.LegacyAuth.Enabled = true })
	env.AddUser("alice", "wonder&land")
	env.AddUser("bob", "pw")

	t.Run("login-and-chat", func(t *testing.T) {
		bob := rawStream(t, env, "bob", "r")
		bob.online()
		s, features := legacyStream(t, env, "alice")
		if !strings.Contains(features, iqAuthFeature) || !strings.Contains(features, "<mechanism>PLAIN</mechanism>") {
			t.Fatalf("features on TLS: %s", features)
		}
		s.send("<iq type='get' id='a1' to='localhost'><query xmlns='jabber:iq:auth'><username>alice</username></query></iq>")
		got := s.expect("</iq>")
		if !strings.Contains(got, "type='result'") || !strings.Contains(got, "<username>alice</username><password/><resource/>") || strings.Contains(got, "digest") {
			t.Fatalf("fields: %s", got)
		}
		s.send(legacySet("a2", "alice", "wonder&amp;land", "old"))
		if got := s.expect("id='a2'/>"); !strings.Contains(got, "<iq type='result'") {
			t.Fatalf("login: %s", got)
		}
		s.send("<message to='bob@localhost' id='m1' type='chat'><body>from the past</body></message>")
		if got := bob.expect("</message>"); !strings.Contains(got, "from='alice@localhost/old'") || !strings.Contains(got, "from the past") {
			t.Fatalf("bob got %s", got)
		}
		// the session is an ordinary one: it answers pings as itself
		s.send("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
		s.expect("<iq type='result' id='p1' from='localhost' to='alice@localhost/old'/>")
	})

	t.Run("resource-replaced", func(t *testing.T) {
		// XEP-0078 §3.1 recommends ending the existing session, as the
		// default conflict policy does for binding
		first, _ := legacyStream(t, env, "alice")
		first.send(legacySet("r1", "alice", "wonder&amp;land", "dup"))
		first.expect("id='r1'/>")
		second, _ := legacyStream(t, env, "alice")
		second.send(legacySet("r2", "alice", "wonder&amp;land", "dup"))
		if got := second.expect("id='r2'/>"); !strings.Contains(got, "type='result'") {
			t.Fatalf("second login: %s", got)
		}
		first.expect(streamErr("conflict"))
	})

	t.Run("unknown-user-get", func(t *testing.T) {
		// XEP-0078 §3.1: no error that would tell which names exist
		s, _ := legacyStream(t, env, "x")
		s.send("<iq type='get' id='g1'><query xmlns='jabber:iq:auth'><username>nobody</username></query></iq>")
		if got := s.expect("</iq>"); !strings.Contains(got, "type='result'") || !strings.Contains(got, "<username>nobody</username>") {
			t.Fatalf("fields for an unknown user: %s", got)
		}
	})

	t.Run("errors", func(t *testing.T) {
		s, _ := legacyStream(t, env, "alice")
		for _, tc := range []struct {
			name, send, want string
		}{
			{"missing-resource", legacySet("e1", "alice", "wonder&amp;land", ""), "<not-acceptable "},
			{"missing-password", legacySet("e2", "alice", "", "r"), "<not-acceptable "},
			{"bad-password", legacySet("e3", "alice", "wrong", "r"), "<not-authorized "},
			{"unknown-user", legacySet("e4", "nobody", "pw", "r"), "<not-authorized "},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s.send(tc.send)
				got := s.expect("</iq>")
				if !strings.Contains(got, "type='error'") || !strings.Contains(got, tc.want) || strings.Contains(got, "<query") {
					t.Fatalf("got %s, want %s without the request", got, tc.want)
				}
			})
		}
		// two failures so far; the third of AuthAttempts (3) ends the stream
		s.send(legacySet("e5", "alice", "wrong", "r"))
		if got := readAll(t, s.c); !strings.Contains(got, "<not-authorized ") || !strings.Contains(got, streamErr("policy-violation")) {
			t.Fatalf("third failure: %s", got)
		}
	})

	t.Run("after-sasl-failure", func(t *testing.T) {
		// XEP-0078 §9: no falling back after a failed SASL attempt
		s, _ := legacyStream(t, env, "alice")
		s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
			base64.StdEncoding.EncodeToString([]byte("\x00alice\x00wrong")) + "</auth>")
		s.expect("</failure>")
		s.send(legacySet("f1", "alice", "wonder&amp;land", "r"))
		if got := readAll(t, s.c); !strings.Contains(got, streamErr("policy-violation")) {
			t.Fatalf("legacy auth after a SASL failure: %s", got)
		}
	})

	t.Run("not-on-plain-stream", func(t *testing.T) {
		// PLAIN is not offered before TLS, so neither is this
		c := env.Dial()
		io.WriteString(c, header)
		features := readUntil(t, c, "</stream:features>")
		if strings.Contains(features, iqAuthFeature) {
			t.Fatalf("iq-auth offered in the clear: %s", features)
		}
		io.WriteString(c, legacySet("c1", "alice", "wonder&amp;land", "r"))
		if got := readUntil(t, c, "</iq>"); !strings.Contains(got, "<service-unavailable ") {
			t.Fatalf("legacy auth in the clear: %s", got)
		}
	})
}

// TestLegacyAuthOff: with the switch off (the default) the feature is not
// offered and a request gets service-unavailable (XEP-0078 §3.1).
func TestLegacyAuthOff(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw")
	s, features := legacyStream(t, env, "alice")
	if strings.Contains(features, iqAuthFeature) {
		t.Fatalf("iq-auth offered while off: %s", features)
	}
	for _, q := range []string{
		"<iq type='get' id='o1'><query xmlns='jabber:iq:auth'/></iq>",
		legacySet("o2", "alice", "pw", "r"),
	} {
		s.send(q)
		if got := s.expect("</iq>"); !strings.Contains(got, "type='error'") || !strings.Contains(got, "<service-unavailable ") {
			t.Fatalf("while off: %s", got)
		}
	}
	// the stream is still usable: SASL works
	s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00pw")) + "</auth>")
	s.expect("<success")
}
