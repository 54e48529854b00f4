package sasl

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"strings"
	"testing"

	"ignis/scram"
)

// oneUser holds keys for a single user, as in the RFC examples.
type oneUser struct {
	user string
	keys scram.Keys
}

func (o oneUser) Keys(user string, _ scram.Hash) (scram.Keys, error) {
	if user != o.user {
		return scram.Keys{}, errNotAuthorized
	}
	return o.keys, nil
}

// TestRFCExamples replays RFC 5802 §5 and RFC 7677 §3 byte for byte, with
// the server nonce fixed to the RFCs'.
func TestRFCExamples(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		mech                     string
		hash                     scram.Hash
		salt                     string
		clientFirst, serverFirst string
		clientFinal, serverFinal string
	}{
		{
			name:        "RFC5802/SCRAM-SHA-1",
			mech:        "SCRAM-SHA-1",
			hash:        scram.SHA1,
			salt:        "QSXCR+Q6sek8bf92",
			clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
			serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			name:        "RFC7677/SCRAM-SHA-256",
			mech:        "SCRAM-SHA-256",
			hash:        scram.SHA256,
			salt:        "W22ZaJ0SNY7soEsUEjb6gQ==",
			clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			salt, err := base64.StdEncoding.DecodeString(tc.salt)
			if err != nil {
				t.Fatal(err)
			}
			creds := oneUser{user: "user", keys: scram.Derive(tc.hash, "pencil", salt, 4096)}
			s, err := Config{}.Start(tc.mech, creds, testNorm, ChannelBinding{})
			if err != nil {
				t.Fatal(err)
			}
			cnonce := strings.TrimPrefix(tc.clientFirst, "n,,n=user,r=")
			s.testNonce = strings.TrimPrefix(strings.Split(tc.serverFirst, ",")[0], "r="+cnonce)

			out, done, err := s.Step([]byte(tc.clientFirst))
			if err != nil || done || string(out) != tc.serverFirst {
				t.Fatalf("first step = %q, %v, %v; want %q", out, done, err, tc.serverFirst)
			}
			out, done, err = s.Step([]byte(tc.clientFinal))
			if err != nil || !done || string(out) != tc.serverFinal {
				t.Fatalf("final step = %q, %v, %v; want %q", out, done, err, tc.serverFinal)
			}
			if s.User() != "user" {
				t.Errorf("User() = %q", s.User())
			}
		})
	}
}

// exchange runs a whole SCRAM exchange with c and returns the first failure.
func exchange(t *testing.T, conf Config, mech string, cb ChannelBinding, c *testClient) (*Server, error) {
	t.Helper()
	s, err := conf.Start(mech, testCreds(), testNorm, cb)
	if err != nil {
		return nil, err
	}
	out, done, err := s.Step(c.first())
	if err != nil {
		return s, err
	}
	if done {
		t.Fatal("done after the first message")
	}
	out, done, err = s.Step(c.final(t, out))
	if err != nil {
		return s, err
	}
	if !done {
		t.Fatal("not done after the final message")
	}
	c.verify(t, out)
	return s, nil
}

