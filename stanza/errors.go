package stanza

import "ignis/xmlscan"

// Condition is a stanza error condition (RFC 6120 §8.3.3). This file is the only
// place stanza-error XML is produced.
type Condition uint8

const (
	BadRequest Condition = iota + 1
	Conflict
	FeatureNotImplemented
	Forbidden
	Gone
	InternalServerError
	ItemNotFound
	JIDMalformed
	NotAcceptable
	NotAllowed
	NotAuthorized
	PolicyViolation
	RecipientUnavailable
	Redirect
	RegistrationRequired
	RemoteServerNotFound
	RemoteServerTimeout
	ResourceConstraint
	ServiceUnavailable
	SubscriptionRequired
	UndefinedCondition
	UnexpectedRequest
)

// ErrorType is the error's type attribute (RFC 6120 §8.3.2).
type ErrorType uint8

const (
	Auth ErrorType = iota + 1
	Cancel
	Continue
	Modify
	Wait
)

var errorTypeNames = [...]string{"", "auth", "cancel", "continue", "modify", "wait"}

func (t ErrorType) String() string { return errorTypeNames[t] }

// conds gives each condition its element name and the type RFC 6120 §8.3.3
// recommends for it.
var conds = [...]struct {
	name string
	typ  ErrorType
}{
	BadRequest:            {"bad-request", Modify},
	Conflict:              {"conflict", Cancel},
	FeatureNotImplemented: {"feature-not-implemented", Cancel},
	Forbidden:             {"forbidden", Auth},
	Gone:                  {"gone", Cancel},
	InternalServerError:   {"internal-server-error", Cancel},
	ItemNotFound:          {"item-not-found", Cancel},
	JIDMalformed:          {"jid-malformed", Modify},
	NotAcceptable:         {"not-acceptable", Modify},
	NotAllowed:            {"not-allowed", Cancel},
	NotAuthorized:         {"not-authorized", Auth},
	PolicyViolation:       {"policy-violation", Modify},
	RecipientUnavailable:  {"recipient-unavailable", Wait},
	Redirect:              {"redirect", Modify},
	RegistrationRequired:  {"registration-required", Auth},
	RemoteServerNotFound:  {"remote-server-not-found", Cancel},
	RemoteServerTimeout:   {"remote-server-timeout", Wait},
	ResourceConstraint:    {"resource-constraint", Wait},
	ServiceUnavailable:    {"service-unavailable", Cancel},
	SubscriptionRequired:  {"subscription-required", Auth},
	UndefinedCondition:    {"undefined-condition", Cancel},
	UnexpectedRequest:     {"unexpected-request", Wait},
}

func (c Condition) String() string { return conds[c].name }

// ConditionByName returns the condition with this element name, or 0.
func ConditionByName(name string) Condition {
	for i := range conds {
		if conds[i].name == name && i > 0 {
			return Condition(i)
		}
	}
	return 0
}

// Error is a stanza error. Handlers return it; one place (Stanza.ErrorReply)
// turns it into a reply.
type Error struct {
	Type ErrorType
	Cond Condition
	Text string // optional human-readable text (English)
	// App is an optional application-specific condition element (RFC 6120
	// §8.3.2), e.g. <blocked xmlns='urn:xmpp:blocking:errors'/>; it must be
	// one well-formed element.
	App []byte
}

// Err returns an error with the condition's recommended type.
func Err(c Condition) *Error { return &Error{Type: conds[c].typ, Cond: c} }

// ErrText is Err with a descriptive text.
func ErrText(c Condition, text string) *Error { e := Err(c); e.Text = text; return e }

func (e *Error) Error() string {
	if e.Text != "" {
		return "stanza error: " + e.Cond.String() + ": " + e.Text
	}
	return "stanza error: " + e.Cond.String()
}

// AppendXML appends the <error/> element.
func (e *Error) AppendXML(dst []byte) []byte {
	dst = append(dst, "<error type='"...)
	dst = append(dst, e.Type.String()...)
	dst = append(dst, "'><"...)
	dst = append(dst, e.Cond.String()...)
	dst = append(dst, " xmlns='"+NSStanzas+"'/>"...)
	if e.Text != "" {
		dst = append(dst, "<text xmlns='"+NSStanzas+"' xml:lang='en'>"...)
		dst = xmlscan.AppendEscapedText(dst, e.Text)
		dst = append(dst, "</text>"...)
	}
	dst = append(dst, e.App...)
	return append(dst, "</error>"...)
}

