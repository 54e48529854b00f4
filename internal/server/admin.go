package server

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/mod/muc"
	"ignis/route"
	"ignis/session"
	"ignis/stanza"
	"ignis/store"
)

// AdminSocket is the Unix socket in the data folder through which `ignis
// user …` reaches a running server: Pebble allows one process per data
// folder, so while the server runs the CLI asks it to make the change.
const AdminSocket = "ignis.sock"

// AdminRequest is one line of the admin protocol (JSON, newline-terminated).
type AdminRequest struct {
	Op       string   `json:"op"` // info, sessions, kick, stats, announce, user-add, user-del, user-passwd, user-list, group-add, group-del, group-member-add, group-member-del, group-list
	User     string   `json:"user,omitempty"`
	Users    []string `json:"users,omitempty"` // user-add of many accounts with one password (--bulk)
	Password string   `json:"password,omitempty"`
	Group    string   `json:"group,omitempty"`   // group-* ops
	Display  string   `json:"display,omitempty"` // group-add
	Message  string   `json:"message,omitempty"` // announce; room-destroy: the reason
	Room     string   `json:"room,omitempty"`    // room-destroy: a room's name or JID
}

// AdminReply answers an AdminRequest.
type AdminReply struct {
	Error    string         `json:"error,omitempty"`
	Domain   string         `json:"domain,omitempty"`   // info: the domain the running server serves
	Hosts    []string       `json:"hosts,omitempty"`    // info: its virtual hosts
	Done     int            `json:"done,omitempty"`     // user-add: accounts created; kick: sessions ended
	Sessions []SessionInfo  `json:"sessions,omitempty"` // sessions
	Users    []string       `json:"users,omitempty"`
	Groups   []store.Group  `json:"groups,omitempty"` // group-list
	Stats    *Figures       `json:"stats,omitempty"`  // stats
	Rooms    []muc.RoomInfo `json:"rooms,omitempty"`  // room-list
}

// SessionInfo is one bound client session in the sessions reply.
type SessionInfo struct {
	JID  string `json:"jid"`
	Addr string `json:"addr"`
	TLS  bool   `json:"tls"`
	SM   bool   `json:"sm"` // XEP-0198 resumption enabled
	// Transport is tcp, or websocket, bosh… (session.Info)
	Transport string    `json:"transport,omitempty"`
	Since     time.Time `json:"since"`
	// QueuedBytes is output held for the client (session.Info.Queued)
	QueuedBytes int `json:"queued_bytes"`
}

// liveAdmin answers the operations that need the running server: its
// domain, its sessions, and kicking one (handled true).
func liveAdmin(r *route.Router, req AdminRequest) (rep AdminReply, handled bool) {
	switch req.Op {
	case "info":
		rep.Domain = r.Domain().String()
		for _, h := range r.Hosts() {
			rep.Hosts = append(rep.Hosts, h.String())
		}
	case "sessions":
		rep.Sessions = []SessionInfo{}
		r.Table().Each(func(e route.Endpoint) bool {
			si := SessionInfo{JID: e.JID().String()}
			if st, ok := e.(interface{ Info() session.Info }); ok {
				in := st.Info()
				if in.Addr.IsValid() {
					si.Addr = in.Addr.String()
				}
				si.TLS, si.SM, si.Since, si.Transport, si.QueuedBytes = in.TLS, in.SM, in.Since, in.Transport, in.Queued
			}
			rep.Sessions = append(rep.Sessions, si)
			return true
		})
		slices.SortFunc(rep.Sessions, func(a, b SessionInfo) int { return strings.Compare(a.JID, b.JID) })
	case "kick":
		j, err := jid.Parse(req.User)
		if err != nil || j.Local() == "" {
			rep.Error = fmt.Sprintf("%q is not a JID like alice@%s or alice@%s/phone", req.User, r.Domain(), r.Domain())
			break
		}
		var victims []route.Endpoint
		if j.Resource() != "" {
			if e := r.Table().Lookup(j); e != nil {
				victims = append(victims, e)
			}
		} else {
			victims = append(victims, r.Table().Bound(j)...)
		}
		if len(victims) == 0 {
			rep.Error = "no session is bound to " + j.String()
			break
		}
		for _, e := range victims {
			// RFC 6120 §4.9.3.14: the server's own policy ends the stream
			e.Close(stanza.StreamErr(stanza.StreamPolicyViolation, "ended by the server's administrator"))
		}
		rep.Done = len(victims)
	default:
		return rep, false
	}
	return rep, true
}

