package mam

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"ignis/stanza"
	"ignis/store"
)

func TestParseRequest(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	id := store.ArchiveIDAt(t0)
	form := func(fields string) string {
		return "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field>" + fields + "</x>"
	}
	for _, tc := range []struct {
		name, payload string
		cond          stanza.Condition // 0: no error
		check         func(r request) bool
	}{
		{name: "empty", check: func(r request) bool { return r.q.Limit == defaultMax && r.with.IsZero() && !r.q.FromEnd }},
		{name: "queryid", payload: "", check: func(r request) bool { return r.queryID == "q" }},
		{name: "with", payload: form("<field var='with'><value>bob@localhost</value></field>"), check: func(r request) bool { return r.with.String() == "bob@localhost" }},
		{name: "start-end", payload: form("<field var='start'><value>2026-01-02T03:04:05Z</value></field><field var='end'><value>2026-01-02T03:04:05Z</value></field>"),
			check: func(r request) bool {
				return r.q.MinID == id && r.q.MaxID == store.ArchiveIDAt(t0.Add(time.Microsecond))
			}},
		{name: "max-capped", payload: "<set xmlns='http://jabber.org/protocol/rsm'><max>100000</max></set>", check: func(r request) bool { return r.q.Limit == maxMax }},
		{name: "last-page", payload: "<set xmlns='http://jabber.org/protocol/rsm'><max>5</max><before/></set>", check: func(r request) bool { return r.q.FromEnd && !r.hasBefore && r.q.Limit == 5 }},
		{name: "after", payload: "<set xmlns='http://jabber.org/protocol/rsm'><after>" + store.FormatArchiveID(id) + "</after></set>", check: func(r request) bool { return r.hasAfter && r.after == id }},
		{name: "ids", payload: form("<field var='ids'><value>" + store.FormatArchiveID(id) + "</value><value>" + store.FormatArchiveID(id+1) + "</value></field>"), check: func(r request) bool { return len(r.ids) == 2 }},
		{name: "flip", payload: "<flip-page/>", check: func(r request) bool { return r.flip }},
		{name: "bad-form-type", payload: "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x>", cond: stanza.BadRequest},
		{name: "bad-date", payload: form("<field var='start'><value>yesterday</value></field>"), cond: stanza.BadRequest},
		{name: "bad-with", payload: form("<field var='with'><value>@@</value></field>"), cond: stanza.BadRequest},
		{name: "unknown-field", payload: form("<field var='fulltext'><value>x</value></field>"), cond: stanza.BadRequest},
		{name: "bad-max", payload: "<set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set>", cond: stanza.BadRequest},
		{name: "bad-after", payload: "<set xmlns='http://jabber.org/protocol/rsm'><after>nope</after></set>", cond: stanza.ItemNotFound},
		{name: "index", payload: "<set xmlns='http://jabber.org/protocol/rsm'><index>3</index></set>", cond: stanza.FeatureNotImplemented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iq := stanza.MustParse([]byte("<iq type='set' id='1'><query xmlns='urn:xmpp:mam:2' queryid='q'>" + tc.payload + "</query></iq>"))
			r, err := parseRequest(iq)
			var se *stanza.Error
			switch {
			case tc.cond != 0:
				if !errors.As(err, &se) || se.Cond != tc.cond {
					t.Fatalf("error %v, want %s", err, tc.cond)
				}
			case err != nil:
				t.Fatal(err)
			case !tc.check(r):
				t.Fatalf("parsed %+v", r)
			}
		})
	}
}

func TestParsePrefs(t *testing.T) {
	iq := stanza.MustParse([]byte("<iq type='set' id='1'><prefs xmlns='urn:xmpp:mam:2' default='roster'>" +
		"<always><jid>a@x</jid><jid>b@x/res</jid></always><never><jid>a@x</jid><jid>c@x</jid></never></prefs></iq>"))
	p, err := parsePrefs(iq.Payload())
	if err != nil || p.Default != store.ArchiveRoster || strings.Join(p.Always, ",") != "a@x,b@x" || strings.Join(p.Never, ",") != "c@x" {
		t.Fatalf("prefs %+v, %v", p, err)
	}
	if got := string(prefsXML(p)); got != "<prefs xmlns='urn:xmpp:mam:2' default='roster'><always><jid>a@x</jid><jid>b@x</jid></always><never><jid>c@x</jid></never></prefs>" {
		t.Fatalf("prefsXML = %s", got)
	}
	iq = stanza.MustParse([]byte("<iq type='set' id='1'><prefs xmlns='urn:xmpp:mam:2' default='sometimes'/></iq>"))
	if _, err := parsePrefs(iq.Payload()); !errors.Is(err, errBadDefault) {
		t.Fatalf("bad default: %v", err)
	}
}

func TestRewrite(t *testing.T) {
	m := &Module{log: slog.Default()}
	st := stanza.MustParse([]byte("<message to='alice@localhost' type='chat'><body>hi</body>" +
		"<stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='alice@localhost'/><stanza-id xmlns='urn:xmpp:sid:0' id='x' by='room@muc'/></message>"))
	if c := inspect(st, "alice@localhost"); !c.sid || !c.body || !c.archived() {
		t.Fatalf("inspect: %+v", c)
	}
	got := string(m.rewrite(st, "alice@localhost", []byte("<stanza-id xmlns='urn:xmpp:sid:0' id='1' by='alice@localhost'/>")).Bytes())
	want := "<message to='alice@localhost' type='chat'><body>hi</body><stanza-id xmlns='urn:xmpp:sid:0' id='x' by='room@muc'/>" +
		"<stanza-id xmlns='urn:xmpp:sid:0' id='1' by='alice@localhost'/></message>"
	if got != want {
		t.Fatalf("rewrite:\n got %s\nwant %s", got, want)
	}
	if c := inspect(stanza.MustParse([]byte("<message><body>x</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>")), ""); c.archived() {
		t.Fatal("no-permanent-store is archived")
	}
	if c := inspect(stanza.MustParse([]byte("<message><store xmlns='urn:xmpp:hints'/></message>")), ""); !c.archived() {
		t.Fatal("a store hint without a body is not archived")
	}
	if got := string(withClientNS([]byte("<message to='a@b'><body/></message>"))); got != "<message xmlns='jabber:client' to='a@b'><body/></message>" {
		t.Fatalf("withClientNS = %s", got)
	}
}
