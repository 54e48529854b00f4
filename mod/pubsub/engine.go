package pubsub

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
	"ignis/xmlscan"
)

// request is one pubsub iq as the engine sees it: the verb (the first child
// of <pubsub/>) and its companion (publish-options, configure or options).
type request struct {
	iq    *stanza.Stanza
	owner bool // the #owner namespace
	verb  xmlscan.Elem
	extra xmlscan.Elem
	node  string
	who   jid.JID // the requester's bare JID
}

// handle runs one request of service sp; it runs on sp's Serial queue.
func (m *Module) handle(env mod.Env, sp space, iq *stanza.Stanza) (*stanza.Stanza, error) {
	p := iq.Payload()
	r := request{iq: iq, owner: string(p.NS()) == NSOwner, who: iq.From.Bare()}
	it := p.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		switch l := string(c.Local()); {
		case !r.owner && (l == "publish-options" || l == "configure" || l == "options") && !r.verb.IsZero():
			r.extra = c
		case r.verb.IsZero():
			r.verb = c
		}
	}
	if r.verb.IsZero() {
		return nil, errBadRequest
	}
	if sp.pep && iq.Type == stanza.Set {
		defer func() {
			if r.node == NSBookmarks {
				m.syncLegacy(sp) // XEP-0402 compat: private storage follows
			}
		}()
	}
	node, _ := r.verb.Attr("node")
	r.node = string(node)
	verb := string(r.verb.Local())
	switch {
	case !r.owner && iq.Type == stanza.Set && verb == "publish":
		return m.publish(env, sp, &r)
	case !r.owner && iq.Type == stanza.Set && verb == "retract":
		return m.retract(env, sp, &r)
	case !r.owner && iq.Type == stanza.Set && verb == "create":
		return m.create(env, sp, &r)
	case !r.owner && iq.Type == stanza.Get && verb == "items":
		return m.items(env, sp, &r)
	case !r.owner && iq.Type == stanza.Set && verb == "subscribe":
		if sp.pep {
			return nil, unsupported("subscribe")
		}
		return m.subscribe(env, sp, &r)
	case !r.owner && iq.Type == stanza.Set && verb == "unsubscribe":
		if sp.pep {
			return nil, unsupported("subscribe")
		}
		return m.unsubscribe(sp, &r)
	case !r.owner && verb == "options":
		if sp.pep {
			return nil, unsupported("subscription-options")
		}
		return m.options(sp, &r)
	case !r.owner && iq.Type == stanza.Get && verb == "subscriptions":
		return m.mySubscriptions(sp, &r)
	case !r.owner && iq.Type == stanza.Get && verb == "affiliations":
		return m.myAffiliations(sp, &r)
	case r.owner && verb == "configure":
		return m.configure(env, sp, &r)
	case r.owner && iq.Type == stanza.Get && verb == "default":
		var b stanza.Builder
		b.Start("pubsub", "xmlns", NSOwner).Start("default")
		m.writeConfig(&b, sp, m.defaultNode(sp, ""))
		return iq.Result(b.Bytes()), nil
	case r.owner && iq.Type == stanza.Set && verb == "delete":
		return m.deleteNode(env, sp, &r)
	case r.owner && iq.Type == stanza.Set && verb == "purge":
		return m.purge(env, sp, &r)
	case r.owner && verb == "affiliations":
		if sp.pep {
			return nil, unsupported("modify-affiliations")
		}
		return m.affiliations(sp, &r)
	case r.owner && verb == "subscriptions":
		if sp.pep {
			return nil, unsupported("manage-subscriptions")
		}
		return m.subscriptions(env, sp, &r)
	}
	return nil, stanza.Err(stanza.FeatureNotImplemented)
}

// node loads the request's node: bad-request without a name, item-not-found
// when there is none.
func (m *Module) node(sp space, r *request) (store.PubsubNode, error) {
	if r.node == "" {
		return store.PubsubNode{}, errNodeRequired
	}
	n, err := sp.st.Node(sp.owner, r.node)
	if errors.Is(err, store.ErrNotFound) {
		return n, errNotFound
	}
	return n, err
}

// ownedNode is node for the owner's requests (XEP-0060 §8): forbidden to
// anyone else.
func (m *Module) ownedNode(sp space, r *request) (store.PubsubNode, error) {
	n, err := m.node(sp, r)
	if err == nil && m.affiliation(sp, &n, r.who) != affOwner {
		err = errForbidden
	}
	return n, err
}