// Admin runs one admin operation against an open store. The CLI calls it
// directly when no server holds the data folder; the admin socket calls it
// for a running server.
func Admin(db *store.DB, req AdminRequest) AdminReply {
	acc := db.Accounts()
	var err error
	var rep AdminReply
	switch req.Op {
	case "user-add":
		users := req.Users
		if req.User != "" {
			users = append(users, req.User)
		}
		rep.Done, err = addUsers(acc, users, req.Password)
	case "user-del":
		err = acc.Delete(req.User)
	case "user-passwd":
		err = acc.SetPassword(req.User, req.Password)
	case "user-list":
		rep.Users = []string{}
		err = acc.List(func(u string) bool { rep.Users = append(rep.Users, u); return true })
	case "group-add":
		err = db.Groups().Create(req.Group, req.Display)
	case "group-del":
		err = db.Groups().Delete(req.Group)
	case "group-member-add":
		if _, err = acc.Get(req.User); err == nil { // members are local accounts
			err = db.Groups().AddMember(req.Group, req.User)
		} else if errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("there is no account %q", req.User)
		}
	case "group-member-del":
		err = db.Groups().RemoveMember(req.Group, req.User)
	case "group-list":
		rep.Groups = []store.Group{}
		err = db.Groups().List(func(g store.Group) bool { rep.Groups = append(rep.Groups, g); return true })
	case "info", "sessions", "kick", "stats", "announce", "room-list", "room-destroy":
		err = errors.New("no server is running on this data folder")
	default:
		err = fmt.Errorf("unknown admin operation %q", req.Op)
	}
	if err != nil {
		rep.Error = adminError(err)
	}
	return rep
}

// adminError says what went wrong once, for a person: the store's errors
// wrap its sentinels with the key ("store: account "a": store: already
// exists"), and the CLI already names the account.
func adminError(err error) string {
	switch {
	case errors.Is(err, store.ErrExists):
		return "already exists"
	case errors.Is(err, store.ErrNotFound):
		if msg := err.Error(); !strings.HasPrefix(msg, "store:") {
			return msg
		}
		return "does not exist"
	}
	return err.Error()
}

// addUsers creates the accounts with one password, deriving their SCRAM keys
// (PBKDF2, the cost of a bulk run) on every core. It stops at the first
// failure and returns how many it created.
func addUsers(acc *store.Accounts, users []string, password string) (int, error) {
	if len(users) == 1 {
		if err := acc.Create(users[0], password); err != nil {
			return 0, err
		}
		return 1, nil
	}
	var (
		mu       sync.Mutex
		done     int
		firstErr error
		next     = make(chan string)
		wg       sync.WaitGroup
	)
	for range max(1, min(runtime.NumCPU(), len(users))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range next {
				err := acc.Create(u, password)
				mu.Lock()
				if err == nil {
					done++
				} else if firstErr == nil {
					firstErr = fmt.Errorf("%s: %s", u, adminError(err))
				}
				mu.Unlock()
			}
		}()
	}
	for _, u := range users {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- u
	}
	close(next)
	wg.Wait()
	return done, firstErr
}

