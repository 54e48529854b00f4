package session

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"ignis/jid"
	"ignis/route"
	"ignis/session/sasl"
	"ignis/xmlscan"
)

// Limits bound what one client stream may cost. Zero fields take defaults.
type Limits struct {
	MaxStanzaBytes int // one stanza, start to end tag; default 256 KiB; over it → <policy-violation/>
	MaxDepth       int // element nesting; default 32
	MaxAttrs       int // attributes on one element; default 64
	MaxPendingOut  int // bytes queued for a slow reader; default 1 MiB; over it the stream is closed
	AuthAttempts   int // failed SASL attempts per stream; default 3, then <policy-violation/>
	// PreAuthIdle is the one deadline from accept to resource binding (as
	// ejabberd's negotiation_timeout): input does not extend it, so a client
	// trickling bytes cannot hold a connection; default 30 s, then <connection-timeout/>
	PreAuthIdle time.Duration
	// PreAuthStanzaBytes bounds one element before authentication (SASL
	// payloads, registration forms are well below it); default 10 KiB (or
	// MaxStanzaBytes if smaller), then <policy-violation/>
	PreAuthStanzaBytes int
}

// EnsureDefaults fills zero fields with their defaults.
func (l *Limits) EnsureDefaults() {
	if l.MaxStanzaBytes == 0 {
		l.MaxStanzaBytes = 256 << 10
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = 32
	}
	if l.MaxAttrs == 0 {
		l.MaxAttrs = 64
	}
	if l.MaxPendingOut == 0 {
		l.MaxPendingOut = 1 << 20
	}
	if l.AuthAttempts == 0 {
		l.AuthAttempts = 3
	}
	if l.PreAuthIdle == 0 {
		l.PreAuthIdle = 30 * time.Second
	}
	if l.PreAuthStanzaBytes == 0 {
		l.PreAuthStanzaBytes = min(10<<10, l.MaxStanzaBytes)
	}
}

// Validate reports the first limit out of its sane range.
func (l Limits) Validate() error {
	switch {
	case l.MaxStanzaBytes < 10000:
		return fmt.Errorf("max_stanza_bytes %d is below 10000 (RFC 6120 §13.12 requires at least 10000)", l.MaxStanzaBytes)
	case l.MaxDepth < 4:
		return fmt.Errorf("max_depth %d is below 4", l.MaxDepth)
	case l.MaxAttrs < 8:
		return fmt.Errorf("max_attrs %d is below 8", l.MaxAttrs)
	case l.MaxPendingOut < 64<<10:
		return fmt.Errorf("max_pending_output %d is below 64 KiB", l.MaxPendingOut)
	case l.AuthAttempts < 1 || l.AuthAttempts > 10:
		return fmt.Errorf("auth_attempts %d is outside 1..10", l.AuthAttempts)
	case l.PreAuthIdle < time.Second:
		return fmt.Errorf("pre_auth_idle %s is below 1s", l.PreAuthIdle)
	case l.PreAuthStanzaBytes < 4096 || l.PreAuthStanzaBytes > l.MaxStanzaBytes:
		return fmt.Errorf("pre_auth_stanza_bytes %d is outside 4096..max_stanza_bytes", l.PreAuthStanzaBytes)
	}
	return nil
}

