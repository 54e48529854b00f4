package pubsub

import (
	"maps"
	"slices"
	"strconv"

	"ignis/stanza"
	"ignis/store"
	"ignis/xmlscan"
)

// Access models (XEP-0060 §4.5).
const (
	accessOpen      = "open"
	accessPresence  = "presence"
	accessRoster    = "roster"
	accessWhitelist = "whitelist"
	accessAuthorize = "authorize"
)

// Affiliations (XEP-0060 §4.1).
const (
	affOwner     = "owner"
	affPublisher = "publisher"
	affMember    = "member"
	affOutcast   = "outcast"
	affNone      = "none"
)

// defaultNode is a new node's configuration: for PEP Prosody's defaults
// (presence access, one persistent item, last item on presence), for the
// service open access and the server's item limit.
func (m *Module) defaultNode(sp space, name string) store.PubsubNode {
	n := store.PubsubNode{Name: name, PersistItems: true, NotifyRetract: true, NotifyDelete: true,
		PublishModel: "publishers"}
	if sp.pep {
		n.AccessModel, n.MaxItems, n.SendLast = accessPresence, 1, "on_sub_and_presence"
	} else {
		n.AccessModel, n.MaxItems, n.SendLast = accessOpen, m.cfg.MaxItems, "on_sub"
	}
	return n
}

// form is a submitted data form (XEP-0004): each field's values by var.
type form map[string][]string

// parseForm reads the <x xmlns='jabber:x:data'/> child of e; a missing form
// is an empty one. A form of another FORM_TYPE than want is invalid.
func parseForm(e xmlscan.Elem, want string) (form, error) {
	x := e.Child("x", NSData)
	f := form{}
	if x.IsZero() {
		return f, nil
	}
	if t, _ := x.Attr("type"); string(t) == "cancel" {
		return f, nil
	}
	it := x.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		if string(c.Local()) != "field" {
			continue
		}
		v, _ := c.Attr("var")
		vals := []string{}
		vi := c.Children()
		for val, ok := vi.Next(); ok; val, ok = vi.Next() {
			if string(val.Local()) == "value" {
				vals = append(vals, string(val.AppendText(nil)))
			}
		}
		f[string(v)] = vals
	}
	if t := f.one("FORM_TYPE"); t != "" && t != want {
		return nil, errInvalidOpts
	}
	delete(f, "FORM_TYPE")
	return f, nil
}

func (f form) one(v string) string {
	if vals := f[v]; len(vals) > 0 {
		return vals[0]
	}
	return ""
}

func parseBool(s string) (bool, bool) {
	switch s {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	return false, false
}

// maxItems reads a max_items value: "max" is 0 (the server's limit).
func (m *Module) maxItems(s string) (int, error) {
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, stanza.ErrText(stanza.NotAcceptable, "pubsub#max_items is a number or \"max\"")
	}
	if n > m.cfg.MaxItems {
		return 0, stanza.ErrText(stanza.NotAcceptable, "pubsub#max_items is above the server's limit of "+strconv.Itoa(m.cfg.MaxItems))
	}
	return n, nil
}

// limit is how many items a node keeps.
func (m *Module) limit(n *store.PubsubNode) int {
	if !n.PersistItems {
		return 1 // the last item stays for late subscribers (XEP-0060 §7.1.1)
	}
	if n.MaxItems == 0 || n.MaxItems > m.cfg.MaxItems {
		return m.cfg.MaxItems
	}
	return n.MaxItems
}

