package server

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"ignis/store"
)

// AdminSocket is the Unix socket in the data folder through which `ignis
// user …` reaches a running server: Pebble allows one process per data
// folder, so while the server runs the CLI asks it to make the change.
const AdminSocket = "ignis.sock"

// AdminRequest is one line of the admin protocol (JSON, newline-terminated).
type AdminRequest struct {
	Op       string `json:"op"` // user-add, user-del, user-passwd, user-list, group-add, group-del, group-member-add, group-member-del, group-list
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	Group    string `json:"group,omitempty"`   // group-* ops
	Display  string `json:"display,omitempty"` // group-add
}

// AdminReply answers an AdminRequest.
type AdminReply struct {
	Error  string        `json:"error,omitempty"`
	Users  []string      `json:"users,omitempty"`
	Groups []store.Group `json:"groups,omitempty"` // group-list
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
		err = acc.Create(req.User, req.Password)
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
		}
	case "group-member-del":
		err = db.Groups().RemoveMember(req.Group, req.User)
	case "group-list":
		rep.Groups = []store.Group{}
		err = db.Groups().List(func(g store.Group) bool { rep.Groups = append(rep.Groups, g); return true })
	default:
		err = fmt.Errorf("unknown admin operation %q", req.Op)
	}
	if err != nil {
		rep.Error = err.Error()
	}
	return rep
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

func listenAdmin(path string, db *store.DB, log *slog.Logger) (*adminListener, error) {
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
				rep := Admin(db, req)
				log.Info("admin", "op", req.Op, "user", req.User, "error", rep.Error)
				_ = json.NewEncoder(c).Encode(rep)
			}()
		}
	}()
	return a, nil
}

func (a *adminListener) Close() {
	a.ln.Close()
	a.wg.Wait()
	os.Remove(a.path)
}
