package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"ignis/jid"
)

// The REST API (bearer tokens, JSON): the admin socket's operations, each
// logged with the token's name.
//
//	GET    /api/stats                          the headline figures
//	GET    /api/sessions                       bound sessions
//	DELETE /api/sessions/{jid}                 kick a full JID's session, or every session of a bare JID
//	GET    /api/accounts                       account names
//	POST   /api/accounts                       {"user":…, "password":…}
//	DELETE /api/accounts/{user}                delete (its sessions end)
//	PUT    /api/accounts/{user}/password       {"password":…}
//	GET    /api/groups                         shared groups and members
//	POST   /api/groups                         {"group":…, "display":…}
//	DELETE /api/groups/{group}
//	PUT    /api/groups/{group}/members/{user}
//	DELETE /api/groups/{group}/members/{user}
//	POST   /api/announce                       {"message":…}
//	GET    /api/rooms                          group chat rooms: occupants, persistent, public…
//	DELETE /api/rooms/{room}?reason=…          destroy a room (its name or JID); occupants are told
func (c *console) routesAPI() {
	m := c.mux
	m.HandleFunc("GET /api/stats", c.api(func(r *http.Request, _ apiBody) AdminRequest { return AdminRequest{Op: "stats"} }))
	m.HandleFunc("GET /api/sessions", c.api(func(r *http.Request, _ apiBody) AdminRequest { return AdminRequest{Op: "sessions"} }))
	m.HandleFunc("DELETE /api/sessions/{jid...}", c.api(func(r *http.Request, _ apiBody) AdminRequest {
		return AdminRequest{Op: "kick", User: r.PathValue("jid")}
	}))
	m.HandleFunc("GET /api/accounts", c.api(func(r *http.Request, _ apiBody) AdminRequest { return AdminRequest{Op: "user-list"} }))
	m.HandleFunc("POST /api/accounts", c.api(func(r *http.Request, b apiBody) AdminRequest {
		return AdminRequest{Op: "user-add", User: c.localpart(b.User), Password: b.Password}
	}))
	m.HandleFunc("DELETE /api/accounts/{user}", c.api(func(r *http.Request, _ apiBody) AdminRequest {
		return AdminRequest{Op: "user-del", User: c.localpart(r.PathValue("user"))}
	}))
	m.HandleFunc("PUT /api/accounts/{user}/password", c.api(func(r *http.Request, b apiBody) AdminRequest {
		return AdminRequest{Op: "user-passwd", User: c.localpart(r.PathValue("user")), Password: b.Password}
	}))
	m.HandleFunc("GET /api/groups", c.api(func(r *http.Request, _ apiBody) AdminRequest { return AdminRequest{Op: "group-list"} }))
	m.HandleFunc("POST /api/groups", c.api(func(r *http.Request, b apiBody) AdminRequest {
		return AdminRequest{Op: "group-add", Group: b.Group, Display: b.Display}
	}))
	m.HandleFunc("DELETE /api/groups/{group}", c.api(func(r *http.Request, _ apiBody) AdminRequest {
		return AdminRequest{Op: "group-del", Group: r.PathValue("group")}
	}))
	m.HandleFunc("PUT /api/groups/{group}/members/{user}", c.api(func(r *http.Request, _ apiBody) AdminRequest {
		return AdminRequest{Op: "group-member-add", Group: r.PathValue("group"), User: c.localpart(r.PathValue("user"))}
	}))
	m.HandleFunc("DELETE /api/groups/{group}/members/{user}", c.api(func(r *http.Request, _ apiBody) AdminRequest {
		return AdminRequest{Op: "group-member-del", Group: r.PathValue("group"), User: c.localpart(r.PathValue("user"))}
	}))
	m.HandleFunc("POST /api/announce", c.api(func(r *http.Request, b apiBody) AdminRequest {
		return AdminRequest{Op: "announce", Message: b.Message}
	}))
	m.HandleFunc("GET /api/rooms", c.api(func(r *http.Request, _ apiBody) AdminRequest { return AdminRequest{Op: "room-list"} }))
	m.HandleFunc("DELETE /api/rooms/{room}", c.api(func(r *http.Request, _ apiBody) AdminRequest {
		return AdminRequest{Op: "room-destroy", Room: r.PathValue("room"), Message: r.URL.Query().Get("reason")}
	}))
}

// apiBody is what POST and PUT requests may carry.
type apiBody struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Group    string `json:"group"`
	Display  string `json:"display"`
	Message  string `json:"message"`
}

// maxAPIBody bounds a request body: the largest is an announcement.
const maxAPIBody = 64 << 10

// api runs the operation build makes of the request and answers its reply
// as JSON: 200, or 400/404/409 by what went wrong.
func (c *console) api(build func(*http.Request, apiBody) AdminRequest) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body apiBody
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			dec := json.NewDecoder(io.LimitReader(r.Body, maxAPIBody))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
				writeJSON(w, http.StatusBadRequest, AdminReply{Error: "the body is not the JSON object expected: " + err.Error()})
				return
			}
		}
		rep := c.s.AdminOp(build(r, body), who(r), r.RemoteAddr)
		status := http.StatusOK
		switch {
		case rep.Error == "":
		case rep.Error == "does not exist" || strings.HasPrefix(rep.Error, "no session") || strings.HasPrefix(rep.Error, "there is no"):
			status = http.StatusNotFound
		case rep.Error == "already exists":
			status = http.StatusConflict
		default:
			status = http.StatusBadRequest
		}
		writeJSON(w, status, rep)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// localpart accepts "alice" or "alice@DOMAIN"; another domain's JID is
// returned whole so that the store refuses it by name.
func (c *console) localpart(s string) string {
	j, err := jid.Parse(s)
	if err == nil && j.Local() != "" && j.Domain() == c.s.router.Domain().Domain() && j.Resource() == "" {
		return j.Local()
	}
	return s
}
