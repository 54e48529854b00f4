package sasl

// Condition is a SASL failure condition (RFC 6120 §6.5). The stream puts its
// String() as the child element of <failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>.
type Condition uint8

const (
	Aborted              Condition = iota + 1 // the client sent <abort/>; handled by the stream
	AccountDisabled                           // the account exists but may not log in now
	CredentialsExpired                        // the stored credentials must be renewed first
	EncryptionRequired                        // the mechanism needs TLS (PLAIN on a plain stream)
	IncorrectEncoding                         // the element's base64 content did not decode; found by the stream
	InvalidAuthzid                            // the authorization identity names someone else
	InvalidMechanism                          // the mechanism is not offered on this stream
	MalformedRequest                          // the mechanism's message breaks its grammar
	MechanismTooWeak                          // policy demands a stronger mechanism
	NotAuthorized                             // wrong credentials, unknown user, failed channel binding
	TemporaryAuthFailure                      // a server-side fault; the client may retry later
)

// conds is the one table of SASL failure conditions: each one's element name.
var conds = [...]string{
	Aborted:              "aborted",
	AccountDisabled:      "account-disabled",
	CredentialsExpired:   "credentials-expired",
	EncryptionRequired:   "encryption-required",
	IncorrectEncoding:    "incorrect-encoding",
	InvalidAuthzid:       "invalid-authzid",
	InvalidMechanism:     "invalid-mechanism",
	MalformedRequest:     "malformed-request",
	MechanismTooWeak:     "mechanism-too-weak",
	NotAuthorized:        "not-authorized",
	TemporaryAuthFailure: "temporary-auth-failure",
}

// String is the condition's element name, such as "not-authorized".
func (c Condition) String() string {
	if c == 0 || int(c) >= len(conds) {
		return "undefined-condition"
	}
	return conds[c]
}

// Failure is a failed SASL attempt: what the stream reports in <failure/>.
// Text, when set, is safe to send to the client as the <text/> child: it
// never says whether an account exists. The package returns shared values:
// do not modify a Failure you did not make.
type Failure struct {
	Cond Condition
	Text string
}

func (f *Failure) Error() string {
	if f.Text == "" {
		return "sasl: " + f.Cond.String()
	}
	return "sasl: " + f.Cond.String() + ": " + f.Text
}

func fail(c Condition, text string) *Failure { return &Failure{Cond: c, Text: text} }

// The failures a mechanism returns, declared together. errNotAuthorized is the
// same value for a wrong password and for an unknown user, so neither the
// condition nor the text tells them apart.
var (
	errNotAuthorized     = fail(NotAuthorized, "")
	errInvalidAuthzid    = fail(InvalidAuthzid, "")
	errOver              = fail(MalformedRequest, "the authentication exchange is over")
	errTooLong           = fail(MalformedRequest, "message too long")
	errEmpty             = fail(MalformedRequest, "empty message")
	errBadUsername       = fail(MalformedRequest, "bad username encoding")
	errBadAttr           = fail(MalformedRequest, "malformed attribute")
	errBadGS2            = fail(MalformedRequest, "malformed GS2 header")
	errBadNonce          = fail(MalformedRequest, "malformed nonce")
	errBadBase64         = fail(MalformedRequest, "malformed base64 in attribute")
	errMext              = fail(MalformedRequest, "mandatory extensions are not supported")
	errCBRequired        = fail(MalformedRequest, "a -PLUS mechanism requires channel binding")
	errCBUnexpected      = fail(MalformedRequest, "channel binding requested with a mechanism without -PLUS")
	errCBType            = fail(MalformedRequest, "unsupported channel binding type")
	errCBDowngrade       = fail(NotAuthorized, "server supports channel binding")
	errCBMismatch        = fail(NotAuthorized, "channel binding data do not match")
	errNonceMismatch     = fail(NotAuthorized, "nonce does not match")
	errPlainFormat       = fail(MalformedRequest, "expected authzid NUL authcid NUL password")
	errEncryptionNeeded  = fail(EncryptionRequired, "PLAIN requires TLS")
	errMechanismNotKnown = fail(InvalidMechanism, "")
)

// UnsupportedBinding reports whether the attempt failed because the client
// asked for a channel-binding type the server does not offer.
func (f *Failure) UnsupportedBinding() bool { return f == errCBType }
