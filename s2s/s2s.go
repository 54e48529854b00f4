// Package s2s links this server with other XMPP servers (RFC 6120
// server-to-server streams on port 5269): incoming streams on a listener of
// their own, outgoing ones dialed on the same event loops, STARTTLS,
// authentication by SASL EXTERNAL (XEP-0178) when the peer's certificate
// verifies for its domain and by Server Dialback (XEP-0220) otherwise.
//
// A Manager is the router's fallback for domains it does not serve: stanzas
// for such a domain wait in a bounded queue while its link comes up, and
// bounce with remote-server-not-found or remote-server-timeout when it
// cannot. An outgoing link to a remote domain carries both our stanzas and
// the db:verify requests we make to that domain as its authoritative
// server; once up it authenticates further local domains, and further
// target domains on the same server, by dialback (piggybacking, XEP-0220
// §4). Incoming stanzas are checked against the domain pairs the stream
// authenticated and handed to the router.
package s2s

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"ignis/jid"
	"ignis/session"
	"ignis/stanza"
)

// Router is what the links need of the router: delivery of a stanza the
// server makes (a bounce), and of one another server sent, once checked.
type Router interface {
	Send(st *stanza.Stanza)
	Receive(st *stanza.Stanza)
}

// DialFunc connects to addr and drives the handler nh makes on an event
// loop (reactor.Server.Dial); tlsCfg non-nil is direct TLS.
type DialFunc func(ctx context.Context, addr string, tlsCfg *tls.Config, nh func(session.Transport) session.Handler) error

// Config configures a Manager. Zero fields take the defaults named on them.
type Config struct {
	Domain jid.JID // the domain we authenticate as
	// Local reports whether a domain is served here (the to of incoming
	// stanzas and streams); default: Domain only.
	Local func(domain string) bool
	// Origin is the local domain a stanza from the domain from goes out
	// as: a link authenticates it (virtual hosts federate as themselves);
	// default: Domain for every sender.
	Origin func(from string) string
	// TLS holds our certificate, offered on STARTTLS and presented as the
	// client of outgoing links (SASL EXTERNAL); nil: no TLS at all.
	TLS *tls.Config
	// RootCAs verifies peers' certificates; nil: the system roots.
	RootCAs *x509.CertPool
	// RequireTLS refuses streams that do not negotiate TLS, both ways.
	RequireTLS bool
	// DirectTLS tries _xmpps-server._tcp (XEP-0368) before _xmpp-server.
	DirectTLS bool
	// Hosts maps a domain to host:port, overriding DNS.
	Hosts map[string]string
	// IdleTimeout closes a link without traffic for that long; default 10 min.
	IdleTimeout time.Duration
	// ConnectTimeout bounds one TCP connect; default 10 s.
	ConnectTimeout time.Duration
	// AuthTimeout bounds an outgoing link from dial to authenticated, and
	// a dialback verification; default 30 s.
	AuthTimeout time.Duration
	// MaxQueue is how many stanzas may wait for a domain's link; default 1000.
	MaxQueue int
	// MaxStanzaBytes bounds one incoming element; default 256 KiB.
	MaxStanzaBytes int
	// MaxLinksPerDomain caps the incoming streams authenticated for one
	// remote domain; default 4.
	MaxLinksPerDomain int
	// MaxDomainsPerLink caps the domain pairs one link carries, both ways:
	// an incoming stream answers a db:result past it with policy-violation
	// (XEP-0220 §2.4), and an outgoing link piggybacks no more local
	// domains than that (a new link takes the rest); default 32.
	MaxDomainsPerLink int
	// NoBidi turns XEP-0288 off: no bidi feature offered, none asked for,
	// so each direction takes a link of its own.
	NoBidi bool
	// Secret is the dialback secret; default random per process
	// (XEP-0185: keys then only verify against this process).
	Secret []byte

	Dial     DialFunc
	Router   Router
	Resolver *net.Resolver // default net.DefaultResolver
	Logger   *slog.Logger
}