func TestSCRAMExchanges(t *testing.T) {
	tls12Cli, tls12Srv := tlsState(t, tls.VersionTLS12)
	tls13Cli, tls13Srv := tlsState(t, tls.VersionTLS13)
	real12, real13 := bindingFor(t, tls12Srv), bindingFor(t, tls13Srv)

	// The client computes its binding data from its own side of the connection.
	cliExporter, err := tls13Cli.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	cliEndPoint := func(st tls.ConnectionState) []byte { // RFC 5929 §4.1, ECDSA-SHA256
		sum := sha256.Sum256(st.PeerCertificates[0].Raw)
		return sum[:]
	}

	type variant struct {
		name   string
		cb     ChannelBinding
		flag   string
		cbData []byte
	}
	for _, m := range mechanisms {
		if m.kind != kindSCRAM {
			continue
		}
		var variants []variant
		if m.plus {
			variants = []variant{
				{name: "tls13/tls-exporter", cb: real13, flag: "p=tls-exporter", cbData: cliExporter},
				{name: "tls13/tls-server-end-point", cb: real13, flag: "p=tls-server-end-point", cbData: cliEndPoint(tls13Cli)},
				{name: "tls12/tls-server-end-point", cb: real12, flag: "p=tls-server-end-point", cbData: cliEndPoint(tls12Cli)},
			}
		} else {
			variants = []variant{
				{name: "tcp/n", cb: tcp, flag: "n"},
				{name: "tcp/y", cb: tcp, flag: "y"},
				{name: "tls13/n", cb: real13, flag: "n"},
			}
		}
		for _, v := range variants {
			for _, who := range []struct {
				name, user, pass, authzid string
			}{
				{name: "plain-name", user: testUser, pass: testPass},
				{name: "case-mapped", user: "JULIET", pass: testPass},
				{name: "authzid", user: testUser, pass: testPass, authzid: "juliet@example.org"},
				{name: "escaped-name", user: "r,o=meo", pass: "pässwörd", authzid: "r,o=meo"},
			} {
				t.Run(m.name+"/"+v.name+"/"+who.name, func(t *testing.T) {
					c := &testClient{hash: newHash(m.hash), user: who.user, pass: who.pass, authzid: who.authzid, flag: v.flag, cbData: v.cbData}
					s, err := exchange(t, Config{Domain: "example.org"}, m.name, v.cb, c)
					if err != nil {
						t.Fatal(err)
					}
					if want, _ := testNorm(who.user); s.User() != want {
						t.Errorf("User() = %q, want %q", s.User(), want)
					}
					if _, _, err := s.Step([]byte("c=biws")); err == nil {
						t.Error("Step after success did not fail")
					}
				})
			}
		}
	}
}

func TestSCRAMNoInitialResponse(t *testing.T) {
	s, err := Config{}.Start("SCRAM-SHA-256", testCreds(), testNorm, tcp)
	if err != nil {
		t.Fatal(err)
	}
	out, done, err := s.Step(nil)
	if out != nil || done || err != nil {
		t.Fatalf("Step(nil) = %q, %v, %v; want an empty challenge", out, done, err)
	}
	c := &testClient{hash: newHash(scram.SHA256), user: testUser, pass: testPass}
	out, _, err = s.Step(c.first())
	if err != nil {
		t.Fatal(err)
	}
	out, done, err = s.Step(c.final(t, out))
	if err != nil || !done {
		t.Fatalf("final = %v, %v", done, err)
	}
	c.verify(t, out)
}

func TestSCRAMFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mech   string
		cb     ChannelBinding
		client testClient
		first  func([]byte) []byte // rewrites the client-first-message
		final  func([]byte) []byte // rewrites the client-final-message
		want   Condition
		text   string // if set, the failure's text
		atStep int    // 1: the first message fails; 2: the final one
	}{
		{name: "wrong-password", client: testClient{pass: "wrong"}, want: NotAuthorized, atStep: 2},
		{name: "unknown-user", client: testClient{user: "romeo"}, want: NotAuthorized, atStep: 2},
		{name: "unpreparable-username", client: testClient{user: "jul\u0000iet"}, want: MalformedRequest, atStep: 1},
		{name: "username-with-space", client: testClient{user: "jul iet"}, want: NotAuthorized, atStep: 1},
		{name: "authzid-other-user", client: testClient{authzid: "romeo"}, want: InvalidAuthzid, atStep: 1},
		{name: "authzid-other-domain", client: testClient{authzid: "juliet@example.net"}, want: InvalidAuthzid, atStep: 1},
		{name: "authzid-bad-escape", first: replace("n,,", "n,a=jul=iet,"), want: MalformedRequest, atStep: 1},
		{name: "bad-escape", first: replace("n=juliet", "n=jul=2Ciet=41"), want: MalformedRequest, atStep: 1},
		{name: "lowercase-escape", first: replace("n=juliet", "n=jul=2ciet"), want: MalformedRequest, atStep: 1},
		{name: "truncated-escape", first: replace("n=juliet", "n=juliet=3"), want: MalformedRequest, atStep: 1},
		{name: "empty-first", first: func([]byte) []byte { return []byte{} }, want: MalformedRequest, atStep: 1},
		{name: "no-gs2-header", first: replace("n,,", ""), want: MalformedRequest, atStep: 1},
		{name: "bad-gs2-flag", first: replace("n,,", "x,,"), want: MalformedRequest, atStep: 1},
		{name: "bad-gs2-authzid", first: replace("n,,", "n,b=x,"), want: MalformedRequest, atStep: 1},
		{name: "mandatory-extension", first: replace("n,,", "n,,m=x,"), want: MalformedRequest, text: errMext.Text, atStep: 1},
		{name: "no-username", first: replace("n=juliet,", ""), want: MalformedRequest, atStep: 1},
		{name: "empty-username", first: replace("n=juliet", "n="), want: MalformedRequest, atStep: 1},
		{name: "no-nonce", first: cut(",r="), want: MalformedRequest, atStep: 1},
		{name: "empty-nonce", first: func(b []byte) []byte { return append(cut(",r=")(b), ",r="...) }, want: MalformedRequest, atStep: 1},
		{name: "nonce-not-printable", first: func(b []byte) []byte { return append(b, " x"...) }, want: MalformedRequest, atStep: 1},
		{name: "bad-extension", first: func(b []byte) []byte { return append(b, ",xyz"...) }, want: MalformedRequest, atStep: 1},
		{name: "extension-ignored", first: func(b []byte) []byte { return append(b, ",x=yz"...) }},
		{name: "trailing-comma", first: func(b []byte) []byte { return append(b, ',') }, want: MalformedRequest, atStep: 1},
		{name: "nonce-mismatch", final: replace(",r=clientnonce+/0123", ",r=clientnonce+/0124"), want: NotAuthorized, text: errNonceMismatch.Text, atStep: 2},
		{name: "nonce-missing", final: func(b []byte) []byte {
			i := bytes.Index(b, []byte(",r="))
			j := bytes.Index(b, []byte(",p="))
			return append(b[:i:i], b[j:]...)
		}, want: MalformedRequest, atStep: 2},
		{name: "no-proof", final: cut(",p="), want: MalformedRequest, atStep: 2},
		{name: "proof-bad-base64", final: func(b []byte) []byte { return append(b, '!') }, want: MalformedRequest, atStep: 2},
		{name: "proof-short", final: func(b []byte) []byte { return append(cut(",p=")(b), ",p=AAAA"...) }, want: NotAuthorized, atStep: 2},
		{name: "channel-binding-not-first", final: replace("c=biws,", "x=y,c=biws,"), want: MalformedRequest, atStep: 2},
		{name: "channel-binding-bad-base64", final: replace("c=biws", "c=b!ws"), want: MalformedRequest, atStep: 2},
		{name: "channel-binding-other-header", final: replace("c=biws", "c=eSws"), want: NotAuthorized, text: errCBMismatch.Text, atStep: 2},
		{name: "empty-final", final: func([]byte) []byte { return []byte{} }, want: MalformedRequest, atStep: 2},
		{name: "too-long", first: func(b []byte) []byte { return append(b, ",x="+strings.Repeat("a", maxMessage)...) }, want: MalformedRequest, atStep: 1},

		// Channel binding.
		{name: "y-downgrade", cb: ChannelBinding{TLS: true, EndPoint: []byte("e"), Unique: []byte("u")}, client: testClient{flag: "y"}, want: NotAuthorized, text: errCBDowngrade.Text, atStep: 1},
		// on TLS 1.3 "y" comes from tls-unique-only clients, which cannot know we bind it
		{name: "y-on-tls13", cb: tls13, client: testClient{flag: "y"}},
		{name: "plus/tls-unique-tls13", mech: "SCRAM-SHA-256-PLUS", cb: ChannelBinding{TLS: true, TLS13: true, Unique: []byte("u")}, client: testClient{flag: "p=tls-unique", cbData: []byte("u")}},
		{name: "plus/tls-unique-tls12", mech: "SCRAM-SHA-256-PLUS", cb: ChannelBinding{TLS: true, Unique: []byte("u")}, client: testClient{flag: "p=tls-unique", cbData: []byte("u")}},
		{name: "plus/tls-unique-mismatch", mech: "SCRAM-SHA-256-PLUS", cb: ChannelBinding{TLS: true, TLS13: true, Unique: []byte("u")}, client: testClient{flag: "p=tls-unique", cbData: []byte("v")}, want: NotAuthorized, text: errCBMismatch.Text, atStep: 2},
		{name: "y-without-plus-offered", cb: ChannelBinding{TLS: true}, client: testClient{flag: "y"}},
		{name: "p-on-non-plus", cb: tls13, client: testClient{flag: "p=tls-exporter", cbData: tls13.Exporter}, want: MalformedRequest, text: errCBUnexpected.Text, atStep: 1},
		{name: "plus/n-flag", mech: "SCRAM-SHA-256-PLUS", cb: tls13, client: testClient{flag: "n"}, want: MalformedRequest, atStep: 1},
		{name: "plus/y-flag", mech: "SCRAM-SHA-256-PLUS", cb: tls13, client: testClient{flag: "y"}, want: MalformedRequest, atStep: 1},
		{name: "plus/tls-unique", mech: "SCRAM-SHA-256-PLUS", cb: tls13, client: testClient{flag: "p=tls-unique", cbData: []byte("x")}, want: MalformedRequest, text: errCBType.Text, atStep: 1},
		{name: "plus/exporter-on-tls12", mech: "SCRAM-SHA-256-PLUS", cb: ChannelBinding{TLS: true, Exporter: []byte("x"), EndPoint: []byte("y")}, client: testClient{flag: "p=tls-exporter", cbData: []byte("x")}, want: MalformedRequest, atStep: 1},
		{name: "plus/end-point-unavailable", mech: "SCRAM-SHA-256-PLUS", cb: ChannelBinding{TLS: true, TLS13: true, Exporter: []byte("x")}, client: testClient{flag: "p=tls-server-end-point", cbData: []byte("x")}, want: MalformedRequest, atStep: 1},
		{name: "plus/bad-cb-name", mech: "SCRAM-SHA-256-PLUS", cb: tls13, first: replace("n,,", "p=tls_exporter,,"), want: MalformedRequest, atStep: 1},
		{name: "plus/wrong-exporter", mech: "SCRAM-SHA-256-PLUS", cb: tls13, client: testClient{flag: "p=tls-exporter", cbData: []byte("another connection's exporter!!")}, want: NotAuthorized, text: errCBMismatch.Text, atStep: 2},
		{name: "plus/wrong-end-point", mech: "SCRAM-SHA-256-PLUS", cb: tls13, client: testClient{flag: "p=tls-server-end-point", cbData: []byte("mitm")}, want: NotAuthorized, text: errCBMismatch.Text, atStep: 2},
		{name: "plus/no-cb-data", mech: "SCRAM-SHA-256-PLUS", cb: tls13, client: testClient{flag: "p=tls-exporter"}, want: NotAuthorized, atStep: 2},
		{name: "plus/swapped-type", mech: "SCRAM-SHA-256-PLUS", cb: tls13, client: testClient{flag: "p=tls-exporter", cbData: tls13.EndPoint}, want: NotAuthorized, atStep: 2},
		{name: "plus/ok", mech: "SCRAM-SHA-256-PLUS", cb: tls13, client: testClient{flag: "p=tls-exporter", cbData: tls13.Exporter}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mech := tc.mech
			if mech == "" {
				mech = "SCRAM-SHA-256"
			}
			c := tc.client
			c.hash = newHash(scram.SHA256)
			if c.user == "" {
				c.user = testUser
			}
			if c.pass == "" {
				c.pass = testPass
			}
			s, err := Config{Domain: "example.org"}.Start(mech, testCreds(), testNorm, tc.cb)
			if err != nil {
				t.Fatal(err)
			}
			msg := c.first()
			if tc.first != nil {
				msg = tc.first(msg)
				if bytes.HasPrefix(msg, []byte(c.gs2)) { // the client signs what it sent
					c.bare = string(msg[len(c.gs2):])
				}
			}
			out, _, err := s.Step(msg)
			if tc.atStep == 1 {
				if f := wantFailure(t, err, tc.want); tc.text != "" && f.Text != tc.text {
					t.Errorf("failure text %q, want %q", f.Text, tc.text)
				}
				if _, _, err := s.Step([]byte("c=biws,r=x,p=AAAA")); err == nil {
					t.Error("Step after a failure did not fail")
				}
				return
			}
			if err != nil {
				t.Fatalf("first step: %v", err)
			}
			msg = c.final(t, out)
			if tc.final != nil {
				msg = tc.final(msg)
			}
			out, done, err := s.Step(msg)
			if tc.atStep == 2 {
				if f := wantFailure(t, err, tc.want); tc.text != "" && f.Text != tc.text {
					t.Errorf("failure text %q, want %q", f.Text, tc.text)
				}
				if done || out != nil || s.User() != "" {
					t.Errorf("failed attempt: out=%q done=%v User()=%q", out, done, s.User())
				}
				return
			}
			if err != nil || !done {
				t.Fatalf("final step: %v, %v", done, err)
			}
			c.verify(t, out)
		})
	}
}

