package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
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

const statsUsage = "usage: ignis stats [--data DIR] [--json]   (the running server's connections, sessions, stanzas, logins, memory and store size)\n"
const announceUsage = "usage: ignis announce [--data DIR] MESSAGE   (a headline message from the server to every online session)\n"

// stats runs `ignis stats`.
func stats(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	data := fs.String("data", "./data", "data `folder` of the running server")
	asJSON := fs.Bool("json", false, "print the figures as one JSON object")
	if help, err := parseFlags(fs, args, true, stdout, statsUsage); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("stats: unexpected argument %q", fs.Arg(0))
	}
	rep, err := liveCall(*data, server.AdminRequest{Op: "stats"})
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	f := rep.Stats
	if f == nil {
		return errors.New("stats: the server sent no figures")
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(f)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "uptime\t%s\n", f.Uptime)
	fmt.Fprintf(w, "connections\t%d\n", f.Connections)
	fmt.Fprintf(w, "sessions\t%d\n", f.Sessions)
	fmt.Fprintf(w, "stanzas in\t%d\n", f.StanzasIn)
	fmt.Fprintf(w, "stanzas out\t%d\n", f.StanzasOut)
	fmt.Fprintf(w, "logins\t%d\n", f.Logins)
	fmt.Fprintf(w, "login failures\t%d\n", f.LoginFailures)
	fmt.Fprintf(w, "heap\t%d KiB\n", f.HeapBytes>>10)
	fmt.Fprintf(w, "memory per session\t%d B\n", f.MemPerSession)
	fmt.Fprintf(w, "store on disk\t%d KiB\n", f.StoreBytes>>10)
	return w.Flush()
}

// announce runs `ignis announce MESSAGE`.
func announce(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("announce", flag.ContinueOnError)
	data := fs.String("data", "./data", "data `folder` of the running server")
	if help, err := parseFlags(fs, args, true, stdout, announceUsage); help || err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("announce: give the MESSAGE (quote it)")
	}
	msg := strings.Join(fs.Args(), " ")
	rep, err := liveCall(*data, server.AdminRequest{Op: "announce", Message: msg})
	if err != nil {
		return fmt.Errorf("announce: %w", err)
	}
	fmt.Fprintf(stdout, "announced to %d session(s)\n", rep.Done)
	return nil
}

// liveCall sends one request to the server running on data; a reply that
// says what went wrong is an error.
func liveCall(data string, req server.AdminRequest) (server.AdminReply, error) {
	t, err := liveTarget(data)
	if err != nil {
		return server.AdminReply{}, err
	}
	rep, err := t.call(req)
	if err == nil && rep.Error != "" {
		err = errors.New(rep.Error)
	}
	return rep, err
}
