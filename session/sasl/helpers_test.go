package sasl

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"hash"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/secure/precis"

	"ignis/scram"
)

// Test accounts. Each hash gets its own salt, as the store does.
const (
	testUser = "juliet"
	testPass = "r0m30myr0m30"
)

type memCreds map[string][scram.NumHashes]scram.Keys

func (m memCreds) Keys(user string, h scram.Hash) (scram.Keys, error) {
	k, ok := m[user]
	if !ok {
		return scram.Keys{}, errors.New("no such user")
	}
	return k[h], nil
}

var testCreds = sync.OnceValue(func() memCreds {
	m := memCreds{}
	for _, u := range []struct{ user, pass string }{
		{user: testUser, pass: testPass},
		{user: "r,o=meo", pass: "pässwörd"}, // needs SCRAM name escaping
	} {
		p, err := scram.Prepare(u.pass)
		if err != nil {
			panic(err)
		}
		var ks [scram.NumHashes]scram.Keys
		for h := range scram.NumHashes {
			ks[h] = scram.Derive(scram.Hash(h), p, scram.NewSalt(), scram.DefaultIterations)
		}
		m[u.user] = ks
	}
	return m
})

// testNorm is the normalizer the stream passes.
func testNorm(u string) (string, error) { return precis.UsernameCaseMapped.String(u) }

// tlsState runs a real handshake over a pipe and returns both sides' state.
func tlsState(t *testing.T, version uint16) (client, server tls.ConnectionState) {
	t.Helper()
	cert := testCert(t)
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	srv := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: version, MaxVersion: version})
	cli := tls.Client(cc, &tls.Config{InsecureSkipVerify: true, MinVersion: version, MaxVersion: version})
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	return cli.ConnectionState(), srv.ConnectionState()
}

var testCertOnce struct {
	sync.Once
	cert tls.Certificate
	err  error
}

func testCert(t *testing.T) tls.Certificate {
	t.Helper()
	testCertOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			testCertOnce.err = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "localhost"},
			DNSNames:     []string{"localhost"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		testCertOnce.cert, testCertOnce.err = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, err
	})
	if testCertOnce.err != nil {
		t.Fatal(testCertOnce.err)
	}
	return testCertOnce.cert
}

// bindingFor is what the TLS layer would hand the stream for a server state.
func bindingFor(t *testing.T, st tls.ConnectionState) ChannelBinding {
	t.Helper()
	cb := ChannelBinding{TLS: true, TLS13: st.Version == tls.VersionTLS13}
	if cb.TLS13 {
		ekm, err := st.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
		if err != nil {
			t.Fatal(err)
		}
		cb.Exporter = ekm
	}
	// RFC 5929 §4.1: the server certificate's signature hash, SHA-256 for
	// ECDSA-SHA256.
	sum := sha256.Sum256(testCert(t).Certificate[0])
	cb.EndPoint = sum[:]
	return cb
}

// testClient is a minimal SCRAM client written from RFC 5802 §3 with the
// standard library only, independent of the server and of package scram.
type testClient struct {
	hash    func() hash.Hash
	user    string // escaped here
	pass    string // already prepared
	authzid string
	flag    string // "n", "y" or "p=<cb-name>"
	cbData  []byte
	cnonce  string

	gs2, bare string
	serverSig []byte
}

func newHash(h scram.Hash) func() hash.Hash {
	return [...]func() hash.Hash{scram.SHA1: scram.SHA1.New, scram.SHA256: scram.SHA256.New, scram.SHA512: scram.SHA512.New}[h]
}

func escapeName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func (c *testClient) first() []byte {
	if c.flag == "" {
		c.flag = "n"
	}
	if c.cnonce == "" {
		c.cnonce = "clientnonce+/0123"
	}
	c.gs2 = c.flag + ","
	if c.authzid != "" {
		c.gs2 += "a=" + escapeName(c.authzid)
	}
	c.gs2 += ","
	c.bare = "n=" + escapeName(c.user) + ",r=" + c.cnonce
	return []byte(c.gs2 + c.bare)
}

func hmacSum(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// final answers the server-first-message; it fails the test if that message
// is not well formed.
func (c *testClient) final(t *testing.T, serverFirst []byte) []byte {
	t.Helper()
	var nonce string
	var salt []byte
	iter := -1
	for _, a := range strings.Split(string(serverFirst), ",") {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			t.Fatalf("server-first %q: attribute %q", serverFirst, a)
		}
		var err error
		switch k {
		case "r":
			nonce = v
		case "s":
			salt, err = base64.StdEncoding.DecodeString(v)
		case "i":
			iter, err = strconv.Atoi(v)
		default:
			t.Fatalf("server-first %q: unexpected attribute %q", serverFirst, k)
		}
		if err != nil {
			t.Fatalf("server-first %q: %v", serverFirst, err)
		}
	}
	if !strings.HasPrefix(nonce, c.cnonce) || len(nonce) <= len(c.cnonce) || len(salt) == 0 || iter < 1 {
		t.Fatalf("server-first %q: bad nonce, salt or iteration count", serverFirst)
	}
	size := c.hash().Size()
	salted, err := pbkdf2.Key(c.hash, c.pass, salt, iter, size)
	if err != nil {
		t.Fatal(err)
	}
	clientKey := hmacSum(c.hash, salted, "Client Key")
	d := c.hash()
	d.Write(clientKey)
	storedKey := d.Sum(nil)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString(append([]byte(c.gs2), c.cbData...)) + ",r=" + nonce
	authMsg := c.bare + "," + string(serverFirst) + "," + withoutProof
	sig := hmacSum(c.hash, storedKey, authMsg)
	proof := make([]byte, size)
	for i := range proof {
		proof[i] = clientKey[i] ^ sig[i]
	}
	c.serverSig = hmacSum(c.hash, hmacSum(c.hash, salted, "Server Key"), authMsg)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof))
}

// verify checks the server-final-message.
func (c *testClient) verify(t *testing.T, serverFinal []byte) {
	t.Helper()
	if want := "v=" + base64.StdEncoding.EncodeToString(c.serverSig); string(serverFinal) != want {
		t.Fatalf("server-final = %q, want %q", serverFinal, want)
	}
}

// wantFailure checks that err is a *Failure with condition c.
func wantFailure(t *testing.T, err error, c Condition) *Failure {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("err = %v, want a *Failure with %s", err, c)
	}
	if f.Cond != c {
		t.Fatalf("err = %v, want condition %s", err, c)
	}
	return f
}