func (c *Config) defaults() {
	if c.Local == nil {
		d := c.Domain.Domain()
		c.Local = func(x string) bool { return x == d }
	}
	if c.Origin == nil {
		d := c.Domain.Domain()
		c.Origin = func(string) string { return d }
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.AuthTimeout == 0 {
		c.AuthTimeout = 30 * time.Second
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = 1000
	}
	if c.MaxStanzaBytes == 0 {
		c.MaxStanzaBytes = 256 << 10
	}
	if c.MaxLinksPerDomain == 0 {
		c.MaxLinksPerDomain = 4
	}
	if c.MaxDomainsPerLink == 0 {
		c.MaxDomainsPerLink = 32
	}
	if c.Secret == nil {
		c.Secret = make([]byte, 32)
		_, _ = rand.Read(c.Secret)
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Manager owns the links. It implements route.Remote for every domain the
// router does not serve.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	dbKey  []byte // hex(SHA-256(secret)), the HMAC key (XEP-0185 §3)
	mu     sync.Mutex
	hosts  map[string]string     // domain → host:port, over DNS (a copy of Config.Hosts)
	out    map[linkKey]*outLink  // (local, remote domain) → the outgoing link (piggybacked pairs share one)
	in     map[string]int        // remote domain → incoming streams authenticated for it
	inN    int                   // incoming streams authenticated for any domain
	bidi   map[linkKey]*inStream // (local, remote domain) → an incoming XEP-0288 stream that carries our stanzas back
	closed bool
}

// New returns a Manager; cfg.Dial and cfg.Router are required.
func New(cfg Config) *Manager {
	cfg.defaults()
	sum := sha256.Sum256(cfg.Secret)
	return &Manager{
		cfg:   cfg,
		log:   cfg.Logger.With("via", "s2s"),
		dbKey: hex.AppendEncode(nil, sum[:]),
		hosts: maps.Clone(cfg.Hosts),
		out:   map[linkKey]*outLink{},
		in:    map[string]int{},
		bidi:  map[linkKey]*inStream{},
	}
}

// SetHost makes domain resolve to addr (host:port) from now on, over DNS;
// an empty addr removes the entry. Links already up stay as they are.
func (m *Manager) SetHost(domain, addr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hosts == nil {
		m.hosts = map[string]string{}
	}
	if addr == "" {
		delete(m.hosts, domain)
	} else {
		m.hosts[domain] = addr
	}
}

// Send implements route.Remote: st waits for the link to its domain.
func (m *Manager) Send(st *stanza.Stanza) bool {
	d := st.To.Domain()
	if d == "" || m.cfg.Local(d) {
		return false
	}
	local := m.cfg.Origin(st.From.Domain())
	for range 2 { // a link that just died is replaced once
		// a bidirectional stream the peer opened carries our stanzas
		// back (XEP-0288) before any link of our own
		if s := m.bidiRoute(local, d); s != nil {
			if s.enqueue(st) {
				return true
			}
			continue
		}
		l := m.link(local, d, true)
		if l == nil {
			return false
		}
		if l.enqueue(linkKey{local, d}, st) {
			return true
		}
	}
	return false
}

// linkKey names a domain pair by the local domain a link authenticates
// and the remote domain it goes to. A pair gets a link of its own (RFC
// 6120 §13.9.5) unless a link to the same remote domain can authenticate
// it too by dialback (XEP-0220 piggybacking): then several keys name that
// one link. With XEP-0288 the same key names a route back over a stream
// the peer opened.
type linkKey struct{ local, remote string }

// link returns the outgoing link from local to domain: the pair's own, or
// with share an authenticated link to domain that piggybacks local, or
// else a new one.
func (m *Manager) link(local, domain string, share bool) *outLink {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	k := linkKey{local, domain}
	if l := m.out[k]; l != nil {
		return l
	}
	if share {
		for ok, l := range m.out {
			if ok.remote == domain && ok.local == l.local && l.piggyback(k) {
				m.out[k] = l
				return l
			}
		}
	}
	l := newOutLink(m, local, domain)
	l.share = share
	m.out[k] = l
	go l.connect()
	return l
}

// adopt hands the pair of l, not yet dialed, to an up link to a domain
// resolving to one of addrs (the same server: DNS names it for both), as
// a piggybacked target domain (XEP-0220 §4); l ends, its stanzas and
// verify requests moved. False if no link takes it (l dials).
func (m *Manager) adopt(l *outLink, addrs []string) bool {
	k := linkKey{l.local, l.domain}
	m.mu.Lock()
	if m.out[k] != l {
		m.mu.Unlock()
		return false
	}
	var to *outLink
	for ok, x := range m.out {
		if x != l && ok == (linkKey{x.local, x.domain}) && slices.Contains(addrs, x.dialed()) && x.piggyback(k) {
			to = x
			break
		}
	}
	if to == nil {
		m.mu.Unlock()
		return false
	}
	m.out[k] = to
	m.mu.Unlock()
	l.mu.Lock()
	l.dead = true
	q, vs := l.queue, l.verifies
	l.queue, l.verifies = nil, nil
	l.mu.Unlock()
	m.log.Info("piggybacking target domain", "domain", l.domain, "local", l.local, "link", to.domain)
	for _, st := range q {
		if !to.enqueue(k, st) && !m.Send(st) {
			m.bounce(st, stanza.Err(stanza.RemoteServerNotFound))
		}
	}
	for _, v := range vs {
		if !to.addVerify(v) {
			v.done(verifyResult{from: v.to, to: v.from, cond: stanza.RemoteServerNotFound})
		}
	}
	return true
}

// unshare forgets l as the link of the pair k, if it still is: the next
// stanza of the pair takes a link of its own.
func (m *Manager) unshare(l *outLink, k linkKey) {
	m.mu.Lock()
	if m.out[k] == l {
		delete(m.out, k)
	}
	m.mu.Unlock()
}

// bidiRoute returns the incoming bidirectional stream that may carry
// stanzas from local to remote, nil if there is none.
func (m *Manager) bidiRoute(local, remote string) *inStream {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bidi[linkKey{local, remote}]
}

// addBidi makes s the route from k.local to k.remote; a newer stream
// replaces an older one.
func (m *Manager) addBidi(k linkKey, s *inStream) {
	m.mu.Lock()
	m.bidi[k] = s
	m.mu.Unlock()
}

// dropBidi removes the routes through s.
func (m *Manager) dropBidi(s *inStream, keys []linkKey) {
	m.mu.Lock()
	for _, k := range keys {
		if m.bidi[k] == s {
			delete(m.bidi, k)
		}
	}
	m.mu.Unlock()
}

// drop forgets l for every pair it carries, if it is still their link.
func (m *Manager) drop(l *outLink) {
	m.mu.Lock()
	for k, x := range m.out {
		if x == l {
			delete(m.out, k)
		}
	}
	m.mu.Unlock()
}

// Links returns the number of outgoing links (TCP connections, however
// many domain pairs each carries) and of authenticated incoming streams
// (for tests and stats).
func (m *Manager) Links() (out, in int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, l := range m.out {
		if k == (linkKey{l.local, l.domain}) {
			out++
		}
	}
	return out, m.inN
}

// Pairs returns the number of domain pairs our outgoing links carry (a
// piggybacked pair counts once it is asked for).
func (m *Manager) Pairs() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.out)
}