// affiliation is who's affiliation with node n of sp: the account itself
// owns its PEP nodes; the service's admins own every node.
func (m *Module) affiliation(sp space, n *store.PubsubNode, who jid.JID) string {
	if sp.pep {
		if who.Equal(sp.jid) {
			return affOwner
		}
	} else if slices.ContainsFunc(m.cfg.Admins, who.Equal) {
		return affOwner
	}
	if a, ok := n.Affiliations[who.String()]; ok {
		return a
	}
	return affNone
}

// rosterOwner is whose roster the presence and roster access models look
// at: the account for PEP, the first local owner for a service node.
func (m *Module) rosterOwner(env mod.Env, sp space, n *store.PubsubNode) string {
	if sp.pep {
		return sp.owner
	}
	for j, a := range n.Affiliations {
		if a != affOwner {
			continue
		}
		if o, err := jid.Parse(j); err == nil && mod.IsLocalUser(env, o) {
			return m.h.User(o)
		}
	}
	return ""
}

// mayRead says whether who may retrieve n's items and be notified
// (XEP-0060 §6.1.3 access models), or the error that says why not.
func (m *Module) mayRead(env mod.Env, sp space, n *store.PubsubNode, who jid.JID) error {
	switch m.affiliation(sp, n, who) {
	case affOwner, affPublisher, affMember:
		return nil
	case affOutcast:
		return errForbidden
	}
	switch n.AccessModel {
	case accessOpen:
		return nil
	case accessPresence, accessRoster:
		owner := m.rosterOwner(env, sp, n)
		if owner == "" {
			return errForbidden
		}
		it, err := m.db.Roster().Get(owner, who.String())
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err != nil || it.Hidden || it.Sub&store.SubFrom == 0 {
			if n.AccessModel == accessRoster {
				return pubErr(stanza.NotAuthorized, "not-in-roster-group")
			}
			return pubErr(stanza.NotAuthorized, "presence-subscription-required")
		}
		if n.AccessModel == accessRoster && !slices.ContainsFunc(it.Groups, func(g string) bool { return slices.Contains(n.RosterGroups, g) }) {
			return pubErr(stanza.NotAuthorized, "not-in-roster-group")
		}
		return nil
	case accessAuthorize:
		if sp.pep {
			return errForbidden
		}
		state := ""
		_ = sp.st.Subs(sp.owner, n.Name, func(j, s string) bool {
			if j == who.String() {
				state = s
				return false
			}
			return true
		})
		if state == "subscribed" {
			return nil
		}
		return pubErr(stanza.NotAuthorized, "not-subscribed")
	}
	return pubErr(stanza.NotAllowed, "closed-node") // whitelist
}

// mayPublish says whether who may publish to n (publish_model).
func (m *Module) mayPublish(sp space, n *store.PubsubNode, who jid.JID) bool {
	switch m.affiliation(sp, n, who) {
	case affOwner, affPublisher:
		return true
	case affOutcast:
		return false
	}
	switch n.PublishModel {
	case "open":
		return !sp.pep
	case "subscribers":
		subscribed := false
		_ = sp.st.Subs(sp.owner, n.Name, func(j, s string) bool {
			subscribed = j == who.String() && s == "subscribed"
			return !subscribed
		})
		return subscribed
	}
	return false
}

// mayCreate: the account creates nodes in its own PEP; on the service
// Config.Create decides.
func (m *Module) mayCreate(env mod.Env, sp space, who jid.JID) bool {
	if sp.pep {
		return who.Equal(sp.jid)
	}
	if slices.ContainsFunc(m.cfg.Admins, who.Equal) {
		return true
	}
	switch m.cfg.Create {
	case CreateAnyone:
		return true
	case CreateLocal:
		return mod.IsLocalUser(env, who)
	}
	return false
}

// newNode checks that who may create one more node and returns its
// default configuration with f applied.
func (m *Module) newNode(env mod.Env, sp space, name string, who jid.JID, f form) (store.PubsubNode, error) {
	if !m.mayCreate(env, sp, who) {
		return store.PubsubNode{}, errForbidden
	}
	count := 0
	if err := sp.st.Nodes(sp.owner, func(n store.PubsubNode) bool {
		if sp.pep || n.Affiliations[who.String()] == affOwner {
			count++
		}
		return count < m.cfg.MaxNodes
	}); err != nil {
		return store.PubsubNode{}, err
	}
	if count >= m.cfg.MaxNodes {
		return store.PubsubNode{}, errMaxNodes
	}
	n := m.defaultNode(sp, name)
	if !sp.pep {
		n.Affiliations = map[string]string{who.String(): affOwner}
	}
	return n, m.apply(sp, &n, f)
}

