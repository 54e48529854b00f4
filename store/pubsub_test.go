package store

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestPubsub: nodes, items newest first, a purge, a node deletion that takes
// its items and subscriptions, and one node's items apart from a node whose
// name starts the same.
func TestPubsub(t *testing.T) {
	db := openTest(t, vfs.NewCrashableMem())
	for _, p := range []Pubsub{db.PEP(), db.PubsubService()} {
		tx := p.Begin("alice")
		tx.PutNode(PubsubNode{Name: "n", AccessModel: "presence", PersistItems: true, MaxItems: 3})
		tx.PutNode(PubsubNode{Name: "n2", AccessModel: "open"})
		tx.PutItem("n", PubsubItem{ID: "b", Seq: 2, Publisher: "alice@x", XML: []byte("<b/>")})
		tx.PutItem("n", PubsubItem{ID: "a", Seq: 1, XML: []byte("<a/>")})
		tx.PutItem("n2", PubsubItem{ID: "z", Seq: 1, XML: []byte("<z/>")})
		if p.subsTbl != 0 {
			tx.PutSub("n", "bob@x", "subscribed")
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		n, err := p.Node("alice", "n")
		if err != nil || n.MaxItems != 3 || n.AccessModel != "presence" {
			t.Fatalf("node: %+v %v", n, err)
		}
		items, err := p.Items("alice", "n")
		if err != nil || len(items) != 2 || items[0].ID != "b" || items[0].Publisher != "alice@x" || string(items[1].XML) != "<a/>" {
			t.Fatalf("items: %+v %v", items, err)
		}
		var names []string
		_ = p.Nodes("alice", func(n PubsubNode) bool { names = append(names, n.Name); return true })
		if len(names) != 2 {
			t.Fatalf("nodes %v", names)
		}
		tx = p.Begin("alice")
		tx.DeleteNode("n")
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Node("alice", "n"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted node: %v", err)
		}
		if items, _ := p.Items("alice", "n"); len(items) != 0 {
			t.Fatalf("items of a deleted node: %+v", items)
		}
		if items, _ := p.Items("alice", "n2"); len(items) != 1 {
			t.Fatalf("other node's items: %+v", items)
		}
		subs := 0
		_ = p.Subs("alice", "n", func(string, string) bool { subs++; return true })
		if subs != 0 {
			t.Fatal("subscriptions outlived their node")
		}
	}
}
