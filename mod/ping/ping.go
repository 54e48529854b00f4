// Package ping answers XMPP pings to the server (XEP-0199).
package ping

import (
	"ignis/mod"
	"ignis/stanza"
)

// NS is the ping namespace.
const NS = "urn:xmpp:ping"

// Module is the ping feature.
type Module struct{}

func (Module) Name() string { return "ping" }

func (Module) Register(r *mod.Registry) {
	r.IQ(mod.ToServer, stanza.Get, NS, "ping", handle)
	r.Feature(mod.ToServer, NS)
}

func handle(_ *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	return iq.Result(nil), nil
}
