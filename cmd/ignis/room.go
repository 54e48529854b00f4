package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"ignis/internal/server"
	"ignis/jid"
	"ignis/mod/muc"
)

const roomUsage = `usage:
  ignis room list    [--data DIR]          (the running server's group chat rooms)
  ignis room info    [--data DIR] ROOM     (one room: ROOM is its name or its JID)
  ignis room destroy [--data DIR] ROOM [--reason TEXT]   (occupants are told, with TEXT; a persistent room's record and archive go)
`

// room runs `ignis room list|info|destroy` against the running server, as
// prosodyctl's and ejabberdctl's room commands (muc_online_rooms,
// destroy_room): the admin socket's room-list and room-destroy, the
// operations behind the console's rooms page and REST /api/rooms. There is
// no create: a room comes into being with its first occupant, who owns it.
func room(args []string, stdout io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprint(stdout, roomUsage)
		if len(args) == 0 {
			return errors.New("room: say list, info or destroy")
		}
		return nil
	}
	op, rest := args[0], args[1:]
	fs := flag.NewFlagSet("room "+op, flag.ContinueOnError)
	data := fs.String("data", "./data", "data `folder` of the running server")
	reason := fs.String("reason", "", "destroy: the reason occupants are given")
	if help, err := parseFlags(fs, rest, true, stdout, roomUsage); help || err != nil {
		return err
	}
	want := map[string]int{"list": 0, "info": 1, "destroy": 1}
	n, ok := want[op]
	switch {
	case !ok:
		return fmt.Errorf("room: unknown operation %q (list, info, destroy)", op)
	case fs.NArg() != n:
		return fmt.Errorf("room %s: want %d argument(s), got %d", op, n, fs.NArg())
	case *reason != "" && op != "destroy":
		return fmt.Errorf("room %s: --reason is for destroy", op)
	}
	switch op {
	case "destroy":
		name := fs.Arg(0)
		if _, err := liveCall(*data, server.AdminRequest{Op: "room-destroy", Room: name, Message: *reason}); err != nil {
			return fmt.Errorf("room destroy %s: %w", name, err)
		}
		fmt.Fprintf(stdout, "room %s destroyed\n", name)
		return nil
	case "info":
		rep, err := liveCall(*data, server.AdminRequest{Op: "room-list"})
		if err != nil {
			return fmt.Errorf("room info: %w", err)
		}
		r, ok := findRoom(rep.Rooms, fs.Arg(0))
		if !ok {
			return fmt.Errorf("room info: there is no room %q", fs.Arg(0))
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(w, "jid\t%s\n", r.JID)
		fmt.Fprintf(w, "name\t%s\n", r.Name)
		fmt.Fprintf(w, "occupants\t%d\n", r.Occupants)
		fmt.Fprintf(w, "persistent\t%s\n", yesNo(r.Persistent))
		fmt.Fprintf(w, "public\t%s\n", yesNo(r.Public))
		fmt.Fprintf(w, "members only\t%s\n", yesNo(r.MembersOnly))
		fmt.Fprintf(w, "password\t%s\n", yesNo(r.Password))
		fmt.Fprintf(w, "locked\t%s\n", yesNo(r.Locked))
		return w.Flush()
	}
	rep, err := liveCall(*data, server.AdminRequest{Op: "room-list"})
	if err != nil {
		return fmt.Errorf("room list: %w", err)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ROOM\tOCCUPANTS\tPERSISTENT\tPUBLIC\tFLAGS\tNAME")
	for _, r := range rep.Rooms {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", r.JID, r.Occupants, yesNo(r.Persistent), yesNo(r.Public), roomFlags(r), r.Name)
	}
	return w.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// roomFlags names what restricts entry, "-" for an open room.
func roomFlags(r muc.RoomInfo) string {
	var f []string
	if r.MembersOnly {
		f = append(f, "members-only")
	}
	if r.Password {
		f = append(f, "password")
	}
	if r.Locked {
		f = append(f, "locked")
	}
	if len(f) == 0 {
		return "-"
	}
	return strings.Join(f, ",")
}

// findRoom picks the room named by s: its JID, or its name (the JID's
// localpart), compared as normalized JIDs.
func findRoom(rooms []muc.RoomInfo, s string) (muc.RoomInfo, bool) {
	for _, r := range rooms {
		rj, err := jid.Parse(r.JID)
		if err != nil {
			continue
		}
		q := s
		if !strings.Contains(q, "@") {
			q += "@" + rj.Domain()
		}
		if j, err := jid.Parse(q); err == nil && j.String() == rj.String() {
			return r, true
		}
	}
	return muc.RoomInfo{}, false
}
