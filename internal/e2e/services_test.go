package e2e

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"
	mjid "mellium.im/xmpp/jid"
	"mellium.im/xmpp/version"
	"mellium.im/xmpp/xtime"

	"ignis/internal/server"
	"ignis/internal/servertest"
	modversion "ignis/mod/version"
	"ignis/store"
)

const (
	nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsReg     = "jabber:iq:register"
)

// readIQ reads until one whole <iq/> element has arrived and returns it.
// Each test sends one request at a time, so the first iq is the answer.
func readIQ(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for {
		if el, ok := firstIQ(got); ok {
			return el
		}
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("waiting for an iq: %v (got %q)", err, got)
		}
	}
}

// firstIQ returns the first complete <iq/> element in b.
func firstIQ(b []byte) (string, bool) {
	i := bytes.Index(b, []byte("<iq"))
	if i < 0 {
		return "", false
	}
	d := xml.NewDecoder(bytes.NewReader(b[i:]))
	depth := 0
	for {
		tok, err := d.RawToken()
		if err != nil {
			return "", false // incomplete: read more
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			if depth--; depth == 0 {
				return string(b[i : i+int(d.InputOffset())]), true
			}
		}
	}
}

// ask sends one iq and returns the answer.
func ask(t *testing.T, c net.Conn, req string) string {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("send: %v", err)
	}
	return readIQ(t, c)
}

// wantResult fails unless got is a result carrying every string in want.
func wantResult(t *testing.T, got string, want ...string) {
	t.Helper()
	if !strings.Contains(got, "type='result'") {
		t.Fatalf("got %s, want a result", got)
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("got %s, want it to contain %s", got, w)
		}
	}
}

// wantError fails unless got is an error reply with condition cond.
func wantError(t *testing.T, got, cond string) {
	t.Helper()
	if !strings.Contains(got, "type='error'") || !strings.Contains(got, "<"+cond+" xmlns='"+nsStanzas+"'/>") {
		t.Fatalf("got %s, want a %s error", got, cond)
	}
}

// TestVCard: XEP-0054 set, get own, get another's; only the owner sets; a
// missing vCard of another user looks like a missing user.
func TestVCard(t *testing.T) {
	env := servertest.Start(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		env.AddUser(u, "pw-"+u)
	}
	alice := rawLogin(t, env, "alice", "pw-alice", "home")
	bob := rawLogin(t, env, "bob", "pw-bob", "home")
	card := "<vCard xmlns='vcard-temp'><FN>Alice &amp; Co</FN><NICKNAME>al</NICKNAME>" +
		"<PHOTO><TYPE>image/png</TYPE><BINVAL>" + strings.Repeat("QUJD", 1000) + "</BINVAL></PHOTO></vCard>"

	t.Run("own-empty", func(t *testing.T) {
		wantResult(t, ask(t, alice, "<iq type='get' id='v0'><vCard xmlns='vcard-temp'/></iq>"), "<vCard xmlns='vcard-temp'/>")
	})
	t.Run("set", func(t *testing.T) {
		wantResult(t, ask(t, alice, "<iq type='set' id='v1'>"+card+"</iq>"), "id='v1'")
	})
	t.Run("get-own", func(t *testing.T) {
		wantResult(t, ask(t, alice, "<iq type='get' id='v2'><vCard xmlns='vcard-temp'/></iq>"), card)
	})
	t.Run("get-own-bare", func(t *testing.T) {
		wantResult(t, ask(t, alice, "<iq type='get' id='v3' to='alice@localhost'><vCard xmlns='vcard-temp'/></iq>"), card)
	})
	t.Run("get-other", func(t *testing.T) {
		got := ask(t, bob, "<iq type='get' id='v4' to='alice@localhost'><vCard xmlns='vcard-temp'/></iq>")
		wantResult(t, got, card, "from='alice@localhost'")
	})
	t.Run("other-without-vcard", func(t *testing.T) {
		wantError(t, ask(t, bob, "<iq type='get' id='v5' to='carol@localhost'><vCard xmlns='vcard-temp'/></iq>"), "service-unavailable")
	})
	t.Run("no-such-user", func(t *testing.T) {
		wantError(t, ask(t, bob, "<iq type='get' id='v6' to='nobody@localhost'><vCard xmlns='vcard-temp'/></iq>"), "service-unavailable")
	})
	t.Run("set-other", func(t *testing.T) {
		wantError(t, ask(t, bob, "<iq type='set' id='v7' to='alice@localhost'><vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard></iq>"), "forbidden")
		wantResult(t, ask(t, bob, "<iq type='get' id='v8' to='alice@localhost'><vCard xmlns='vcard-temp'/></iq>"), card)
	})
	t.Run("too-large", func(t *testing.T) {
		big := "<iq type='set' id='v9'><vCard xmlns='vcard-temp'><PHOTO><BINVAL>" + strings.Repeat("A", 70<<10) + "</BINVAL></PHOTO></vCard></iq>"
		wantError(t, ask(t, bob, big), "not-acceptable")
	})
	t.Run("unbound-prefix", func(t *testing.T) {
		got := ask(t, bob, "<iq type='set' id='v10' xmlns:x='urn:example'><vCard xmlns='vcard-temp'><x:FN>B</x:FN></vCard></iq>")
		wantError(t, got, "bad-request")
	})
	t.Run("overwrite", func(t *testing.T) {
		wantResult(t, ask(t, alice, "<iq type='set' id='v11'><vCard xmlns='vcard-temp'><FN>A2</FN></vCard></iq>"))
		wantResult(t, ask(t, bob, "<iq type='get' id='v12' to='alice@localhost'><vCard xmlns='vcard-temp'/></iq>"),
			"<vCard xmlns='vcard-temp'><FN>A2</FN></vCard>")
	})
}

