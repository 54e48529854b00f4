package main

import (
	"testing"
)

// TestUserCommandVHosts: on a data folder whose server has a virtual host,
// `ignis user` takes alice@vhost as an account of its own beside the
// primary domain's alice, lists both as JIDs, and refuses other domains.
func TestUserCommandVHosts(t *testing.T) {
	run := userFolder(t, "localhost\nexample.net\n")
	runUserSteps(t, run, []userStep{
		{"", []string{"add", "alice", "pw1"}, "user alice@localhost added\n", ""},
		{"", []string{"add", "alice@example.net", "pw2"}, "user alice@example.net added\n", ""},
		{"", []string{"add", "Alice@Example.net", "pw2"}, "", "user add alice@example.net: already exists"},
		{"", []string{"add", "alice@example.org", "pw"}, "", "this server serves localhost, example.net, not example.org"},
		{"", []string{"passwd", "alice@example.net", "pw3"}, "password changed for alice@example.net\n", ""},
		{"", []string{"list"}, "alice@localhost\nalice@example.net\n", ""},
		{"", []string{"del", "alice@example.net"}, "user alice@example.net deleted\n", ""},
		{"", []string{"list"}, "alice@localhost\n", ""},
	})
}
