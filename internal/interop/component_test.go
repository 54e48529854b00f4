//go:build interop

package interop

import (
	"testing"

	"ignis/internal/server"
)

// TestInteropComponent: slixmpp's ComponentXMPP (XEP-0114) against the
// component port: a wrong secret gets <not-authorized/>; with the right one
// a slixmpp client and the component exchange a chat message both ways, an
// iq (XEP-0092, answered by the component's plugin) and presences.
func TestInteropComponent(t *testing.T) {
	h := newHarness(t, func(c *server.Config) {
		c.Component.Listen = "127.0.0.1:0"
		c.Component.Secrets = map[string]string{"gw.localhost": "s3cret"}
	})
	h.env.AddUser("alice", "alice-secret")
	args := []string{"--addr", byName(t, h.env.Addr), "--component-addr", h.env.Srv.ComponentAddr().String(),
		"--component", "gw.localhost", "--jid", "alice@localhost/laptop", "--password", "alice-secret"}

	t.Run("bad-secret", func(t *testing.T) {
		r := h.run(t, "component.py", append(args, "--secret", "wrong", "--expect", "not-authorized")...)
		r.succeeded()
		if e := r.one("stream_error", ""); e.Condition != "not-authorized" {
			t.Fatalf("stream error %q, want not-authorized", e.Condition)
		}
	})
	t.Run("exchange", func(t *testing.T) {
		r := h.run(t, "component.py", append(args, "--secret", "s3cret")...)
		r.succeeded()
		if s := r.one("session", "component"); s.JID != "gw.localhost" {
			t.Errorf("component JID %q", s.JID)
		}
		if m := r.one("message", "component"); m.From != "alice@localhost/laptop" || m.To != "bob@gw.localhost" || m.Body != "hello gateway" {
			t.Errorf("the component got %+v", m)
		}
		if m := r.one("message", "client"); m.From != "bob@gw.localhost/legacy" || m.Body != "hello alice" {
			t.Errorf("the client got %+v", m)
		}
		if v := r.one("version", ""); v.Name != "Gateway" || v.From != "gw.localhost" {
			t.Errorf("version answer %+v", v)
		}
		if p := r.one("presence", "component"); p.From != "alice@localhost/laptop" || p.To != "bob@gw.localhost" {
			t.Errorf("the component got presence %+v", p)
		}
		if p := r.one("presence", "client"); p.From != "bob@gw.localhost/legacy" {
			t.Errorf("the client got presence %+v", p)
		}
	})
}
