package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// readUntil reads r up to and including want.
func readUntil(t *testing.T, r *bufio.Reader, want string) string {
	t.Helper()
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		b, err := r.ReadByte()
		if err != nil {
			t.Fatalf("waiting for %q: %v (got %q)", want, err, got.String())
		}
		got.WriteByte(b)
	}
	return got.String()
}

// joinRoom enters room as nick over c and reads up to the subject that
// ends the join (XEP-0045 §7.2).
func joinRoom(t *testing.T, c net.Conn, r *bufio.Reader, room, nick string) {
	t.Helper()
	io.WriteString(c, "<presence to='"+room+"/"+nick+"'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	readUntil(t, r, "<status code='110'/>")
	readUntil(t, r, "id='subject'>")
	readUntil(t, r, "</message>")
}

// TestRoomCommand: `ignis room list|info|destroy` on the running server's
// admin socket. The list and info show a room two accounts are in; destroy
// tells both occupants, with the reason (XEP-0045 §10.9), and the room is
// gone from the list; unknown rooms, another service's JID, a stopped
// server and a server without group chat are refused with a reason.
func TestRoomCommand(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	data := env.Cfg.Data
	const lobby = "lobby@conference.localhost"
	ca, ra := plainLogin(t, env, "alice", "pw", "r")
	cb, rb := plainLogin(t, env, "bob", "pw", "r")
	joinRoom(t, ca, ra, lobby, "Alice")
	// the owner accepts the default configuration: an instant room (§10.1.2)
	io.WriteString(ca, "<iq type='set' id='inst' to='"+lobby+"'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
	got := readUntil(t, ra, "id='inst'")
	got += readUntil(t, ra, ">")
	if tag := got[strings.LastIndex(got, "<iq"):]; !strings.Contains(tag, "type='result'") {
		t.Fatalf("configuring the lobby: %s", tag)
	}
	joinRoom(t, cb, rb, lobby, "Bob")

	var out bytes.Buffer
	if err := room([]string{"list", "--data", data}, &out); err != nil {
		t.Fatalf("room list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ROOM ") || strings.Join(strings.Fields(lines[1]), " ") != lobby+" 2 no yes -" {
		t.Errorf("room list printed\n%s", out.String())
	}

	for _, name := range []string{"lobby", lobby, "LOBBY"} {
		out.Reset()
		if err := room([]string{"info", name, "--data", data}, &out); err != nil {
			t.Fatalf("room info %s: %v", name, err)
		}
		for _, w := range []string{"jid           " + lobby + "\n", "occupants     2\n", "persistent    no\n", "public        yes\n", "locked        no\n"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("room info %s printed\n%s\nwant a line %q", name, out.String(), w)
			}
		}
	}

	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"info", "nowhere"}, `room info: there is no room "nowhere"`},
		{[]string{"destroy", "nowhere"}, `room destroy nowhere: there is no room "nowhere"`},
		{[]string{"destroy", "lobby@elsewhere.example"}, `room destroy lobby@elsewhere.example: "lobby@elsewhere.example" is not a room of this server`},
		{[]string{"info"}, "room info: want 1 argument(s), got 0"},
		{[]string{"list", "--reason", "x"}, "room list: --reason is for destroy"},
		{[]string{"create", "x"}, `room: unknown operation "create" (list, info, destroy)`},
	} {
		err := room(append(tc.args, "--data", data), &out)
		if err == nil || err.Error() != tc.err {
			t.Errorf("room %v: %v, want %q", tc.args, err, tc.err)
		}
	}

	out.Reset()
	if err := room([]string{"destroy", "lobby", "--reason", "spring cleaning", "--data", data}, &out); err != nil || out.String() != "room lobby destroyed\n" {
		t.Fatalf("room destroy: %v %q", err, out.String())
	}
	for name, r := range map[string]*bufio.Reader{"alice": ra, "bob": rb} {
		got := readUntil(t, r, "<status code='110'/>") // its own unavailable presence, after the other's
		if !strings.Contains(got, "type='unavailable'") || !strings.Contains(got, "<destroy><reason>spring cleaning</reason></destroy>") {
			t.Errorf("%s got %s, want the room's destruction", name, got)
		}
	}
	out.Reset()
	if err := room([]string{"list", "--data", data}, &out); err != nil || strings.Contains(out.String(), lobby) {
		t.Errorf("room list after destroy: %v\n%s", err, out.String())
	}

	stopped := t.TempDir()
	if err := user([]string{"add", "x@localhost", "pw", "--data", stopped}, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	if err := room([]string{"list", "--data", stopped}, &out); err == nil || err.Error() != "room list: no server is running on "+stopped {
		t.Errorf("room list on a stopped server's folder: %v", err)
	}

	off := servertest.Start(t, func(c *server.Config) { c.MUC.Enabled = false })
	if err := room([]string{"list", "--data", off.Cfg.Data}, &out); err == nil || err.Error() != "room list: group chat (muc) is not enabled" {
		t.Errorf("room list without group chat: %v", err)
	}
}
