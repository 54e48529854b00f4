// Package entitytime answers entity time queries to the server (XEP-0202):
// the server's UTC time and its time zone offset, in the formats of XEP-0082.
//
// The package is not called time so that it does not shadow the standard
// library's package wherever both are used.
package entitytime

import (
	"time"

	"ignis/mod"
	"ignis/stanza"
)

// NS is the entity time namespace.
const NS = "urn:xmpp:time"

// Module is the entity time feature. Now, if set, replaces time.Now (tests).
type Module struct {
	Now func() time.Time
}

func (m *Module) Name() string { return "time" }

func (m *Module) Register(r *mod.Registry) {
	r.IQ(mod.ToServer, stanza.Get, NS, "time", m.handle)
	r.Feature(mod.ToServer, NS)
}

func (m *Module) handle(_ *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	var b stanza.Builder
	b.Start("time", "xmlns", NS)
	b.Element("tzo", tzo(now))
	b.Element("utc", now.UTC().Format("2006-01-02T15:04:05.000Z"))
	return iq.Result(b.Bytes()), nil
}

// tzo formats t's zone offset as XEP-0082 wants it: "+hh:mm" or "-hh:mm",
// "+00:00" for UTC (never "Z").
func tzo(t time.Time) string {
	return t.Format("-07:00")
}
