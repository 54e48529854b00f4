package e2e

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"ignis/internal/server"
)

// TestS2SLinkMemory: what linking with a peer costs in the Go heap, both
// ends counted (every server runs in this process), with XEP-0288 (one
// link, plus a verification link that closes) and without (a link each
// way). a.test links with five peers, one message each way with each; the
// first pays the one-time costs (the system's root certificates, TLS and
// resolver state), so the heap is measured around the other four. Each
// figure stays under a bound, bidi costs less, and both are logged
// (go test -v -run TestS2SLinkMemory ./internal/e2e/).
func TestS2SLinkMemory(t *testing.T) {
	perPeer := map[bool]int64{}
	for _, bidi := range []bool{true, false} {
		perPeer[bidi] = linkHeap(t, bidi)
		t.Logf("bidi=%v: Go heap per peer, both ends: %d B (%.1f KiB)", bidi, perPeer[bidi], float64(perPeer[bidi])/1024)
		if perPeer[bidi] > 256<<10 {
			t.Errorf("bidi=%v: a peer's links cost %d B of heap, over 256 KiB", bidi, perPeer[bidi])
		}
	}
	if perPeer[true] >= perPeer[false] {
		t.Errorf("one bidirectional link costs %d B, not less than a link each way (%d B)", perPeer[true], perPeer[false])
	}
}

// linkHeap links a.test with five peers and returns the heap the last
// four added, per peer.
func linkHeap(t *testing.T, bidi bool) int64 {
	const peers = 5
	set := func(c *server.Config) { c.S2S.Bidi = bidi }
	a := fedServer(t, "a.test", nil, set)
	alice := fedLogin(t, a, "alice")
	alice.online()
	var bobs []*stream
	for i := range peers {
		d := fmt.Sprintf("b%d.test", i)
		b := fedServer(t, d, nil, set)
		resolve(a, b)
		resolve(b, a)
		bob := fedLogin(t, b, "bob")
		bob.online()
		bobs = append(bobs, bob)
	}
	exchange := func(i int) {
		d, bob := fmt.Sprintf("b%d.test", i), bobs[i]
		alice.send("<message to='bob@" + d + "' id='l" + d + "'><body>hi</body></message>")
		bob.expect("<body>hi</body></message>")
		bob.send("<message to='alice@a.test/r' id='r" + d + "'><body>back</body></message>")
		alice.expect("<body>back</body></message>")
	}
	exchange(0)
	before := liveHeap()
	for i := 1; i < peers; i++ {
		exchange(i)
	}
	after := liveHeap()
	want := 0 // incoming links at a.test: none with bidi
	if !bidi {
		want = peers
	}
	if out, in := a.Srv.S2S().Links(); out != peers || in != want {
		t.Errorf("bidi=%v: a.test has %d outgoing and %d incoming links; want %d and %d", bidi, out, in, peers, want)
	}
	return (after - before) / (peers - 1)
}

// TestS2SPiggybackMemory: what one more local domain costs when it rides
// an existing link by dialback piggybacking, against a link of its own
// (max_domains_per_link = 1), in the Go heap, both ends counted. a.test
// and 16 virtual hosts each exchange a message with b.test (XEP-0288
// on: one link carries both directions); the primary domain pays the
// one-time costs, the heap is measured around the vhosts. Both figures
// are logged (go test -v -run TestS2SPiggybackMemory ./internal/e2e/) and
// piggybacking must cost less.
func TestS2SPiggybackMemory(t *testing.T) {
	perDomain := map[bool]int64{}
	for _, piggy := range []bool{true, false} {
		perDomain[piggy] = domainHeap(t, piggy)
		t.Logf("piggyback=%v: Go heap per further local domain, both ends: %d B (%.1f KiB)", piggy, perDomain[piggy], float64(perDomain[piggy])/1024)
	}
	if perDomain[true] >= perDomain[false] {
		t.Errorf("a piggybacked domain costs %d B, not less than a link of its own (%d B)", perDomain[true], perDomain[false])
	}
}

