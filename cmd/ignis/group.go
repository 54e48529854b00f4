package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"ignis/internal/server"
)

const groupUsage = `usage:
  ignis group add    [--data DIR] NAME [--display D]   (a shared roster group: members see each other)
  ignis group del    [--data DIR] NAME
  ignis group member add|del [--data DIR] NAME JID
  ignis group list   [--data DIR]
`

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
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprint(stdout, groupUsage)
		if len(args) == 0 {
			return errors.New("group: say add, del, member or list")
		}
		return nil
	}
	op, rest := args[0], args[1:]
	if op == "member" {
		if len(rest) > 0 && isHelp(rest[0]) {
			fmt.Fprint(stdout, groupUsage)
			return nil
		}
		if len(rest) == 0 || (rest[0] != "add" && rest[0] != "del") {
			return errors.New("group member: say add or del")
		}
		op, rest = "member "+rest[0], rest[1:]
	}
	fs := flag.NewFlagSet("group "+op, flag.ContinueOnError)
	data := fs.String("data", "./data", "data `folder`")
	display := fs.String("display", "", "the roster group name members see (add; default NAME)")
	if help, err := parseFlags(fs, rest, true, stdout, groupUsage); help || err != nil {
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
	t, err := openTarget(*data, op == "add")
	if err != nil {
		return fmt.Errorf("group %s: %w", op, err)
	}
	defer t.close()
	if n == 2 {
		if req.User, err = t.localpart(fs.Arg(1)); err != nil {
			return fmt.Errorf("group %s: %w", op, err)
		}
	}
	rep, err := t.call(req)
	if err != nil {
		return err
	}
	if err := t.close(); err != nil && rep.Error == "" {
		return err
	}
	if rep.Error != "" {
		if req.Group != "" {
			return fmt.Errorf("group %s %s: %s", op, req.Group, rep.Error)
		}
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

// parseFlags parses a command's flags (interspersed with its arguments when
// asked). --help prints usage and the options to stdout and reports help;
// a bad flag is only returned, so that it is said once, by main.
func parseFlags(fs *flag.FlagSet, args []string, interspersed bool, stdout io.Writer, usage string) (help bool, err error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if interspersed {
		err = parseInterspersed(fs, args)
	} else {
		err = fs.Parse(args)
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage, "\noptions:\n")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", fs.Name(), err)
	}
	return false, nil
}