// itemID makes an id for an item published without one.
func itemID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// payload checks an <item/>'s payload: exactly one element, standalone
// (declaring what it uses), no larger than the limit.
func (m *Module) payload(item xmlscan.Elem) ([]byte, error) {
	it := item.Children()
	first, ok := it.Next()
	if !ok {
		return nil, pubErr(stanza.BadRequest, "payload-required")
	}
	if _, more := it.Next(); more {
		return nil, errInvalidPayload
	}
	raw := first.Raw()
	if len(raw) > m.cfg.MaxItemBytes {
		return nil, errPayloadBig
	}
	if e, err := xmlscan.ParseElem(raw, ""); err != nil || string(e.NS()) != string(first.NS()) {
		return nil, errInvalidPayload
	}
	return slices.Clone(raw), nil
}

// publish stores an item (XEP-0060 §7.1), creating the node on first use
// with the publish-options as its configuration, and notifies.
func (m *Module) publish(env mod.Env, sp space, r *request) (*stanza.Stanza, error) {
	if r.node == "" {
		return nil, errNodeRequired
	}
	var item xmlscan.Elem
	count := 0
	it := r.verb.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		if string(c.Local()) == "item" {
			item = c
			count++
		}
	}
	if count == 0 {
		return nil, errItemRequired
	}
	if count > 1 {
		return nil, errInvalidPayload
	}
	xml, err := m.payload(item)
	if err != nil {
		return nil, err
	}
	id, _ := item.Attr("id")
	f, err := parseForm(r.extra, NSOpts)
	if err != nil {
		return nil, err
	}
	n, err := sp.st.Node(sp.owner, r.node)
	created := false
	switch {
	case errors.Is(err, store.ErrNotFound):
		if n, err = m.newNode(env, sp, r.node, r.who, f); err != nil {
			if se, ok := err.(*stanza.Error); ok && se.Cond == stanza.NotAcceptable {
				return nil, errPrecondition
			}
			return nil, err
		}
		created = true
	case err != nil:
		return nil, err
	default:
		if !m.mayPublish(sp, &n, r.who) {
			return nil, errForbidden
		}
		if len(f) > 0 {
			if err := m.preconditions(sp, n, f); err != nil {
				return nil, err
			}
		}
	}
	pi := store.PubsubItem{ID: string(id), Publisher: r.iq.From.Bare().String(), XML: xml}
	if pi.ID == "" {
		pi.ID = itemID()
	}
	old, err := sp.st.Items(sp.owner, n.Name)
	if err != nil {
		return nil, err
	}
	n.Seq++
	pi.Seq = n.Seq
	tx := sp.st.Begin(sp.owner)
	tx.PutNode(n)
	tx.PutItem(n.Name, pi)
	kept := 1
	for _, o := range old { // newest first: evict past the node's limit
		if o.ID == pi.ID {
			continue
		}
		if kept < m.limit(&n) {
			kept++
			continue
		}
		tx.DeleteItem(n.Name, o.ID)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if created {
		m.log.Debug("node created", "service", sp.jid.String(), "node", n.Name)
	}
	m.notifyItem(env, sp, &n, pi)
	var b stanza.Builder
	b.Start("pubsub", "xmlns", NS).Start("publish", "node", n.Name).Element("item", "", "id", pi.ID)
	return r.iq.Result(b.Bytes()), nil
}

// retract deletes items (XEP-0060 §7.2), notifying when asked to.
func (m *Module) retract(env mod.Env, sp space, r *request) (*stanza.Stanza, error) {
	n, err := m.node(sp, r)
	if err != nil {
		return nil, err
	}
	if !m.mayPublish(sp, &n, r.who) {
		return nil, errForbidden
	}
	var ids []string
	it := r.verb.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		if id, _ := c.Attr("id"); string(c.Local()) == "item" && len(id) > 0 {
			ids = append(ids, string(id))
		}
	}
	if len(ids) == 0 {
		return nil, errItemRequired
	}
	items, err := sp.st.Items(sp.owner, n.Name)
	if err != nil {
		return nil, err
	}
	tx := sp.st.Begin(sp.owner)
	for _, id := range ids {
		if !slices.ContainsFunc(items, func(i store.PubsubItem) bool { return i.ID == id }) {
			tx.Discard()
			return nil, errNotFound
		}
		tx.DeleteItem(n.Name, id)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	notify, _ := r.verb.Attr("notify")
	if b, _ := parseBool(string(notify)); b || n.NotifyRetract {
		m.notifyRetract(env, sp, &n, ids)
	}
	return r.iq.Result(nil), nil
}