// StreamCondition is a stream error condition (RFC 6120 §4.9.3).
type StreamCondition uint8

const (
	BadFormat StreamCondition = iota + 1
	BadNamespacePrefix
	StreamConflict
	ConnectionTimeout
	HostGone
	HostUnknown
	ImproperAddressing
	StreamInternalServerError
	InvalidFrom
	InvalidNamespace
	InvalidXML
	StreamNotAuthorized
	NotWellFormed
	StreamPolicyViolation
	RemoteConnectionFailed
	Reset
	StreamResourceConstraint
	RestrictedXML
	SeeOtherHost
	SystemShutdown
	StreamUndefinedCondition
	UnsupportedEncoding
	UnsupportedFeature
	UnsupportedStanzaType
	UnsupportedVersion
)

var streamConds = [...]string{
	BadFormat:                 "bad-format",
	BadNamespacePrefix:        "bad-namespace-prefix",
	StreamConflict:            "conflict",
	ConnectionTimeout:         "connection-timeout",
	HostGone:                  "host-gone",
	HostUnknown:               "host-unknown",
	ImproperAddressing:        "improper-addressing",
	StreamInternalServerError: "internal-server-error",
	InvalidFrom:               "invalid-from",
	InvalidNamespace:          "invalid-namespace",
	InvalidXML:                "invalid-xml",
	StreamNotAuthorized:       "not-authorized",
	NotWellFormed:             "not-well-formed",
	StreamPolicyViolation:     "policy-violation",
	RemoteConnectionFailed:    "remote-connection-failed",
	Reset:                     "reset",
	StreamResourceConstraint:  "resource-constraint",
	RestrictedXML:             "restricted-xml",
	SeeOtherHost:              "see-other-host",
	SystemShutdown:            "system-shutdown",
	StreamUndefinedCondition:  "undefined-condition",
	UnsupportedEncoding:       "unsupported-encoding",
	UnsupportedFeature:        "unsupported-feature",
	UnsupportedStanzaType:     "unsupported-stanza-type",
	UnsupportedVersion:        "unsupported-version",
}

func (c StreamCondition) String() string { return streamConds[c] }

// StreamError is a stream-level error: it is sent, then the stream is closed.
type StreamError struct {
	Cond StreamCondition
	Text string
	// App is an optional application-specific condition element (RFC 6120
	// §4.9.4), e.g. XEP-0198's <handled-count-too-high/>; it must be one
	// well-formed element, qualified by its own namespace.
	App []byte
}

// StreamErr returns a stream error with an optional text.
func StreamErr(c StreamCondition, text string) *StreamError {
	return &StreamError{Cond: c, Text: text}
}

// StreamErrApp is StreamErr with an application-specific condition, built
// with a Builder (see StreamError.App).
func StreamErrApp(c StreamCondition, text string, app *Builder) *StreamError {
	return &StreamError{Cond: c, Text: text, App: app.Bytes()}
}

func (e *StreamError) Error() string {
	if e.Text != "" {
		return "stream error: " + e.Cond.String() + ": " + e.Text
	}
	return "stream error: " + e.Cond.String()
}

// AppendXML appends <stream:error>…</stream:error> (the stream prefix is the
// one Ignis's stream header declares): the condition, the text, then the
// application-specific condition, in the order of RFC 6120 §4.9.2.
func (e *StreamError) AppendXML(dst []byte) []byte {
	dst = append(dst, "<stream:error><"...)
	dst = append(dst, e.Cond.String()...)
	dst = append(dst, " xmlns='"+NSStreams+"'/>"...)
	if e.Text != "" {
		dst = append(dst, "<text xmlns='"+NSStreams+"' xml:lang='en'>"...)
		dst = xmlscan.AppendEscapedText(dst, e.Text)
		dst = append(dst, "</text>"...)
	}
	dst = append(dst, e.App...)
	return append(dst, "</stream:error>"...)
}
