// Package scram derives and checks SCRAM credentials (RFC 5802, RFC 7677): the
// salted keys a server stores instead of a password. It imports nothing of
// Ignis's, so both the store and the SASL mechanisms can use it.
package scram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"hash"

	"golang.org/x/text/secure/precis"
)

// Hash names a SCRAM hash function.
type Hash uint8

const (
	SHA1 Hash = iota
	SHA256
	SHA512
	NumHashes int = iota
)

// All lists every supported hash, strongest first.
var All = [...]Hash{SHA512, SHA256, SHA1}

// Name is the hash's part of the mechanism name ("SHA-256").
func (h Hash) Name() string { return [...]string{"SHA-1", "SHA-256", "SHA-512"}[h] }

// New returns a new hash.Hash of this kind.
func (h Hash) New() hash.Hash { return [...]func() hash.Hash{sha1.New, sha256.New, sha512.New}[h]() }

// Size is the digest length in bytes.
func (h Hash) Size() int { return [...]int{sha1.Size, sha256.Size, sha512.Size}[h] }

// DefaultIterations is the PBKDF2 iteration count for new credentials: RFC 7677
// recommends at least 4096.
const DefaultIterations = 4096

// Keys is what a server stores for one hash: never the password.
type Keys struct {
	Salt      []byte
	Iter      int
	StoredKey []byte // H(ClientKey)
	ServerKey []byte // HMAC(SaltedPassword, "Server Key")
}

// Prepare applies the OpaqueString profile (RFC 8265) to a password, as SCRAM
// requires before hashing (RFC 7677 §4 via RFC 8265).
func Prepare(password string) (string, error) {
	return precis.OpaqueString.String(password)
}

// SaltedPassword is Hi(Normalize(password), salt, i) of RFC 5802.
func SaltedPassword(h Hash, preparedPassword string, salt []byte, iter int) []byte {
	k, err := pbkdf2.Key(h.New, preparedPassword, salt, iter, h.Size())
	if err != nil { // only for parameters no caller passes (iter < 1)
		panic("scram: " + err.Error())
	}
	return k
}

// Derive computes the stored keys for an already prepared password.
func Derive(h Hash, preparedPassword string, salt []byte, iter int) Keys {
	sp := SaltedPassword(h, preparedPassword, salt, iter)
	ck := HMAC(h, sp, []byte("Client Key"))
	return Keys{
		Salt:      salt,
		Iter:      iter,
		StoredKey: Sum(h, ck),
		ServerKey: HMAC(h, sp, []byte("Server Key")),
	}
}

// NewSalt returns a fresh random 16-byte salt.
func NewSalt() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return b
}

// HMAC returns HMAC_h(key, msg).
func HMAC(h Hash, key, msg []byte) []byte {
	m := hmac.New(h.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// Sum returns H(b).
func Sum(h Hash, b []byte) []byte {
	d := h.New()
	d.Write(b)
	return d.Sum(nil)
}

// VerifyProof checks a client proof against the stored keys for authMessage
// and returns the server signature to send back in the final message.
func (k Keys) VerifyProof(h Hash, authMessage, proof []byte) (serverSig []byte, ok bool) {
	if len(proof) != h.Size() || len(k.StoredKey) != h.Size() {
		return nil, false
	}
	sig := HMAC(h, k.StoredKey, authMessage)
	ck := make([]byte, len(proof))
	for i := range proof {
		ck[i] = proof[i] ^ sig[i]
	}
	if subtle.ConstantTimeCompare(Sum(h, ck), k.StoredKey) != 1 {
		return nil, false
	}
	return HMAC(h, k.ServerKey, authMessage), true
}

// VerifyPassword checks a plaintext password (SASL PLAIN) against stored keys.
func (k Keys) VerifyPassword(h Hash, preparedPassword string) bool {
	d := Derive(h, preparedPassword, k.Salt, k.Iter)
	return subtle.ConstantTimeCompare(d.StoredKey, k.StoredKey) == 1
}