// apply sets the configuration fields of f on n. Unknown fields are
// ignored; a bad value is an error and n is then partly changed (callers
// work on a copy).
func (m *Module) apply(sp space, n *store.PubsubNode, f form) error {
	// in a fixed order: of several bad fields, the same one is reported each time
	for _, v := range slices.Sorted(maps.Keys(f)) {
		vals := f[v]
		val := ""
		if len(vals) > 0 {
			val = vals[0]
		}
		switch v {
		case "pubsub#access_model":
			switch val {
			case accessOpen, accessPresence, accessRoster, accessWhitelist:
			case accessAuthorize:
				if sp.pep {
					return unsupported("access-authorize")
				}
			default:
				return stanza.ErrText(stanza.NotAcceptable, "unknown pubsub#access_model")
			}
			n.AccessModel = val
		case "pubsub#publish_model":
			switch val {
			case "publishers", "subscribers", "open":
			default:
				return stanza.ErrText(stanza.NotAcceptable, "unknown pubsub#publish_model")
			}
			n.PublishModel = val
		case "pubsub#persist_items":
			b, ok := parseBool(val)
			if !ok {
				return stanza.ErrText(stanza.NotAcceptable, "pubsub#persist_items is a boolean")
			}
			n.PersistItems = b
		case "pubsub#max_items":
			k, err := m.maxItems(val)
			if err != nil {
				return err
			}
			n.MaxItems = k
		case "pubsub#notify_retract", "pubsub#notify_delete":
			b, ok := parseBool(val)
			if !ok {
				return stanza.ErrText(stanza.NotAcceptable, v+" is a boolean")
			}
			if v == "pubsub#notify_retract" {
				n.NotifyRetract = b
			} else {
				n.NotifyDelete = b
			}
		case "pubsub#send_last_published_item":
			switch val {
			case "never", "on_sub", "on_sub_and_presence":
			default:
				return stanza.ErrText(stanza.NotAcceptable, "unknown pubsub#send_last_published_item")
			}
			n.SendLast = val
		case "pubsub#title":
			n.Title = val
		case "pubsub#roster_groups_allowed":
			n.RosterGroups = slices.Clone(vals)
		}
	}
	return nil
}

// preconditions checks publish-options against an existing node (XEP-0060
// §7.1.5): every field the node knows must match its configuration.
func (m *Module) preconditions(sp space, n store.PubsubNode, f form) error {
	want := n
	want.RosterGroups = slices.Clone(n.RosterGroups)
	if err := m.apply(sp, &want, f); err != nil {
		return errPrecondition
	}
	if want.AccessModel != n.AccessModel || want.PersistItems != n.PersistItems ||
		m.limit(&want) != m.limit(&n) || want.PublishModel != n.PublishModel ||
		want.SendLast != n.SendLast || want.NotifyRetract != n.NotifyRetract ||
		want.NotifyDelete != n.NotifyDelete || !slices.Equal(want.RosterGroups, n.RosterGroups) {
		return errPrecondition
	}
	return nil
}

// writeConfig appends the node configuration form (XEP-0060 §8.2).
func (m *Module) writeConfig(b *stanza.Builder, sp space, n store.PubsubNode) {
	b.Start("x", "xmlns", NSData, "type", "form")
	field(b, "FORM_TYPE", "hidden", NSConfig)
	field(b, "pubsub#title", "text-single", n.Title)
	b.Start("field", "var", "pubsub#access_model", "type", "list-single")
	b.Element("value", n.AccessModel)
	models := []string{accessOpen, accessPresence, accessRoster, accessWhitelist}
	if !sp.pep {
		models = append(models, accessAuthorize)
	}
	for _, o := range models {
		b.Start("option").Element("value", o).End()
	}
	b.End()
	field(b, "pubsub#publish_model", "list-single", n.PublishModel)
	field(b, "pubsub#persist_items", "boolean", boolStr(n.PersistItems))
	mi := "max"
	if n.MaxItems > 0 {
		mi = strconv.Itoa(n.MaxItems)
	}
	field(b, "pubsub#max_items", "text-single", mi)
	field(b, "pubsub#send_last_published_item", "list-single", n.SendLast)
	field(b, "pubsub#notify_retract", "boolean", boolStr(n.NotifyRetract))
	field(b, "pubsub#notify_delete", "boolean", boolStr(n.NotifyDelete))
	b.Start("field", "var", "pubsub#roster_groups_allowed", "type", "list-multi")
	for _, g := range n.RosterGroups {
		b.Element("value", g)
	}
	b.End()
	field(b, "pubsub#deliver_payloads", "boolean", "1")
	b.End()
}

func field(b *stanza.Builder, v, typ, value string) {
	b.Start("field", "var", v, "type", typ)
	if value != "" {
		b.Element("value", value)
	}
	b.End()
}

func boolStr(v bool) string {
	if v {
		return "1"
	}
	return "0"
}
