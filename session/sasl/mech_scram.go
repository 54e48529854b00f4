package sasl

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"

	"ignis/scram"
)

// stepSCRAM is the transition function of SCRAM-SHA-* and SCRAM-SHA-*-PLUS
// (RFC 5802 §5): client-first → server-first challenge; client-final →
// server-final in <success/>.
func (s *Server) stepSCRAM(in []byte) ([]byte, *Failure) {
	switch s.state {
	case stStart:
		if in == nil { // SCRAM is client-first: ask for the message (RFC 6120 §6.4.2)
			s.state = stAwaitInitial
			return nil, nil
		}
		return s.scramFirst(in)
	case stAwaitInitial:
		return s.scramFirst(in)
	case stChallenged:
		return s.scramFinal(in)
	}
	return nil, errOver
}

// serverNonceBytes is the size of the random part the server adds to the
// client's nonce.
const serverNonceBytes = 24

// scramFirst handles client-first-message = gs2-header client-first-message-bare
// (RFC 5802 §7) and answers server-first-message.
func (s *Server) scramFirst(in []byte) ([]byte, *Failure) {
	if len(in) == 0 {
		return nil, errEmpty
	}
	gs2Len, cbType, rawAuthzid, f := parseGS2Header(in)
	if f != nil {
		return nil, f
	}
	bare := in[gs2Len:]
	if f := s.chooseBinding(in[0], cbType); f != nil {
		return nil, f
	}

	// client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
	rest := bare
	attr, rest := nextAttr(rest)
	if len(attr) >= 2 && attr[0] == 'm' && attr[1] == '=' {
		return nil, errMext // RFC 5802 §5.1: "m" must make authentication fail
	}
	if len(attr) < 2 || attr[0] != 'n' || attr[1] != '=' {
		return nil, errBadAttr
	}
	name, ok := unescapeSaslname(attr[2:])
	if !ok {
		return nil, errBadUsername
	}
	attr, rest = nextAttr(rest)
	if len(attr) < 3 || attr[0] != 'r' || attr[1] != '=' || !printable(attr[2:]) {
		return nil, errBadNonce
	}
	cnonce := attr[2:]
	for rest != nil { // unknown optional extensions are ignored (RFC 5802 §5.1)
		if attr, rest = nextAttr(rest); !isAttrVal(attr) {
			return nil, errBadAttr
		}
	}
	authzid := ""
	if rawAuthzid != nil {
		if authzid, ok = unescapeSaslname(rawAuthzid); !ok {
			return nil, errBadGS2
		}
	}

	// RFC 6120 §6.3.8 and RFC 7677 §4: the name is prepared as a username;
	// one that cannot be prepared names no account, so failing at once
	// reveals nothing about which accounts exist.
	user, err := s.norm(name)
	if err != nil || user == "" {
		return nil, errNotAuthorized
	}
	s.user = user
	if f := s.authorize(authzid); f != nil {
		return nil, f
	}

	// An unknown user gets a challenge built from fake keys and fails only
	// at the final step, exactly like a wrong password.
	s.keys, s.known = s.lookup(s.mech.hash)
	s.gs2Header = bytes.Clone(in[:gs2Len])
	snonce := s.testNonce
	if snonce == "" {
		b := make([]byte, serverNonceBytes)
		_, _ = rand.Read(b)
		snonce = base64.StdEncoding.EncodeToString(b)
	}
	s.nonce = string(cnonce) + snonce

	out := make([]byte, 0, 64+len(s.nonce))
	out = append(out, "r="...)
	out = append(out, s.nonce...)
	out = append(out, ",s="...)
	out = base64.StdEncoding.AppendEncode(out, s.keys.Salt)
	out = append(out, ",i="...)
	out = strconv.AppendInt(out, int64(s.keys.Iter), 10)

	s.authMsg = make([]byte, 0, len(bare)+len(out)+128)
	s.authMsg = append(s.authMsg, bare...)
	s.authMsg = append(s.authMsg, ',')
	s.authMsg = append(s.authMsg, out...)
	s.authMsg = append(s.authMsg, ',')
	s.state = stChallenged
	return out, nil
}

// parseGS2Header parses gs2-header = gs2-cbind-flag "," [authzid] ","
// (RFC 5802 §7). It returns the header's length including the second comma,
// the cb-name if the flag is "p=", and the still-escaped authzid (nil if
// absent).
func parseGS2Header(in []byte) (n int, cbType string, authzid []byte, f *Failure) {
	flag, rest := nextAttr(in)
	switch {
	case len(flag) == 1 && (flag[0] == 'n' || flag[0] == 'y'):
	case len(flag) > 2 && flag[0] == 'p' && flag[1] == '=' && isCBName(flag[2:]):
		cbType = string(flag[2:])
	default:
		return 0, "", nil, errBadGS2
	}
	if rest == nil {
		return 0, "", nil, errBadGS2
	}
	az, rest := nextAttr(rest)
	switch {
	case len(az) == 0:
	case len(az) > 2 && az[0] == 'a' && az[1] == '=':
		authzid = az[2:]
	default:
		return 0, "", nil, errBadGS2
	}
	if rest == nil {
		return 0, "", nil, errBadGS2
	}
	return len(in) - len(rest), cbType, authzid, nil
}

