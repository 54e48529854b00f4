package server

import (
	"fmt"
	"slices"

	"ignis/component"
	"ignis/jid"
	"ignis/mod"
)

// Per-domain services: every local domain, the primary one and each
// [[vhost]], gets its own instance of each service that is on and whose host
// is a label (conference.example.net beside conference.localhost), as
// ejabberd's conference.@HOST@ does. A host that is a whole domain names
// the primary domain's instance only. A vhost's `services` list narrows its
// set.

// Names of the services a vhost may list, as their config sections.
const (
	svcMUC       = "muc"
	svcPubsub    = "pubsub"
	svcBroadcast = "broadcast"
	svcProxy     = "proxy65"
	svcUpload    = "upload"
)

// svcHost is one service as the configuration has it.
type svcHost struct {
	name string
	host string // label or whole domain
	on   bool   // runs at all (the primary domain's instance)
	// perDomain: the vhosts may have instances of their own (on, and host a label)
	perDomain bool
}

// serviceHosts lists the services in config order.
func (c *Config) serviceHosts() []svcHost {
	pubOff := c.Pubsub.Host == "off"
	pubHost := c.Pubsub.Host
	if pubOff {
		pubHost = "pubsub" // PEP's caps queries still come from pubsub.DOMAIN
	}
	out := []svcHost{
		{name: svcMUC, host: c.MUC.Host, on: c.MUC.Enabled},
		{name: svcPubsub, host: pubHost, on: true},
		{name: svcBroadcast, host: c.Broadcast.Host, on: c.Broadcast.Enabled},
		{name: svcProxy, host: "proxy", on: c.Proxy65.Enabled},
		{name: svcUpload, host: "upload", on: c.Upload.Enabled},
	}
	for i := range out {
		s := &out[i]
		if s.host == "" {
			s.host = s.name
		}
		s.perDomain = s.on && !isDomainName(s.host) && !(s.name == svcPubsub && pubOff)
	}
	return out
}

func isDomainName(host string) bool { return slices.Contains([]byte(host), '.') }

// serviceParents are the vhost domains that run their own instance of the
// service called name.
func (c *Config) serviceParents(name string) []string {
	domains, err := c.vhostDomains()
	if err != nil {
		return nil // Validate reports it
	}
	i := slices.IndexFunc(c.serviceHosts(), func(s svcHost) bool { return s.name == name })
	if i < 0 || !c.serviceHosts()[i].perDomain {
		return nil
	}
	var out []string
	for j, d := range domains {
		if l := c.VHosts[j].Services; l == nil || slices.Contains(*l, name) {
			out = append(out, d.Domain())
		}
	}
	return out
}

// validateVHostServices checks the vhosts' services lists and that no
// service's domain is also a local domain, another service's or a
// component's.
func (c *Config) validateVHostServices() error {
	primary, err := jid.Parse(c.Domain)
	if err != nil {
		return nil // Validate reports it
	}
	svcs := c.serviceHosts()
	for i, v := range c.VHosts {
		if v.Services == nil {
			continue
		}
		for _, n := range *v.Services {
			k := slices.IndexFunc(svcs, func(s svcHost) bool { return s.name == n })
			switch {
			case k < 0:
				return fmt.Errorf("config: vhost[%d].services: %q is not one of muc, pubsub, broadcast, proxy65, upload", i, n)
			case !svcs[k].on || (n == svcPubsub && c.Pubsub.Host == "off"):
				return fmt.Errorf("config: vhost[%d].services: %q is off in its own section", i, n)
			case !svcs[k].perDomain:
				return fmt.Errorf("config: vhost[%d].services: %q: its host %q is a whole domain, the primary domain's service only (set a label such as %q)", i, n, svcs[k].host, n)
			}
		}
	}
	vhosts, err := c.vhostDomains()
	if err != nil {
		return nil
	}
	// who is at each domain, for a message naming both
	owner := map[string]string{primary.Domain(): "the primary domain"}
	for _, v := range vhosts {
		owner[v.Domain()] = "vhost " + v.Domain()
	}
	claim := func(d, who string) error {
		if o, ok := owner[d]; ok {
			return fmt.Errorf("config: %s is the domain of both %s and %s; give one of them another host", d, o, who)
		}
		owner[d] = who
		return nil
	}
	for _, s := range svcs {
		if !s.on {
			continue
		}
		for _, p := range append([]string{""}, c.serviceParents(s.name)...) {
			d, err := (&mod.Service{Host: s.host, Parent: p}).Domain(primary)
			if err != nil {
				return fmt.Errorf("config: %s: host %q is not a domain name or label", s.name, s.host)
			}
			if err := claim(d.Domain(), fmt.Sprintf("the %s service of %s", s.name, (&mod.Service{Parent: p}).ParentDomain(primary))); err != nil {
				return err
			}
		}
	}
	for name := range c.Component.Secrets {
		if d, err := component.Domain(name, primary); err == nil { // else validateComponents reports it
			if err := claim(d.Domain(), "component "+name); err != nil {
				return err
			}
		}
	}
	return nil
}
