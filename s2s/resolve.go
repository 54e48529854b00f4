package s2s

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
)

// target is one address to try for a domain.
type target struct {
	addr   string
	direct bool // TLS from the first byte (XEP-0368)
}

// errNoService is a domain whose SRV record says it offers no s2s service.
var errNoService = errors.New("s2s: the domain offers no server-to-server service")

// resolve lists the addresses for domain in the order to try them: the
// configured host, else the SRV targets (RFC 6120 §3.2.1; _xmpps-server
// first when direct TLS is on), else the domain itself on 5269 (§3.2.2).
func (m *Manager) resolve(ctx context.Context, domain string) ([]target, error) {
	m.mu.Lock()
	a, ok := m.hosts[domain]
	m.mu.Unlock()
	if ok {
		return []target{{addr: a}}, nil
	}
	var out []target
	if m.cfg.DirectTLS {
		if srvs, err := m.srv(ctx, "xmpps-server", domain); err == nil {
			for _, s := range srvs {
				out = append(out, target{addr: s, direct: true})
			}
		}
	}
	srvs, err := m.srv(ctx, "xmpp-server", domain)
	if errors.Is(err, errNoService) && len(out) == 0 {
		return nil, err
	}
	for _, s := range srvs {
		out = append(out, target{addr: s})
	}
	if len(out) == 0 {
		// no SRV: the domain's own address records, if it has any
		if _, err := m.cfg.Resolver.LookupHost(ctx, domain); err != nil {
			return nil, err
		}
		out = append(out, target{addr: net.JoinHostPort(domain, "5269")})
	}
	return out, nil
}

// srv looks up _service._tcp.domain, in priority and weight order.
func (m *Manager) srv(ctx context.Context, service, domain string) ([]string, error) {
	_, recs, err := m.cfg.Resolver.LookupSRV(ctx, service, "tcp", domain)
	if err != nil {
		return nil, err
	}
	if len(recs) == 1 && recs[0].Target == "." {
		return nil, errNoService
	}
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, net.JoinHostPort(strings.TrimSuffix(r.Target, "."), strconv.Itoa(int(r.Port))))
	}
	return out, nil
}
