package bench

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync"

	"ignis/scram"
)

// scramClient is the client side of SCRAM (RFC 5802) without channel
// binding: gs2 header "n,,".
type scramClient struct {
	h         scram.Hash
	user      string
	password  string // prepared (OpaqueString)
	cache     *saltCache
	nonce     string
	firstBare []byte
	serverSig []byte
}

// scramHash maps a mechanism name to its hash; ok is false for non-SCRAM.
func scramHash(mech string) (scram.Hash, bool) {
	switch mech {
	case "SCRAM-SHA-1":
		return scram.SHA1, true
	case "SCRAM-SHA-256":
		return scram.SHA256, true
	case "SCRAM-SHA-512":
		return scram.SHA512, true
	}
	return 0, false
}

// saslName escapes '=' and ',' in a user name (RFC 5802 §5.1).
func saslName(u string) string {
	if !strings.ContainsAny(u, "=,") {
		return u
	}
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(u)
}

// first returns the client-first-message.
func (c *scramClient) first() []byte {
	var n [18]byte
	_, _ = rand.Read(n[:])
	c.nonce = base64.RawStdEncoding.EncodeToString(n[:])
	c.firstBare = append(c.firstBare[:0], "n="...)
	c.firstBare = append(c.firstBare, saslName(c.user)...)
	c.firstBare = append(c.firstBare, ",r="...)
	c.firstBare = append(c.firstBare, c.nonce...)
	return append([]byte("n,,"), c.firstBare...)
}

var errSCRAM = errors.New("scram: bad server message")

// final answers the server-first-message with the client-final-message.
func (c *scramClient) final(serverFirst []byte) ([]byte, error) {
	var nonce, salt []byte
	iter := 0
	for attr := range bytes.SplitSeq(serverFirst, []byte{','}) {
		if len(attr) < 2 || attr[1] != '=' {
			continue
		}
		v := attr[2:]
		switch attr[0] {
		case 'r':
			nonce = v
		case 's':
			s, err := base64.StdEncoding.DecodeString(string(v))
			if err != nil {
				return nil, errSCRAM
			}
			salt = s
		case 'i':
			n, err := strconv.Atoi(string(v))
			if err != nil || n < 1 || n > 1<<24 {
				return nil, errSCRAM
			}
			iter = n
		case 'm':
			return nil, errSCRAM // mandatory extension we do not know
		}
	}
	if !bytes.HasPrefix(nonce, []byte(c.nonce)) || len(nonce) == len(c.nonce) || salt == nil || iter == 0 {
		return nil, errSCRAM
	}
	salted := c.cache.salted(c.h, c.user, c.password, salt, iter)
	clientKey := scram.HMAC(c.h, salted, []byte("Client Key"))
	storedKey := scram.Sum(c.h, clientKey)
	withoutProof := append([]byte("c=biws,r="), nonce...)
	authMsg := make([]byte, 0, len(c.firstBare)+len(serverFirst)+len(withoutProof)+2)
	authMsg = append(append(append(append(append(authMsg, c.firstBare...), ','), serverFirst...), ','), withoutProof...)
	sig := scram.HMAC(c.h, storedKey, authMsg)
	for i := range clientKey {
		clientKey[i] ^= sig[i]
	}
	c.serverSig = scram.HMAC(c.h, scram.HMAC(c.h, salted, []byte("Server Key")), authMsg)
	out := append(withoutProof, ",p="...)
	return base64.StdEncoding.AppendEncode(out, clientKey), nil
}

// verify checks the server-final-message ("v=…").
func (c *scramClient) verify(serverFinal []byte) error {
	v, ok := bytes.CutPrefix(serverFinal, []byte("v="))
	if !ok {
		return errSCRAM
	}
	if i := bytes.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	sig, err := base64.StdEncoding.DecodeString(string(v))
	if err != nil || !hmac.Equal(sig, c.serverSig) {
		return errors.New("scram: server signature mismatch")
	}
	return nil
}

// saltCache keeps SaltedPassword per user, salt and iteration count, as a
// real client does, so that repeated logins cost the client one HMAC chain
// rather than a PBKDF2 run.
type saltCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (sc *saltCache) salted(h scram.Hash, user, password string, salt []byte, iter int) []byte {
	if sc == nil {
		return scram.SaltedPassword(h, password, salt, iter)
	}
	key := user + "\x00" + string(salt) + "\x00" + strconv.Itoa(iter) + "\x00" + h.Name()
	sc.mu.Lock()
	v, ok := sc.m[key]
	sc.mu.Unlock()
	if ok {
		return v
	}
	v = scram.SaltedPassword(h, password, salt, iter)
	sc.mu.Lock()
	if sc.m == nil {
		sc.m = map[string][]byte{}
	}
	sc.m[key] = v
	sc.mu.Unlock()
	return v
}

// plainResponse is the SASL PLAIN message (RFC 4616).
func plainResponse(user, password string) []byte {
	return []byte("\x00" + user + "\x00" + password)
}
