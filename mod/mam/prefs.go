package mam

import (
	"context"
	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
	"ignis/xmlscan"
)

// Archiving preferences (XEP-0313 §6).

var defaultNames = [...]string{store.ArchiveAlways: "always", store.ArchiveNever: "never", store.ArchiveRoster: "roster"}

// prefsXML is <prefs/> for p.
func prefsXML(p store.ArchivePrefs) []byte {
	var b stanza.Builder
	b.Start("prefs", "xmlns", NS, "default", defaultNames[p.Default])
	for _, l := range []struct {
		name string
		jids []string
	}{{"always", p.Always}, {"never", p.Never}} {
		b.Start(l.name)
		for _, j := range l.jids {
			b.Element("jid", j)
		}
		b.End()
	}
	return b.Bytes()
}

func (m *Module) getPrefs(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	self, err := owner(ctx)
	if err != nil {
		return nil, err
	}
	p, err := m.ar.Prefs(m.h.User(self)) // kept in memory after the first read
	if err != nil {
		return nil, err
	}
	return iq.Result(prefsXML(p)), nil
}

// setPrefs stores the preferences (a synced write, on a goroutine) and
// answers with them.
func (m *Module) setPrefs(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	self, err := owner(ctx)
	if err != nil {
		return nil, err
	}
	p, err := parsePrefs(iq.Payload())
	if err != nil {
		return nil, err
	}
	env := ctx.Env
	if err := m.h.Go(func(context.Context) {
		err := m.ar.SetPrefs(m.h.User(self), p)
		m.reply(env, iq, prefsXML(p), err)
	}); err != nil {
		return nil, stanza.Err(stanza.ServiceUnavailable) // shutting down
	}
	return nil, nil
}

func parsePrefs(e xmlscan.Elem) (store.ArchivePrefs, error) {
	var p store.ArchivePrefs
	switch d, _ := e.Attr("default"); string(d) {
	case "always":
		p.Default = store.ArchiveAlways
	case "never":
		p.Default = store.ArchiveNever
	case "roster":
		p.Default = store.ArchiveRoster
	default:
		return p, errBadDefault
	}
	seen := map[string]bool{}
	it := e.Children()
	for l, ok := it.Next(); ok; l, ok = it.Next() {
		var dst *[]string
		switch string(l.Local()) {
		case "always":
			dst = &p.Always
		case "never":
			dst = &p.Never
		default:
			continue
		}
		jt := l.Children()
		for j, ok := jt.Next(); ok; j, ok = jt.Next() {
			if string(j.Local()) != "jid" {
				continue
			}
			v, err := jid.Parse(string(j.AppendText(nil)))
			if err != nil {
				return p, errBadPrefs
			}
			s := v.Bare().String()
			if seen[s] {
				continue // on both lists: the first wins
			}
			seen[s] = true
			*dst = append(*dst, s)
		}
	}
	if len(p.Always)+len(p.Never) > 1000 {
		return p, stanza.ErrText(stanza.NotAcceptable, "at most 1000 JIDs in the preferences")
	}
	return p, nil
}
