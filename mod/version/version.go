// Package version answers software version queries to the server (XEP-0092).
//
// The operating system is not disclosed: XEP-0092 §4 asks that an
// administrator be able to hide it, and hiding it always needs no setting.
package version

import (
	"ignis/mod"
	"ignis/stanza"
)

// NS is the software version namespace.
const NS = "jabber:iq:version"

// Software name and version the server reports.
const (
	Name    = "Ignis"
	Version = "0.1.0"
)

// Module is the software version feature.
type Module struct{}

func (Module) Name() string { return "version" }

func (Module) Register(r *mod.Registry) {
	r.IQ(mod.ToServer, stanza.Get, NS, "query", handle)
	r.Feature(mod.ToServer, NS)
}

func handle(_ *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	var b stanza.Builder
	b.Start("query", "xmlns", NS)
	b.Element("name", Name)
	b.Element("version", Version)
	return iq.Result(b.Bytes()), nil
}
