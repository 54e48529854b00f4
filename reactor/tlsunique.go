package reactor

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// tls-unique on TLS 1.3, as OpenSSL-based clients compute it.
//
// RFC 5929's tls-unique is the first Finished message of the handshake; RFC
// 9266 leaves it undefined for TLS 1.3, but old clients built on OpenSSL
// (Python's ssl, so slixmpp ≤ 1.8; libstrophe) still send it there, with
// OpenSSL's TLS 1.2 rule: the client's Finished on a full handshake. Go's
// crypto/tls gives TLSUnique only for TLS ≤ 1.2, and the client's Finished
// is encrypted under the client handshake traffic key. So the reactor keeps
// the client's handshake bytes, learns that key's secret through the
// KeyLogWriter hook (keyed by the ClientHello's random), and, once the
// handshake is over, decrypts the client's handshake records on the worker
// to read the Finished message. ejabberd accepts the same value.

const (
	recHandshake = 22
	recAppData   = 23
	hsFinished   = 20
)

// keyLog collects CLIENT_HANDSHAKE_TRAFFIC_SECRET lines from crypto/tls
// until the handshake worker takes its connection's one.
type keyLog struct {
	mu      sync.Mutex
	secrets map[[32]byte][]byte // client random → client handshake traffic secret
	next    io.Writer           // a KeyLogWriter configured by the user, if any
}

const labelClientHS = "CLIENT_HANDSHAKE_TRAFFIC_SECRET "

// Write takes one NSS key log line ("LABEL <random hex> <secret hex>\n"),
// which is how crypto/tls calls it.
func (k *keyLog) Write(line []byte) (int, error) {
	if k.next != nil {
		_, _ = k.next.Write(line)
	}
	rest, ok := bytes.CutPrefix(line, []byte(labelClientHS))
	if !ok {
		return len(line), nil
	}
	rnd, sec, ok := bytes.Cut(bytes.TrimSpace(rest), []byte(" "))
	var r [32]byte
	if !ok || hex.DecodedLen(len(rnd)) != len(r) {
		return len(line), nil
	}
	if _, err := hex.Decode(r[:], rnd); err != nil {
		return len(line), nil
	}
	secret, err := hex.DecodeString(string(sec))
	if err != nil {
		return len(line), nil
	}
	k.mu.Lock()
	if k.secrets == nil {
		k.secrets = make(map[[32]byte][]byte)
	}
	k.secrets[r] = secret
	k.mu.Unlock()
	return len(line), nil
}

// take removes and returns the secret logged for a client random.
func (k *keyLog) take(r [32]byte) []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.secrets[r]
	delete(k.secrets, r)
	return s
}

// withKeyLog returns a copy of cfg whose key log feeds k (and whatever
// KeyLogWriter cfg already had).
func withKeyLog(cfg *tls.Config, k *keyLog) *tls.Config {
	if cfg == nil {
		return nil
	}
	c := cfg.Clone()
	k.next = c.KeyLogWriter
	c.KeyLogWriter = k
	return c
}

// clientRandom reads the random of the ClientHello that starts the client's
// handshake bytes.
func clientRandom(raw []byte) (r [32]byte, ok bool) {
	// record header (5) + handshake header (4) + legacy_version (2)
	const off = 5 + 4 + 2
	if len(raw) < off+len(r) || raw[0] != recHandshake || raw[5] != 1 {
		return r, false
	}
	copy(r[:], raw[off:])
	return r, true
}

var errNoFinished = errors.New("reactor: no client Finished in the handshake")

