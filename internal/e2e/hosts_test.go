package e2e

import (
	"testing"

	"ignis/internal/server"
	"ignis/internal/servertest"
	"ignis/mod"
	"ignis/stanza"
)

// echoService runs at echo.localhost: it sends messages and presences back
// from the address they were sent to, and answers its own iq namespace.
type echoService struct{}

func (echoService) Name() string { return "echo" }
func (echoService) Register(r *mod.Registry) {
	back := func(ctx *mod.Ctx, st *stanza.Stanza) { ctx.Env.Send(st.WithAddrs(st.To, st.From)) }
	r.Service(&mod.Service{
		Host:       "echo",
		Identities: []mod.Identity{{Category: "component", Type: "generic", Name: "Echo"}},
		Features:   []string{"urn:test:echo"},
		Items:      func(*mod.Ctx) []mod.Item { return []mod.Item{{JID: "room@echo.localhost", Name: "Room"}} },
		Message:    back,
		Presence:   back,
		IQ: func(_ *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
			if string(iq.Payload().NS()) != "urn:test:echo" {
				return nil, stanza.Err(stanza.FeatureNotImplemented)
			}
			return iq.Result([]byte("<pong xmlns='urn:test:echo'/>")), nil
		},
	})
}

// TestServices: a module's service at its own domain, seen by a real client:
// listed in the server's disco#items, its identity in its disco#info, and a
// message, presence and iq round trip.
func TestServices(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Extra = []mod.Module{echoService{}} })
	env.AddUser("alice", "pw")
	a := rawStream(t, env, "alice", "r")
	const me = "alice@localhost/r"
	for _, step := range []struct{ send, want string }{
		{"<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
			"<item jid='echo.localhost' name='Echo'/>"},
		{"<iq type='get' id='d2' to='echo.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
			"<iq type='result' id='d2' from='echo.localhost' to='" + me + "'><query xmlns='http://jabber.org/protocol/disco#info'>" +
				"<identity category='component' type='generic' name='Echo'/>" +
				"<feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/disco#items'/>" +
				"<feature var='urn:test:echo'/></query></iq>"},
		{"<iq type='get' id='d3' to='echo.localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
			"<item jid='room@echo.localhost' name='Room'/>"},
		{"<message to='room@echo.localhost' id='m1' type='chat'><body>hi</body></message>",
			"<message from='room@echo.localhost' to='" + me + "' id='m1' type='chat'><body>hi</body></message>"},
		{"<presence to='room@echo.localhost/alice'/>",
			"<presence from='room@echo.localhost/alice' to='" + me + "'/>"},
		{"<iq type='get' id='p1' to='echo.localhost'><ping xmlns='urn:test:echo'/></iq>",
			"<iq type='result' id='p1' from='echo.localhost' to='" + me + "'><pong xmlns='urn:test:echo'/></iq>"},
		{"<iq type='get' id='p2' to='echo.localhost'><ping xmlns='urn:xmpp:ping'/></iq>",
			"<feature-not-implemented xmlns='" + nsStanzas + "'/>"},
		{"<message to='someone@nowhere.example' id='m2'><body>x</body></message>",
			"<remote-server-not-found xmlns='" + nsStanzas + "'/>"},
	} {
		a.send(step.send)
		a.expect(step.want)
	}
}
