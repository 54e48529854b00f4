package mam

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
	"ignis/xmlscan"
)

var (
	errSelfClosing = errors.New("mam: self-closing message")
	errFormType    = stanza.ErrText(stanza.BadRequest, "FORM_TYPE must be urn:xmpp:mam:2")
	errField       = stanza.ErrText(stanza.BadRequest, "unsupported query field")
	errDate        = stanza.ErrText(stanza.BadRequest, "start and end must be XEP-0082 date-times")
	errWith        = stanza.ErrText(stanza.BadRequest, "with must be a JID")
	errMax         = stanza.ErrText(stanza.BadRequest, "max must be a non-negative integer")
	errNode        = stanza.ErrText(stanza.FeatureNotImplemented, "an account's archive has no nodes")
)

// request is a parsed query (XEP-0313 §4).
type request struct {
	queryID string
	with    jid.JID // zero: every contact
	q       store.ArchiveQuery
	ids     []uint64 // the #extended 'ids' field: just these
	flip    bool     // #extended <flip-page/>: the page in reverse order
	// RSM cursors, which must name archived messages (XEP-0313 §4.3.1)
	after, before       uint64
	hasAfter, hasBefore bool
}

// parseRequest reads the form (XEP-0004) and the RSM set (XEP-0059).
func parseRequest(iq *stanza.Stanza) (request, error) {
	var r request
	p := iq.Payload()
	if v, _ := p.Attr("queryid"); len(v) > 0 {
		r.queryID = string(v)
	}
	if _, ok := p.Attr("node"); ok {
		return r, errNode
	}
	r.q.Limit = defaultMax
	it := p.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		switch ns, local := string(c.NS()), string(c.Local()); {
		case ns == nsData && local == "x":
			if err := r.parseForm(c); err != nil {
				return r, err
			}
		case ns == nsRSM && local == "set":
			if err := r.parseSet(c); err != nil {
				return r, err
			}
		case ns == NS && local == "flip-page":
			r.flip = true
		}
	}
	return r, nil
}

// values returns a field's <value/> texts.
func values(f xmlscan.Elem) []string {
	var out []string
	it := f.Children()
	for v, ok := it.Next(); ok; v, ok = it.Next() {
		if string(v.Local()) == "value" {
			out = append(out, string(v.AppendText(nil)))
		}
	}
	return out
}

func (r *request) parseForm(x xmlscan.Elem) error {
	if t, ok := x.Attr("type"); ok && string(t) != "submit" {
		return stanza.ErrText(stanza.BadRequest, "the form must be of type submit")
	}
	it := x.Children()
	for f, ok := it.Next(); ok; f, ok = it.Next() {
		if string(f.Local()) != "field" {
			continue
		}
		name, _ := f.Attr("var")
		vals := values(f)
		one := ""
		if len(vals) > 0 {
			one = vals[0]
		}
		switch string(name) {
		case "FORM_TYPE":
			if one != NS {
				return errFormType
			}
		case "with":
			if one == "" {
				continue
			}
			j, err := jid.Parse(one)
			if err != nil {
				return errWith
			}
			r.with = j
		case "start", "end":
			if one == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, one)
			if err != nil {
				return errDate
			}
			if string(name) == "start" {
				r.q.MinID = max(r.q.MinID, store.ArchiveIDAt(t))
			} else if end := store.ArchiveIDAt(t.Add(time.Microsecond)); r.q.MaxID == 0 || end < r.q.MaxID {
				r.q.MaxID = max(end, 1) // end is inclusive; 1: before any id
			}
		case "after-id":
			if id, ok := store.ParseArchiveID(one); ok {
				r.q.MinID = max(r.q.MinID, id+1)
			} else if one != "" {
				return errNotInPage
			}
		case "before-id":
			if id, ok := store.ParseArchiveID(one); ok {
				if r.q.MaxID == 0 || id < r.q.MaxID {
					r.q.MaxID = max(id, 1)
				}
			} else if one != "" {
				return errNotInPage
			}
		case "ids":
			for _, v := range vals {
				id, ok := store.ParseArchiveID(v)
				if !ok {
					return errNotInPage
				}
				r.ids = append(r.ids, id)
			}
		default:
			return errField
		}
	}
	return nil
}

