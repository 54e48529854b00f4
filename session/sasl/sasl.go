// Package sasl implements the server side of the SASL mechanisms Ignis offers:
// PLAIN (RFC 4616), SCRAM-SHA-1/-256/-512 with and without -PLUS channel
// binding (RFC 5802, RFC 7677, RFC 9266 tls-exporter, RFC 5929
// tls-server-end-point and tls-unique), and ANONYMOUS (RFC 4505). CRAM-MD5 and DIGEST-MD5 are
// obsolete (RFC 6331) and deliberately not offered.
//
// The mechanisms are pure step functions: they do no I/O and know nothing of
// XML. The stream base64-decodes the content of <auth/> and <response/>,
// passes it to Server.Step, and base64-encodes what Step returns into
// <challenge/> or <success/> (RFC 6120 §6.4). A Server is owned by the stream's
// event loop, like the stream itself.
package sasl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"strings"

	"ignis/scram"
)

// Credentials looks up stored SCRAM keys for a (normalized) username.
// store.Accounts satisfies it.
type Credentials interface {
	// Keys returns the keys stored for user and hash h. Any error makes the
	// user count as unknown: the attempt ends in not-authorized, exactly as
	// for a wrong password, so a client cannot tell which it was.
	Keys(user string, h scram.Hash) (scram.Keys, error)
}

// Normalizer prepares a username given by the client into the account's
// localpart (the stream passes the PRECIS UsernameCaseMapped profile, as jid
// does); it returns an error if the name is invalid. A nil Normalizer takes
// names as given.
type Normalizer func(user string) (string, error)

// Config says which mechanisms a stream offers. The zero value offers every
// SCRAM mechanism the connection allows, PLAIN on TLS streams only, and no
// ANONYMOUS.
type Config struct {
	AllowPlainWithoutTLS bool     // offer PLAIN on unencrypted streams too (tests, trusted networks)
	Anonymous            bool     // offer ANONYMOUS (RFC 4505)
	Disabled             []string // mechanism names not to offer, compared case-insensitively
	// Domain is the server's domain. An authorization identity "user@Domain"
	// names the authenticating user, as does a bare "user". When Domain is
	// empty only the bare form is accepted.
	Domain string
	// Iterations is the PBKDF2 iteration count the store gives new accounts
	// (store.Options.ScramIterations). The challenge made up for an unknown
	// user carries it, so that it looks like a real account's. Zero means
	// scram.DefaultIterations.
	Iterations int
}

// ChannelBinding carries what the TLS layer knows; the zero value means no TLS.
type ChannelBinding struct {
	TLS   bool
	TLS13 bool // tls-exporter is only defined for TLS 1.3 (RFC 9266 §2); on TLS 1.2 only tls-server-end-point is offered
	// Exporter is ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32),
	// nil if unavailable.
	Exporter []byte
	// EndPoint is the hash of the server certificate per RFC 5929 §4.1, nil
	// if unavailable.
	EndPoint []byte
	// Unique is tls-unique (RFC 5929 §3): the first Finished message on TLS
	// 1.2; on TLS 1.3, where RFC 9266 leaves it undefined, the client's
	// Finished as OpenSSL-based clients (slixmpp ≤ 1.8) compute it and
	// ejabberd accepts it. nil if unavailable.
	Unique []byte
	// ClientTypeMismatch: on this stream the client already tried a -PLUS
	// mechanism with a binding type the server does not offer (old clients
	// that know only tls-unique, undefined on TLS 1.3). Its later "y" flag
	// is then an honest fallback, not a downgrade, and is accepted.
	ClientTypeMismatch bool
}

// Channel-binding type names (RFC 5929, RFC 9266), as in the GS2 header and
// in XEP-0440's <channel-binding type='…'/>.
const (
	CBTLSServerEndPoint = "tls-server-end-point"
	CBTLSExporter       = "tls-exporter"
	CBTLSUnique         = "tls-unique"
)

