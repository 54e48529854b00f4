package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA makes a CA and, for each domain, a certificate it signed, as PEM files
// in dir: ca.pem, <domain>.pem and <domain>.key. Each is valid for an hour
// either side of now.
func CA(t testing.TB, dir string, domains ...string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Ignis test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER := create(t, caTmpl, caTmpl, caKey, caKey)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER)
	ca, _ := x509.ParseCertificate(caDER)
	for i, d := range domains {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: d}, DNSNames: []string{d},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		writePEM(t, filepath.Join(dir, d+".pem"), "CERTIFICATE", create(t, tmpl, ca, key, caKey))
		writeKey(t, filepath.Join(dir, d+".key"), key)
	}
}

// SelfSigned writes a self-signed certificate and key for domain into dir,
// as <domain>.crt and <domain>.key, and returns their paths.
func SelfSigned(t testing.TB, dir, domain string) (cert, key string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	cert, key = filepath.Join(dir, domain+".crt"), filepath.Join(dir, domain+".key")
	writePEM(t, cert, "CERTIFICATE", create(t, tmpl, tmpl, k, k))
	writeKey(t, key, k)
	return cert, key
}

// create is x509.CreateCertificate for key, signed by parent's signer.
func create(t testing.TB, tmpl, parent *x509.Certificate, key, signer *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writeKey(t testing.TB, path string, key *ecdsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "EC PRIVATE KEY", der)
}

// writePEM writes der as one PEM block; keys readable by the owner only.
func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	perm := os.FileMode(0o644)
	if typ != "CERTIFICATE" {
		perm = 0o600
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), perm); err != nil {
		t.Fatal(err)
	}
}
