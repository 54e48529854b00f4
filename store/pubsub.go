package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Pubsub is the publish-subscribe store (XEP-0060): nodes with their
// configuration and affiliations, their items, and their subscriptions, for
// one kind of service. Each service is named by an owner key part: the
// account's localpart for PEP (XEP-0163, per-user tables cleared with the
// account) and the service's domain for pubsub.DOMAIN.
//
//	node          nodeTable  owner 0x00 node            → 0x01 JSON(PubsubNode)
//	item          itemTable  owner 0x00 node 0x00 id    → 0x01 be64(seq) uvarint(len) publisher xml
//	subscription  subTable   owner 0x00 node 0x00 jid   → 0x01 state   (service only)
//
// Neither a node name, an item id nor a JID contains 0x00 (XML forbids the
// character), so one node's items lie in [owner 0x00 node 0x00, … 0x01).
type Pubsub struct {
	db                        *DB
	nodeTbl, itemTbl, subsTbl byte
}

// Pubsub table bytes (see keys.go for the others). 0x0d is tableArchiveWith.
const (
	tablePEPNode    byte = 0x0e // per user: PEP nodes
	tablePEPItem    byte = 0x0f // per user: PEP items
	tablePubsubNode byte = 0x38 // service domain 0x00 node → node
	tablePubsubItem byte = 0x39 // service domain 0x00 node 0x00 id → item
	tablePubsubSub  byte = 0x3a // service domain 0x00 node 0x00 jid → subscription
)

// PEP returns the per-account PEP store; its owner is the account's localpart.
func (db *DB) PEP() Pubsub { return Pubsub{db: db, nodeTbl: tablePEPNode, itemTbl: tablePEPItem} }

// PubsubService returns the store of pubsub services; the owner is the
// service's domain.
func (db *DB) PubsubService() Pubsub {
	return Pubsub{db: db, nodeTbl: tablePubsubNode, itemTbl: tablePubsubItem, subsTbl: tablePubsubSub}
}

// PubsubNode is a node's configuration and affiliations (XEP-0060 §16.4).
type PubsubNode struct {
	Name          string            `json:"n"`
	AccessModel   string            `json:"a"`            // open, presence, roster, whitelist, authorize
	PublishModel  string            `json:"pm,omitempty"` // publishers (default), subscribers, open
	PersistItems  bool              `json:"p"`
	MaxItems      int               `json:"m"` // 0: the server's limit ("max")
	SendLast      string            `json:"sl,omitempty"`
	NotifyRetract bool              `json:"nr,omitempty"`
	NotifyDelete  bool              `json:"nd,omitempty"`
	Title         string            `json:"t,omitempty"`
	RosterGroups  []string          `json:"rg,omitempty"`
	Affiliations  map[string]string `json:"af,omitempty"` // bare JID → owner, publisher, member, outcast
	Seq           uint64            `json:"s"`            // the last item's publish sequence
}

// PubsubItem is a published item.
type PubsubItem struct {
	ID        string
	Seq       uint64 // publish order within its node
	Publisher string
	XML       []byte // the payload element(s), standalone
}

const pubsubV1 = 1

func validName(what, s string) error {
	if s == "" || len(s) > 1023 || strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("store: pubsub: invalid %s %q", what, s)
	}
	return nil
}

// nodeKey is owner 0x00 node; itemKey owner 0x00 node 0x00 id.
func (p Pubsub) nodeKey(owner, node string) []byte { return userKey(p.nodeTbl, owner, node) }

func subKey(table byte, owner, node, sub string) []byte {
	return userKey(table, owner, node+"\x00"+sub)
}

func subSpan(table byte, owner, node string) (lo, hi []byte) {
	lo = userKey(table, owner, node+"\x00")
	hi = append(lo[:len(lo)-1:len(lo)-1], userEnd)
	return lo, hi
}

// Node returns a node, or an error wrapping ErrNotFound.
func (p Pubsub) Node(owner, node string) (PubsubNode, error) {
	var n PubsubNode
	if err := validUser(owner); err != nil {
		return n, err
	}
	if err := validName("node", node); err != nil {
		return n, err
	}
	val, closer, err := p.db.pdb.Get(p.nodeKey(owner, node))
	if errors.Is(err, pebble.ErrNotFound) {
		return n, fmt.Errorf("store: pubsub node %q of %q: %w", node, owner, ErrNotFound)
	} else if err != nil {
		return n, err
	}
	defer closer.Close()
	return decodeNode(val)
}

func decodeNode(val []byte) (PubsubNode, error) {
	var n PubsubNode
	if len(val) == 0 || val[0] != pubsubV1 {
		return n, fmt.Errorf("store: pubsub node: %w", ErrCorrupt)
	}
	if err := json.Unmarshal(val[1:], &n); err != nil {
		return n, fmt.Errorf("store: pubsub node: %w: %v", ErrCorrupt, err)
	}
	return n, nil
}

// Nodes calls fn with each node of owner in name order until it returns false.
func (p Pubsub) Nodes(owner string, fn func(PubsubNode) bool) error {
	if err := validUser(owner); err != nil {
		return err
	}
	lo, hi := userSpan(p.nodeTbl, owner)
	it, err := p.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		n, err := decodeNode(it.Value())
		if err != nil {
			_ = it.Close()
			return err
		}
		if !fn(n) {
			break
		}
	}
	return it.Close()
}