// cbData returns the binding data for a channel-binding type on this
// connection, or ok=false if the type cannot be used here.
func (cb ChannelBinding) cbData(typ string) (data []byte, ok bool) {
	if !cb.TLS {
		return nil, false
	}
	switch typ {
	case CBTLSServerEndPoint:
		return cb.EndPoint, len(cb.EndPoint) > 0
	case CBTLSExporter:
		return cb.Exporter, cb.TLS13 && len(cb.Exporter) > 0
	case CBTLSUnique:
		return cb.Unique, len(cb.Unique) > 0
	}
	return nil, false
}

func (cb ChannelBinding) canBind() bool {
	_, ep := cb.cbData(CBTLSServerEndPoint)
	_, ex := cb.cbData(CBTLSExporter)
	_, un := cb.cbData(CBTLSUnique)
	return ep || ex || un
}

type kind uint8

const (
	kindSCRAM kind = iota
	kindPlain
	kindAnonymous
)

// mechanism is one row of the table of what Ignis implements.
type mechanism struct {
	name string
	kind kind
	hash scram.Hash // SCRAM only
	plus bool       // SCRAM with channel binding
}

// mechanisms lists every mechanism, strongest first: the order they are
// advertised in.
var mechanisms = func() []mechanism {
	var t []mechanism
	for _, plus := range []bool{true, false} {
		for _, h := range scram.All {
			name := "SCRAM-" + h.Name()
			if plus {
				name += "-PLUS"
			}
			t = append(t, mechanism{name: name, kind: kindSCRAM, hash: h, plus: plus})
		}
	}
	return append(t,
		mechanism{name: "PLAIN", kind: kindPlain},
		mechanism{name: "ANONYMOUS", kind: kindAnonymous},
	)
}()

// offer bits select which groups of mechanisms a context allows.
const (
	offerPlus  = 1 << iota // channel binding possible
	offerPlain             // PLAIN allowed
	offerAnon              // ANONYMOUS enabled
	numOffers  = 1 << iota
)

func (m *mechanism) allowedBy(bits int) bool {
	switch {
	case m.plus:
		return bits&offerPlus != 0
	case m.kind == kindPlain:
		return bits&offerPlain != 0
	case m.kind == kindAnonymous:
		return bits&offerAnon != 0
	}
	return true
}

// offered holds the advertised names for every combination of offer bits, so
// that Mechanisms does not allocate unless Config.Disabled is set.
var offered = func() (o [numOffers][]string) {
	for bits := range o {
		for i := range mechanisms {
			if mechanisms[i].allowedBy(bits) {
				o[bits] = append(o[bits], mechanisms[i].name)
			}
		}
	}
	return o
}()

func (c Config) offerBits(cb ChannelBinding) int {
	bits := 0
	if cb.canBind() {
		bits |= offerPlus
	}
	if cb.TLS || c.AllowPlainWithoutTLS {
		bits |= offerPlain
	}
	if c.Anonymous {
		bits |= offerAnon
	}
	return bits
}

func (c Config) disabled(name string) bool {
	for _, d := range c.Disabled {
		if strings.EqualFold(d, name) {
			return true
		}
	}
	return false
}

// Mechanisms returns the mechanism names to advertise, strongest first:
// SCRAM-SHA-512-PLUS, SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS (only with TLS and
// some channel-binding data), SCRAM-SHA-512, SCRAM-SHA-256, SCRAM-SHA-1, PLAIN
// (only with TLS unless AllowPlainWithoutTLS), ANONYMOUS (if enabled). The
// slice may be shared: callers must not modify it.
func (c Config) Mechanisms(cb ChannelBinding) []string {
	all := offered[c.offerBits(cb)]
	if len(c.Disabled) == 0 {
		return all
	}
	names := make([]string, 0, len(all))
	for _, n := range all {
		if !c.disabled(n) {
			names = append(names, n)
		}
	}
	return names
}

// offersPlus reports whether any -PLUS mechanism is advertised.
func (c Config) offersPlus(cb ChannelBinding) bool {
	for _, n := range c.Mechanisms(cb) {
		if strings.HasSuffix(n, "-PLUS") {
			return true
		}
	}
	return false
}

