package entitytime

import (
	"testing"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

func TestAnswer(t *testing.T) {
	at := time.Date(2006, 12, 19, 12, 58, 35, 120e6, time.UTC)
	for _, tc := range []struct {
		name string
		zone *time.Location
		want string
	}{
		{name: "utc", zone: time.UTC, want: "<tzo>+00:00</tzo><utc>2006-12-19T12:58:35.120Z</utc>"},
		{name: "west", zone: time.FixedZone("", -6*3600), want: "<tzo>-06:00</tzo><utc>2006-12-19T12:58:35.120Z</utc>"},
		{name: "half-hour", zone: time.FixedZone("", 5*3600+1800), want: "<tzo>+05:30</tzo><utc>2006-12-19T12:58:35.120Z</utc>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Module{Now: func() time.Time { return at.In(tc.zone) }}
			iq := stanza.MustParse([]byte("<iq type='get' id='t1' from='a@localhost/r' to='localhost'><time xmlns='urn:xmpp:time'/></iq>"))
			reply, err := m.handle(&mod.Ctx{Target: jid.MustParse("localhost")}, iq)
			if err != nil {
				t.Fatal(err)
			}
			want := "<iq type='result' id='t1' from='localhost' to='a@localhost/r'><time xmlns='urn:xmpp:time'>" + tc.want + "</time></iq>"
			if got := string(reply.Bytes()); got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}