func (r *request) parseSet(set xmlscan.Elem) error {
	it := set.Children()
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		text := string(c.AppendText(nil))
		switch string(c.Local()) {
		case "max":
			n, err := strconv.Atoi(text)
			if err != nil || n < 0 {
				return errMax
			}
			r.q.Limit = min(n, maxMax)
		case "after":
			id, ok := store.ParseArchiveID(text)
			if !ok {
				return errNotInPage
			}
			r.after, r.hasAfter = id, true
		case "before":
			r.q.FromEnd = true // empty: the last page
			if text != "" {
				id, ok := store.ParseArchiveID(text)
				if !ok {
					return errNotInPage
				}
				r.before, r.hasBefore = id, true
			}
		case "index":
			return stanza.ErrText(stanza.FeatureNotImplemented, "paging by index is not supported; use after or before")
		}
	}
	return nil
}

// form answers a form request (XEP-0313 §4.1.5): the fields a query takes.
func (m *Module) form(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if _, err := owner(ctx); err != nil {
		return nil, err
	}
	var b stanza.Builder
	b.Start("query", "xmlns", NS).Start("x", "xmlns", nsData, "type", "form")
	b.Start("field", "var", "FORM_TYPE", "type", "hidden").Element("value", NS).End()
	b.Element("field", "", "var", "with", "type", "jid-single")
	b.Element("field", "", "var", "start", "type", "text-single")
	b.Element("field", "", "var", "end", "type", "text-single")
	b.Element("field", "", "var", "after-id", "type", "text-single")
	b.Element("field", "", "var", "before-id", "type", "text-single")
	b.Element("field", "", "var", "ids", "type", "text-multi")
	return iq.Result(b.Bytes()), nil
}

// query starts a query (XEP-0313 §4) on a goroutine of its own: the
// messages are sent to the querying session, then the iq result with
// <fin/> (§4.3.2), all from that goroutine, so they arrive in that order.
func (m *Module) query(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	self, err := owner(ctx)
	if err != nil {
		return nil, err
	}
	r, err := parseRequest(iq)
	if err != nil {
		return nil, err
	}
	env, res := ctx.Env, ctx.From
	if err := m.h.Go(func(context.Context) {
		m.queries <- struct{}{}
		defer func() { <-m.queries }()
		fin, err := m.run(env, res, self, iq, &r)
		m.reply(env, iq, fin, err)
	}); err != nil {
		return nil, stanza.Err(stanza.ServiceUnavailable) // shutting down
	}
	return nil, nil
}

// run reads the page and sends its messages; it returns the <fin/>.
func (m *Module) run(env mod.Env, res mod.Resource, self jid.JID, iq *stanza.Stanza, r *request) ([]byte, error) {
	user := m.h.User(self)
	// messages archived before the query was sent are in its results
	if err := m.ar.Settle(user); err != nil {
		return nil, err
	}
	var page store.ArchivePage
	var err error
	if r.ids != nil {
		page, err = m.byIDs(user, r)
	} else {
		page, err = m.page(user, r)
	}
	if err != nil {
		return nil, err
	}
	entries := page.Entries
	if r.flip {
		entries = slices.Clone(entries)
		slices.Reverse(entries)
	}
	for i := range entries {
		msg, err := result(&entries[i], self, res.JID(), r.queryID)
		if err != nil {
			m.log.Error("unreadable archived message", "user", user, "id", store.FormatArchiveID(entries[i].ID), "err", err)
			continue
		}
		if !offer(env, res, msg) {
			return nil, nil // the session is gone: nobody to answer
		}
	}
	return fin(&page, r.flip), nil
}

// page runs an ordinary query.
func (m *Module) page(user string, r *request) (store.ArchivePage, error) {
	for _, c := range []struct {
		id  uint64
		has bool
	}{{r.after, r.hasAfter}, {r.before, r.hasBefore}} {
		if !c.has {
			continue
		}
		if c.id == 0 { // never an id: the store reads 0 as "no cursor"
			return store.ArchivePage{}, errNotInPage
		}
		if _, err := m.ar.Get(user, c.id); err != nil {
			return store.ArchivePage{}, err // item-not-found for ErrNotFound
		}
	}
	q := r.q
	q.After, q.Before, q.CountLimit = r.after, r.before, countLimit
	if !r.with.IsZero() {
		q.With = r.with.Bare().String()
		if !r.with.IsBare() {
			// a full JID matches only messages from or to that resource
			// (XEP-0313 §4.1.1); the index holds bare JIDs, so the rest are
			// filtered out as they are read
			full := r.with.String()
			q.Filter = func(e *store.ArchiveEntry) bool { return matchesFull(e, full) }
		}
	}
	return m.ar.Query(user, q)
}

