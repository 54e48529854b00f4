package stanza

// Kind is which of the three stanzas (RFC 6120 §8) an element is.
type Kind uint8

const (
	KindNone Kind = iota // not a stanza (a nonza such as <r/>)
	Message
	Presence
	IQ
)

var kindNames = [...]string{"", "message", "presence", "iq"}

func (k Kind) String() string { return kindNames[k] }

// KindOf maps an element's local name (in jabber:client) to its Kind.
func KindOf(local []byte) Kind {
	switch string(local) {
	case "message":
		return Message
	case "presence":
		return Presence
	case "iq":
		return IQ
	}
	return KindNone
}

// Type is a stanza's type attribute. One enumeration serves all three kinds;
// TypeNone is the attribute's absence (a normal message, available presence).
type Type uint8

const (
	TypeNone Type = iota
	Get
	Set
	Result
	TypeError // type='error', on any kind
	Chat
	Groupchat
	Headline
	Normal
	Unavailable
	Subscribe
	Subscribed
	Unsubscribe
	Unsubscribed
	Probe
	TypeInvalid // an unknown value, or one not allowed for the kind
)

var typeNames = [...]string{"", "get", "set", "result", "error", "chat", "groupchat", "headline",
	"normal", "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "invalid"}

func (t Type) String() string { return typeNames[t] }

// ParseType maps a type attribute's value to a Type valid for kind k.
func ParseType(k Kind, v []byte) Type {
	if v == nil {
		if k == IQ {
			return TypeInvalid // RFC 6120 §8.2.3: type is required on iq
		}
		return TypeNone
	}
	var t Type = TypeInvalid
	for i, n := range typeNames[1 : len(typeNames)-1] {
		if n == string(v) {
			t = Type(i + 1)
			break
		}
	}
	switch k {
	case IQ:
		if t >= Get && t <= TypeError {
			return t
		}
	case Message:
		if t == TypeError || (t >= Chat && t <= Normal) {
			return t
		}
	case Presence:
		if t == TypeError || t >= Unavailable && t <= Probe {
			return t
		}
	}
	return TypeInvalid
}