// CallAdmin sends one request to the server running on dataDir.
func CallAdmin(dataDir string, req AdminRequest) (AdminReply, error) {
	c, err := net.DialTimeout("unix", dataDir+string(os.PathSeparator)+AdminSocket, 5*time.Second)
	if err != nil {
		return AdminReply{}, fmt.Errorf("the data folder is in use, and its server's admin socket does not answer: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return AdminReply{}, err
	}
	var rep AdminReply
	if err := json.NewDecoder(c).Decode(&rep); err != nil {
		return AdminReply{}, fmt.Errorf("admin socket: %w", err)
	}
	return rep, nil
}

type adminListener struct {
	ln   net.Listener
	wg   sync.WaitGroup
	path string
}

// listenAdmin serves the admin socket; done is told of each operation that
// succeeded (the running server's modules react to account changes).
func listenAdmin(path string, op func(AdminRequest) AdminReply) (*adminListener, error) {
	// a socket file left by a killed server is stale: we hold the store's lock
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	_ = os.Chmod(path, 0o600) // only the server's user may administer it
	a := &adminListener{ln: ln, path: path}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
				var req AdminRequest
				if err := json.NewDecoder(bufio.NewReader(c)).Decode(&req); err != nil {
					return
				}
				_ = json.NewEncoder(c).Encode(op(req))
			}()
		}
	}()
	return a, nil
}

// AdminOp runs one admin operation on the running server, as the admin
// socket, the REST API and the console do: logged with who asked (by, e.g.
// "socket", "token:NAME", "console:alice@example.org") and from where, and
// the modules told of account changes (a deleted account's sessions end).
func (s *Server) AdminOp(req AdminRequest, by, from string) AdminReply {
	if err := s.adminUsers(&req); err != nil {
		rep := AdminReply{Error: err.Error()}
		logAdmin(s.log, req, rep, by, from)
		return rep
	}
	rep, ok := s.liveAdmin(req)
	if !ok {
		rep = Admin(s.db, req)
	}
	logAdmin(s.log, req, rep, by, from)
	if rep.Error == "" {
		s.adminDone(req)
	}
	return rep
}

// liveAdmin adds to the router's live operations those that need the whole
// server: its figures, and an announcement to everyone online.
func (s *Server) liveAdmin(req AdminRequest) (AdminReply, bool) {
	var rep AdminReply
	switch req.Op {
	case "stats":
		f := s.Figures()
		rep.Stats = &f
	case "announce":
		if strings.TrimSpace(req.Message) == "" {
			rep.Error = "the announcement is empty"
			break
		}
		rep.Done = s.announce(req.Message)
	case "room-list", "room-destroy":
		rep = s.roomOp(req)
	default:
		return liveAdmin(s.router, req)
	}
	return rep, true
}

// roomOp lists or destroys the group chat services' rooms (mod/muc, one
// service per local domain). A bare room name is the primary domain's.
func (s *Server) roomOp(req AdminRequest) (rep AdminReply) {
	mods := s.mucModules()
	if len(mods) == 0 {
		rep.Error = "group chat (muc) is not enabled"
		return rep
	}
	if req.Op == "room-list" {
		// by service, the primary domain's first (a bare name given to
		// `ignis room info` finds its room first), each sorted by JID
		rep.Rooms = []muc.RoomInfo{}
		for _, m := range mods {
			rep.Rooms = append(rep.Rooms, m.Rooms()...)
		}
		return rep
	}
	name, m := req.Room, mods[0]
	if j, err := jid.Parse(req.Room); err == nil && j.Local() != "" {
		i := slices.IndexFunc(mods, func(m *muc.Module) bool { return m.Domain().Domain() == j.Domain() })
		if i < 0 || j.Resource() != "" {
			rep.Error = fmt.Sprintf("%q is not a room of this server", req.Room)
			return rep
		}
		name, m = j.Local(), mods[i]
	}
	found, err := false, error(nil)
	if name != "" {
		found, err = m.Destroy(name, req.Message)
	}
	switch {
	case !found:
		rep.Error = fmt.Sprintf("there is no room %q", req.Room)
		return rep
	case err != nil:
		rep.Error = "the room was destroyed but its record was not deleted: " + err.Error()
		return rep
	}
	rep.Done = 1
	return rep
}

// mucModules are the running group chat services, the primary domain's
// first; none when off.
func (s *Server) mucModules() []*muc.Module {
	var out []*muc.Module
	for _, m := range s.mods {
		if mm, ok := m.(*muc.Module); ok {
			out = append(out, mm)
		}
	}
	return out
}

