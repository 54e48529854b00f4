//go:build interop

package interop

import (
	"slices"
	"testing"

	"ignis/internal/server"
)

// servicesRun runs testdata/services.py's part what as alice (an admin) and bob.
func servicesRun(t *testing.T, h *harness, what string) *run {
	t.Helper()
	h.env.AddUser("alice", "alice-secret")
	h.env.AddUser("bob", "bob-secret")
	return h.run(t, "services.py", what, "--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost/laptop", "--alice-password", "alice-secret",
		"--bob", "bob@localhost/phone", "--bob-password", "bob-secret")
}

// TestInteropAdhoc: slixmpp's xep_0050/xep_0133 run the admin commands: the
// admin lists them, adds a user in two stages and counts users in one; a
// user is refused with forbidden; the added user logs in.
func TestInteropAdhoc(t *testing.T) {
	h := newHarness(t, func(c *server.Config) { c.Admin.JIDs = []string{"alice@localhost"} })
	r := servicesRun(t, h, "adhoc")
	r.succeeded()
	if cmds := r.one("commands", "alice").Items; !slices.Contains(cmds, "http://jabber.org/protocol/admin#add-user") {
		t.Errorf("alice's commands %q lack add-user", cmds)
	}
	var add, num observation
	for _, c := range r.all("command", "alice") {
		switch c.What {
		case "add-user":
			add = c
		case "get-registered-users-num":
			num = c
		}
	}
	if add.Outcome != "completed" || add.Text != "Added carol@localhost" {
		t.Errorf("add-user: %q %q, want completed, Added carol@localhost", add.Outcome, add.Text)
	}
	if num.Outcome != "completed" || !slices.Equal(num.Items, []string{"3"}) {
		t.Errorf("get-registered-users-num: %q %q, want completed [3]", num.Outcome, num.Items)
	}
	if e := r.one("command_error", "bob"); e.Condition != "forbidden" {
		t.Errorf("bob's add-user: %q, want forbidden", e.Condition)
	}
	r.one("session", "carol")
}

// TestInteropProxy65: slixmpp's xep_0065 discovers the proxy and relays a
// file from alice to bob through it, activated by alice.
func TestInteropProxy65(t *testing.T) {
	h := newHarness(t, func(c *server.Config) {
		c.Proxy65.Enabled = true
		c.Proxy65.Listen = "127.0.0.1:0"
		c.Proxy65.Host = "127.0.0.1"
	})
	r := servicesRun(t, h, "proxy")
	r.succeeded()
	if f := r.one("file", "bob"); !f.OK {
		t.Errorf("bob got a file with sha1 %s, want %s", f.Got, f.Want)
	}
}

// TestInteropUpload: slixmpp's xep_0363 finds the upload service, gets a
// slot and PUTs a file over HTTPS; the GET URL returns it with its type; a
// slot over max-file-size is refused with not-acceptable.
func TestInteropUpload(t *testing.T) {
	h := newHarness(t, func(c *server.Config) {
		c.Upload.Enabled = true
		c.Upload.Listen = "127.0.0.1:0"
	})
	r := servicesRun(t, h, "upload")
	r.succeeded()
	if s := r.one("upload_service", "alice"); s.JID != "upload.localhost" || !slices.Equal(s.Items, []string{"104857600"}) {
		t.Errorf("upload service %q with max-file-size %q, want upload.localhost with 104857600", s.JID, s.Items)
	}
	if f := r.one("file", "alice"); !f.OK {
		t.Errorf("fetched %s (type %q), want %s (text/plain)", f.Got, f.What, f.Want)
	}
	if e := r.one("upload_error", "alice"); e.Condition != "not-acceptable" {
		t.Errorf("a slot over the limit: %q, want not-acceptable", e.Condition)
	}
}
