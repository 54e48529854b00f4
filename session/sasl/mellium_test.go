package sasl

import (
	"crypto/tls"
	"testing"

	msasl "mellium.im/sasl"
)

// runMellium drives an exchange between our Server and mellium.im/sasl's
// client, an independent implementation. It returns the server and the first
// server failure; client errors fail the test.
func runMellium(t *testing.T, conf Config, cb ChannelBinding, mech msasl.Mechanism, opts ...msasl.Option) (*Server, error) {
	t.Helper()
	client := msasl.NewClient(mech, opts...)
	s, err := conf.Start(mech.Name, testCreds(), testNorm, cb)
	if err != nil {
		return nil, err
	}
	more, resp, err := client.Step(nil)
	if err != nil {
		t.Fatalf("client start: %v", err)
	}
	for range 4 {
		out, done, err := s.Step(resp)
		if err != nil {
			return s, err
		}
		if done && !more { // PLAIN, ANONYMOUS: nothing comes with <success/>
			if out != nil {
				t.Fatalf("success carries %q the client does not expect", out)
			}
			return s, nil
		}
		more, resp, err = client.Step(out)
		if err != nil {
			t.Fatalf("client rejects %q: %v", out, err)
		}
		if done { // SCRAM: the client has checked the server signature
			if more {
				t.Fatal("client wants more after success")
			}
			return s, nil
		}
	}
	t.Fatal("exchange does not end")
	return nil, nil
}

func creds(user, pass, authzid string) msasl.Option {
	return msasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte(user), []byte(pass), []byte(authzid)
	})
}

func TestMellium(t *testing.T) {
	tls12Cli, tls12Srv := tlsState(t, tls.VersionTLS12)
	tls13Cli, tls13Srv := tlsState(t, tls.VersionTLS13)
	real12, real13 := bindingFor(t, tls12Srv), bindingFor(t, tls13Srv)
	conf := Config{Domain: "example.org", Anonymous: true}

	for _, tc := range []struct {
		name string
		mech msasl.Mechanism
		cb   ChannelBinding
		opts []msasl.Option
		user string    // wanted User()
		want Condition // 0: success
	}{
		{name: "SCRAM-SHA-1", mech: msasl.ScramSha1, cb: tcp, opts: []msasl.Option{creds(testUser, testPass, "")}, user: testUser},
		{name: "SCRAM-SHA-256", mech: msasl.ScramSha256, cb: tcp, opts: []msasl.Option{creds(testUser, testPass, "")}, user: testUser},
		{name: "SCRAM-SHA-256/authzid", mech: msasl.ScramSha256, cb: tcp, opts: []msasl.Option{creds(testUser, testPass, "juliet@example.org")}, user: testUser},
		{name: "SCRAM-SHA-256/escaped-name", mech: msasl.ScramSha256, cb: tcp, opts: []msasl.Option{creds("r,o=meo", "pässwörd", "")}, user: "r,o=meo"},
		{name: "SCRAM-SHA-256/over-tls13", mech: msasl.ScramSha256, cb: real13, opts: []msasl.Option{creds(testUser, testPass, ""), msasl.TLSState(tls13Cli)}, user: testUser},
		{name: "SCRAM-SHA-1-PLUS/tls13", mech: msasl.ScramSha1Plus, cb: real13,
			opts: []msasl.Option{creds(testUser, testPass, ""), msasl.TLSState(tls13Cli), msasl.RemoteMechanisms("SCRAM-SHA-1-PLUS")}, user: testUser},
		{name: "SCRAM-SHA-256-PLUS/tls13", mech: msasl.ScramSha256Plus, cb: real13,
			opts: []msasl.Option{creds(testUser, testPass, ""), msasl.TLSState(tls13Cli), msasl.RemoteMechanisms("SCRAM-SHA-256-PLUS")}, user: testUser},
		{name: "SCRAM-SHA-256-PLUS/tls13/wrong-password", mech: msasl.ScramSha256Plus, cb: real13,
			opts: []msasl.Option{creds(testUser, "wrong", ""), msasl.TLSState(tls13Cli), msasl.RemoteMechanisms("SCRAM-SHA-256-PLUS")}, want: NotAuthorized},
		{name: "SCRAM-SHA-256-PLUS/other-connection", mech: msasl.ScramSha256Plus, cb: real13,
			opts: []msasl.Option{creds(testUser, testPass, ""), msasl.TLSState(otherTLS13(t)), msasl.RemoteMechanisms("SCRAM-SHA-256-PLUS")}, want: NotAuthorized},
		// mellium binds TLS 1.2 with tls-unique, which RFC 9266 retired and
		// Ignis does not offer.
		{name: "SCRAM-SHA-256-PLUS/tls12/tls-unique", mech: msasl.ScramSha256Plus, cb: real12,
			opts: []msasl.Option{creds(testUser, testPass, ""), msasl.TLSState(tls12Cli), msasl.RemoteMechanisms("SCRAM-SHA-256-PLUS")}, want: MalformedRequest},
		{name: "SCRAM-SHA-1/wrong-password", mech: msasl.ScramSha1, cb: tcp, opts: []msasl.Option{creds(testUser, "wrong", "")}, want: NotAuthorized},
		{name: "SCRAM-SHA-1/unknown-user", mech: msasl.ScramSha1, cb: tcp, opts: []msasl.Option{creds("romeo", testPass, "")}, want: NotAuthorized},
		{name: "SCRAM-SHA-1/other-authzid", mech: msasl.ScramSha1, cb: tcp, opts: []msasl.Option{creds(testUser, testPass, "romeo@example.org")}, want: InvalidAuthzid},
		{name: "PLAIN", mech: msasl.Plain, cb: real13, opts: []msasl.Option{creds(testUser, testPass, "")}, user: testUser},
		{name: "PLAIN/wrong-password", mech: msasl.Plain, cb: real13, opts: []msasl.Option{creds(testUser, "wrong", "")}, want: NotAuthorized},
		{name: "ANONYMOUS", mech: msasl.Anonymous, cb: tcp, opts: []msasl.Option{creds("trace", "", "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := runMellium(t, conf, tc.cb, tc.mech, tc.opts...)
			if tc.want != 0 {
				wantFailure(t, err, tc.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.User() != tc.user {
				t.Errorf("User() = %q, want %q", s.User(), tc.user)
			}
		})
	}
}

// otherTLS13 is the client side of a different TLS 1.3 connection: its
// exporter value is not the server's, as for a man in the middle.
func otherTLS13(t *testing.T) tls.ConnectionState {
	cli, _ := tlsState(t, tls.VersionTLS13)
	return cli
}
