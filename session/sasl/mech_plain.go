package sasl

import (
	"bytes"
	"unicode/utf8"

	"ignis/scram"
)

// maxPassword bounds what PLAIN hands to PRECIS and PBKDF2.
const maxPassword = 1024

// stepPlain is the transition function of PLAIN (RFC 4616): one message,
// authzid NUL authcid NUL passwd, then success or failure.
func (s *Server) stepPlain(in []byte) *Failure {
	switch s.state {
	case stStart:
		if in == nil { // no initial response: ask for it with an empty challenge
			s.state = stAwaitInitial
			return nil
		}
		return s.plainVerify(in)
	case stAwaitInitial:
		return s.plainVerify(in)
	}
	return errOver
}

// plainVerify checks the password against the account's SCRAM-SHA-256 keys:
// Ignis stores no passwords, so it derives the keys again (PBKDF2).
func (s *Server) plainVerify(in []byte) *Failure {
	authzid, rest, ok1 := bytes.Cut(in, []byte{0})
	authcid, passwd, ok2 := bytes.Cut(rest, []byte{0})
	if !ok1 || !ok2 || len(authcid) == 0 || len(passwd) == 0 || len(passwd) > maxPassword ||
		bytes.IndexByte(passwd, 0) >= 0 || !utf8.Valid(in) {
		return errPlainFormat
	}
	user, err := s.norm(string(authcid))
	if err != nil || user == "" {
		return errNotAuthorized // an unpreparable name is no account's
	}
	s.user = user
	if f := s.authorize(string(authzid)); f != nil {
		return f
	}
	pw, err := scram.Prepare(string(passwd))
	if err != nil {
		return errNotAuthorized
	}
	// An unknown user costs the same PBKDF2 run as a known one.
	keys, known := s.lookup(scram.SHA256)
	if !keys.VerifyPassword(scram.SHA256, pw) || !known {
		return errNotAuthorized
	}
	s.state = stDone
	return nil
}

// stepAnonymous is the transition function of ANONYMOUS (RFC 4505): any
// trace message succeeds, and so does none: XEP-0175 §3 has clients send an
// empty <auth/> and servers answer <success/> at once rather than ask for a
// trace with an empty challenge.
func (s *Server) stepAnonymous(_ []byte) *Failure {
	if s.state != stStart {
		return errOver
	}
	s.state = stDone // the trace is not kept: it is unverified
	return nil
}
