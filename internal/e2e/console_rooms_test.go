package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"ignis/internal/server"
)

// TestConsoleRooms: the console's rooms page and the REST API list the
// group chat rooms with their occupants and flags; destroying one takes the
// session's CSRF token, tells every occupant with the reason, and is logged
// with who did it.
func TestConsoleRooms(t *testing.T) {
	logs := newLogSink()
	env := startConsoleLogged(t, logs, func(c *server.Config) { c.LogLevel = "info" })
	env.AddUser("root", "rootpw")
	addUsers(env.Env, "alice", "bob")
	secret, _, err := server.CreateToken(env.Cfg.Data, "ops")
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := rawStream(t, env.Env, "alice", "r"), rawStream(t, env.Env, "bob", "r")
	alice.online()
	bob.online()
	const club = "club@conference.localhost"
	// lobby: temporary and public, two occupants; club: persistent and hidden
	mucJoin(alice, mucRoom, "Alice", "")
	mucSubject(alice)
	iqTo(alice, "c1", "set", mucRoom, instant)
	mucJoin(bob, mucRoom, "Bob", "")
	mucSubject(bob)
	alice.expect("/Bob'")
	alice.expect("</presence>")
	mucJoin(alice, club, "Alice", "")
	mucSubject(alice)
	cfg := "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='muc#roomconfig_persistentroom'><value>1</value></field>" +
		"<field var='muc#roomconfig_publicroom'><value>0</value></field></x></query>"
	if got := iqTo(alice, "c2", "set", club, cfg); !strings.Contains(got, "type='result'") {
		t.Fatalf("configuring the club: %s", got)
	}

	hc := env.httpClient(t)
	code, body := do(t, hc, "GET", env.tls+"/api/rooms", secret, nil)
	var rep struct {
		Rooms []struct {
			JID                string
			Occupants          int
			Persistent, Public bool
		}
	}
	if err := json.Unmarshal([]byte(body), &rep); code != 200 || err != nil {
		t.Fatalf("GET /api/rooms: %d %s %v", code, body, err)
	}
	type row = struct {
		JID                string
		Occupants          int
		Persistent, Public bool
	}
	want := []row{{club, 1, true, false}, {mucRoom, 2, false, true}}
	if len(rep.Rooms) != 2 || rep.Rooms[0] != want[0] || rep.Rooms[1] != want[1] {
		t.Errorf("rooms %+v, want %+v", rep.Rooms, want)
	}
	if code, _ := do(t, hc, "GET", env.tls+"/api/rooms", "", nil); code != 401 {
		t.Errorf("/api/rooms without a token: %d, want 401", code)
	}

	_, csrf := consoleSignIn(t, hc, env.tls, "root", "rootpw")
	_, page := do(t, hc, "GET", env.tls+"/rooms", "", nil)
	for _, w := range []string{"<td>" + mucRoom + "</td><td></td><td>2</td><td>no</td><td>yes</td>",
		"<td>" + club + "</td><td></td><td>1</td><td>yes</td><td>no</td>", `data-room="` + mucRoom + `"`} {
		if !strings.Contains(page, w) {
			t.Errorf("rooms page lacks %s:\n%s", w, page)
		}
	}
	var back string // where the last form sent the browser
	post := func(v url.Values) int {
		resp, err := hc.PostForm(env.tls+"/rooms/destroy", v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		back = resp.Header.Get("Location")
		return resp.StatusCode
	}
	if code := post(url.Values{"room": {mucRoom}}); code != http.StatusForbidden {
		t.Errorf("destroy without a CSRF token: %d, want 403", code)
	}
	if code := post(url.Values{"csrf": {"00"}, "room": {mucRoom}}); code != http.StatusForbidden {
		t.Errorf("destroy with a wrong CSRF token: %d, want 403", code)
	}
	if code := post(url.Values{"csrf": {csrf}, "room": {mucRoom}, "reason": {"spring cleaning"}}); code != http.StatusSeeOther {
		t.Fatalf("destroy: %d", code)
	}
	// XEP-0045 §10.9: each occupant gets its unavailable presence with <destroy/>
	for _, s := range []*stream{alice, bob} {
		got := s.expect("<status code='110'/>") // up to its own (one for the other occupant may come first)
		if !strings.Contains(got, "type='unavailable'") || !strings.Contains(got, "<destroy><reason>spring cleaning</reason></destroy>") {
			t.Errorf("%s got %s, want the room's destruction", s.name, got)
		}
		s.expect("</presence>")
	}
	logs.wait(t, "op=room-destroy", "by=console:root@localhost", "room="+mucRoom)
	if !strings.HasPrefix(back, "/rooms?ok=") {
		t.Errorf("after the destroy form, sent to %q", back)
	}
	if _, page = do(t, hc, "GET", env.tls+back, "", nil); strings.Contains(page, "<td>"+mucRoom+"</td>") || !strings.Contains(page, "room-destroy done") {
		t.Errorf("after destroying the lobby:\n%s", page)
	}

	// the REST API destroys by name too; a room that is not there is a 404
	if code, body := do(t, hc, "DELETE", env.tls+"/api/rooms/club?reason=closed", secret, nil); code != 200 || !strings.Contains(body, `"done":1`) {
		t.Errorf("DELETE /api/rooms/club: %d %s", code, body)
	}
	if got := alice.expect("</presence>"); !strings.Contains(got, "<reason>closed</reason>") {
		t.Errorf("alice got %s, want the club's destruction", got)
	}
	logs.wait(t, "op=room-destroy", "by=token:ops", "room=club")
	for _, name := range []string{"club", "nowhere@conference.localhost", "lobby@elsewhere.example"} {
		if code, _ := do(t, hc, "DELETE", env.tls+"/api/rooms/"+name, secret, nil); code != 404 && code != 400 {
			t.Errorf("DELETE /api/rooms/%s: %d, want 404 or 400", name, code)
		}
	}
	if _, err := env.Srv.DB().Rooms().Get("club"); err == nil {
		t.Error("the destroyed persistent room is still stored")
	}

	// the sessions page: transport, queued output and the memory figure
	_, page = do(t, hc, "GET", env.tls+"/sessions", "", nil)
	for _, w := range []string{"<th>Transport</th>", "<th>Queued</th>", "<td>tcp</td>", `id="session-memory"`, "per-session average"} {
		if !strings.Contains(page, w) {
			t.Errorf("sessions page lacks %s:\n%s", w, page)
		}
	}
	if _, body = do(t, hc, "GET", env.tls+"/api/sessions", secret, nil); !strings.Contains(body, `"transport":"tcp"`) || !strings.Contains(body, `"queued_bytes":`) {
		t.Errorf("/api/sessions: %s", body)
	}
}