// CBTypes returns the channel-binding types to advertise with XEP-0440
// (<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>), in a fixed order:
// tls-server-end-point, tls-exporter, tls-unique. It is empty when no -PLUS
// mechanism is offered. tls-unique is accepted on TLS 1.3 for old clients
// but not advertised there: RFC 9266 §3 forbids it, and a client that reads
// XEP-0440 picks tls-exporter.
func (c Config) CBTypes(cb ChannelBinding) []string {
	if !c.offersPlus(cb) {
		return nil
	}
	var types []string
	for _, t := range [...]string{CBTLSServerEndPoint, CBTLSExporter, CBTLSUnique} {
		if t == CBTLSUnique && cb.TLS13 {
			continue
		}
		if _, ok := cb.cbData(t); ok {
			types = append(types, t)
		}
	}
	return types
}

// Server runs one authentication attempt with one mechanism. It is not safe
// for concurrent use; the stream that owns it drops it after success, failure
// or <abort/>.
type Server struct {
	mech       *mechanism
	state      state
	creds      Credentials
	norm       Normalizer
	cb         ChannelBinding
	domain     string
	fakeIter   int    // Config.Iterations
	offersPlus bool   // a "y" GS2 flag is then a downgrade (RFC 5802 §6)
	user       string // normalized localpart, once the client has named it

	// SCRAM state between the two client messages.
	known     bool       // the user exists; else keys are fake
	keys      scram.Keys // stored or fake
	gs2Header []byte     // exactly as the client sent it
	cbData    []byte     // binding data for the type the client chose
	nonce     string     // client nonce + server nonce
	authMsg   []byte     // client-first-message-bare "," server-first-message ","

	// testNonce, when set, replaces the random server nonce (RFC test vectors).
	testNonce string
}

// Start begins an attempt with mechanism mech. It returns a *Failure with
// InvalidMechanism if mech is not offered in this context, or with
// EncryptionRequired for PLAIN on an unencrypted stream. creds is only used
// by SCRAM and PLAIN.
func (c Config) Start(mech string, creds Credentials, norm Normalizer, cb ChannelBinding) (*Server, error) {
	var m *mechanism
	for i := range mechanisms {
		if mechanisms[i].name == mech {
			m = &mechanisms[i]
			break
		}
	}
	if m == nil || c.disabled(mech) {
		return nil, errMechanismNotKnown
	}
	if !m.allowedBy(c.offerBits(cb)) {
		if m.kind == kindPlain { // RFC 6120 §6.5.4
			return nil, errEncryptionNeeded
		}
		return nil, errMechanismNotKnown
	}
	if norm == nil {
		norm = func(u string) (string, error) { return u, nil }
	}
	return &Server{
		mech:       m,
		creds:      creds,
		norm:       norm,
		cb:         cb,
		domain:     c.Domain,
		fakeIter:   c.Iterations,
		offersPlus: c.offersPlus(cb),
	}, nil
}

// maxMessage bounds one client message. Legitimate SCRAM and PLAIN messages
// are a few hundred bytes; the stream's stanza limit applies first anyway.
const maxMessage = 4096

