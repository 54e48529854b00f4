package mod

import "fmt"

// DiscoNode answers disco#info and disco#items for one node of the server or
// of an account (XEP-0030 §3.2, §4.2): ad-hoc commands list themselves under
// http://jabber.org/protocol/commands. A nil Info or Items answers
// item-not-found for that query; an error is returned as it is.
type DiscoNode struct {
	Info  func(ctx *Ctx) (ids []Identity, features []string, err error)
	Items func(ctx *Ctx) ([]NodeItem, error)
}

// NodeItem is one disco#items entry with a node.
type NodeItem struct{ JID, Node, Name string }

type nodeKey struct {
	scope Scope
	node  string
}

// Node registers the disco answer of a node for the given scopes. It panics
// on a duplicate. A node name ending in '#' also serves every node it is a
// prefix of (one command module answers for each of its commands).
func (r *Registry) Node(scopes Scope, node string, n DiscoNode) {
	if r.nodes == nil {
		r.nodes = map[nodeKey]DiscoNode{}
	}
	for s := ToServer; s <= ToService; s <<= 1 {
		if scopes&s == 0 {
			continue
		}
		k := nodeKey{s, node}
		if _, dup := r.nodes[k]; dup {
			panic(fmt.Sprintf("mod: duplicate disco node %q", node))
		}
		r.nodes[k] = n
	}
}

// LookupNode finds the disco answer of a node in a scope: the node itself,
// or the longest registered prefix ending in '#'.
func (r *Registry) LookupNode(s Scope, node string) (DiscoNode, bool) {
	if n, ok := r.nodes[nodeKey{s, node}]; ok {
		return n, true
	}
	best, found := "", false
	var out DiscoNode
	for k, n := range r.nodes {
		p := k.node
		if k.scope == s && len(p) > len(best) && p[len(p)-1] == '#' && len(node) > len(p) && node[:len(p)] == p {
			best, out, found = p, n, true
		}
	}
	return out, found
}
