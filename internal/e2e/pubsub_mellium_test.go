package e2e

import (
	"encoding/xml"
	"errors"
	"testing"

	"mellium.im/xmlstream"
	mjid "mellium.im/xmpp/jid"
	"mellium.im/xmpp/pubsub"
	"mellium.im/xmpp/stanza"
)

// fetchAll reads a node's items with mellium's pubsub.FetchIQ and returns
// id → the text of each item's payload.
func fetchAll(t *testing.T, c *melliumClient, to, node string) map[string]string {
	t.Helper()
	iq := stanza.IQ{}
	if to != "" {
		iq.To = mjid.MustParse(to)
	}
	it := pubsub.FetchIQ(testCtx(t), iq, c.s, pubsub.Query{Node: node})
	defer it.Close()
	got := map[string]string{}
	for it.Next() {
		id, r := it.Item()
		var p struct {
			Text string `xml:",chardata"`
		}
		if err := xml.NewTokenDecoder(r).Decode(&p); err != nil {
			t.Fatalf("item %s of %s: %v", id, node, err)
		}
		got[id] = p.Text
	}
	if err := it.Err(); err != nil {
		t.Fatalf("fetching %s at %q: %v", node, to, err)
	}
	return got
}

// note is the payload published: one element with text.
func note(text string) xml.TokenReader {
	return xmlstream.Wrap(xmlstream.Token(xml.CharData(text)),
		xml.StartElement{Name: xml.Name{Space: "urn:example:mellium", Local: "note"}})
}

// TestPubsubMellium: mellium.im/xmpp's pubsub package publishes to the
// account's own PEP service (the node is created on first publish) and
// reads the last item back; on pubsub.localhost it creates a node, publishes,
// and another user reads the item with the server-assigned id.
func TestPubsubMellium(t *testing.T) {
	alice, bob := melliumPair(t)
	ctx := testCtx(t)

	const pep = "urn:example:mellium"
	for _, id := range []string{"one", "two"} {
		got, err := pubsub.Publish(ctx, alice.s, pep, id, note("pep "+id+" <&>"))
		if err != nil || got != id {
			t.Fatalf("PEP publish %s: id %q, %v", id, got, err)
		}
	}
	// a PEP node keeps one item by default (pubsub#max_items 1, as Prosody's)
	if got := fetchAll(t, alice, "", pep); len(got) != 1 || got["two"] != "pep two <&>" {
		t.Errorf("alice's PEP node holds %v, want the last item only", got)
	}

	const svc, node = "pubsub.localhost", "mellium-news"
	if err := pubsub.CreateNodeIQ(ctx, alice.s, stanza.IQ{To: mjid.MustParse(svc)}, node, nil); err != nil {
		t.Fatalf("creating %s: %v", node, err)
	}
	id, err := pubsub.PublishIQ(ctx, alice.s, stanza.IQ{To: mjid.MustParse(svc)}, node, "", note("headline"))
	if err != nil || id == "" {
		t.Fatalf("publishing without an id: got id %q, %v (the service must assign one)", id, err)
	}
	if got := fetchAll(t, bob, svc, node); len(got) != 1 || got[id] != "headline" {
		t.Errorf("bob reads %v from %s, want the item %s", got, node, id)
	}
	// bob is no publisher of alice's node: mellium passes the error on
	_, err = pubsub.PublishIQ(ctx, bob.s, stanza.IQ{To: mjid.MustParse(svc)}, node, "", note("not mine"))
	if se := (stanza.Error{}); !errors.As(err, &se) || se.Condition != stanza.Forbidden {
		t.Errorf("bob's publish to alice's node: %v, want forbidden", err)
	}
}
