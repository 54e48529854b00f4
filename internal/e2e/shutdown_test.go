package e2e

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestShutdownHandsBack: a server that stops ends every session with a
// <system-shutdown/> stream error (RFC 6120 §4.9.3.17) and closes the
// streams, Stream Management or not; messages alice's XEP-0198 client
// received but never acknowledged are in offline storage after the restart,
// each once, in order, stamped with a delay.
func TestShutdownHandsBack(t *testing.T) {
	dir := t.TempDir()
	env, stop := startAt(t, dir)
	addUsers(env, "alice", "bob")
	bob := rawStream(t, env, "bob", "desk")
	alice, _ := smLogin(t, env, "alice", "phone", "urn:xmpp:sm:3", false)
	for i := 1; i <= 3; i++ {
		bob.send(smChat("alice@localhost/phone", "m"+strconv.Itoa(i)))
	}
	if got := alice.messages(3); !sameList(got, bodies(1, 3)) {
		t.Fatalf("got %v", got)
	}
	alice.send("<a xmlns='urn:xmpp:sm:3' h='1'/>") // m1 acknowledged; m2, m3 not
	// the answer to <r/> says the server has read the <a/> before it
	alice.send("<r xmlns='urn:xmpp:sm:3'/>")
	alice.next("a")

	stop()
	for _, c := range []struct {
		name string
		out  string
	}{
		{"alice (XEP-0198)", alice.next("error").Inner},
		{"bob", bob.expect("</stream:stream>")},
	} {
		if !strings.Contains(c.out, "<system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>") {
			t.Fatalf("%s: no <system-shutdown/> stream error: %q", c.name, c.out)
		}
	}
	alice.closedAfter()

	env, _ = startAt(t, dir)
	var stored []string
	err := env.Srv.DB().Offline().List("alice", func(_ uint64, raw []byte) bool {
		_, b, _ := strings.Cut(string(raw), "<body>")
		b, _, _ = strings.Cut(b, "</body>")
		stored = append(stored, b)
		return true
	})
	if err != nil || !sameList(stored, bodies(2, 3)) {
		t.Fatalf("stored offline after the restart: %v, %v; want %v", stored, err, bodies(2, 3))
	}
	next := offLogin(t, env, "alice", "laptop")
	next.available(t)
	for _, want := range bodies(2, 3) {
		m := next.next(t)
		if m.Body != want || m.Delay == nil {
			t.Fatalf("got %+v, want %s with a delay stamp", m, want)
		}
	}
}

// TestShutdownStrangers: streams that are not bound when the server stops
// get <system-shutdown/> too (RFC 6120 §4.9.3.17), whether they sent only a
// stream header, nothing at all, or authenticated without binding.
func TestShutdownStrangers(t *testing.T) {
	env, stop := startAt(t, t.TempDir())
	addUsers(env, "alice")
	header1 := opened(t, env.DialTLS())
	silent := env.DialTLS() // the TLS handshake done: the server has its stream
	authed := opened(t, env.DialTLS())
	io.WriteString(authed, plainAuth("alice", "pw"))
	readUntil(t, authed, "<success")
	opened(t, authed) // the restarted stream, features offering bind

	stop()
	for _, c := range []struct {
		name string
		c    net.Conn
	}{{"header only", header1}, {"silent", silent}, {"authenticated", authed}} {
		got := readAll(t, c.c)
		if !strings.Contains(got, streamErr("system-shutdown")) || !strings.HasSuffix(got, "</stream:stream>") {
			t.Errorf("%s: got %q, want a <system-shutdown/> stream error and the stream's end", c.name, got)
		}
	}
}