// domainHeap links a.test and its vhosts with b.test, one domain after
// the other, and returns the heap each vhost added.
func domainHeap(t *testing.T, piggy bool) int64 {
	const vhosts = 16
	var hosts []server.VHost
	for i := range vhosts {
		hosts = append(hosts, server.VHost{Domain: fmt.Sprintf("v%d.test", i)})
	}
	blog := newLogSink()
	a := fedServer(t, "a.test", nil, func(c *server.Config) {
		c.VHosts = hosts
		if !piggy {
			c.S2S.MaxDomainsPerLink = 1
		}
	})
	b := fedServer(t, "b.test", blog)
	resolve(a, b)
	resolve(b, a)
	senders := []*stream{fedLogin(t, a, "alice")}
	for _, h := range hosts {
		resolve(b, a, h.Domain)
		addAccount(t, a, "carol@"+h.Domain, "pw")
		senders = append(senders, hostStream(t, a, "carol@"+h.Domain+"/r", "pw"))
	}
	for _, s := range senders {
		s.online()
	}
	bob := fedLogin(t, b, "bob")
	bob.online()
	exchange := func(i int) {
		s := senders[i]
		s.send("<message to='bob@b.test' id='d" + fmt.Sprint(i) + "'><body>hi</body></message>")
		bob.expect("<body>hi</body></message>")
		bob.send("<message to='" + s.name + "' id='r" + fmt.Sprint(i) + "'><body>back</body></message>")
		s.expect("<body>back</body></message>")
	}
	exchange(0)
	blog.wait(t, "link closed", "domain=a.test") // b.test's verification link
	before := liveHeap()
	for i := 1; i <= vhosts; i++ {
		exchange(i)
		blog.wait(t, "link closed", "domain="+hosts[i-1].Domain)
	}
	after := liveHeap()
	want := 1
	if !piggy {
		want = 1 + vhosts
	}
	if out, _ := a.Srv.S2S().Links(); out != want {
		t.Errorf("piggyback=%v: a.test has %d outgoing links; want %d", piggy, out, want)
	}
	return (after - before) / vhosts
}

// TestS2SQueueMemory: what a stanza waiting for a link costs in the Go
// heap. A peer that accepts and never answers keeps 1,000 messages of
// alice's queued (her ping's answer says the server routed them all); the
// heap they added, per message, stays under a bound and is logged.
func TestS2SQueueMemory(t *testing.T) {
	const n = 1000
	a := fedServer(t, "a.test", nil, func(c *server.Config) {
		c.S2S.MaxQueue = 2 * n
		c.S2S.RequireTLS = false // the peer offers no TLS: dialback it never finishes
	})
	a.Srv.S2S().SetHost("mute.test", stallingPeer(t))
	alice := fedLogin(t, a, "alice")
	// the link exists and is stuck before the measure
	alice.send("<message to='x@mute.test' id='q0'><body>first</body></message>")
	if got := alice.iq("p0", "<iq type='get' id='p0'><ping xmlns='urn:xmpp:ping'/></iq>"); strings.Contains(got, "<message") {
		t.Fatalf("alice got %q: the first message did not wait", got)
	}
	before := liveHeap()
	body := "<body>" + fmt.Sprintf("%064d", 0) + "</body>"
	for i := range n {
		alice.send(fmt.Sprintf("<message to='x@mute.test' id='q%d'>%s</message>", i+1, body))
	}
	got := alice.iq("p1", "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
	after := liveHeap()
	if strings.Contains(got, "<message") || len(alice.buf) > 0 {
		t.Fatalf("alice got %q: the messages did not wait", got+string(alice.buf))
	}
	per := (after - before) / n
	t.Logf("Go heap per queued stanza (a message with a 64-byte body): %d B", per)
	if per > 2048 {
		t.Errorf("a queued stanza costs %d B of heap, over 2 KiB", per)
	}
}

// liveHeap is the Go heap in use after two collections (the second frees
// what the first's finalizers released).
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
