package store

import (
	"errors"
	"reflect"
	"testing"
)

func TestGroups(t *testing.T) {
	db := openTest(t, nil)
	g := db.Groups()

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(g.Create("dev", "Developers"))
	must(g.Create("ops", ""))
	if err := g.Create("dev", "again"); !errors.Is(err, ErrExists) {
		t.Fatalf("Create twice: %v, want ErrExists", err)
	}
	for _, bad := range []string{"", "a\x00b"} {
		if err := g.Create(bad, ""); !errors.Is(err, ErrInvalidGroup) {
			t.Errorf("Create(%q): %v, want ErrInvalidGroup", bad, err)
		}
	}
	if err := g.AddMember("nope", "alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("AddMember to a missing group: %v", err)
	}
	must(g.AddMember("dev", "bob"))
	must(g.AddMember("dev", "alice"))
	must(g.AddMember("dev", "alice")) // idempotent
	must(g.AddMember("ops", "alice"))

	got, err := g.Get("dev")
	must(err)
	if want := (Group{Name: "dev", Display: "Developers", Members: []string{"alice", "bob"}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("Get(dev) = %+v, want %+v", got, want)
	}
	if got, _ := g.Get("ops"); got.Display != "ops" {
		t.Fatalf("empty display not defaulted to the name: %+v", got)
	}
	if _, err := g.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(nope): %v", err)
	}

	of, err := g.GroupsOf("alice")
	must(err)
	if len(of) != 2 || of[0].Name != "dev" || of[1].Name != "ops" {
		t.Fatalf("GroupsOf(alice) = %+v", of)
	}
	if of, _ := g.GroupsOf("bob"); len(of) != 1 || of[0].Name != "dev" {
		t.Fatalf("GroupsOf(bob) = %+v", of)
	}

	var names []string
	must(g.List(func(gr Group) bool { names = append(names, gr.Name); return true }))
	if !reflect.DeepEqual(names, []string{"dev", "ops"}) {
		t.Fatalf("List = %v", names)
	}

	must(g.RemoveMember("dev", "bob"))
	if err := g.RemoveMember("dev", "bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RemoveMember twice: %v", err)
	}
	if of, _ := g.GroupsOf("bob"); len(of) != 0 {
		t.Fatalf("bob still in %+v", of)
	}

	must(g.Delete("dev"))
	if err := g.Delete("dev"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete twice: %v", err)
	}
	if of, _ := g.GroupsOf("alice"); len(of) != 1 || of[0].Name != "ops" {
		t.Fatalf("GroupsOf(alice) after delete = %+v", of)
	}
	// Re-creating a deleted group starts empty.
	must(g.Create("dev", ""))
	if got, _ := g.Get("dev"); len(got.Members) != 0 {
		t.Fatalf("re-created group has members %v", got.Members)
	}
	lo, hi := groupMemberSpan("dev")
	if n := countRange(t, db, lo, hi); n != 0 {
		t.Fatalf("%d member keys left", n)
	}
}

func TestGroupCodec(t *testing.T) {
	for _, d := range []string{"", "x", "Dévelopers & co"} {
		got, err := decodeGroup(appendGroup(nil, d))
		if err != nil || got != d {
			t.Errorf("round trip %q: %q, %v", d, got, err)
		}
	}
	for _, v := range [][]byte{nil, {2, 0}, {groupV1}, {groupV1, 5, 'a'}, {groupV1, 1, 'a', 'b'}} {
		if _, err := decodeGroup(v); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeGroup(%q): %v, want ErrCorrupt", v, err)
		}
	}
}