// BidiRoutes returns the number of domain pairs whose stanzas go back over
// an incoming bidirectional stream (XEP-0288).
func (m *Manager) BidiRoutes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.bidi)
}

// Close stops making links; those up end with the server's loops.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
}

// admit counts an incoming stream authenticated for domain, if the cap
// allows; release undoes it.
func (m *Manager) admit(domain string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.in[domain] >= m.cfg.MaxLinksPerDomain {
		return false
	}
	m.in[domain]++
	return true
}

// streams counts incoming streams authenticated for any domain (Links).
func (m *Manager) streams(delta int) {
	m.mu.Lock()
	m.inN += delta
	m.mu.Unlock()
}

func (m *Manager) release(domain string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.in[domain]--; m.in[domain] <= 0 {
		delete(m.in, domain)
	}
}

// bounce answers st with an error, as the router does: never an error to an
// error or a result (RFC 6120 §8.3.1).
func (m *Manager) bounce(st *stanza.Stanza, e *stanza.Error) {
	if st.Type == stanza.TypeError || st.Type == stanza.Result || st.From.IsZero() {
		return
	}
	if reply := st.ErrorReply(e); reply != nil {
		m.cfg.Router.Send(reply)
	}
}

// dialbackKey is XEP-0185's key: HMAC-SHA256 over "receiving originating
// id", keyed with hex(SHA-256(secret)), in hex.
func (m *Manager) dialbackKey(receiving, originating, id string) string {
	h := hmac.New(sha256.New, m.dbKey)
	h.Write([]byte(receiving + " " + originating + " " + id))
	return hex.EncodeToString(h.Sum(nil))
}