// Items returns a node's items, newest first.
func (p Pubsub) Items(owner, node string) ([]PubsubItem, error) {
	if err := validUser(owner); err != nil {
		return nil, err
	}
	lo, hi := subSpan(p.itemTbl, owner, node)
	it, err := p.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	var out []PubsubItem
	for ok := it.First(); ok; ok = it.Next() {
		item, err := decodeItem(string(it.Key()[len(lo):]), it.Value())
		if err != nil {
			_ = it.Close()
			return nil, err
		}
		out = append(out, item)
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b PubsubItem) int { return cmpSeq(b.Seq, a.Seq) })
	return out, nil
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func decodeItem(id string, val []byte) (PubsubItem, error) {
	if len(val) < 1+8+1 || val[0] != pubsubV1 {
		return PubsubItem{}, fmt.Errorf("store: pubsub item %q: %w", id, ErrCorrupt)
	}
	seq := binary.BigEndian.Uint64(val[1:9])
	n, k := binary.Uvarint(val[9:])
	if k <= 0 || uint64(len(val)-9-k) < n {
		return PubsubItem{}, fmt.Errorf("store: pubsub item %q: %w", id, ErrCorrupt)
	}
	rest := val[9+k:]
	return PubsubItem{ID: id, Seq: seq, Publisher: string(rest[:n]), XML: append([]byte(nil), rest[n:]...)}, nil
}

func encodeItem(it PubsubItem) []byte {
	v := make([]byte, 0, 1+8+2+len(it.Publisher)+len(it.XML))
	v = append(v, pubsubV1)
	v = binary.BigEndian.AppendUint64(v, it.Seq)
	v = binary.AppendUvarint(v, uint64(len(it.Publisher)))
	v = append(v, it.Publisher...)
	return append(v, it.XML...)
}

// PubsubTxn is a batch of pubsub changes of one owner, committed at once.
type PubsubTxn struct {
	p     Pubsub
	owner string
	b     *pebble.Batch
	err   error
}

// Begin starts a batch of changes to owner's nodes.
func (p Pubsub) Begin(owner string) *PubsubTxn {
	return &PubsubTxn{p: p, owner: owner, b: p.db.NewBatch(), err: validUser(owner)}
}

// PutNode stores a node's configuration.
func (t *PubsubTxn) PutNode(n PubsubNode) {
	if t.err != nil {
		return
	}
	if t.err = validName("node", n.Name); t.err != nil {
		return
	}
	js, err := json.Marshal(n)
	if err != nil {
		t.err = err
		return
	}
	t.err = t.b.Set(t.p.nodeKey(t.owner, n.Name), append([]byte{pubsubV1}, js...), nil)
}

// PutItem stores an item (replacing one of the same id).
func (t *PubsubTxn) PutItem(node string, it PubsubItem) {
	if t.err == nil {
		t.err = validName("item id", it.ID)
	}
	if t.err == nil {
		t.err = t.b.Set(subKey(t.p.itemTbl, t.owner, node, it.ID), encodeItem(it), nil)
	}
}

// DeleteItem removes an item.
func (t *PubsubTxn) DeleteItem(node, id string) {
	if t.err == nil {
		t.err = t.b.Delete(subKey(t.p.itemTbl, t.owner, node, id), nil)
	}
}

// Purge removes every item of a node.
func (t *PubsubTxn) Purge(node string) {
	if t.err == nil {
		lo, hi := subSpan(t.p.itemTbl, t.owner, node)
		t.err = t.b.DeleteRange(lo, hi, nil)
	}
}

// DeleteNode removes a node, its items and its subscriptions.
func (t *PubsubTxn) DeleteNode(node string) {
	t.Purge(node)
	if t.err == nil && t.p.subsTbl != 0 {
		lo, hi := subSpan(t.p.subsTbl, t.owner, node)
		t.err = t.b.DeleteRange(lo, hi, nil)
	}
	if t.err == nil {
		t.err = t.b.Delete(t.p.nodeKey(t.owner, node), nil)
	}
}

// PutSub records a subscription's state (service only).
func (t *PubsubTxn) PutSub(node, jid string, state string) {
	if t.err == nil && t.p.subsTbl == 0 {
		t.err = errors.New("store: pubsub: no subscriptions in PEP")
	}
	if t.err == nil {
		t.err = t.b.Set(subKey(t.p.subsTbl, t.owner, node, jid), append([]byte{pubsubV1}, state...), nil)
	}
}

// DeleteSub removes a subscription.
func (t *PubsubTxn) DeleteSub(node, jid string) {
	if t.err == nil && t.p.subsTbl != 0 {
		t.err = t.b.Delete(subKey(t.p.subsTbl, t.owner, node, jid), nil)
	}
}

// Discard drops the batch.
func (t *PubsubTxn) Discard() { _ = t.b.Close() }

// Commit writes the batch and waits until it is on disk.
func (t *PubsubTxn) Commit() error {
	if t.err != nil {
		_ = t.b.Close()
		return t.err
	}
	return t.p.db.Commit(t.b)
}

// Subs calls fn with each subscription (JID, state) of a node.
func (p Pubsub) Subs(owner, node string, fn func(jid, state string) bool) error {
	if p.subsTbl == 0 {
		return nil
	}
	if err := validUser(owner); err != nil {
		return err
	}
	lo, hi := subSpan(p.subsTbl, owner, node)
	it, err := p.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v := it.Value()
		if len(v) < 1 || v[0] != pubsubV1 {
			_ = it.Close()
			return fmt.Errorf("store: pubsub subscription: %w", ErrCorrupt)
		}
		if !fn(string(it.Key()[len(lo):]), string(v[1:])) {
			break
		}
	}
	return it.Close()
}
