package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"ignis/internal/server"
	"ignis/store"
)

// group runs `ignis group add|del|member|list`: shared roster groups
// (Openfire's shared groups). Like `ignis user`, it opens the data folder
// itself when no server holds it and otherwise asks the running server
// through its admin socket.
//
//	ignis group add NAME [--display D]
//	ignis group del NAME
//	ignis group member add|del NAME USER
//	ignis group list
func group(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("group: say add, del, member or list")
	}
	op, rest := args[0], args[1:]
	if op == "member" {
		if len(rest) == 0 || (rest[0] != "add" && rest[0] != "del") {
			return errors.New("group member: say add or del")
		}
		op, rest = "member "+rest[0], rest[1:]
	}
	fs := flag.NewFlagSet("group "+op, flag.ContinueOnError)
	data := fs.String("data", "./data", "data `folder`")
	display := fs.String("display", "", "the roster group name members see (add; default NAME)")
	if err := parseInterspersed(fs, rest); err != nil {
		return err
	}
	want := map[string]int{"add": 1, "del": 1, "member add": 2, "member del": 2, "list": 0}
	n, ok := want[op]
	switch {
	case !ok:
		return fmt.Errorf("group: unknown operation %q (add, del, member add|del, list)", op)
	case fs.NArg() != n:
		return fmt.Errorf("group %s: want %d argument(s), got %d", op, n, fs.NArg())
	}
	req := server.AdminRequest{Op: "group-" + strings.ReplaceAll(op, " ", "-")}
	if n > 0 {
		req.Group = fs.Arg(0)
	}
	if op == "add" {
		req.Display = *display
	}
	if n == 2 {
		local, err := localpart(fs.Arg(1))
		if err != nil {
			return err
		}
		req.User = local
	}

	var rep server.AdminReply
	db, err := store.Open(&store.Options{Dir: *data})
	switch {
	case err == nil:
		rep = server.Admin(db, req)
		if err := db.Close(); err != nil && rep.Error == "" {
			return err
		}
	case errors.Is(err, store.ErrLocked):
		if rep, err = server.CallAdmin(*data, req); err != nil {
			return err
		}
	default:
		return err
	}
	if rep.Error != "" {
		return fmt.Errorf("group %s: %s", op, rep.Error)
	}
	for _, g := range rep.Groups {
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", g.Name, g.Display, strings.Join(g.Members, ","))
	}
	return nil
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments ("group add dev --display Developers").
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}
