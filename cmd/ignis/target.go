package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ignis/internal/server"
	"ignis/jid"
	"ignis/store"
)

// target is the data folder an admin command works on: opened directly when
// no server holds it, else reached through the running server's admin socket.
type target struct {
	data   string
	domain string    // the domain its accounts are for
	hosts  []string  // its virtual hosts: their accounts too
	db     *store.DB // nil when a server holds the folder
}

// openTarget opens the data folder. A folder with no Ignis data in it is an
// error unless create is set (adding accounts before the first start), so a
// typo in --data does not quietly make an empty database.
func openTarget(data string, create bool) (*target, error) {
	t := &target{data: data}
	if !hasData(data) {
		if !create {
			return nil, fmt.Errorf("%s holds no Ignis data (give the --data folder the server runs with)", data)
		}
		fmt.Fprintf(os.Stderr, "ignis: creating a new data folder %s\n", data)
	}
	db, err := store.Open(&store.Options{Dir: data})
	switch {
	case err == nil:
		t.db = db
		t.domain = "localhost" // serve's default, until a server records its own
		if b, err := os.ReadFile(filepath.Join(data, server.DomainFile)); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			lines := strings.Fields(string(b))
			t.domain, t.hosts = lines[0], lines[1:]
		}
	case errors.Is(err, store.ErrLocked):
		rep, err := server.CallAdmin(data, server.AdminRequest{Op: "info"})
		if err != nil {
			return nil, err
		}
		t.domain, t.hosts = rep.Domain, rep.Hosts
	default:
		return nil, err
	}
	return t, nil
}

// hasData reports whether dir holds an Ignis store (its db folder).
func hasData(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "db"))
	return err == nil && st.IsDir()
}

func (t *target) call(req server.AdminRequest) (server.AdminReply, error) {
	if t.db != nil {
		return server.Admin(t.db, req), nil
	}
	return server.CallAdmin(t.data, req)
}

// close closes the store if the command opened it; a second call does
// nothing.
func (t *target) close() error {
	db := t.db
	t.db = nil
	if db != nil {
		return db.Close()
	}
	return nil
}

// localpart accepts "alice@DOMAIN" (the primary domain or a virtual host)
// or just "alice" (the primary domain) and returns the account's store user:
// the normalized localpart (RFC 7622) on the primary domain, alice@vhost on
// another (store.UserKey). A JID of a domain not served is refused: the
// server would otherwise create an account nobody asked for.
func (t *target) localpart(s string) (string, error) {
	primary, err := jid.Parse(t.domain)
	if err != nil {
		return "", fmt.Errorf("the data folder's domain %q: %w", t.domain, err)
	}
	var hosts []jid.JID
	for _, h := range t.hosts {
		if d, err := jid.Parse(h); err == nil {
			hosts = append(hosts, d)
		}
	}
	return server.AdminUser(primary, hosts, s)
}

// jidOf is the JID of the account a store user names (store.UserOfKey):
// alice@DOMAIN, or alice@vhost as it stands.
func (t *target) jidOf(user string) string {
	if j, err := store.UserOfKey(t.domain, user); err == nil {
		return j.String()
	}
	return user + "@" + t.domain
}