func replace(old, new string) func([]byte) []byte {
	return func(b []byte) []byte {
		if !bytes.Contains(b, []byte(old)) {
			panic("test: " + old + " not in " + string(b))
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
}

// cut drops everything from sep on.
func cut(sep string) func([]byte) []byte {
	return func(b []byte) []byte {
		i := bytes.Index(b, []byte(sep))
		if i < 0 {
			panic("test: " + sep + " not in " + string(b))
		}
		return b[:i:i]
	}
}

// TestSCRAMUnknownUser checks that an unknown user cannot be told from a
// known one by the challenge: same shape, a salt that stays the same across
// attempts, differs per user and per hash, and the store's iteration count.
func TestSCRAMUnknownUser(t *testing.T) {
	challenge := func(conf Config, mech, user string) (salt, iter string) {
		t.Helper()
		s, err := conf.Start(mech, testCreds(), testNorm, tcp)
		if err != nil {
			t.Fatal(err)
		}
		c := &testClient{user: user}
		out, _, err := s.Step(c.first())
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		parts := strings.Split(string(out), ",")
		if len(parts) != 3 || !strings.HasPrefix(parts[0], "r="+c.cnonce) || len(parts[0]) != len("r="+c.cnonce)+32 {
			t.Fatalf("%s: challenge %q is not shaped like a real one", user, out)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(parts[1], "s="))
		if err != nil || len(raw) != 16 {
			t.Fatalf("%s: salt %q: %v", user, parts[1], err)
		}
		return parts[1], parts[2]
	}
	var conf Config
	real, realIter := challenge(conf, "SCRAM-SHA-256", testUser)
	fake1, fakeIter := challenge(conf, "SCRAM-SHA-256", "romeo")
	fake2, _ := challenge(conf, "SCRAM-SHA-256", "romeo")
	fake512, _ := challenge(conf, "SCRAM-SHA-512", "romeo")
	other, _ := challenge(conf, "SCRAM-SHA-256", "mercutio")
	switch {
	case fake1 != fake2:
		t.Errorf("unknown user's salt changes between attempts: %s, %s", fake1, fake2)
	case fake1 == other:
		t.Errorf("two unknown users share the salt %s", fake1)
	case fake1 == fake512:
		t.Errorf("an unknown user has one salt for two hashes; the store has one per hash")
	case fake1 == real:
		t.Errorf("fake salt equals a real one")
	case fakeIter != realIter:
		t.Errorf("iteration count %s, real accounts have %s", fakeIter, realIter)
	}
	if _, iter := challenge(Config{Iterations: 10000}, "SCRAM-SHA-256", "romeo"); iter != "i=10000" {
		t.Errorf("Config.Iterations 10000: challenge has %s", iter)
	}

	// The final failure is the very same as for a wrong password.
	_, errUnknown := exchange(t, conf, "SCRAM-SHA-256", tcp, &testClient{hash: newHash(scram.SHA256), user: "romeo", pass: testPass})
	_, errWrong := exchange(t, conf, "SCRAM-SHA-256", tcp, &testClient{hash: newHash(scram.SHA256), user: testUser, pass: "wrong"})
	wantFailure(t, errUnknown, NotAuthorized)
	if errUnknown.Error() != errWrong.Error() {
		t.Errorf("unknown user: %v; wrong password: %v", errUnknown, errWrong)
	}
}

func TestUnescapeSaslname(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		ok             bool
	}{
		{name: "plain", in: "juliet", want: "juliet", ok: true},
		{name: "comma", in: "a=2Cb", want: "a,b", ok: true},
		{name: "equals", in: "=3D", want: "=", ok: true},
		{name: "both", in: "=3D=2C=3D", want: "=,=", ok: true},
		{name: "escaped-escape", in: "=3D2C", want: "=2C", ok: true},
		{name: "utf8", in: "jüliet", want: "jüliet", ok: true},
		{name: "empty", in: ""},
		{name: "lone-equals", in: "a=b"},
		{name: "trailing-equals", in: "a="},
		{name: "short-escape", in: "a=2"},
		{name: "lowercase", in: "a=2c"},
		{name: "nul", in: "a\x00b"},
		{name: "bad-utf8", in: "a\xffb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := unescapeSaslname([]byte(tc.in))
			if ok != tc.ok || got != tc.want {
				t.Errorf("unescapeSaslname(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzSCRAM feeds arbitrary client messages: the server must answer with a
// challenge or a *Failure, never panic, and never succeed without the password.
func FuzzSCRAM(f *testing.F) {
	f.Add([]byte("n,,n=juliet,r=abc"), []byte("c=biws,r=abc,p=AAAA"))
	f.Add([]byte("p=tls-exporter,a=juliet,n=juliet,r=abc,x=1"), []byte("c=cD10bHMtZXhwb3J0ZXIsLA==,r=abcdef,p="))
	f.Add([]byte("y,,m=x,n=a=3Db,r=a"), []byte(""))
	f.Fuzz(func(t *testing.T, first, final []byte) {
		for _, mech := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256-PLUS"} {
			s, err := Config{}.Start(mech, testCreds(), testNorm, tls13)
			if err != nil {
				t.Fatal(err)
			}
			s.testNonce = "fixed"
			for _, in := range [][]byte{first, final} {
				_, done, err := s.Step(in)
				if done {
					t.Fatalf("authenticated without a password: %q, %q", first, final)
				}
				if err != nil {
					if _, ok := err.(*Failure); !ok {
						t.Fatalf("error %T is not a *Failure", err)
					}
					break
				}
			}
		}
	})
}

func FuzzPlain(f *testing.F) {
	f.Add([]byte("\x00juliet\x00wrong"))
	f.Add([]byte("juliet@example.org\x00juliet\x00x"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := Config{Domain: "example.org"}.Start("PLAIN", testCreds(), testNorm, tls13)
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := s.Step(in)
		if done && !bytes.HasSuffix(in, []byte("\x00"+testPass)) {
			t.Fatalf("authenticated with %q", in)
		}
		if err != nil {
			if _, ok := err.(*Failure); !ok {
				t.Fatalf("error %T is not a *Failure", err)
			}
		}
	})
}
