package mam

import (
	"errors"
	"slices"
	"testing"

	"ignis/stanza"
)

// FuzzParseRequest: whatever query a client sends its archive (the data
// form of XEP-0313 §4.1 and the RSM set of XEP-0059), it parses into a
// query within the page limit, or a stanza error with an RFC condition.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field><field var='with'><value>a@b</value></field><field var='start'><value>2026-01-02T03:04:05Z</value></field><field var='end'><value>2025-01-02T03:04:05.5+01:00</value></field></x>",
		"<set xmlns='http://jabber.org/protocol/rsm'><max>100000</max><before/></set>",
		"<x xmlns='jabber:x:data'><field var='ids'><value>1</value><value>zz</value></field><field var='after-id'><value>3</value></field></x><set xmlns='http://jabber.org/protocol/rsm'><after>x</after><index>2</index></set>",
		"<x xmlns='jabber:x:data' type='form'/>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		raw := append([]byte("<iq type='set' id='q'><query xmlns='urn:xmpp:mam:2' queryid='f'>"), payload...)
		iq, err := stanza.Parse(append(raw, "</query></iq>"...))
		if err != nil {
			return
		}
		r, err := parseRequest(iq)
		if err != nil {
			var se *stanza.Error
			if !errors.As(err, &se) || !slices.Contains([]stanza.Condition{stanza.BadRequest, stanza.FeatureNotImplemented, stanza.ItemNotFound}, se.Cond) {
				t.Fatalf("error %v is not an RFC condition a query may get", err)
			}
			return
		}
		if r.q.Limit < 0 || r.q.Limit > maxMax {
			t.Fatalf("page of %d past the limit %d", r.q.Limit, maxMax)
		}
		if r.queryID != "f" {
			t.Fatalf("queryid %q", r.queryID)
		}
	})
}
