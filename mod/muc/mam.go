package muc

import (
	"context"
	"errors"
	"strconv"
	"time"

	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
	"ignis/xmlscan"
)

// Room archive queries (XEP-0313 on the room JID, as Prosody's mod_muc_mam):
// a form with start, end and with (an occupant JID), RSM paging.

const (
	mamDefaultMax = 50
	mamMaxMax     = 250
)

var errNotInPage = stanza.ErrText(stanza.ItemNotFound, "no such archived message")

type mamRequest struct {
	queryID string
	q       store.ArchiveQuery
}

func parseMAM(iq *stanza.Stanza) (mamRequest, error) {
	var r mamRequest
	p := iq.Payload()
	if v, ok := p.Attr("queryid"); ok {
		r.queryID = string(v)
	}
	r.q.Limit = mamDefaultMax
	r.q.CountLimit = 10000
	if x := p.Child("x", nsData); !x.IsZero() {
		it := x.Children()
		for f, ok := it.Next(); ok; f, ok = it.Next() {
			name, _ := f.Attr("var")
			val := ""
			if v := f.Child("value", nsData); !v.IsZero() {
				val = string(v.AppendText(nil))
			}
			if val == "" {
				continue
			}
			switch string(name) {
			case "FORM_TYPE":
				if val != nsMAM {
					return r, stanza.ErrText(stanza.BadRequest, "FORM_TYPE must be "+nsMAM)
				}
			case "with":
				r.q.With = val
			case "start", "end":
				t, err := time.Parse(time.RFC3339Nano, val)
				if err != nil {
					return r, stanza.ErrText(stanza.BadRequest, "start and end must be XEP-0082 date-times")
				}
				if string(name) == "start" {
					r.q.MinID = store.ArchiveIDAt(t)
				} else {
					r.q.MaxID = max(store.ArchiveIDAt(t.Add(time.Microsecond)), 1)
				}
			default:
				return r, stanza.ErrText(stanza.BadRequest, "unsupported query field")
			}
		}
	}
	if set := p.Child("set", nsRSM); !set.IsZero() {
		it := set.Children()
		for c, ok := it.Next(); ok; c, ok = it.Next() {
			text := string(c.AppendText(nil))
			switch string(c.Local()) {
			case "max":
				n, err := strconv.Atoi(text)
				if err != nil || n < 0 {
					return r, stanza.ErrText(stanza.BadRequest, "max must be a non-negative integer")
				}
				r.q.Limit = min(n, mamMaxMax)
			case "after":
				id, ok := store.ParseArchiveID(text)
				if !ok || id == 0 {
					return r, errNotInPage
				}
				r.q.After = id
			case "before":
				r.q.FromEnd = true
				if text != "" {
					id, ok := store.ParseArchiveID(text)
					if !ok || id == 0 {
						return r, errNotInPage
					}
					r.q.Before = id
				}
			}
		}
	}
	return r, nil
}

// mam answers a query of the room's archive from a goroutine of the module:
// the results, then the iq with <fin/>.
func (m *Module) mam(ctx *mod.Ctx, r *room, iq *stanza.Stanza) (*stanza.Stanza, error) {
	r.mu.Lock()
	a, in, membersOnly := r.aff(iq.From.Bare()), r.occupantAt(iq.From.String()) != nil, r.cfg.MembersOnly
	r.mu.Unlock()
	switch {
	case a == affOutcast:
		return nil, stanza.ErrText(stanza.Forbidden, "you are banned from this room")
	case membersOnly && a < affMember && !in:
		return nil, stanza.ErrText(stanza.RegistrationRequired, "the archive is for members only")
	}
	req, err := parseMAM(iq)
	if err != nil {
		return nil, err
	}
	env, room := ctx.Env, r.jid
	if err := m.h.Serial("mam "+room.String(), func(context.Context) {
		name := m.key(room)
		var page store.ArchivePage
		err := m.archive.Settle(name)
		for _, c := range []uint64{req.q.After, req.q.Before} {
			if err == nil && c != 0 {
				_, err = m.archive.Get(name, c)
			}
		}
		if err == nil {
			page, err = m.archive.Query(name, req.q)
		}
		if err != nil {
			se := stanza.Err(stanza.InternalServerError)
			if errors.Is(err, store.ErrNotFound) {
				se = errNotInPage
			} else {
				m.h.Log().Error("room archive query", "room", room.String(), "err", err)
			}
			m.bounce(ctx0(env), iq, se)
			return
		}
		for i := range page.Entries {
			e := &page.Entries[i]
			var b stanza.Builder
			b.Start("message", "from", room.String(), "to", iq.From.String())
			b.Start("result", "xmlns", nsMAM, "queryid", req.queryID, "id", store.FormatArchiveID(e.ID))
			b.Start("forwarded", "xmlns", nsForward)
			b.Element("delay", "", "xmlns", stanza.NSDelay, "stamp", e.Time().UTC().Format("2006-01-02T15:04:05.000000Z"))
			b.Raw(withClientNS(e.Raw))
			st, err := stanza.Parse(b.Bytes())
			if err != nil {
				m.h.Log().Error("unreadable archived room message", "room", room.String(), "err", err)
				continue
			}
			env.Send(st)
		}
		var b stanza.Builder
		complete := "false"
		if page.Complete {
			complete = "true"
		}
		b.Start("fin", "xmlns", nsMAM, "complete", complete).Start("set", "xmlns", nsRSM)
		if n := len(page.Entries); n > 0 {
			b.Start("first")
			if page.Index >= 0 {
				b.Attr("index", strconv.Itoa(page.Index))
			}
			b.Text(store.FormatArchiveID(page.Entries[0].ID)).End()
			b.Element("last", store.FormatArchiveID(page.Entries[n-1].ID))
		}
		if page.Count >= 0 {
			b.Element("count", strconv.Itoa(page.Count))
		}
		env.Send(iq.Result(b.Bytes()))
	}); err != nil {
		return nil, stanza.ErrText(stanza.ResourceConstraint, "too many queries of this room at once")
	}
	return nil, nil
}

func ctx0(env mod.Env) *mod.Ctx { return &mod.Ctx{Env: env} }

// withClientNS declares jabber:client on a stored message, which inherited
// it: inside <forwarded/> the default namespace differs (XEP-0297 §3).
func withClientNS(raw []byte) []byte {
	e, err := xmlscan.ParseElem(raw, stanza.NSClient)
	if err != nil {
		return nil
	}
	if _, ok := e.Attr("xmlns"); ok || len(e.Prefix()) > 0 {
		return raw
	}
	n := 1 + len(e.Local())
	out := make([]byte, 0, len(raw)+len(stanza.NSClient)+10)
	out = append(append(out, raw[:n]...), " xmlns='"+stanza.NSClient+"'"...)
	return append(out, raw[n:]...)
}
