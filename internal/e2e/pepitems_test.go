package e2e

import (
	"encoding/xml"
	"errors"
	"slices"
	"testing"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/form"
	mjid "mellium.im/xmpp/jid"
	"mellium.im/xmpp/pubsub"
	mstanza "mellium.im/xmpp/stanza"

	"ignis/internal/servertest"
)

// pepNodes asks c for disco#items of to (XEP-0030 §4.1) and returns the
// node names listed, each checked to be a node of to.
func pepNodes(t *testing.T, c *client, to string) ([]string, error) {
	t.Helper()
	j := mjid.MustParse(to)
	iter := disco.FetchItems(testCtx(t), items.Item{JID: j}, c.Session)
	defer iter.Close()
	var nodes []string
	for iter.Next() {
		it := iter.Item()
		if !it.JID.Equal(j) {
			t.Fatalf("disco#items of %s: item %v is not on the account", to, it)
		}
		nodes = append(nodes, it.Node)
	}
	slices.Sort(nodes)
	return nodes, iter.Err()
}

// TestPEPDiscoItems: disco#items on an account's bare JID lists its PEP
// nodes (XEP-0060 §5.2, XEP-0163), each only to those its access model lets
// read it: the owner sees every node, a contact with a presence
// subscription the open and presence ones, a stranger the open one; an
// account that does not exist answers service-unavailable. mellium clients.
func TestPEPDiscoItems(t *testing.T) {
	env := servertest.Start(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		env.AddUser(u, "pw")
	}
	subscribedBoth(t, env, [2]string{"alice", "bob"})
	alice := login(t, env, "alice", "pw", "a", sasl.ScramSha256)
	bob := login(t, env, "bob", "pw", "b", sasl.ScramSha256)
	carol := login(t, env, "carol", "pw", "c", sasl.ScramSha256)

	ctx := testCtx(t)
	if nodes, err := pepNodes(t, alice, "alice@localhost"); err != nil || len(nodes) != 0 {
		t.Fatalf("no node yet: got %q, %v", nodes, err)
	}
	payload := func(ns string) xml.TokenReader {
		return xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: ns, Local: "x"}})
	}
	// avatar metadata: PEP's default presence access model
	if _, err := pubsub.Publish(ctx, alice.Session, avatarMeta, "abc", payload(avatarMeta)); err != nil {
		t.Fatalf("publish %s: %v", avatarMeta, err)
	}
	for node, access := range map[string]string{"urn:test:open": "open", "urn:test:closed": "whitelist"} {
		cfg := form.New(
			form.Hidden("FORM_TYPE", form.Value(nsPubsub+"#node_config")),
			form.List("pubsub#access_model", form.Value(access)),
		)
		if err := pubsub.CreateNode(ctx, alice.Session, node, cfg); err != nil {
			t.Fatalf("create %s (%s): %v", node, access, err)
		}
	}

	for _, tc := range []struct {
		who  string
		c    *client
		want []string
	}{
		{"owner", alice, []string{"urn:test:closed", "urn:test:open", avatarMeta}},
		{"contact", bob, []string{"urn:test:open", avatarMeta}},
		{"stranger", carol, []string{"urn:test:open"}},
	} {
		t.Run(tc.who, func(t *testing.T) {
			got, err := pepNodes(t, tc.c, "alice@localhost")
			if err != nil {
				t.Fatalf("disco#items: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("nodes listed: %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("no-such-account", func(t *testing.T) {
		_, err := pepNodes(t, carol, "nobody@localhost")
		var se mstanza.Error
		if !errors.As(err, &se) || se.Condition != mstanza.ServiceUnavailable {
			t.Fatalf("want service-unavailable, got %v", err)
		}
	})
}
