package xmlscan

import (
	"errors"
	"strconv"
)

// Errors returned by Feed wrap one of these sentinels (test with errors.Is).
var (
	ErrNotWellFormed       = errors.New("xmlscan: not well-formed")      // syntax, bad UTF-8, bad name/char, unbound prefix, mismatched tags
	ErrRestrictedXML       = errors.New("xmlscan: restricted XML")       // DTD, comment, PI other than the leading XML declaration, entity other than the five predefined
	ErrLimit               = errors.New("xmlscan: limit exceeded")       // an element over MaxElementBytes, deeper than MaxDepth, or with more than MaxAttrs
	ErrUnsupportedEncoding = errors.New("xmlscan: unsupported encoding") // UTF-16 or UTF-32 input, or an XML declaration naming an encoding other than UTF-8
	ErrNestedHeader        = errors.New("xmlscan: nested stream header") // a depth-1 start tag with the root's name: a stream header sent again mid-stream
)

// SyntaxError is the detailed error Feed and ParseElem return. It wraps one of
// the sentinels, so callers branch with errors.Is and log Error().
type SyntaxError struct {
	Err    error  // ErrNotWellFormed, ErrRestrictedXML, ErrLimit, ErrUnsupportedEncoding or ErrNestedHeader
	Offset int64  // byte offset in the stream (or in ParseElem's input) where it was found
	Msg    string // what was wrong
}

func (e *SyntaxError) Error() string {
	return "xmlscan: " + e.Msg + " at offset " + strconv.FormatInt(e.Offset, 10)
}

func (e *SyntaxError) Unwrap() error { return e.Err }
