package stanza

import "sync/atomic"

// Class says what a stanza's child elements are, one bit per kind of
// child: what the IM features (offline storage, archiving, carbons, client
// state indication) decide on. It is computed once per stanza, at first
// need, and cached, so that a message crossing several hooks is scanned
// once.
type Class uint32

const (
	ClassBody            Class = 1 << iota // <body/> (jabber:client)
	ClassThread                            // <thread/>
	ClassClientOther                       // any other jabber:client child (<subject/>, …)
	ClassChatState                         // XEP-0085 chat state
	ClassReceipt                           // XEP-0184 request or receipt
	ClassMarker                            // XEP-0333 chat marker
	ClassHintStore                         // XEP-0334 <store/>
	ClassHintNoStore                       // XEP-0334 <no-store/>
	ClassHintNoPermStore                   // XEP-0334 <no-permanent-store/> (or its old name)
	ClassHintNoCopy                        // XEP-0334 <no-copy/>
	ClassHintOther                         // any other XEP-0334 hint
	ClassCarbonPrivate                     // XEP-0280 <private/>
	ClassCarbon                            // XEP-0280 <sent/> or <received/>: the stanza is a carbon
	ClassMUCUser                           // XEP-0045 muc#user <x/>
	ClassDelay                             // XEP-0203 <delay/>
	ClassStanzaID                          // XEP-0359 <stanza-id/>
	ClassOffline                           // XEP-0013 <offline/>
	ClassOther                             // a child of any other namespace

	// classDone marks the cached value as computed (a stanza may have no
	// children at all).
	classDone Class = 1 << 31
)

// Has reports whether c has any of the bits of m.
func (c Class) Has(m Class) bool { return c&m != 0 }

// Class returns the classification of s's children. Safe for concurrent
// use: a Stanza is shared by fan-out, and computing it twice gives the same
// value, so a plain atomic load and store suffice.
func (s *Stanza) Class() Class {
	if c := Class(atomic.LoadUint32(&s.class)); c&classDone != 0 {
		return c &^ classDone
	}
	c := classify(s)
	atomic.StoreUint32(&s.class, uint32(c|classDone))
	return c
}

func classify(s *Stanza) Class {
	var c Class
	it := s.Elem().Children()
	for e, ok := it.Next(); ok; e, ok = it.Next() {
		c |= classOf(string(e.NS()), string(e.Local()))
	}
	return c
}

// classOf is the class of one child element.
func classOf(ns, local string) Class {
	switch ns {
	case NSClient:
		switch local {
		case "body":
			return ClassBody
		case "thread":
			return ClassThread
		}
		return ClassClientOther
	case NSChatStates:
		return ClassChatState
	case NSReceipts:
		return ClassReceipt
	case NSMarkers:
		return ClassMarker
	case NSHints:
		switch local {
		case "store":
			return ClassHintStore
		case "no-store":
			return ClassHintNoStore
		case "no-permanent-store", "no-permanent-storage":
			return ClassHintNoPermStore
		case "no-copy":
			return ClassHintNoCopy
		}
		return ClassHintOther
	case NSCarbons:
		switch local {
		case "private":
			return ClassCarbonPrivate
		case "sent", "received":
			return ClassCarbon
		}
	case NSMUCUser:
		if local == "x" {
			return ClassMUCUser
		}
	case NSDelay:
		return ClassDelay
	case NSStanzaID:
		if local == "stanza-id" {
			return ClassStanzaID
		}
	case NSOffline:
		return ClassOffline
	}
	return ClassOther
}
