package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"ignis/internal/server"
)

const userUsage = `usage:
  ignis user add    [--data DIR] JID [PASSWORD]   (no PASSWORD: asked twice on a terminal, else one line of standard input)
  ignis user add    [--data DIR] --bulk N --users PATTERN --password PW   (PATTERN like user%d, numbered from 1)
  ignis user passwd [--data DIR] JID [PASSWORD]
  ignis user del    [--data DIR] JID
  ignis user list   [--data DIR]
The JID's domain must be the server's or one of its [[vhost]] domains (as it last ran on DIR);
a bare name is the server's domain.
`

// user runs `ignis user add|del|passwd|list`. It opens the data folder
// itself when no server holds it, and otherwise asks the running server
// through its admin socket.
func user(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		io.WriteString(stdout, userUsage)
		if len(args) == 0 {
			return errors.New("user: say add, del, passwd or list")
		}
		return nil
	}
	op := args[0]
	switch op {
	case "add", "del", "passwd", "list":
	default:
		return fmt.Errorf("user: unknown operation %q (add, del, passwd, list)", op)
	}
	fs := flag.NewFlagSet("user "+op, flag.ContinueOnError)
	data := fs.String("data", "./data", "data `folder`")
	var bulk *int
	var pattern, password *string
	if op == "add" {
		bulk = fs.Int("bulk", 0, "create `N` accounts named by --users")
		pattern = fs.String("users", "user%d", "account name `pattern` for --bulk, numbered from 1")
	}
	if op == "add" || op == "passwd" {
		password = fs.String("password", "", "the password (otherwise the argument or standard input)")
	}
	if help, err := parseFlags(fs, args[1:], true, stdout, userUsage); help || err != nil {
		return err
	}
	maxArgs := map[string]int{"add": 2, "passwd": 2, "del": 1, "list": 0}[op]
	if fs.NArg() > maxArgs {
		return fmt.Errorf("user %s: unexpected argument %q", op, fs.Arg(maxArgs))
	}
	isBulk := op == "add" && *bulk > 0
	if op != "list" && !isBulk && fs.NArg() < 1 {
		return fmt.Errorf("user %s: give the account's JID", op)
	}
	if isBulk {
		if *password == "" {
			return errors.New("user add --bulk: give --password")
		}
		if !strings.Contains(*pattern, "%d") {
			return fmt.Errorf("user add --bulk: --users %q has no %%d", *pattern)
		}
	}

	t, err := openTarget(*data, op == "add")
	if err != nil {
		return fmt.Errorf("user %s: %w", op, err)
	}
	defer t.close()
	req := server.AdminRequest{Op: "user-" + op}
	switch {
	case isBulk:
		for i := 1; i <= *bulk; i++ {
			l, err := t.localpart(fmt.Sprintf(*pattern, i))
			if err != nil {
				return fmt.Errorf("user add: %w", err)
			}
			req.Users = append(req.Users, l)
		}
		req.Password = *password
	case op != "list":
		if req.User, err = t.localpart(fs.Arg(0)); err != nil {
			return fmt.Errorf("user %s: %w", op, err)
		}
	}
	name := t.jidOf(req.User)
	if op == "add" || op == "passwd" {
		switch {
		case isBulk:
		case fs.NArg() == 2:
			req.Password = fs.Arg(1)
		case *password != "":
			req.Password = *password
		default:
			if req.Password, err = readPassword(stdin, os.Stderr); err != nil {
				return fmt.Errorf("user %s %s: %w", op, name, err)
			}
		}
		if req.Password == "" {
			return fmt.Errorf("user %s %s: the password must not be empty", op, name)
		}
	}
	rep, err := t.call(req)
	if err == nil && rep.Error != "" {
		err = errors.New(rep.Error)
	}
	if err != nil {
		if isBulk {
			return fmt.Errorf("user add: %d of %d accounts created; %w", rep.Done, len(req.Users), err)
		}
		return fmt.Errorf("user %s %s: %w", op, name, err)
	}
	switch op {
	case "list":
		for _, u := range rep.Users {
			fmt.Fprintln(stdout, t.jidOf(u))
		}
	case "add":
		if isBulk {
			fmt.Fprintf(stdout, "%d users added\n", rep.Done)
		} else {
			fmt.Fprintf(stdout, "user %s added\n", name)
		}
	case "passwd":
		fmt.Fprintf(stdout, "password changed for %s\n", name)
	case "del":
		fmt.Fprintf(stdout, "user %s deleted\n", name)
	}
	return t.close()
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}