// Step takes the client's next message and returns the server's reply.
//
// in is the decoded content of <auth/> (first call) or <response/> (later
// calls). It is borrowed: Step copies what it keeps. On the first call, nil means <auth/> carried no initial response
// (an empty element), and a non-nil empty slice means an empty initial
// response (the element held "=", RFC 6120 §6.4.2). Without an initial
// response, SCRAM and PLAIN answer nil with an empty <challenge/> and expect
// their first message in the next <response/>; ANONYMOUS succeeds at once
// (XEP-0175 §3). An empty message where SCRAM or PLAIN needs one is a
// malformed-request. Content that is not valid base64 never reaches Step: the
// stream answers <incorrect-encoding/> itself.
//
// If done is false, out is the next challenge (nil means an empty
// <challenge/>). If done is true, authentication succeeded and out is the
// additional data for <success/> (nil means an empty <success/>). err is
// always a *Failure; after one, the attempt is over.
//
// PLAIN's Step runs PBKDF2 with the account's iteration count, and Step may
// call Credentials.Keys: the stream may want to run it off the event loop.
func (s *Server) Step(in []byte) (out []byte, done bool, err error) {
	var f *Failure
	if len(in) > maxMessage {
		f = errTooLong
	} else {
		switch s.mech.kind {
		case kindSCRAM:
			out, f = s.stepSCRAM(in)
		case kindPlain:
			f = s.stepPlain(in)
		case kindAnonymous:
			f = s.stepAnonymous(in)
		}
	}
	if f != nil {
		s.state = stFailed
		s.keys, s.authMsg = scram.Keys{}, nil
		return nil, false, f
	}
	return out, s.state == stDone, nil
}

// User returns the authenticated localpart once Step has reported done; it
// is "" before that and always "" for ANONYMOUS, where the stream makes up a
// random localpart.
func (s *Server) User() string {
	if s.state != stDone || s.mech.kind == kindAnonymous {
		return ""
	}
	return s.user
}

// Claimed returns the normalized localpart the client named, whether or not
// it authenticated ("" if it named none yet), for logging failed logins.
func (s *Server) Claimed() string { return s.user }

// Mechanism returns the mechanism's name, such as "SCRAM-SHA-256-PLUS".
func (s *Server) Mechanism() string { return s.mech.name }

// authorize checks an authorization identity against the authenticated user
// (RFC 6120 §6.3.8): Ignis lets a user act only as themselves, named either
// by localpart or by bare JID.
func (s *Server) authorize(authzid string) *Failure {
	if authzid == "" {
		return nil
	}
	local, domain, hasDomain := strings.Cut(authzid, "@")
	// jid would apply IDNA to the domain; comparing ASCII case-insensitively
	// is enough to recognise our own domain, which is what matters here.
	if hasDomain && (s.domain == "" || !strings.EqualFold(domain, s.domain)) {
		return errInvalidAuthzid
	}
	if l, err := s.norm(local); err != nil || l != s.user {
		return errInvalidAuthzid
	}
	return nil
}

// fakeSecret keys the fake SCRAM parameters of unknown users. It is chosen
// once per process and never changes, so an unknown name gets the same salt
// on every attempt, as a real account would.
var fakeSecret = func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return b
}()

// fakeSaltLen is the length of scram.NewSalt's salts.
const fakeSaltLen = 16

// fakeKeys returns keys for a user that does not exist, so that the SCRAM
// challenge and the cost of PLAIN look like those of a real account: a salt
// of scram.NewSalt's size, stable per user and hash as the store keeps one
// salt per account and hash, and the store's iteration count. Verification
// against them always fails, as the stored key is not the hash of any client
// key anyone knows.
func fakeKeys(h scram.Hash, user string, iter int) scram.Keys {
	if iter <= 0 {
		iter = scram.DefaultIterations
	}
	m := hmac.New(sha256.New, fakeSecret)
	m.Write([]byte{'s', byte(h), 0})
	m.Write([]byte(user))
	salt := m.Sum(nil)[:fakeSaltLen]
	return scram.Keys{
		Salt:      salt,
		Iter:      iter,
		StoredKey: scram.HMAC(h, fakeSecret, []byte("stored\x00"+user)),
		ServerKey: scram.HMAC(h, fakeSecret, []byte("server\x00"+user)),
	}
}

// lookup fetches the user's keys, or fake ones if the user is unknown or the
// stored record cannot be used.
func (s *Server) lookup(h scram.Hash) (scram.Keys, bool) {
	if s.creds != nil {
		k, err := s.creds.Keys(s.user, h)
		if err == nil && k.Iter > 0 && len(k.Salt) > 0 && len(k.StoredKey) == h.Size() && len(k.ServerKey) == h.Size() {
			return k, true
		}
	}
	return fakeKeys(h, s.user, s.fakeIter), false
}
