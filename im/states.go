package im

import (
	"slices"

	"ignis/stanza"
	"ignis/store"
)

// State is one of the nine subscription states of RFC 6121 Appendix A.1,
// as a roster item stores it: Sub, Ask ("Pending Out") and PendingIn
// ("Pending In").
type State uint8

const (
	None             State = iota
	NonePendingOut         // None + Pending Out
	NonePendingIn          // None + Pending In
	NonePendingOutIn       // None + Pending Out/In
	To
	ToPendingIn // To + Pending In
	From
	FromPendingOut // From + Pending Out
	Both
	nStates
)

var stateNames = [nStates]string{"None", "None+PendingOut", "None+PendingIn", "None+PendingOut+In",
	"To", "To+PendingIn", "From", "From+PendingOut", "Both"}

func (s State) String() string {
	if s < nStates {
		return stateNames[s]
	}
	return "?"
}

// stateParts is what each state sets in an item.
var stateParts = [nStates]struct {
	sub       store.Subscription
	ask, pend bool
}{
	None:             {store.SubNone, false, false},
	NonePendingOut:   {store.SubNone, true, false},
	NonePendingIn:    {store.SubNone, false, true},
	NonePendingOutIn: {store.SubNone, true, true},
	To:               {store.SubTo, false, false},
	ToPendingIn:      {store.SubTo, false, true},
	From:             {store.SubFrom, false, false},
	FromPendingOut:   {store.SubFrom, true, false},
	Both:             {store.SubBoth, false, false},
}

// StateOf is it's state. Flags a state cannot have (Ask with a
// subscription "to", a pending request with one "from") are ignored, as
// the transitions never set them.
func StateOf(it store.RosterItem) State {
	pend := it.PendingIn != nil
	switch it.Sub & store.SubBoth {
	case store.SubBoth:
		return Both
	case store.SubFrom:
		if it.Ask {
			return FromPendingOut
		}
		return From
	case store.SubTo:
		if pend {
			return ToPendingIn
		}
		return To
	}
	switch {
	case it.Ask && pend:
		return NonePendingOutIn
	case it.Ask:
		return NonePendingOut
	case pend:
		return NonePendingIn
	}
	return None
}

// approval is what a transition does to a pre-approval (§3.4), which
// Appendix A leaves out: it is kept beside the state.
type approval uint8

const (
	keep approval = iota
	approve
	unapprove
)

// transition is one cell of Appendix A: whether the server routes
// (outbound) or delivers (inbound) the stanza, and the state after it;
// same marks "no state change".
type transition struct {
	pass bool
	next State
	pre  approval
}

const same = nStates

// The tables of RFC 6121 Appendix A.2 (outbound: the user's server,
// handling what the user sends) and A.3 (inbound: the user's server,
// handling what the contact sends), one row per stanza type in the order
// subscribe, unsubscribe, subscribed, unsubscribed, and one column per
// state in State order.
//
// Beyond the RFC's tables: an outbound "subscribed" without a pending
// request is a pre-approval (§3.4.2), kept unless the contact is already a
// subscriber, and not routed; any answer to a request, and any outbound
// "unsubscribed", ends a pre-approval.
var (
	outboundTable = [4][nStates]transition{
		{ // A.2.1 subscribe: always routed; Pending Out unless already subscribed
			{true, NonePendingOut, keep}, {true, same, keep}, {true, NonePendingOutIn, keep}, {true, same, keep},
			{true, same, keep}, {true, same, keep}, {true, FromPendingOut, keep}, {true, same, keep}, {true, same, keep}},
		{ // A.2.2 unsubscribe: always routed
			{true, same, keep}, {true, None, keep}, {true, same, keep}, {true, NonePendingIn, keep},
			{true, None, keep}, {true, NonePendingIn, keep}, {true, same, keep}, {true, From, keep}, {true, From, keep}},
		{ // A.2.3 subscribed
			{false, same, approve}, {false, same, approve}, {true, From, unapprove}, {true, FromPendingOut, unapprove},
			{false, same, approve}, {true, Both, unapprove}, {false, same, keep}, {false, same, keep}, {false, same, keep}},
		{ // A.2.4 unsubscribed
			{false, same, unapprove}, {false, same, unapprove}, {true, None, unapprove}, {true, NonePendingOut, unapprove},
			{false, same, unapprove}, {true, To, unapprove}, {true, None, unapprove}, {true, NonePendingOut, unapprove}, {true, To, unapprove}},
	}
	inboundTable = [4][nStates]transition{
		{ // A.3.1 subscribe: stored as Pending In and delivered
			{true, NonePendingIn, keep}, {true, NonePendingOutIn, keep}, {false, same, keep}, {false, same, keep},
			{true, ToPendingIn, keep}, {false, same, keep}, {false, same, keep}, {false, same, keep}, {false, same, keep}},
		{ // A.3.2 unsubscribe
			{false, same, keep}, {false, same, keep}, {true, None, keep}, {true, NonePendingOut, keep},
			{false, same, keep}, {true, To, keep}, {true, None, keep}, {true, NonePendingOut, keep}, {true, To, keep}},
		{ // A.3.3 subscribed
			{false, same, keep}, {true, To, keep}, {false, same, keep}, {true, ToPendingIn, keep},
			{false, same, keep}, {false, same, keep}, {false, same, keep}, {true, Both, keep}, {false, same, keep}},
		{ // A.3.4 unsubscribed
			{false, same, keep}, {true, None, keep}, {false, same, keep}, {true, NonePendingIn, keep},
			{true, None, keep}, {true, NonePendingIn, keep}, {false, same, keep}, {true, From, keep}, {true, From, keep}},
	}
)

// row is the table row of a subscription stanza type, or -1.
func row(t stanza.Type) int {
	switch t {
	case stanza.Subscribe:
		return 0
	case stanza.Unsubscribe:
		return 1
	case stanza.Subscribed:
		return 2
	case stanza.Unsubscribed:
		return 3
	}
	return -1
}

// step applies one cell of table to it; raw is the request to remember
// when the new state has Pending In and the old one had not.
func step(table *[4][nStates]transition, it *store.RosterItem, t stanza.Type, raw []byte) (pass bool) {
	r := row(t)
	if r < 0 {
		return false
	}
	from := StateOf(*it)
	tr := table[r][from]
	switch tr.pre {
	case approve:
		it.Approved = true
	case unapprove:
		it.Approved = false
	}
	if tr.next != same {
		p := stateParts[tr.next]
		it.Sub, it.Ask = p.sub, p.ask
		switch {
		case !p.pend:
			it.PendingIn = nil
		case it.PendingIn == nil:
			it.PendingIn = slices.Clone(raw)
		}
	}
	return tr.pass
}

// ApplyOutbound applies a subscription stanza of type t that the user sends to
// the contact to the user's item (A.2) and reports whether the server
// routes it.
func ApplyOutbound(it *store.RosterItem, t stanza.Type) (route bool) {
	return step(&outboundTable, it, t, nil)
}

// ApplyInbound applies a subscription stanza of type t that the contact sent to
// the user's item (A.3) and reports whether it is delivered to the user's
// client. An inbound "subscribe" stores raw, the request as delivered, as
// Pending In. The answers the server gives itself (the contact is already
// subscribed, or pre-approved) are Inbound's.
func ApplyInbound(it *store.RosterItem, t stanza.Type, raw []byte) (deliver bool) {
	return step(&inboundTable, it, t, raw)
}