// chooseBinding checks the GS2 channel-binding flag against the mechanism and
// the connection, and remembers the binding data the final message must carry.
func (s *Server) chooseBinding(flag byte, cbType string) *Failure {
	switch flag {
	case 'n': // the client does not support channel binding
		if s.mech.plus {
			return errCBRequired
		}
	case 'y': // the client supports it but thinks the server does not
		if s.mech.plus {
			return errCBRequired
		}
		// RFC 5802 §6: someone removed -PLUS from our list. Not on TLS 1.3:
		// there the clients that send "y" know only tls-unique (OpenSSL-based
		// ones, which send it whatever the server offers), a type RFC 9266
		// leaves undefined and that we do not advertise, so they cannot know
		// that we would bind it; see README, "Channel binding".
		if s.offersPlus && !s.cb.ClientTypeMismatch && !s.cb.TLS13 {
			return errCBDowngrade
		}
	case 'p':
		if !s.mech.plus {
			return errCBUnexpected
		}
		data, ok := s.cb.cbData(cbType)
		if !ok {
			return errCBType
		}
		s.cbData = bytes.Clone(data)
	}
	return nil
}

// scramFinal handles client-final-message = channel-binding "," nonce
// ["," extensions] "," proof and answers server-final-message "v=…".
func (s *Server) scramFinal(in []byte) ([]byte, *Failure) {
	if len(in) == 0 {
		return nil, errEmpty
	}
	// The proof is the last attribute; everything before it is signed.
	i := bytes.LastIndex(in, []byte(",p="))
	if i < 0 {
		return nil, errBadAttr
	}
	withoutProof, proofB64 := in[:i], in[i+3:]

	attr, rest := nextAttr(withoutProof)
	if len(attr) < 2 || attr[0] != 'c' || attr[1] != '=' || rest == nil {
		return nil, errBadAttr
	}
	cbind, ok := decodeB64(attr[2:])
	if !ok {
		return nil, errBadBase64
	}
	attr, rest = nextAttr(rest)
	if len(attr) < 2 || attr[0] != 'r' || attr[1] != '=' {
		return nil, errBadNonce
	}
	nonce := attr[2:]
	for rest != nil {
		if attr, rest = nextAttr(rest); !isAttrVal(attr) {
			return nil, errBadAttr
		}
	}
	proof, ok := decodeB64(proofB64)
	if !ok {
		return nil, errBadBase64
	}

	// c= must repeat the GS2 header and carry our view of the channel
	// (RFC 5802 §6): a man in the middle has a different one.
	if !bytes.HasPrefix(cbind, s.gs2Header) || !bytes.Equal(cbind[len(s.gs2Header):], s.cbData) {
		return nil, errCBMismatch
	}
	if string(nonce) != s.nonce {
		return nil, errNonceMismatch
	}
	s.authMsg = append(s.authMsg, withoutProof...)
	sig, ok := s.keys.VerifyProof(s.mech.hash, s.authMsg, proof)
	if !ok || !s.known {
		return nil, errNotAuthorized
	}
	out := make([]byte, 0, 2+base64.StdEncoding.EncodedLen(len(sig)))
	out = append(out, "v="...)
	out = base64.StdEncoding.AppendEncode(out, sig)
	s.state = stDone
	s.keys, s.authMsg = scram.Keys{}, nil
	return out, nil
}

// nextAttr splits off the text before the next comma. rest is nil when there
// is no comma left (the last attribute), and empty but not nil after a
// trailing comma.
func nextAttr(b []byte) (attr, rest []byte) {
	i := bytes.IndexByte(b, ',')
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i+1:]
}

// isAttrVal reports whether b is attr-val = ALPHA "=" value.
func isAttrVal(b []byte) bool {
	return len(b) >= 2 && isAlpha(b[0]) && b[1] == '=' && validValue(b[2:])
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// validValue: value = 1*value-char, any UTF-8 but NUL and ",".
func validValue(b []byte) bool {
	return len(b) > 0 && utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}

// printable: printable = %x21-2B / %x2D-7E, the nonce's characters.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// isCBName: cb-name = 1*(ALPHA / DIGIT / "." / "-").
func isCBName(b []byte) bool {
	for _, c := range b {
		if !isAlpha(c) && !('0' <= c && c <= '9') && c != '.' && c != '-' {
			return false
		}
	}
	return len(b) > 0
}

// unescapeSaslname undoes RFC 5802 §5.1's escaping: "=2C" is ",", "=3D" is
// "=", and any other "=" makes the name invalid.
func unescapeSaslname(b []byte) (string, bool) {
	if len(b) == 0 || !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		return "", false
	}
	if bytes.IndexByte(b, '=') < 0 {
		return string(b), true
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '=' {
			sb.WriteByte(b[i])
			continue
		}
		if i+2 >= len(b) {
			return "", false
		}
		switch string(b[i+1 : i+3]) {
		case "2C":
			sb.WriteByte(',')
		case "3D":
			sb.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return sb.String(), true
}

// decodeB64 decodes standard padded base64, rejecting anything else.
func decodeB64(b []byte) ([]byte, bool) {
	out, err := base64.StdEncoding.Strict().AppendDecode(nil, b)
	return out, err == nil
}