// TestPrivateStorage: XEP-0049 round trip, the empty answer for nothing
// stored, and the refusals.
func TestPrivateStorage(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw-alice")
	env.AddUser("bob", "pw-bob")
	alice := rawLogin(t, env, "alice", "pw-alice", "home")
	bob := rawLogin(t, env, "bob", "pw-bob", "home")
	bm := "<storage xmlns='storage:bookmarks'><conference jid='tea@muc.localhost' autojoin='true'><nick>al</nick></conference></storage>"

	t.Run("get-nothing-stored", func(t *testing.T) {
		got := ask(t, alice, "<iq type='get' id='p0'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>")
		wantResult(t, got, "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>")
	})
	t.Run("set-get", func(t *testing.T) {
		wantResult(t, ask(t, alice, "<iq type='set' id='p1'><query xmlns='jabber:iq:private'>"+bm+"</query></iq>"), "id='p1'")
		got := ask(t, alice, "<iq type='get' id='p2'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>")
		wantResult(t, got, "<query xmlns='jabber:iq:private'>"+bm+"</query>")
	})
	t.Run("per-user", func(t *testing.T) {
		got := ask(t, bob, "<iq type='get' id='p3'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>")
		wantResult(t, got, "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>")
	})
	t.Run("other-user-get", func(t *testing.T) {
		wantError(t, ask(t, bob, "<iq type='get' id='p4' to='alice@localhost'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>"), "forbidden")
	})
	t.Run("other-user-set", func(t *testing.T) {
		wantError(t, ask(t, bob, "<iq type='set' id='p5' to='alice@localhost'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>"), "forbidden")
	})
	for _, ns := range []string{"jabber:client", "jabber:server", "jabber:iq:private"} {
		t.Run("reserved/"+ns, func(t *testing.T) {
			wantError(t, ask(t, alice, "<iq type='set' id='p6'><query xmlns='jabber:iq:private'><x xmlns='"+ns+"'/></query></iq>"), "not-acceptable")
		})
	}
	t.Run("no-child", func(t *testing.T) {
		wantError(t, ask(t, alice, "<iq type='get' id='p7'><query xmlns='jabber:iq:private'/></iq>"), "bad-request")
	})
	t.Run("unchanged-after-refusals", func(t *testing.T) {
		got := ask(t, alice, "<iq type='get' id='p8'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>")
		wantResult(t, got, bm)
	})
}

