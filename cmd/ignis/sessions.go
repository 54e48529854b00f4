package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"ignis/internal/server"
)

const sessionsUsage = "usage: ignis sessions [--data DIR]   (the running server's bound client sessions)\n"
const kickUsage = "usage: ignis kick [--data DIR] JID   (ends a full JID's session, or every session of a bare JID, with <policy-violation/>)\n"

// liveTarget opens the admin socket of the server running on data; these
// commands have nothing to say about a stopped server.
func liveTarget(data string) (*target, error) {
	t, err := openTarget(data, false)
	if err != nil {
		return nil, err
	}
	if t.db != nil {
		t.close()
		return nil, fmt.Errorf("no server is running on %s", data)
	}
	return t, nil
}

// sessions runs `ignis sessions`: one line per bound session.
func sessions(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sessions", flag.ContinueOnError)
	data := fs.String("data", "./data", "data `folder` of the running server")
	if help, err := parseFlags(fs, args, true, stdout, sessionsUsage); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sessions: unexpected argument %q", fs.Arg(0))
	}
	t, err := liveTarget(*data)
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	rep, err := t.call(server.AdminRequest{Op: "sessions"})
	if err == nil && rep.Error != "" {
		err = errors.New(rep.Error)
	}
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	yes := map[bool]string{true: "yes", false: "no"}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "JID\tIP\tTLS\tSM\tSINCE")
	for _, s := range rep.Sessions {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.JID, s.Addr, yes[s.TLS], yes[s.SM], s.Since.UTC().Format(time.RFC3339))
	}
	return w.Flush()
}

// kick runs `ignis kick JID`.
func kick(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("kick", flag.ContinueOnError)
	data := fs.String("data", "./data", "data `folder` of the running server")
	if help, err := parseFlags(fs, args, true, stdout, kickUsage); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("kick: give one JID")
	}
	t, err := liveTarget(*data)
	if err != nil {
		return fmt.Errorf("kick: %w", err)
	}
	rep, err := t.call(server.AdminRequest{Op: "kick", User: fs.Arg(0)})
	if err == nil && rep.Error != "" {
		err = errors.New(rep.Error)
	}
	if err != nil {
		return fmt.Errorf("kick %s: %w", fs.Arg(0), err)
	}
	fmt.Fprintf(stdout, "%d session(s) of %s ended\n", rep.Done, fs.Arg(0))
	return nil
}