// clientFinished13 decrypts the client's TLS 1.3 handshake records in raw
// (everything the client sent during the handshake) with the client
// handshake traffic secret and returns the Finished message's verify_data.
func clientFinished13(raw []byte, suite uint16, secret []byte) ([]byte, error) {
	var (
		newHash func() hash.Hash
		keyLen  int
	)
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256:
		newHash, keyLen = sha256.New, 16
	case tls.TLS_AES_256_GCM_SHA384:
		newHash, keyLen = sha512.New384, 32
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		newHash, keyLen = sha256.New, chacha20poly1305.KeySize
	default:
		return nil, errors.New("reactor: unknown TLS 1.3 cipher suite")
	}
	key, err := expandLabel(newHash, secret, "key", keyLen)
	if err != nil {
		return nil, err
	}
	iv, err := expandLabel(newHash, secret, "iv", 12)
	if err != nil {
		return nil, err
	}
	var aead cipher.AEAD
	if suite == tls.TLS_CHACHA20_POLY1305_SHA256 {
		aead, err = chacha20poly1305.New(key)
	} else {
		var b cipher.Block
		if b, err = aes.NewCipher(key); err == nil {
			aead, err = cipher.NewGCM(b)
		}
	}
	if err != nil {
		return nil, err
	}

	var msgs []byte // decrypted handshake messages, in order
	nonce := make([]byte, len(iv))
	for seq := uint64(0); len(raw) >= 5; {
		typ, n := raw[0], int(binary.BigEndian.Uint16(raw[3:5]))
		if len(raw) < 5+n {
			break
		}
		hdr, body := raw[:5], raw[5:5+n]
		raw = raw[5+n:]
		if typ != recAppData {
			continue // ClientHello(s) and the compatibility ChangeCipherSpec are in clear
		}
		copy(nonce, iv)
		for i := 0; i < 8; i++ {
			nonce[len(nonce)-1-i] ^= byte(seq >> (8 * i))
		}
		seq++
		plain, err := aead.Open(nil, nonce, body, hdr)
		if err != nil {
			return nil, err
		}
		// TLSInnerPlaintext: content, then the real type, then zero padding
		plain = bytes.TrimRight(plain, "\x00")
		if len(plain) == 0 || plain[len(plain)-1] != recHandshake {
			continue
		}
		msgs = append(msgs, plain[:len(plain)-1]...)
		for len(msgs) >= 4 {
			mlen := int(msgs[1])<<16 | int(msgs[2])<<8 | int(msgs[3])
			if len(msgs) < 4+mlen {
				break
			}
			if msgs[0] == hsFinished {
				return msgs[4 : 4+mlen], nil
			}
			msgs = msgs[4+mlen:]
		}
	}
	return nil, errNoFinished
}

// expandLabel is HKDF-Expand-Label of RFC 8446 §7.1 with an empty context.
func expandLabel(h func() hash.Hash, secret []byte, label string, n int) ([]byte, error) {
	full := "tls13 " + label
	info := make([]byte, 0, 4+len(full))
	info = binary.BigEndian.AppendUint16(info, uint16(n))
	info = append(info, byte(len(full)))
	info = append(info, full...)
	info = append(info, 0)
	return hkdf.Expand(h, secret, string(info), n)
}

// tlsUnique computes t's tls-unique once its handshake succeeded: Go's own
// for TLS ≤ 1.2, the client's Finished for a full TLS 1.3 handshake, nil on
// a resumed TLS 1.3 one (OpenSSL would take the server's Finished there;
// old clients do not resume). Runs on the handshake worker.
func (t *tlsLayer) tlsUnique(k *keyLog) []byte {
	raw := t.pipe.takeRecord()
	var secret []byte
	if r, ok := clientRandom(raw); ok {
		secret = k.take(r) // always, so that failed handshakes leave nothing behind
	}
	if t.err != nil {
		return nil
	}
	cs := t.tc.ConnectionState()
	if cs.Version != tls.VersionTLS13 {
		return cs.TLSUnique
	}
	if cs.DidResume || secret == nil {
		return nil
	}
	fin, err := clientFinished13(raw, cs.CipherSuite, secret)
	if err != nil {
		return nil
	}
	return bytes.Clone(fin)
}
