// Package proxy65 is the SOCKS5 bytestreams proxy's XMPP side (XEP-0065) at
// proxy.DOMAIN: disco (identity proxy/bytestreams), the streamhost query
// that tells clients where the relay listens, and activation, which starts
// the relay (package ignis/proxy65, on the reactor's loops, reached through
// Config.Activate so that this feature does not import the transport).
package proxy65

import (
	"errors"
	"strconv"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// NS is the bytestreams namespace.
const NS = "http://jabber.org/protocol/bytestreams"

// Activation failures, as the relay reports them.
var (
	ErrNoStream = errors.New("no such stream")
	ErrOneSided = errors.New("only one party is connected")
)

// Config wires the service to the relay.
type Config struct {
	// Host is the service's domain; default "proxy" (proxy.DOMAIN).
	Host string
	// Parents are the further local domains (virtual hosts) that get a
	// service of their own (proxy.example.net) over the same relay.
	Parents []string
	// Addr returns the host and port the relay is reached at (known once
	// the listener is bound) by users of the local domain domain.
	Addr func(domain string) (host string, port int)
	// Activate starts relaying the stream whose SOCKS5 address is
	// SHA1(sid + initiator + target); it returns ErrNoStream or ErrOneSided
	// (or an error wrapping them) when it cannot.
	Activate func(sid, initiator, target string) error
}

// Module is the proxy service.
type Module struct {
	h   *mod.Handle
	cfg Config
}

// New returns the module.
func New(h *mod.Handle, cfg Config) *Module {
	if cfg.Host == "" {
		cfg.Host = "proxy"
	}
	return &Module{h: h, cfg: cfg}
}

func (m *Module) Name() string { return "proxy65" }

func (m *Module) Register(r *mod.Registry) {
	for _, p := range append([]string{""}, m.cfg.Parents...) {
		r.Service(&mod.Service{
			Host:       m.cfg.Host,
			Parent:     p,
			Identities: []mod.Identity{{Category: "proxy", Type: "bytestreams", Name: "SOCKS5 Bytestreams"}},
			Features:   []string{NS},
			IQ:         m.iq,
		})
	}
}

var (
	errNotHere     = stanza.Err(stanza.FeatureNotImplemented)
	errNoSID       = stanza.ErrText(stanza.BadRequest, "activation needs a sid and an <activate/> target")
	errNoStream    = stanza.ErrText(stanza.ItemNotFound, "no such bytestream (sid, requester and target must match the SOCKS5 address)")
	errOneSided    = stanza.ErrText(stanza.NotAllowed, "both parties must be connected to the proxy")
	errStrangers   = stanza.ErrText(stanza.Forbidden, "the proxy serves this server's users")
	errMalformedTo = stanza.Err(stanza.JIDMalformed)
)

// iq answers the streamhost query (get, XEP-0065 §6.3.1... §5.3.1) and
// activation (set, §5.3.3).
func (m *Module) iq(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	p := iq.Payload()
	if string(p.NS()) != NS || string(p.Local()) != "query" || iq.To.Local() != "" {
		return nil, errNotHere
	}
	if ctx.From == nil {
		return nil, errStrangers
	}
	if iq.Type == stanza.Get {
		host, port := m.cfg.Addr(ctx.Service.ParentDomain(ctx.Env.Domain()))
		var b stanza.Builder
		b.Start("query", "xmlns", NS)
		b.Element("streamhost", "", "jid", ctx.Target.String(), "host", host, "port", strconv.Itoa(port))
		return iq.Result(b.Bytes()), nil
	}
	sid, _ := p.Attr("sid")
	act := p.Child("activate", NS)
	if len(sid) == 0 || act.IsZero() {
		return nil, errNoSID
	}
	target, err := jid.Parse(string(act.AppendText(nil)))
	if err != nil {
		return nil, errMalformedTo
	}
	err = m.cfg.Activate(string(sid), iq.From.String(), target.String())
	switch {
	case err == nil:
		m.h.Log().Info("bytestream activated", "sid", string(sid), "initiator", iq.From.String(), "target", target.String())
		return iq.Result(nil), nil
	case errors.Is(err, ErrOneSided):
		return nil, errOneSided
	case errors.Is(err, ErrNoStream):
		return nil, errNoStream
	}
	return nil, err
}
