package sasl

import (
	"errors"
	"slices"
	"testing"
)

var (
	tcp   = ChannelBinding{}
	tls12 = ChannelBinding{TLS: true, EndPoint: []byte("end-point")}
	tls13 = ChannelBinding{TLS: true, TLS13: true, Exporter: []byte("exporter"), EndPoint: []byte("end-point")}
)

func TestMechanisms(t *testing.T) {
	const (
		p512, p256, p1 = "SCRAM-SHA-512-PLUS", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"
		s512, s256, s1 = "SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1"
	)
	for _, tc := range []struct {
		name string
		conf Config
		cb   ChannelBinding
		want []string
	}{
		{name: "tcp", cb: tcp, want: []string{s512, s256, s1}},
		{name: "tcp/plain-allowed", conf: Config{AllowPlainWithoutTLS: true}, cb: tcp, want: []string{s512, s256, s1, "PLAIN"}},
		{name: "tcp/anonymous", conf: Config{Anonymous: true}, cb: tcp, want: []string{s512, s256, s1, "ANONYMOUS"}},
		{name: "tcp/binding-data-ignored", cb: ChannelBinding{EndPoint: []byte("x"), Exporter: []byte("y"), TLS13: true}, want: []string{s512, s256, s1}},
		{name: "tls12", cb: tls12, want: []string{p512, p256, p1, s512, s256, s1, "PLAIN"}},
		{name: "tls12/exporter-only", cb: ChannelBinding{TLS: true, Exporter: []byte("x")}, want: []string{s512, s256, s1, "PLAIN"}},
		{name: "tls12/no-binding-data", cb: ChannelBinding{TLS: true}, want: []string{s512, s256, s1, "PLAIN"}},
		{name: "tls13", cb: tls13, want: []string{p512, p256, p1, s512, s256, s1, "PLAIN"}},
		{name: "tls13/exporter-only", cb: ChannelBinding{TLS: true, TLS13: true, Exporter: []byte("x")}, want: []string{p512, p256, p1, s512, s256, s1, "PLAIN"}},
		{name: "tls13/anonymous", conf: Config{Anonymous: true}, cb: tls13, want: []string{p512, p256, p1, s512, s256, s1, "PLAIN", "ANONYMOUS"}},
		{name: "tls13/disabled", conf: Config{Disabled: []string{"scram-sha-1", "SCRAM-SHA-1-PLUS", "PLAIN"}}, cb: tls13, want: []string{p512, p256, s512, s256}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.conf.Mechanisms(tc.cb); !slices.Equal(got, tc.want) {
				t.Errorf("Mechanisms = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMechanismsNoAllocs(t *testing.T) {
	var c Config
	if n := testing.AllocsPerRun(10, func() { _ = c.Mechanisms(tls13) }); n != 0 {
		t.Errorf("Mechanisms allocates %v times; want a shared slice", n)
	}
}

func TestCBTypes(t *testing.T) {
	for _, tc := range []struct {
		name string
		conf Config
		cb   ChannelBinding
		want []string
	}{
		{name: "tcp", cb: tcp},
		{name: "tls12", cb: tls12, want: []string{"tls-server-end-point"}},
		{name: "tls12/exporter-ignored", cb: ChannelBinding{TLS: true, Exporter: []byte("x"), EndPoint: []byte("y")}, want: []string{"tls-server-end-point"}},
		{name: "tls13", cb: tls13, want: []string{"tls-server-end-point", "tls-exporter"}},
		{name: "tls13/exporter-only", cb: ChannelBinding{TLS: true, TLS13: true, Exporter: []byte("x")}, want: []string{"tls-exporter"}},
		{name: "tls12/unique", cb: ChannelBinding{TLS: true, EndPoint: []byte("y"), Unique: []byte("u")}, want: []string{"tls-server-end-point", "tls-unique"}},
		// accepted from old clients on TLS 1.3 but not advertised (RFC 9266 §3)
		{name: "tls13/unique-not-advertised", cb: ChannelBinding{TLS: true, TLS13: true, Exporter: []byte("x"), EndPoint: []byte("y"), Unique: []byte("u")}, want: []string{"tls-server-end-point", "tls-exporter"}},
		{name: "tls13/plus-disabled", conf: Config{Disabled: []string{"SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-512-PLUS"}}, cb: tls13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.conf.CBTypes(tc.cb); !slices.Equal(got, tc.want) {
				t.Errorf("CBTypes = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		conf Config
		mech string
		cb   ChannelBinding
		want Condition // 0: started
	}{
		{name: "scram/tcp", mech: "SCRAM-SHA-256", cb: tcp},
		{name: "plus/tls13", mech: "SCRAM-SHA-512-PLUS", cb: tls13},
		{name: "plus/tcp", mech: "SCRAM-SHA-256-PLUS", cb: tcp, want: InvalidMechanism},
		{name: "plus/no-binding-data", mech: "SCRAM-SHA-256-PLUS", cb: ChannelBinding{TLS: true}, want: InvalidMechanism},
		{name: "plain/tls", mech: "PLAIN", cb: tls12},
		{name: "plain/tcp", mech: "PLAIN", cb: tcp, want: EncryptionRequired},
		{name: "plain/tcp-allowed", conf: Config{AllowPlainWithoutTLS: true}, mech: "PLAIN", cb: tcp},
		{name: "plain/disabled", conf: Config{Disabled: []string{"PLAIN"}}, mech: "PLAIN", cb: tcp, want: InvalidMechanism},
		{name: "anonymous/off", mech: "ANONYMOUS", cb: tls13, want: InvalidMechanism},
		{name: "anonymous/on", conf: Config{Anonymous: true}, mech: "ANONYMOUS", cb: tcp},
		{name: "disabled", conf: Config{Disabled: []string{"SCRAM-SHA-1"}}, mech: "SCRAM-SHA-1", cb: tls13, want: InvalidMechanism},
		{name: "obsolete/digest-md5", mech: "DIGEST-MD5", cb: tls13, want: InvalidMechanism},
		{name: "obsolete/cram-md5", mech: "CRAM-MD5", cb: tls13, want: InvalidMechanism},
		{name: "case-sensitive", mech: "scram-sha-256", cb: tls13, want: InvalidMechanism},
		{name: "empty", mech: "", cb: tls13, want: InvalidMechanism},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.conf.Start(tc.mech, testCreds(), testNorm, tc.cb)
			if tc.want != 0 {
				wantFailure(t, err, tc.want)
				if s != nil {
					t.Error("Start returned a Server with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			if s.Mechanism() != tc.mech {
				t.Errorf("Mechanism() = %q, want %q", s.Mechanism(), tc.mech)
			}
			if s.User() != "" {
				t.Errorf("User() = %q before authentication", s.User())
			}
		})
	}
}

func TestConditions(t *testing.T) {
	want := []string{"aborted", "account-disabled", "credentials-expired", "encryption-required",
		"incorrect-encoding", "invalid-authzid", "invalid-mechanism", "malformed-request",
		"mechanism-too-weak", "not-authorized", "temporary-auth-failure"}
	for i, name := range want {
		if got := Condition(i + 1).String(); got != name {
			t.Errorf("Condition(%d) = %q, want %q", i+1, got, name)
		}
	}
	if got := Condition(0).String(); got != "undefined-condition" {
		t.Errorf("Condition(0) = %q", got)
	}
	if got := (&Failure{Cond: NotAuthorized}).Error(); got != "sasl: not-authorized" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Failure{Cond: MalformedRequest, Text: "bad"}).Error(); got != "sasl: malformed-request: bad" {
		t.Errorf("Error() = %q", got)
	}
}

func TestPlain(t *testing.T) {
	conf := Config{Domain: "example.org"}
	for _, tc := range []struct {
		name      string
		noInitial bool // <auth/> without initial response, then msg in <response/>
		msg       string
		want      Condition // 0: success
	}{
		{name: "ok", msg: "\x00juliet\x00" + testPass},
		{name: "ok/case-mapped", msg: "\x00Juliet\x00" + testPass},
		{name: "ok/no-initial-response", noInitial: true, msg: "\x00juliet\x00" + testPass},
		{name: "ok/authzid-localpart", msg: "juliet\x00juliet\x00" + testPass},
		{name: "ok/authzid-bare-jid", msg: "juliet@Example.org\x00juliet\x00" + testPass},
		{name: "wrong-password", msg: "\x00juliet\x00" + testPass + "x", want: NotAuthorized},
		{name: "unknown-user", msg: "\x00romeo\x00" + testPass, want: NotAuthorized},
		{name: "invalid-username", msg: "\x00jul iet\x00" + testPass, want: NotAuthorized},
		{name: "authzid-other-user", msg: "romeo\x00juliet\x00" + testPass, want: InvalidAuthzid},
		{name: "authzid-other-domain", msg: "juliet@example.net\x00juliet\x00" + testPass, want: InvalidAuthzid},
		{name: "authzid-full-jid", msg: "juliet@example.org/balcony\x00juliet\x00" + testPass, want: InvalidAuthzid},
		{name: "two-fields", msg: "juliet\x00" + testPass, want: MalformedRequest},
		{name: "four-fields", msg: "\x00juliet\x00" + testPass + "\x00x", want: MalformedRequest},
		{name: "empty-authcid", msg: "\x00\x00" + testPass, want: MalformedRequest},
		{name: "empty-password", msg: "\x00juliet\x00", want: MalformedRequest},
		{name: "empty", msg: "", want: MalformedRequest},
		{name: "bad-utf8", msg: "\x00juliet\x00\xff", want: MalformedRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := conf.Start("PLAIN", testCreds(), testNorm, tls12)
			if err != nil {
				t.Fatal(err)
			}
			if tc.noInitial {
				out, done, err := s.Step(nil)
				if out != nil || done || err != nil {
					t.Fatalf("Step(nil) = %q, %v, %v; want an empty challenge", out, done, err)
				}
			}
			out, done, err := s.Step([]byte(tc.msg))
			if tc.want != 0 {
				wantFailure(t, err, tc.want)
				if done || s.User() != "" {
					t.Errorf("failed attempt: done=%v User()=%q", done, s.User())
				}
				return
			}
			if err != nil || !done || out != nil {
				t.Fatalf("Step = %q, %v, %v; want success without data", out, done, err)
			}
			if s.User() != testUser {
				t.Errorf("User() = %q, want %q", s.User(), testUser)
			}
			_, _, err = s.Step([]byte(tc.msg))
			wantFailure(t, err, MalformedRequest)
		})
	}
}

func TestPlainSameFailure(t *testing.T) {
	// A wrong password and an unknown user must look the same to the client.
	var got []error
	for _, msg := range []string{"\x00juliet\x00wrong", "\x00nobody\x00wrong"} {
		s, err := Config{}.Start("PLAIN", testCreds(), testNorm, tls12)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = s.Step([]byte(msg))
		got = append(got, err)
	}
	if got[0].Error() != got[1].Error() {
		t.Errorf("wrong password: %v; unknown user: %v", got[0], got[1])
	}
}

func TestAnonymous(t *testing.T) {
	conf := Config{Anonymous: true}
	for _, tc := range []struct {
		name  string
		steps [][]byte
	}{
		{name: "trace", steps: [][]byte{[]byte("sirhc")}},
		{name: "empty-initial-response", steps: [][]byte{{}}},
		{name: "email-trace", steps: [][]byte{[]byte("juliet@example.org")}},
		{name: "no-initial-response", steps: [][]byte{nil}}, // XEP-0175 §3
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := conf.Start("ANONYMOUS", nil, nil, tcp)
			if err != nil {
				t.Fatal(err)
			}
			var done bool
			for i, in := range tc.steps {
				var out []byte
				out, done, err = s.Step(in)
				if err != nil || out != nil || done != (i == len(tc.steps)-1) {
					t.Fatalf("step %d = %q, %v, %v", i, out, done, err)
				}
			}
			if s.User() != "" {
				t.Errorf("User() = %q, want \"\"", s.User())
			}
			_, _, err = s.Step(nil)
			wantFailure(t, err, MalformedRequest)
		})
	}
}

func TestFailureIsError(t *testing.T) {
	_, err := Config{}.Start("X", nil, nil, tcp)
	var f *Failure
	if !errors.As(err, &f) || f.Cond != InvalidMechanism {
		t.Fatalf("err = %v", err)
	}
}
