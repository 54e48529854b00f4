package sharedgroup

import (
	"errors"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/mod/modtest"
	"ignis/stanza"
)

type res struct{ j jid.JID }

func (r res) JID() jid.JID                                           { return r.j }
func (r res) Available() bool                                        { return true }
func (r res) Priority() int8                                         { return 0 }
func (r res) LastPresence() *stanza.Stanza                           { return nil }
func (r res) Close(*stanza.StreamError)                              {}
func (r res) Offer(*stanza.Stanza) bool                              { return true }
func (r res) OfferConfirmed(st *stanza.Stanza, done func(bool)) bool { return true }

func TestGet(t *testing.T) {
	db := modtest.DB(t)
	g := db.Groups()
	for _, err := range []error{g.Create("dev", "Developers & Co"), g.Create("ops", ""), g.Create("hr", "HR"),
		g.AddMember("dev", "alice"), g.AddMember("ops", "alice"), g.AddMember("hr", "bob")} {
		if err != nil {
			t.Fatal(err)
		}
	}
	m := &Module{DB: db}
	iq := stanza.MustParse([]byte("<iq type='get' id='s1' from='alice@localhost/r'><sharedgroup xmlns='" + NS + "'/></iq>"))
	for _, tc := range []struct {
		name string
		from mod.Resource
		want string
		err  stanza.Condition
	}{
		{name: "member of two", from: res{jid.MustParse("alice@localhost/r")},
			want: "<iq type='result' id='s1' to='alice@localhost/r'><sharedgroup xmlns='" + NS + "'><group>Developers &amp; Co</group><group>ops</group></sharedgroup></iq>"},
		{name: "member of none", from: res{jid.MustParse("carol@localhost/r")},
			want: "<iq type='result' id='s1' to='alice@localhost/r'><sharedgroup xmlns='" + NS + "'/></iq>"},
		{name: "server itself", from: nil, err: stanza.NotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reply, err := m.get(&mod.Ctx{From: tc.from}, iq)
			if tc.err != 0 {
				var se *stanza.Error
				if !errors.As(err, &se) || se.Cond != tc.err {
					t.Fatalf("err %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil || string(reply.Bytes()) != tc.want {
				t.Fatalf("got %v %v\nwant %s", reply, err, tc.want)
			}
		})
	}
}
