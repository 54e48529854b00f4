package server

import (
	"strings"
	"testing"

	"ignis/jid"
)

// TestVHostConfig: two [[vhost]] tables load (their errors are in
// TestConfigErrors).
func TestVHostConfig(t *testing.T) {
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

// TestVHostServiceParents: which vhosts run their own instance of each
// service: every one by default, those whose services list names it, none
// for a service that is off, PEP-only pubsub or a whole-domain host.
func TestVHostServiceParents(t *testing.T) {
	c, err := load(t, "[[vhost]]\ndomain = 'A.example'\n[[vhost]]\ndomain = 'b.example'\nservices = ['muc']\n"+
		"[[vhost]]\ndomain = 'c.example'\nservices = []\n[broadcast]\nhost = 'bc.localhost'")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{svcMUC, []string{"a.example", "b.example"}},
		{svcPubsub, []string{"a.example"}},
		{svcBroadcast, nil}, // a whole domain: the primary's only
		{svcUpload, nil},    // off
	} {
		if got := c.serviceParents(tc.name); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	c.Pubsub.Host = "off"
	if got := c.serviceParents(svcPubsub); got != nil {
		t.Errorf("pubsub off: %v", got)
	}
}
