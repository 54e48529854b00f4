package main

import (
	"bytes"
	"strings"
	"testing"

	"ignis/internal/servertest"
	"ignis/store"
)

// TestGroupCommand runs `ignis group` on a data folder no server holds, then
// on one a running server holds (through its admin socket).
func TestGroupCommand(t *testing.T) {
	run := func(t *testing.T, data string, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := group(append(args, "--data", data), &out); err != nil {
			t.Fatalf("group %v: %v", args, err)
		}
		return out.String()
	}
	script := func(t *testing.T, data string) {
		run(t, data, "add", "dev", "--display", "Developers")
		run(t, data, "add", "ops")
		run(t, data, "member", "add", "dev", "alice@localhost")
		run(t, data, "member", "add", "dev", "bob")
		run(t, data, "member", "add", "ops", "bob")
		run(t, data, "member", "del", "dev", "bob")
		run(t, data, "del", "ops")
		if got, want := run(t, data, "list"), "dev\tDevelopers\talice\n"; got != want {
			t.Fatalf("list = %q, want %q", got, want)
		}
		var out bytes.Buffer
		for _, bad := range [][]string{{"add", "dev"}, {"member", "add", "dev", "nobody"}, {"member", "add", "nope", "alice"}, {"del"}, {"frob"}} {
			if err := group(append(bad, "--data", data), &out); err == nil {
				t.Errorf("group %v succeeded", bad)
			}
		}
	}
	t.Run("offline", func(t *testing.T) {
		data := t.TempDir()
		db, err := store.Open(&store.Options{Dir: data})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"alice", "bob"} {
			if err := db.Accounts().Create(u, "pw"); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		script(t, data)
	})
	t.Run("running", func(t *testing.T) {
		env := servertest.Start(t)
		env.AddUser("alice", "pw")
		env.AddUser("bob", "pw")
		script(t, env.Cfg.Data)
		g, err := env.Srv.DB().Groups().Get("dev")
		if err != nil || strings.Join(g.Members, ",") != "alice" {
			t.Fatalf("the server's store has %+v, %v", g, err)
		}
	})
}
