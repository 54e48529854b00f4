package e2e

import (
	"encoding/xml"
	"io"
	"testing"

	"ignis/internal/servertest"
	"ignis/store"
)

// subscribedBoth stores a subscription both ways between each pair of local
// users of env (localparts), straight in their rosters.
func subscribedBoth(t *testing.T, env *servertest.Env, pairs ...[2]string) {
	t.Helper()
	domain := env.Cfg.Domain
	for _, p := range pairs {
		for _, side := range [][2]string{{p[0], p[1]}, {p[1], p[0]}} {
			if _, err := env.Srv.DB().Roster().Put(side[0], store.RosterItem{JID: side[1] + "@" + domain, Sub: store.SubBoth}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

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
