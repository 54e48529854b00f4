package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"

	"ignis/internal/server"
	"ignis/jid"
	"ignis/store"
)

// user runs `ignis user add|del|passwd|list`. It opens the data folder
// itself when no server holds it, and otherwise asks the running server
// through its admin socket.
func user(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("user: say add, del, passwd or list")
	}
	op := args[0]
	fs := flag.NewFlagSet("user "+op, flag.ContinueOnError)
	data := fs.String("data", "./data", "data `folder`")
	bulk := fs.Int("bulk", 0, "create `N` accounts named by --users (add only)")
	pattern := fs.String("users", "user%d", "account name `pattern` for --bulk, numbered from 1")
	password := fs.String("password", "", "the password (for --bulk; otherwise the argument or standard input)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var reqs []server.AdminRequest
	switch op {
	case "list":
		reqs = []server.AdminRequest{{Op: "user-list"}}
	case "add", "passwd", "del":
		if op == "add" && *bulk > 0 {
			if *password == "" {
				return errors.New("user add --bulk: give --password")
			}
			if !strings.Contains(*pattern, "%d") {
				return fmt.Errorf("user add --bulk: --users %q has no %%d", *pattern)
			}
			for i := 1; i <= *bulk; i++ {
				reqs = append(reqs, server.AdminRequest{Op: "user-add", User: fmt.Sprintf(*pattern, i), Password: *password})
			}
			break
		}
		if fs.NArg() < 1 {
			return fmt.Errorf("user %s: give the account's JID", op)
		}
		local, err := localpart(fs.Arg(0))
		if err != nil {
			return err
		}
		req := server.AdminRequest{Op: "user-" + op, User: local}
		if op != "del" {
			switch {
			case fs.NArg() >= 2:
				req.Password = fs.Arg(1)
			case *password != "":
				req.Password = *password
			default:
				fmt.Fprint(stdout, "password: ")
				line, err := bufio.NewReader(stdin).ReadString('\n')
				if err != nil && line == "" {
					return errors.New("user: no password given")
				}
				req.Password = strings.TrimRight(line, "\r\n")
			}
			if req.Password == "" {
				return errors.New("user: the password must not be empty")
			}
		}
		reqs = []server.AdminRequest{req}
	default:
		return fmt.Errorf("user: unknown operation %q (add, del, passwd, list)", op)
	}
	for i := range reqs {
		if reqs[i].User == "" {
			continue
		}
		l, err := localpart(reqs[i].User)
		if err != nil {
			return err
		}
		reqs[i].User = l
	}

	call := func(r server.AdminRequest) (server.AdminReply, error) { return server.CallAdmin(*data, r) }
	db, err := store.Open(&store.Options{Dir: *data})
	switch {
	case err == nil:
		defer db.Close()
		call = func(r server.AdminRequest) (server.AdminReply, error) { return server.Admin(db, r), nil }
	case !errors.Is(err, store.ErrLocked):
		return err
	}
	// bulk creation derives PBKDF2 keys for each account: use every core
	var mu sync.Mutex
	var firstErr error
	work := make(chan server.AdminRequest)
	var wg sync.WaitGroup
	for range max(1, min(runtime.NumCPU(), len(reqs))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				rep, err := call(r)
				if err == nil && rep.Error != "" {
					err = fmt.Errorf("%s %s: %s", strings.TrimPrefix(r.Op, "user-"), r.User, rep.Error)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				for _, u := range rep.Users {
					fmt.Fprintln(stdout, u)
				}
				mu.Unlock()
			}
		}()
	}
	for _, r := range reqs {
		work <- r
	}
	close(work)
	wg.Wait()
	return firstErr
}

// localpart accepts "alice@domain" or just "alice" and returns the
// normalized localpart (RFC 7622).
func localpart(s string) (string, error) {
	if !strings.Contains(s, "@") {
		s += "@localhost"
	}
	j, err := jid.Parse(s)
	if err != nil || j.Local() == "" || j.Resource() != "" {
		return "", fmt.Errorf("user: %q is not an account JID like alice@localhost", s)
	}
	return j.Local(), nil
}
