package pubsub

import (
	"context"
	"errors"
	"slices"

	"ignis/jid"
	"ignis/stanza"
	"ignis/store"
	"ignis/xmlscan"
)

// Bookmarks (XEP-0402) kept in step with private XML storage (XEP-0049,
// storage:bookmarks) for older clients, as XEP-0402 §3 "compat" asks: a
// publish or retraction in the PEP node rewrites the private element, and
// a private storage set replaces the node's items (through the store's
// watcher, so mod/private is not imported).
const (
	NSBookmarks       = "urn:xmpp:bookmarks:1"
	NSLegacyBookmarks = "storage:bookmarks"
)

// bookmark is one conference bookmark, in either form.
type bookmark struct {
	jid, name, nick, password string
	autojoin                  bool
}

// fromItem reads a XEP-0402 item (its id is the room's JID).
func fromItem(it store.PubsubItem) (bookmark, bool) {
	e, err := xmlscan.ParseElem(it.XML, "")
	if err != nil || string(e.Local()) != "conference" || string(e.NS()) != NSBookmarks {
		return bookmark{}, false
	}
	b := bookmark{jid: it.ID}
	name, _ := e.Attr("name")
	aj, _ := e.Attr("autojoin")
	b.name = string(name)
	b.autojoin, _ = parseBool(string(aj))
	b.nick = string(e.Child("nick", NSBookmarks).AppendText(nil))
	b.password = string(e.Child("password", NSBookmarks).AppendText(nil))
	return b, true
}

// legacyBookmarks reads a <storage xmlns='storage:bookmarks'/> element.
func legacyBookmarks(xml []byte) []bookmark {
	e, err := xmlscan.ParseElem(xml, "")
	if err != nil {
		return nil
	}
	var out []bookmark
	it := e.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		if string(c.Local()) != "conference" {
			continue
		}
		js, _ := c.Attr("jid")
		room, err := jid.Parse(string(js))
		if err != nil {
			continue
		}
		name, _ := c.Attr("name")
		aj, _ := c.Attr("autojoin")
		b := bookmark{jid: room.String(), name: string(name)}
		b.autojoin, _ = parseBool(string(aj))
		b.nick = string(c.Child("nick", "").AppendText(nil))
		b.password = string(c.Child("password", "").AppendText(nil))
		out = append(out, b)
	}
	return out
}

func (b bookmark) item() []byte {
	var x stanza.Builder
	x.Start("conference", "xmlns", NSBookmarks, "name", b.name, "autojoin", boolWord(b.autojoin))
	if b.nick != "" {
		x.Element("nick", b.nick)
	}
	if b.password != "" {
		x.Element("password", b.password)
	}
	x.End()
	return x.Bytes()
}

func boolWord(v bool) string {
	if v {
		return "true"
	}
	return "false"
}

// syncLegacy rewrites the account's private storage:bookmarks from the
// XEP-0402 node (after a change to the node, on the account's queue).
func (m *Module) syncLegacy(sp space) {
	items, err := sp.st.Items(sp.owner, NSBookmarks)
	if err != nil {
		m.log.Error("reading bookmarks", "user", sp.owner, "err", err)
		return
	}
	var x stanza.Builder
	x.Start("storage", "xmlns", NSLegacyBookmarks)
	for i := len(items) - 1; i >= 0; i-- { // oldest first, as they were added
		b, ok := fromItem(items[i])
		if !ok {
			continue
		}
		x.Start("conference", "jid", b.jid, "name", b.name, "autojoin", boolWord(b.autojoin))
		if b.nick != "" {
			x.Element("nick", b.nick)
		}
		if b.password != "" {
			x.Element("password", b.password)
		}
		x.End()
	}
	x.End()
	err = m.db.Private().SetQuiet(sp.owner, store.PrivateItem{NS: NSLegacyBookmarks, Local: "storage", XML: x.Bytes()})
	if err != nil {
		m.log.Error("storing legacy bookmarks", "user", sp.owner, "err", err)
	}
}

// privateSet is the store's watcher: a client of XEP-0049 stored
// bookmarks, so the XEP-0402 node becomes the same list (and its
// subscribers hear of what changed).
func (m *Module) privateSet(user string, items []store.PrivateItem) {
	i := slices.IndexFunc(items, func(it store.PrivateItem) bool {
		return it.NS == NSLegacyBookmarks && it.Local == "storage"
	})
	if i < 0 {
		return
	}
	marks := legacyBookmarks(items[i].XML)
	env := m.h.Env()
	bare, err := m.h.UserJID(user)
	if env == nil || err != nil {
		return
	}
	sp := m.pepSpace(bare)
	err = m.h.Serial(sp.key(), func(context.Context) {
		n, err := sp.st.Node(sp.owner, NSBookmarks)
		if errors.Is(err, store.ErrNotFound) {
			n = m.defaultNode(sp, NSBookmarks)
			n.AccessModel, n.MaxItems, n.SendLast = accessWhitelist, 0, "never"
		} else if err != nil {
			m.log.Error("reading the bookmarks node", "user", user, "err", err)
			return
		}
		old, err := sp.st.Items(sp.owner, NSBookmarks)
		if err != nil {
			m.log.Error("reading bookmarks", "user", user, "err", err)
			return
		}
		tx := sp.st.Begin(sp.owner)
		var published []store.PubsubItem
		var retracted []string
		for _, b := range marks {
			n.Seq++
			it := store.PubsubItem{ID: b.jid, Seq: n.Seq, Publisher: bare.String(), XML: b.item()}
			tx.PutItem(NSBookmarks, it)
			published = append(published, it)
		}
		for _, o := range old {
			if !slices.ContainsFunc(marks, func(b bookmark) bool { return b.jid == o.ID }) {
				tx.DeleteItem(NSBookmarks, o.ID)
				retracted = append(retracted, o.ID)
			}
		}
		tx.PutNode(n)
		if err := tx.Commit(); err != nil {
			m.log.Error("storing bookmarks", "user", user, "err", err)
			return
		}
		for _, it := range published {
			m.notifyItem(env, sp, &n, it)
		}
		if len(retracted) > 0 && n.NotifyRetract {
			m.notifyRetract(env, sp, &n, retracted)
		}
	})
	if err != nil {
		m.log.Warn("bookmarks not kept in step", "user", user, "err", err)
	}
}
