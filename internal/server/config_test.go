package server

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readmeSample returns the TOML sample README.md documents.
func readmeSample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```toml\n")
	sample, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no ```toml sample")
	}
	return sample
}

func load(t *testing.T, text string) (Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ignis.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err == nil {
		err = c.Validate()
	}
	return c, err
}

// TestReadmeConfig: the sample in README.md loads, every key in it exists,
// and it states the built-in defaults, so the README tells the truth.
func TestReadmeConfig(t *testing.T) {
	c, err := load(t, readmeSample(t))
	if err != nil {
		t.Fatalf("README's sample config: %v", err)
	}
	d := DefaultConfig()
	if c.sessionLimits() != d.sessionLimits() {
		t.Errorf("README's [limits] %+v differ from the defaults %+v", c.sessionLimits(), d.sessionLimits())
	}
	if c.guardConfig() != d.guardConfig() {
		t.Errorf("README's [limits] for strangers %+v differ from the defaults %+v", c.guardConfig(), d.guardConfig())
	}
	c.Limits = d.Limits // compared above, with defaults filled in
	if !reflect.DeepEqual(c, d) {
		t.Errorf("README's sample differs from DefaultConfig():\n readme  %+v\n default %+v", c, d)
	}
}

// TestConfigErrors: a bad configuration is refused with a message that
// names the key and says what is wrong.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, toml string
		want       []string // all in the error
	}{
		{"unknown key", "domian = 'x'", []string{"unknown key", "domian"}},
		{"unknown nested key", "[limits]\nmax_stanza = 5", []string{"unknown key", "limits.max_stanza"}},
		{"not toml", "domain = ", []string{"config"}},
		{"wrong type", "loops = 'two'", []string{"loops"}},
		{"bad domain", "domain = 'a@b'", []string{"domain", "a@b"}},
		{"bad listener", "[listen]\nc2s = '5222'", []string{"listen.c2s", "host:port"}},
		{"cert without key", "[tls]\ncert = 'c.pem'", []string{"tls.cert", "tls.key"}},
		{"bad conflict", "[session]\nconflict = 'maybe'", []string{"session.conflict", "maybe"}},
		{"small stanza limit", "[limits]\nmax_stanza_bytes = 100", []string{"limits.max_stanza_bytes", "10000"}},
		{"bad duration", "[limits]\npre_auth_idle = 'soon'", []string{"pre_auth_idle", "duration"}},
		{"short retention", "[archive]\nretention = '1m'", []string{"archive.retention"}},
		{"bad resume timeout", "[stream_management]\nresume_timeout = '0s'", []string{"stream_management.resume_timeout"}},
		{"bad log level", "log_level = 'loud'", []string{"log_level", "loud"}},
		{"bad gc target", "gc_percent = 1", []string{"gc_percent"}},
		{"bad log format", "log_format = 'xml'", []string{"log_format", "xml"}},
		{"negative session cap", "[session]\nmax_per_user = -1", []string{"session.max_per_user"}},
		{"small pre-auth stanza limit", "[limits]\npre_auth_stanza_bytes = 100", []string{"limits.pre_auth_stanza_bytes"}},
		{"zero conns per ip", "[limits]\nmax_conns_per_ip = -1", []string{"limits.max_conns_per_ip"}},
		{"short ban", "[limits]\nauth_ban_time = '10ms'", []string{"limits.auth_ban_time"}},
		{"short refusal log interval", "[limits]\nrefusal_log_interval = '10ms'", []string{"limits.refusal_log_interval"}},
		{"bad component listener", "[component]\nlisten = '5275'", []string{"component.listen", "host:port"}},
		{"empty component secret", "[component.secrets]\ngw = ''", []string{"component.secrets", "empty"}},
		{"component on the server's domain", "domain = 'example.org'\n[component.secrets]\n'example.org' = 'x'", []string{"component.secrets", "own domain"}},
		{"component not a domain", "[component.secrets]\n'a@b.c' = 'x'", []string{"component.secrets", "a@b.c"}},
		{"short component handshake", "[component]\nhandshake_timeout = '1ms'", []string{"component.handshake_timeout"}},
		{"vhost on a service's domain", "domain = 'localhost'\n[[vhost]]\ndomain = 'conference.localhost'", []string{"conference.localhost", "vhost conference.localhost", "muc service of localhost"}},
		{"vhost on a vhost's service", "[[vhost]]\ndomain = 'example.net'\n[[vhost]]\ndomain = 'pubsub.example.net'", []string{"pubsub.example.net", "pubsub service of example.net"}},
		{"component on a vhost's service", "[[vhost]]\ndomain = 'example.net'\n[component.secrets]\n'conference.example.net' = 'x'", []string{"conference.example.net", "component"}},
		{"unknown vhost service", "[[vhost]]\ndomain = 'example.net'\nservices = ['chat']", []string{"vhost[0].services", "chat"}},
		{"vhost service that is off", "[[vhost]]\ndomain = 'example.net'\nservices = ['upload']", []string{"vhost[0].services", "upload", "off"}},
		{"vhost service on a whole domain", "[muc]\nhost = 'chat.localhost'\n[[vhost]]\ndomain = 'example.net'\nservices = ['muc']", []string{"vhost[0].services", "whole domain"}},
		{"bad console address", "[console]\naddress = '9090'", []string{"console.address", "host:port"}},
		{"short console session", "[console]\nsession_ttl = '1s'", []string{"console.session_ttl"}},
		{"bad console token", "[console]\ntokens = ['abc']", []string{"console.tokens", "abc"}},
		{"short voice interval", "[muc]\nvoice_interval = '10ms'", []string{"muc.voice_interval"}},
		{"no registrations", "[muc]\nmax_registrations = 0", []string{"muc.max_registrations"}},
		{"vhost not a domain", "[[vhost]]\ndomain = 'a@b'", []string{"vhost[0].domain", "a@b"}},
		{"vhost without domain", "[[vhost]]\ncert = 'c.pem'", []string{"vhost[0].domain"}},
		{"vhost on the primary domain", "domain = 'example.org'\n[[vhost]]\ndomain = 'Example.ORG'", []string{"vhost[0].domain", "twice"}},
		{"vhost twice", "[[vhost]]\ndomain = 'a.example'\n[[vhost]]\ndomain = 'a.example'", []string{"vhost[1].domain", "twice"}},
		{"vhost cert without key", "[[vhost]]\ndomain = 'a.example'\ncert = 'c.pem'", []string{"vhost[0]", "cert and key"}},
		{"vhost unknown key", "[[vhost]]\ndomain = 'a.example'\ncertificate = 'c.pem'", []string{"unknown key", "vhost.certificate"}},
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
}

func TestAdminJIDs(t *testing.T) {
	for _, tc := range []struct {
		jids []string
		ok   bool
	}{
		{nil, true},
		{[]string{"admin@localhost", "boss@example.org"}, true},
		{[]string{"localhost"}, false},
		{[]string{"admin@localhost/res"}, false},
		{[]string{"@@"}, false},
	} {
		c := DefaultConfig()
		c.Admin.JIDs = tc.jids
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%q: Validate = %v, want ok=%v", tc.jids, err, tc.ok)
		}
	}
}
