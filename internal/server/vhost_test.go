package server

import (
	"strings"
	"testing"

	"ignis/jid"
)

// TestVHostConfigErrors: a bad [[vhost]] is refused naming the table and
// what is wrong.
func TestVHostConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, toml string
		want       []string
	}{
		{"not a domain", "[[vhost]]\ndomain = 'a@b'", []string{"vhost[0].domain", "a@b"}},
		{"empty", "[[vhost]]\ncert = 'c.pem'", []string{"vhost[0].domain"}},
		{"the primary domain", "domain = 'example.org'\n[[vhost]]\ndomain = 'Example.ORG'", []string{"vhost[0].domain", "twice"}},
		{"twice", "[[vhost]]\ndomain = 'a.example'\n[[vhost]]\ndomain = 'a.example'", []string{"vhost[1].domain", "twice"}},
		{"cert without key", "[[vhost]]\ndomain = 'a.example'\ncert = 'c.pem'", []string{"vhost[0]", "cert and key"}},
		{"unknown key", "[[vhost]]\ndomain = 'a.example'\ncertificate = 'c.pem'", []string{"unknown key", "vhost.certificate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.toml)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	c, err := load(t, "[[vhost]]\ndomain = 'a.example'\n[[vhost]]\ndomain = 'b.example'\ncert = 'c.pem'\nkey = 'k.pem'")
	if err != nil || len(c.VHosts) != 2 || c.VHosts[1].Cert != "c.pem" {
		t.Fatalf("two vhosts: %+v %v", c.VHosts, err)
	}
}

// TestVHostServiceClash: a vhost that is also a service's domain stops
// the server before it serves.
func TestVHostServiceClash(t *testing.T) {
	c := DefaultConfig()
	c.Data = t.TempDir()
	c.Listen.C2S, c.Listen.C2STLS = "127.0.0.1:0", "off"
	c.VHosts = []VHost{{Domain: "conference.localhost"}}
	if _, err := New(c, nil); err == nil || !strings.Contains(err.Error(), "conference.localhost") {
		t.Fatalf("New = %v, want the clash named", err)
	}
}

// TestAdminUser: the admin's names of accounts, as store users.
func TestAdminUser(t *testing.T) {
	primary, hosts := jid.MustParse("localhost"), []jid.JID{jid.MustParse("example.net")}
	for _, tc := range []struct{ in, want, err string }{
		{"alice", "alice", ""},
		{"Alice@localhost", "alice", ""},
		{"alice@example.net", "alice@example.net", ""},
		{"alice@Example.NET", "alice@example.net", ""},
		{"alice@example.org", "", "this server serves localhost, example.net, not example.org"},
		{"alice@example.net/r", "", "not an account JID"},
		{"@example.net", "", "not an account JID"},
	} {
		got, err := AdminUser(primary, hosts, tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("AdminUser(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}
