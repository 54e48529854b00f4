package muc

import (
	"strings"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// keepEnv is a mod.Env that keeps what the room sends.
type keepEnv struct {
	countEnv
	sent []*stanza.Stanza
}

func (e *keepEnv) Send(st *stanza.Stanza) { e.sent = append(e.sent, st) }

func (e *keepEnv) SendTo(to jid.JID, st *stanza.Stanza) { e.Send(st.Readdressed(to)) }

// TestRelayAnswer: only an answer from the entity the iq was relayed to,
// with the id the room made, goes back to the asker; anything else that
// looks like one is dropped without an answer.
func TestRelayAnswer(t *testing.T) {
	m, _ := newTestModule(t, Config{})
	room, asker := jid.MustParse("room@conference.localhost/Alice"), jid.MustParse("alice@localhost/r")
	target := jid.MustParse("bob@localhost/r")
	id := m.relayID(room, target, asker, "q1", "Bob")
	payload, mac, _ := strings.Cut(strings.TrimPrefix(id, "muc."), ".")
	for _, tc := range []struct {
		name, from, id string
		passes         bool
	}{
		{"from the target", target.String(), id, true},
		{"from another session", "bob@localhost/other", id, false},
		{"from someone else", "eve@localhost/r", id, false},
		{"payload changed", target.String(), "muc.A" + payload[1:] + "." + mac, false},
		{"no mac", target.String(), "muc." + payload, false},
		{"not base64", target.String(), "muc.!!." + mac, false},
		{"not ours", target.String(), "q1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := &keepEnv{}
			iq := stanza.MustParse([]byte("<iq type='result' from='" + tc.from + "' to='" + room.String() + "' id='" + tc.id + "'/>"))
			m.relayAnswer(&mod.Ctx{Env: env}, iq)
			switch {
			case !tc.passes && len(env.sent) != 0:
				t.Fatalf("passed on: %s", env.sent[0].Bytes())
			case tc.passes && (len(env.sent) != 1 || env.sent[0].ID != "q1" || !env.sent[0].To.Equal(asker) ||
				env.sent[0].From.String() != "room@conference.localhost/Bob"):
				t.Fatalf("sent %d stanzas: %v", len(env.sent), env.sent)
			}
		})
	}
}
