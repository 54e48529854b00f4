package e2e

import (
	"encoding/xml"
	"io"
)

// nextElem decodes the next top-level element d reads as a T (character
// data and end tags between elements skipped). The error is the stream's
// end, or an element cut short.
func nextElem[T any](d *xml.Decoder) (T, error) {
	var v T
	for {
		tok, err := d.Token()
		if err != nil {
			return v, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return v, d.DecodeElement(&v, &se)
		}
	}
}

// decodeAll sends each element r carries, decoded as a T, to in until the
// stream fails; that error goes to end. Clients run it on a goroutine.
func decodeAll[T any](r io.Reader, in chan<- T, end chan<- error) {
	d := xml.NewDecoder(r)
	for {
		v, err := nextElem[T](d)
		if err != nil {
			end <- err
			return
		}
		in <- v
	}
}
