package pubsub

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"ignis/mod/modtest"
	"ignis/stanza"
	"ignis/store"
	"ignis/xmlscan"
)

// FuzzConfigForm: whatever data form a client submits as node
// configuration or publish-options (XEP-0004, XEP-0060 §8.2), applying it
// gives a node within the server's limits or a stanza error with an RFC
// condition, and the same answer each time (a form with several bad
// fields must not be answered at random).
func FuzzConfigForm(f *testing.F) {
	for _, s := range []string{
		"<field var='FORM_TYPE'><value>" + NSConfig + "</value></field><field var='pubsub#max_items'><value>max</value></field><field var='pubsub#access_model'><value>whitelist</value></field>",
		"<field var='pubsub#max_items'><value>-1</value></field><field var='pubsub#access_model'><value>authorize</value></field><field var='pubsub#persist_items'><value>yes</value></field>",
		"<field var='pubsub#roster_groups_allowed'><value>a</value><value>b</value></field><field var='pubsub#title'><value>t&amp;</value></field>",
		"<field var='FORM_TYPE'><value>urn:other</value></field>",
		"<field var='pubsub#send_last_published_item'><value>never</value></field><field var='pubsub#notify_retract'><value>0</value></field><field var='pubsub#publish_model'><value>any</value></field>",
	} {
		f.Add([]byte(s), true)
	}
	h, _ := modtest.Handle(f, "pubsub")
	m := New(h, Config{MaxItems: 100})
	f.Fuzz(func(t *testing.T, fields []byte, pep bool) {
		raw := append([]byte("<publish-options><x xmlns='jabber:x:data' type='submit'>"), fields...)
		e, err := xmlscan.ParseElem(append(raw, "</x></publish-options>"...), NS)
		if err != nil {
			return
		}
		sp := space{pep: pep}
		var first store.PubsubNode
		var firstErr error
		for i := range 4 {
			fm, err := parseForm(e, NSConfig)
			n := m.defaultNode(sp, "n")
			if err == nil {
				err = m.apply(sp, &n, fm)
			}
			var se *stanza.Error
			if err != nil && (!errors.As(err, &se) || !slices.Contains([]stanza.Condition{stanza.BadRequest, stanza.NotAcceptable, stanza.FeatureNotImplemented}, se.Cond)) {
				t.Fatalf("error %v is not an RFC condition the form may get", err)
			}
			if err == nil && (n.MaxItems < 0 || n.MaxItems > 100 || m.limit(&n) > 100 || m.limit(&n) < 1) {
				t.Fatalf("max_items %d, limit %d past the server's 100", n.MaxItems, m.limit(&n))
			}
			if i == 0 {
				first, firstErr = n, err
				continue
			}
			if !reflect.DeepEqual(firstErr, err) || (err == nil && !reflect.DeepEqual(first, n)) {
				t.Fatalf("the same form gave %v then %v", firstErr, err)
			}
		}
	})
}