// Config is shared by every stream of a listener. It is read-only once
// streams run, except for Stats and the resumption registry (its own lock);
// it must not be copied after Prepare.
type Config struct {
	Domain jid.JID // the primary domain: streams without 'to' are for it
	// Hosts are the further local domains (virtual hosts) a stream header's
	// 'to' may name; the router must serve them as local (route.Config.Domains).
	Hosts []jid.JID
	// UserKey maps an account's bare JID to the user the Credentials know it
	// by (store.UserKey); nil means the localpart (one domain only).
	UserKey func(user jid.JID) string
	// HostCerts are the DER certificates of virtual hosts by domain, as the
	// TLS layer picks them by SNI (tls.Config.GetCertificate); a name not
	// here gets ServerCert. They give tls-server-end-point its data.
	HostCerts   map[string][]byte
	Router      *route.Router
	Credentials sasl.Credentials
	SASL        sasl.Config
	// TLSOffered: STARTTLS is offered (a certificate is configured).
	TLSOffered bool
	// TLSRequired: nothing but STARTTLS is possible before TLS.
	TLSRequired bool
	// ServerCert is the DER certificate the TLS layer presents, for the
	// tls-server-end-point channel binding (RFC 5929).
	ServerCert []byte
	// Compression offers XEP-0138 zlib; CompressionOnTLS offers it on TLS
	// streams too (off by default: compression under TLS leaks, XEP-0138 §9).
	Compression      bool
	CompressionOnTLS bool
	// LegacyAuth offers XEP-0078 non-SASL authentication (jabber:iq:auth)
	// wherever SASL PLAIN is offered; off by default (legacyauth.go).
	LegacyAuth bool
	Limits     Limits
	// SM configures XEP-0198 Stream Management (sm.go).
	SM SMConfig
	// Guard limits unauthenticated clients across all streams of the server
	// (guard.go); nil takes a default one exempting loopback.
	Guard *Guard
	// Durable is the store's writer: a stanza whose handling submitted a
	// synced write counts as handled (XEP-0198 h) once that write is on
	// disk (sm.go). Nil: stanzas count once routed (tests without a store).
	Durable Durability
	Logger  *slog.Logger
	// Stats counts what the streams did (filled by them; read by anyone).
	Stats Stats

	endPoint []byte // tls-server-end-point binding data, from ServerCert
	// hostEnd is endPoint for the names of HostCerts
	hostEnd map[string][]byte
	scan    xmlscan.Limits
	preScan xmlscan.Limits // before authentication
	resume  resumable      // detached streams waiting for a resume (sm.go)
	late    sync.WaitGroup // deliveries to ended streams being routed again, detached streams ending (deliver.go)
	lateQ   lateQueue      // those deliveries, in arrival order (deliver.go)
	// strangers are the open streams not bound yet, which the session table
	// does not list, so that Shutdown reaches them too (shutdown.go)
	strangers strangers
}

// Prepare fills defaults and derived values; call it once before use.
func (c *Config) Prepare() error {
	c.Limits.EnsureDefaults()
	c.SM.ensureDefaults()
	if c.SM.ResumeTimeout < 0 || c.SM.MaxUnacked < 0 {
		return fmt.Errorf("session: stream management: negative resume timeout or max unacked")
	}
	if err := c.Limits.Validate(); err != nil {
		return err
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Domain.IsZero() || c.Router == nil || c.Credentials == nil {
		return fmt.Errorf("session: config needs a domain, a router and credentials")
	}
	c.scan = xmlscan.Limits{MaxElementBytes: c.Limits.MaxStanzaBytes, MaxDepth: c.Limits.MaxDepth, MaxAttrs: c.Limits.MaxAttrs}
	c.preScan = c.scan
	c.preScan.MaxElementBytes = c.Limits.PreAuthStanzaBytes
	if c.Guard == nil {
		c.Guard, _ = NewGuard(GuardConfig{ExemptLoopback: true}) // the defaults are valid
	}
	if c.Guard.log == nil {
		c.Guard.log = c.Logger // the Guard logs refusals (guard.go)
	}
	if len(c.ServerCert) > 0 {
		cert, err := x509.ParseCertificate(c.ServerCert)
		if err != nil {
			return fmt.Errorf("session: server certificate: %w", err)
		}
		c.endPoint = endPointHash(cert)
	}
	for name, der := range c.HostCerts {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("session: certificate of %s: %w", name, err)
		}
		if c.hostEnd == nil {
			c.hostEnd = map[string][]byte{}
		}
		c.hostEnd[name] = endPointHash(cert)
	}
	return nil
}

// endPointHash is the tls-server-end-point binding (RFC 5929 §4.1): the
// certificate hashed with its signature's hash, SHA-256 for MD5 and SHA-1.
func endPointHash(cert *x509.Certificate) []byte {
	switch cert.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		h := sha512.Sum384(cert.Raw)
		return h[:]
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		h := sha512.Sum512(cert.Raw)
		return h[:]
	}
	h := sha256.Sum256(cert.Raw)
	return h[:]
}

// host returns the local domain a stream header's 'to' names, or false when
// this server does not serve it (RFC 6120 §4.9.3.6 host-unknown).
func (c *Config) host(to []byte) (*jid.JID, bool) {
	if string(to) == c.Domain.String() {
		return &c.Domain, true // the common case, without parsing
	}
	j, err := jid.Parse(string(to))
	if err != nil || j.Local() != "" || !j.IsBare() {
		return nil, false
	}
	for i := range c.Hosts {
		if c.Hosts[i].Equal(j) {
			return &c.Hosts[i], true
		}
	}
	if j.Equal(c.Domain) {
		return &c.Domain, true
	}
	return nil, false
}

// userKey is the user the Credentials know local@domain by.
func (c *Config) userKey(local string, domain jid.JID) (string, error) {
	if c.UserKey == nil {
		return local, nil
	}
	j, err := jid.New(local, domain.Domain(), "")
	if err != nil {
		return "", err
	}
	return c.UserKey(j), nil
}