// TestServerInfo: software version (XEP-0092), entity time (XEP-0202) and
// service discovery of the server and of accounts (XEP-0030).
func TestServerInfo(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw-alice")
	domain := mjid.MustParse("localhost")

	t.Run("version/mellium", func(t *testing.T) {
		c := login(t, env, "alice", "pw-alice", "", sasl.ScramSha256)
		q, err := version.Get(testCtx(t), c.Session, domain)
		if err != nil {
			t.Fatalf("version: %v", err)
		}
		if q.Name != "Ignis" || q.Version == "" {
			t.Fatalf("version: got %+v, want name Ignis and a version", q)
		}
	})
	t.Run("time/mellium", func(t *testing.T) {
		c := login(t, env, "alice", "pw-alice", "", sasl.ScramSha256)
		before := time.Now().Add(-time.Second)
		got, err := xtime.Get(testCtx(t), c.Session, domain)
		if err != nil {
			t.Fatalf("time: %v", err)
		}
		if got.Before(before) || got.After(time.Now().Add(time.Second)) {
			t.Fatalf("time: got %v, want about %v", got, time.Now())
		}
	})

	c := rawLogin(t, env, "alice", "pw-alice", "raw")
	t.Run("time/fields", func(t *testing.T) {
		got := ask(t, c, "<iq type='get' id='t1' to='localhost'><time xmlns='urn:xmpp:time'/></iq>")
		var reply struct {
			Time struct {
				TZO string `xml:"tzo"`
				UTC string `xml:"utc"`
			} `xml:"urn:xmpp:time time"`
		}
		if err := xml.Unmarshal([]byte(got), &reply); err != nil {
			t.Fatalf("time reply %s: %v", got, err)
		}
		if _, err := time.Parse("-07:00", reply.Time.TZO); err != nil {
			t.Errorf("tzo %q: %v", reply.Time.TZO, err)
		}
		if !strings.HasSuffix(reply.Time.UTC, "Z") {
			t.Errorf("utc %q is not in UTC", reply.Time.UTC)
		}
		if _, err := time.Parse(time.RFC3339Nano, reply.Time.UTC); err != nil {
			t.Errorf("utc %q: %v", reply.Time.UTC, err)
		}
	})
	t.Run("version/fields", func(t *testing.T) {
		got := ask(t, c, "<iq type='get' id='s1' to='localhost'><query xmlns='jabber:iq:version'/></iq>")
		// the same version `ignis version` prints
		wantResult(t, got, "<name>Ignis</name><version>"+modversion.Version+"</version>")
	})
	t.Run("disco-items/server", func(t *testing.T) {
		got := ask(t, c, "<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
		wantResult(t, got, "from='localhost'", "<query xmlns='http://jabber.org/protocol/disco#items'")
	})
	t.Run("disco-info/server", func(t *testing.T) {
		got := ask(t, c, "<iq type='get' id='d2' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
		wantResult(t, got, "category='server'")
		for _, f := range []string{"jabber:iq:version", "urn:xmpp:time", "vcard-temp", nsReg} {
			if !strings.Contains(got, "<feature var='"+f+"'/>") {
				t.Errorf("server features lack %s: %s", f, got)
			}
		}
	})
	t.Run("disco-info/software", func(t *testing.T) {
		// XEP-0232 via XEP-0128: the version `ignis version` prints, after
		// the features, with FORM_TYPE first
		got := ask(t, c, "<iq type='get' id='d5' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
		var reply struct {
			Query struct {
				Inner string `xml:",innerxml"`
				X     []struct {
					Type   string `xml:"type,attr"`
					Fields []struct {
						Var    string   `xml:"var,attr"`
						Type   string   `xml:"type,attr"`
						Values []string `xml:"value"`
					} `xml:"field"`
				} `xml:"jabber:x:data x"`
			} `xml:"http://jabber.org/protocol/disco#info query"`
		}
		if err := xml.Unmarshal([]byte(got), &reply); err != nil {
			t.Fatalf("disco#info %s: %v", got, err)
		}
		if len(reply.Query.X) != 1 || reply.Query.X[0].Type != "result" {
			t.Fatalf("want one result form: %s", got)
		}
		fields := reply.Query.X[0].Fields
		if len(fields) == 0 || fields[0].Var != "FORM_TYPE" || fields[0].Type != "hidden" ||
			len(fields[0].Values) != 1 || fields[0].Values[0] != "urn:xmpp:dataforms:softwareinfo" {
			t.Fatalf("FORM_TYPE is not the first, hidden field: %s", got)
		}
		vals := map[string][]string{}
		for _, f := range fields[1:] {
			vals[f.Var] = f.Values
		}
		if v := vals["software"]; len(v) != 1 || v[0] != modversion.Name {
			t.Errorf("software = %q, want %q", v, modversion.Name)
		}
		if v := vals["software_version"]; len(v) != 1 || v[0] != modversion.Version {
			t.Errorf("software_version = %q, want %q", v, modversion.Version)
		}
		if _, ok := vals["os"]; ok {
			t.Errorf("the operating system is disclosed: %s", got)
		}
		if strings.Index(got, "<feature") > strings.Index(got, "<x ") {
			t.Errorf("the form comes before the features: %s", got)
		}
	})
	t.Run("disco-info/own-account", func(t *testing.T) {
		got := ask(t, c, "<iq type='get' id='d3'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
		wantResult(t, got, "<identity category='account' type='registered'/>", "<feature var='jabber:iq:private'/>")
	})
	t.Run("disco-info/no-such-account", func(t *testing.T) {
		got := ask(t, c, "<iq type='get' id='d4' to='nobody@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
		wantError(t, got, "service-unavailable")
	})
}

// register opens an unauthenticated stream (direct TLS) and returns it with
// the features the server offered.
func registerStream(t *testing.T, env *servertest.Env) (net.Conn, string) {
	t.Helper()
	c := env.DialTLS()
	io.WriteString(c, header)
	return c, readUntil(t, c, "</stream:features>")
}

const registerFeature = "<register xmlns='http://jabber.org/features/iq-register'/>"

// TestRegisterEnabled: XEP-0077 account creation before authentication; the
// new account logs in with SCRAM.
func TestRegisterEnabled(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Register.Enabled = true })
	env.AddUser("alice", "pw-alice")
	c, feats := registerStream(t, env)
	if !strings.Contains(feats, registerFeature) {
		t.Fatalf("no registration stream feature: %s", feats)
	}
	t.Run("fields", func(t *testing.T) {
		got := ask(t, c, "<iq type='get' id='r1'><query xmlns='jabber:iq:register'/></iq>")
		wantResult(t, got, "<instructions>", "<username/>", "<password/>")
	})
	for _, tc := range []struct {
		name, query, cond string
	}{
		{name: "taken", query: "<username>alice</username><password>x</password>", cond: "conflict"},
		{name: "taken-other-case", query: "<username>Alice</username><password>x</password>", cond: "conflict"},
		{name: "no-password", query: "<username>dave</username>", cond: "not-acceptable"},
		{name: "empty-password", query: "<username>dave</username><password/>", cond: "not-acceptable"},
		{name: "no-username", query: "<password>x</password>", cond: "not-acceptable"},
		{name: "bad-username", query: "<username>da ve</username><password>x</password>", cond: "not-acceptable"},
		{name: "at-in-username", query: "<username>dave@evil</username><password>x</password>", cond: "not-acceptable"},
		{name: "remove-unauthenticated", query: "<remove/>", cond: "not-authorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, ask(t, c, "<iq type='set' id='r2'><query xmlns='jabber:iq:register'>"+tc.query+"</query></iq>"), tc.cond)
		})
	}
	t.Run("create-then-login", func(t *testing.T) {
		wantResult(t, ask(t, c, "<iq type='set' id='r3'><query xmlns='jabber:iq:register'><username>Dave</username><password>open sesame</password></query></iq>"), "id='r3'")
		s, err := dialSession(t, env, "dave", "open sesame", "", false, sasl.ScramSha256)
		if err != nil {
			t.Fatalf("the new account cannot log in: %v", err)
		}
		s.Close()
		if _, err := dialSession(t, env, "dave", "wrong", "", false, sasl.ScramSha1); err == nil {
			t.Fatal("the new account logs in with a wrong password")
		}
		wantError(t, ask(t, c, "<iq type='set' id='r4'><query xmlns='jabber:iq:register'><username>dave</username><password>y</password></query></iq>"), "conflict")
	})
}

// TestRegisterLoopbackDefault: by default a client on this machine may
// create an account (as with ejabberd's trusted_network), and it logs in.
func TestRegisterLoopbackDefault(t *testing.T) {
	env := servertest.Start(t)
	c, feats := registerStream(t, env)
	if !strings.Contains(feats, registerFeature) {
		t.Fatalf("no registration stream feature for a loopback client: %s", feats)
	}
	wantResult(t, ask(t, c, "<iq type='set' id='r1'><query xmlns='jabber:iq:register'><username>eve</username><password>pw-eve</password></query></iq>"), "id='r1'")
	if _, err := dialSession(t, env, "eve", "pw-eve", "", false, sasl.ScramSha256); err != nil {
		t.Fatalf("the new account cannot log in: %v", err)
	}
}

// TestRegisterDisabled: no stream feature and service-unavailable, but a
// logged-in user may still change their password and delete their account.
func TestRegisterDisabled(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Register.Loopback = false })
	env.AddUser("alice", "old-pw")
	env.AddUser("bob", "pw-bob")
	env.AddUser("carol", "pw-carol")

	t.Run("refused", func(t *testing.T) {
		c, feats := registerStream(t, env)
		if strings.Contains(feats, registerFeature) {
			t.Fatalf("registration offered while disabled: %s", feats)
		}
		wantError(t, ask(t, c, "<iq type='get' id='r1'><query xmlns='jabber:iq:register'/></iq>"), "service-unavailable")
		wantError(t, ask(t, c, "<iq type='set' id='r2'><query xmlns='jabber:iq:register'><username>eve</username><password>x</password></query></iq>"), "service-unavailable")
		if _, err := env.Srv.DB().Accounts().Get("eve"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("account created while registration is disabled: %v", err)
		}
	})
	t.Run("registered", func(t *testing.T) {
		c := rawLogin(t, env, "bob", "pw-bob", "r")
		wantResult(t, ask(t, c, "<iq type='get' id='g1'><query xmlns='jabber:iq:register'/></iq>"), "<registered/>", "<username>bob</username>")
	})
	t.Run("change-password", func(t *testing.T) {
		c := rawLogin(t, env, "alice", "old-pw", "r")
		wantError(t, ask(t, c, "<iq type='set' id='c0'><query xmlns='jabber:iq:register'><username>bob</username><password>mine</password></query></iq>"), "not-authorized")
		wantError(t, ask(t, c, "<iq type='set' id='c1' to='localhost'><query xmlns='jabber:iq:register'><username>alice</username></query></iq>"), "bad-request")
		wantResult(t, ask(t, c, "<iq type='set' id='c2' to='localhost'><query xmlns='jabber:iq:register'><username>alice</username><password>new-pw</password></query></iq>"), "id='c2'")
		if _, err := dialSession(t, env, "alice", "old-pw", "", false, sasl.ScramSha256); err == nil {
			t.Fatal("the old password still works")
		}
		s, err := dialSession(t, env, "alice", "new-pw", "", false, sasl.ScramSha256)
		if err != nil {
			t.Fatalf("the new password does not work: %v", err)
		}
		s.Close()
		// bob's password was not touched
		s, err = dialSession(t, env, "bob", "pw-bob", "", false, sasl.ScramSha256)
		if err != nil {
			t.Fatalf("bob cannot log in: %v", err)
		}
		s.Close()
	})
	t.Run("cancel", func(t *testing.T) {
		c := rawLogin(t, env, "carol", "pw-carol", "r")
		wantResult(t, ask(t, c, "<iq type='set' id='x0'><vCard xmlns='vcard-temp'><FN>Carol</FN></vCard></iq>"))
		wantResult(t, ask(t, c, "<iq type='set' id='x1'><query xmlns='jabber:iq:register'><remove/></query></iq>"), "id='x1'")
		if _, err := env.Srv.DB().Accounts().Get("carol"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("account still there after cancellation: %v", err)
		}
		if _, err := env.Srv.DB().VCards().Get("carol"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("vCard still there after cancellation: %v", err)
		}
		if _, err := dialSession(t, env, "carol", "pw-carol", "", false, sasl.ScramSha256); err == nil {
			t.Fatal("a deleted account logs in")
		}
	})
}