// announce sends a headline message from the server to every bound session
// (as Prosody's and ejabberd's announce) and returns how many it reached.
func (s *Server) announce(text string) int {
	domain := s.router.Domain()
	n := 0
	s.router.Table().Each(func(e route.Endpoint) bool {
		var b stanza.Builder
		b.Start("message", "from", domain.String(), "to", e.JID().String(), "type", "headline")
		b.Element("body", text)
		b.End()
		if st, err := stanza.Parse(b.Bytes()); err == nil && e.Deliver(st) {
			n++
		}
		return true
	})
	return n
}

// logAdmin logs one line per request: reads at debug level, changes at
// info, failures at warn; a bulk add is one line with its count.
func logAdmin(log *slog.Logger, req AdminRequest, rep AdminReply, by, from string) {
	attrs := []any{"op", req.Op, "by", by}
	if from != "" {
		attrs = append(attrs, "from", from)
	}
	if req.User != "" {
		attrs = append(attrs, "user", req.User)
	}
	if len(req.Users) > 0 {
		attrs = append(attrs, "users", len(req.Users), "created", rep.Done)
	}
	if req.Group != "" {
		attrs = append(attrs, "group", req.Group)
	}
	if req.Room != "" {
		attrs = append(attrs, "room", req.Room)
	}
	switch {
	case rep.Error != "":
		log.Warn("admin", append(attrs, "error", rep.Error)...)
	case req.Op == "info" || req.Op == "sessions" || req.Op == "stats" || strings.HasSuffix(req.Op, "-list"):
		log.Debug("admin", attrs...)
	default:
		log.Info("admin", attrs...)
	}
}

func (a *adminListener) Close() {
	a.ln.Close()
	a.wg.Wait()
	os.Remove(a.path)
}

// adminDone tells the modules of an account change made through the admin
// socket: the account module ends the sessions it leaves without authority.
func (s *Server) adminDone(req AdminRequest) {
	var ev mod.AccountEvent
	switch req.Op {
	case "user-del":
		ev = mod.AccountDeleted
	case "user-passwd":
		ev = mod.PasswordChanged
	default:
		return
	}
	user, err := store.UserOfKey(s.router.Domain().Domain(), req.User)
	if err != nil {
		return
	}
	s.router.Registry().RunAccount(&mod.Ctx{Env: s.router, Target: user}, ev, user)
}

// adminUsers turns the accounts an account operation names ("alice",
// "alice@domain" of any local domain) into their store users; a JID of a
// domain not served here is refused, not made an account nobody can use.
func (s *Server) adminUsers(req *AdminRequest) error {
	switch req.Op {
	case "user-add", "user-del", "user-passwd", "group-member-add", "group-member-del":
	default:
		return nil
	}
	var err error
	hosts := s.router.Hosts()
	if req.User != "" {
		if req.User, err = AdminUser(s.router.Domain(), hosts, req.User); err != nil {
			return err
		}
	}
	for i, u := range req.Users {
		if req.Users[i], err = AdminUser(s.router.Domain(), hosts, u); err != nil {
			return err
		}
	}
	return nil
}

// AdminUser maps an account as an administrator names it ("alice" on the
// primary domain, or "alice@domain" on it or one of its virtual hosts) to
// its store user (store.UserKey).
func AdminUser(primary jid.JID, hosts []jid.JID, name string) (string, error) {
	in := name
	if !strings.Contains(name, "@") {
		name += "@" + primary.Domain()
	}
	j, err := jid.Parse(name)
	if err != nil || j.Local() == "" || j.Resource() != "" {
		return "", fmt.Errorf("%q is not an account JID like alice@%s", in, primary)
	}
	served := primary.String()
	local := j.Domain() == primary.Domain()
	for _, h := range hosts {
		served += ", " + h.String()
		local = local || h.Domain() == j.Domain()
	}
	if !local {
		return "", fmt.Errorf("%s: this server serves %s, not %s", in, served, j.Domain())
	}
	return store.UserKey(primary.Domain(), j), nil
}
