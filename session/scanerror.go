package session

import "ignis/stanza"

// ScanError maps a tokenizer error to the stream error RFC 6120 §4.9.3 and
// §11 name for it, for the streams of other packages (components); the
// result is the caller's to change.
func ScanError(err error) *stanza.StreamError { return scanError(err) }
