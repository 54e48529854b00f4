package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// plainLogin logs user in over direct TLS with PLAIN and binds resource.
func plainLogin(t *testing.T, env *servertest.Env, user, pass, resource string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := tls.Dial("tcp", env.TLSAddr, env.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	r := bufio.NewReader(c)
	until := func(want string) string { return readUntil(t, r, want) }
	header := "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"
	io.WriteString(c, header)
	until("</stream:features>")
	io.WriteString(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass))+"</auth>")
	until("<success")
	io.WriteString(c, header)
	until("</stream:features>")
	io.WriteString(c, "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>"+resource+"</resource></bind></iq>")
	until("</iq>")
	return c, r
}

// TestStatsAndAnnounce: `ignis stats` prints the running server's figures
// and `ignis announce` reaches an online session as a headline.
func TestStatsAndAnnounce(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("erin", "pw")
	data := env.Cfg.Data
	_, r := plainLogin(t, env, "erin", "pw", "phone")

	var out bytes.Buffer
	if err := stats([]string{"--data", data}, &out); err != nil {
		t.Fatalf("stats: %v", err)
	}
	for _, want := range []string{"sessions            1\n", "logins              1\n", "memory per session", "store on disk"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stats printed\n%s\nwant a line %q", out.String(), want)
		}
	}
	out.Reset()
	if err := stats([]string{"--data", data, "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var f server.Figures
	if err := json.Unmarshal(out.Bytes(), &f); err != nil || f.Sessions != 1 || f.Logins != 1 {
		t.Errorf("stats --json: %v %+v", err, f)
	}
	out.Reset()
	if err := announce([]string{"--data", data, "back", "in", "5", "minutes"}, &out); err != nil || out.String() != "announced to 1 session(s)\n" {
		t.Fatalf("announce: %v %q", err, out.String())
	}
	if s := readUntil(t, r, "</message>"); !strings.Contains(s, "headline") || !strings.Contains(s, "<body>back in 5 minutes</body>") || !strings.Contains(s, "from='localhost'") && !strings.Contains(s, `from="localhost"`) {
		t.Errorf("erin got %q", s)
	}
	if err := announce([]string{"--data", data}, &out); err == nil {
		t.Error("announce with no message succeeded")
	}
	stopped := t.TempDir()
	if err := user([]string{"add", "x@localhost", "pw", "--data", stopped}, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	if err := stats([]string{"--data", stopped}, &out); err == nil || err.Error() != "stats: no server is running on "+stopped {
		t.Errorf("stats on a stopped server's folder: %v", err)
	}
}

// TestTokenCommand: create prints a secret once, list names it, del
// removes it; the file keeps only hashes.
func TestTokenCommand(t *testing.T) {
	data := t.TempDir()
	var out bytes.Buffer
	if err := user([]string{"add", "x@localhost", "pw", "--data", data}, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := token([]string{"create", "--data", data, "grafana"}, &out); err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(out.String())
	if !strings.HasPrefix(secret, "ignis_") || len(secret) != 6+64 {
		t.Fatalf("token create printed %q", secret)
	}
	if err := token([]string{"create", "--data", data, "grafana"}, &out); err == nil {
		t.Error("a second token of the same name was created")
	}
	if err := token([]string{"create", "--data", data, "bad name"}, &out); err == nil {
		t.Error("a token name with a space was accepted")
	}
	out.Reset()
	if err := token([]string{"list", "--data", data}, &out); err != nil || out.String() != "grafana\n" {
		t.Errorf("token list: %v %q", err, out.String())
	}
	if b, _ := readFile(data, server.TokenFile); strings.Contains(b, secret) {
		t.Error("the token file holds the secret itself")
	}
	if err := token([]string{"del", "--data", data, "grafana"}, &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := token([]string{"list", "--data", data}, &out); err != nil || out.String() != "" {
		t.Errorf("token list after del: %v %q", err, out.String())
	}
}

func readFile(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	return string(b), err
}