// verifyResult is the answer to a db:verify we asked for.
type verifyResult struct {
	from, to string // as in the db:result being checked: originating, receiving
	valid    bool
	cond     stanza.Condition // when the verification itself failed (0: none)
}

// verifyReq is a db:verify waiting to go out on the link to its to.
type verifyReq struct {
	from, to, id, key string
	done              func(verifyResult)
}

// verify asks originating's authoritative server whether key is the one it
// made for the stream id to receiving; done runs once, on any goroutine.
func (m *Manager) verify(originating, receiving, id, key string, done func(verifyResult)) {
	v := verifyReq{from: receiving, to: originating, id: id, key: key, done: done}
	for range 2 {
		l := m.link(m.cfg.Origin(receiving), originating, false)
		if l == nil {
			break
		}
		if l.addVerify(v) {
			return
		}
	}
	done(verifyResult{from: originating, to: receiving, cond: stanza.RemoteServerNotFound})
}

// newID returns a random stream id.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// verifyPeer reports whether the peer's certificate chain verifies for
// domain against the configured roots (the SASL EXTERNAL condition).
func (m *Manager) verifyPeer(cs *tls.ConnectionState, domain string) bool {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return false
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		DNSName:       domain,
		Roots:         m.cfg.RootCAs,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err == nil
}

// clientTLS is the configuration of an outgoing link's TLS: any
// certificate is accepted here (dialback then authenticates the domain);
// whether it verified decides SASL EXTERNAL.
func (m *Manager) clientTLS(local, domain string) *tls.Config {
	c := &tls.Config{ServerName: domain, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // verified in verifyPeer, dialback otherwise
	if m.cfg.TLS != nil {
		c.Certificates = m.cfg.TLS.Certificates
		c.GetClientCertificate = nil
		if get := m.cfg.TLS.GetCertificate; get != nil {
			// a virtual host presents its own certificate (SASL EXTERNAL)
			if cert, err := get(&tls.ClientHelloInfo{ServerName: local}); err == nil && cert != nil {
				c.Certificates = []tls.Certificate{*cert}
			}
		}
	}
	return c
}

// ListenerTLS returns the TLS configuration for the s2s listener: ours,
// asking peers for a certificate (SASL EXTERNAL) without requiring one.
func (m *Manager) ListenerTLS() *tls.Config {
	if m.cfg.TLS == nil {
		return nil
	}
	c := m.cfg.TLS.Clone()
	c.ClientAuth = tls.RequestClientCert
	return c
}