// create makes a node with an optional configuration (XEP-0060 §8.1).
func (m *Module) create(env mod.Env, sp space, r *request) (*stanza.Stanza, error) {
	instant := r.node == ""
	if instant {
		if sp.pep {
			return nil, errNodeRequired
		}
		r.node = itemID()
	}
	if _, err := sp.st.Node(sp.owner, r.node); err == nil {
		return nil, errNodeExists
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	f, err := parseForm(r.extra, NSConfig)
	if err != nil {
		return nil, err
	}
	n, err := m.newNode(env, sp, r.node, r.who, f)
	if err != nil {
		return nil, err
	}
	tx := sp.st.Begin(sp.owner)
	tx.PutNode(n)
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if !instant {
		return r.iq.Result(nil), nil
	}
	var b stanza.Builder
	b.Start("pubsub", "xmlns", NS).Element("create", "", "node", n.Name)
	return r.iq.Result(b.Bytes()), nil
}

// items answers a retrieval (XEP-0060 §6.5): all items newest first, the
// ones asked for by id, or the max_items newest.
func (m *Module) items(env mod.Env, sp space, r *request) (*stanza.Stanza, error) {
	n, err := m.node(sp, r)
	if err != nil {
		return nil, err
	}
	if err := m.mayRead(env, sp, &n, r.who); err != nil {
		return nil, err
	}
	items, err := sp.st.Items(sp.owner, n.Name)
	if err != nil {
		return nil, err
	}
	var want []string
	it := r.verb.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		if id, _ := c.Attr("id"); string(c.Local()) == "item" && len(id) > 0 {
			want = append(want, string(id))
		}
	}
	if mi, ok := r.verb.Attr("max_items"); ok {
		k, err := strconv.Atoi(string(mi))
		if err != nil || k < 0 {
			return nil, errBadRequest
		}
		items = items[:min(k, len(items))]
	}
	var b stanza.Builder
	b.Start("pubsub", "xmlns", NS).Start("items", "node", n.Name)
	for _, i := range items {
		if len(want) > 0 && !slices.Contains(want, i.ID) {
			continue
		}
		writeItem(&b, sp, i)
	}
	return r.iq.Result(b.Bytes()), nil
}

func writeItem(b *stanza.Builder, sp space, i store.PubsubItem) {
	pub := ""
	if !sp.pep {
		pub = i.Publisher
	}
	b.Start("item", "id", i.ID, "publisher", pub).Raw(i.XML).End()
}

// configure gets or sets a node's configuration (XEP-0060 §8.2).
func (m *Module) configure(env mod.Env, sp space, r *request) (*stanza.Stanza, error) {
	n, err := m.ownedNode(sp, r)
	if err != nil {
		return nil, err
	}
	if r.iq.Type == stanza.Get {
		var b stanza.Builder
		b.Start("pubsub", "xmlns", NSOwner).Start("configure", "node", n.Name)
		m.writeConfig(&b, sp, n)
		return r.iq.Result(b.Bytes()), nil
	}
	f, err := parseForm(r.verb, NSConfig)
	if err != nil {
		return nil, err
	}
	if err := m.apply(sp, &n, f); err != nil {
		return nil, err
	}
	items, err := sp.st.Items(sp.owner, n.Name)
	if err != nil {
		return nil, err
	}
	tx := sp.st.Begin(sp.owner)
	tx.PutNode(n)
	if l := m.limit(&n); len(items) > l {
		for _, i := range items[l:] {
			tx.DeleteItem(n.Name, i.ID)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return r.iq.Result(nil), nil
}

// deleteNode removes a node and its items (XEP-0060 §8.4).
func (m *Module) deleteNode(env mod.Env, sp space, r *request) (*stanza.Stanza, error) {
	n, err := m.ownedNode(sp, r)
	if err != nil {
		return nil, err
	}
	subs := m.recipients(env, sp, &n)
	tx := sp.st.Begin(sp.owner)
	tx.DeleteNode(n.Name)
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if n.NotifyDelete {
		m.notifyEvent(env, sp, &n, subs, func(b *stanza.Builder) { b.Element("delete", "", "node", n.Name) })
	}
	return r.iq.Result(nil), nil
}

// purge removes every item of a node (XEP-0060 §8.5).
func (m *Module) purge(env mod.Env, sp space, r *request) (*stanza.Stanza, error) {
	n, err := m.ownedNode(sp, r)
	if err != nil {
		return nil, err
	}
	tx := sp.st.Begin(sp.owner)
	tx.Purge(n.Name)
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if n.NotifyRetract {
		m.notifyEvent(env, sp, &n, m.recipients(env, sp, &n), func(b *stanza.Builder) { b.Element("purge", "", "node", n.Name) })
	}
	return r.iq.Result(nil), nil
}
