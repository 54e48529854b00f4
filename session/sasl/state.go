package sasl

// state is where one attempt stands. Every mechanism walks the same states
// through its own transition function (stepSCRAM, stepPlain, stepAnonymous);
// PLAIN and ANONYMOUS never enter stChallenged.
type state uint8

//go:generate go run golang.org/x/tools/cmd/stringer -type=state -trimprefix=st
const (
	stStart        state = iota // nothing received yet; the first Step carries <auth/>
	stAwaitInitial              // <auth/> had no initial response; an empty challenge went out
	stChallenged                // SCRAM: server-first-message sent, client-final-message due
	stDone                      // success; User is valid
	stFailed                    // a Failure was returned; the attempt is over
)
