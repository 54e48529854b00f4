package server

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"ignis/jid"
	"ignis/mod"
)

// hostCerts are the certificates of the virtual hosts by domain.
type hostCerts map[string]*tls.Certificate

// get is tls.Config.GetCertificate: a client naming a virtual host by SNI
// gets its certificate; any other name (or none) the primary domain's,
// from tls.Config.Certificates (a nil certificate means that).
func (h hostCerts) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return h[strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))], nil
}

// der is each virtual host's leaf certificate, for channel binding.
func (h hostCerts) der() map[string][]byte {
	out := make(map[string][]byte, len(h))
	for d, c := range h {
		out[d] = c.Certificate[0]
	}
	return out
}

// loadVHosts returns the [[vhost]] domains and their certificates, making
// a self-signed one in the data folder (vhosts/<domain>/) for a vhost
// configured without, as for the primary domain.
func loadVHosts(cfg *Config, log *slog.Logger) ([]jid.JID, hostCerts, error) {
	domains, err := cfg.vhostDomains()
	if err != nil {
		return nil, nil, err
	}
	certs := hostCerts{}
	for i, d := range domains {
		v := cfg.VHosts[i]
		dir := filepath.Join(cfg.Data, "vhosts", d.Domain())
		c, created, err := loadOrMakeCert(v.Cert, v.Key, dir, d.Domain())
		if err != nil {
			return nil, nil, fmt.Errorf("vhost %s: %w", d.Domain(), err)
		}
		if created != "" {
			log.Info("created a self-signed certificate; clients will not trust it: set cert and key of the [[vhost]] for a real one",
				"for", d.Domain(), "cert", created)
		}
		certs[d.Domain()] = &c
	}
	return domains, certs, nil
}

// servedOnce checks that no virtual host is also a service's domain (the
// router would refuse the table).
func servedOnce(primary jid.JID, vhosts []jid.JID, reg *mod.Registry) error {
	for _, s := range reg.Services() {
		sd, err := s.Domain(primary)
		if err != nil {
			continue // the router reports it
		}
		for _, v := range vhosts {
			if v.Equal(sd) {
				return fmt.Errorf("config: vhost %s is also the domain of the %s service", v, sd)
			}
		}
	}
	return nil
}

// primary is the primary domain, normalized as the router holds it.
func (c *Config) primary() string {
	d, _ := jid.Parse(c.Domain) // checked by Validate
	return d.Domain()
}