// matchesFull reports whether the contact's side of e is the full JID.
func matchesFull(e *store.ArchiveEntry, full string) bool {
	st, err := stanza.Parse(slices.Clone(e.Raw))
	if err != nil {
		return false
	}
	if e.Dir == store.ArchiveInbound {
		return st.From.String() == full
	}
	return st.To.String() == full
}

// byIDs answers the #extended 'ids' field: those messages, in archive
// order; any that is not archived is item-not-found.
func (m *Module) byIDs(user string, r *request) (store.ArchivePage, error) {
	ids := slices.Clone(r.ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	page := store.ArchivePage{Complete: true, Count: len(ids), Index: 0}
	for _, id := range ids {
		e, err := m.ar.Get(user, id)
		if err != nil {
			return page, err
		}
		page.Entries = append(page.Entries, e)
	}
	return page, nil
}

// result wraps an archived message for the querying session (§4.2).
func result(e *store.ArchiveEntry, self, to jid.JID, queryID string) (*stanza.Stanza, error) {
	orig := e.Raw
	if _, err := xmlscan.ParseElem(orig, stanza.NSClient); err != nil {
		return nil, err
	}
	var b stanza.Builder
	b.Start("message", "from", self.String(), "to", to.String())
	b.Start("result", "xmlns", NS, "queryid", queryID, "id", store.FormatArchiveID(e.ID))
	b.Start("forwarded", "xmlns", nsForward)
	b.Element("delay", "", "xmlns", stanza.NSDelay, "stamp", stamp(e.Time()))
	b.Raw(withClientNS(orig))
	return stanza.Parse(b.Bytes())
}

// withClientNS declares jabber:client on a stored stanza, which inherited
// it from its stream: inside <forwarded/> the default namespace differs
// (XEP-0297 §3).
func withClientNS(raw []byte) []byte {
	e, _ := xmlscan.ParseElem(raw, stanza.NSClient)
	if _, ok := e.Attr("xmlns"); ok {
		return raw
	}
	n := 1 + len(e.Local())
	if p := e.Prefix(); len(p) > 0 {
		return raw // a prefixed stanza binds its own namespace
	}
	out := make([]byte, 0, len(raw)+len(stanza.NSClient)+10)
	out = append(out, raw[:n]...)
	out = append(out, " xmlns='"...)
	out = append(out, stanza.NSClient...)
	out = append(out, '\'')
	return append(out, raw[n:]...)
}

// fin is the iq result's payload (§4.3.2): complete, and the RSM set.
func fin(p *store.ArchivePage, flipped bool) []byte {
	var b stanza.Builder
	complete := "false"
	if p.Complete {
		complete = "true"
	}
	b.Start("fin", "xmlns", NS, "complete", complete)
	b.Start("set", "xmlns", nsRSM)
	if n := len(p.Entries); n > 0 {
		first, last := p.Entries[0].ID, p.Entries[n-1].ID
		if flipped {
			first, last = last, first
		}
		b.Start("first")
		if p.Index >= 0 && !flipped {
			b.Attr("index", itoa(p.Index))
		}
		b.Text(store.FormatArchiveID(first)).End()
		b.Element("last", store.FormatArchiveID(last))
	}
	if p.Count >= 0 {
		b.Element("count", itoa(p.Count))
	}
	return b.Bytes()
}

// offer hands st to res, waiting while res has too much output pending, so
// a long page is paced by the client's reading instead of tripping its
// slow-reader limit. It gives up when the session ends or after a minute
// without progress.
func offer(env mod.Env, res mod.Resource, st *stanza.Stanza) bool {
	wait := 5 * time.Millisecond
	deadline := time.Now().Add(time.Minute)
	for !res.Offer(st) {
		if env.Lookup(res.JID()) != res || time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait) // on the query's goroutine, never a loop
		wait = min(2*wait, 200*time.Millisecond)
	}
	return true
}
