package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

const nsBytestreams = "http://jabber.org/protocol/bytestreams"

// socksHash is the SOCKS5 address of a bytestream (XEP-0065 §5.3.2).
func socksHash(sid, initiator, target string) string {
	h := sha1.Sum([]byte(sid + initiator + target))
	return hex.EncodeToString(h[:])
}

// socksConnect opens a SOCKS5 connection to the relay for hash, as a
// XEP-0065 client does: no authentication, CONNECT to DOMAINNAME hash, port 0.
func socksConnect(t testing.TB, addr, hash string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	// the greeting split across two writes: the relay keeps what is partial
	c.Write([]byte{5, 1})
	c.Write([]byte{0})
	readExact(t, c, []byte{5, 0})
	req := append([]byte{5, 1, 0, 3, byte(len(hash))}, hash...)
	req = append(req, 0, 0)
	c.Write(req)
	want := append([]byte{5, 0, 0, 3, byte(len(hash))}, hash...)
	readExact(t, c, append(want, 0, 0))
	return c
}

func readExact(t testing.TB, c net.Conn, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %x (%v), want %x", got, err, want)
	}
}

// TestProxy65: XEP-0065 over real sockets. The proxy is listed and tells
// its streamhost; two clients connect to the relay with the stream's hash;
// activation with a wrong sid or one party missing is refused with the XEP's
// conditions; once activated, a file goes from the initiator to the target
// byte for byte. A stream past max_bytes is cut, a lone connection times
// out, a bad greeting is refused.
func TestProxy65(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) {
		c.Proxy65.Enabled = true
		c.Proxy65.Listen = "127.0.0.1:0"
		c.Proxy65.Host = "127.0.0.1"
		c.Proxy65.MaxBytes = 3 << 20
		c.Proxy65.Timeout = server.Duration{Duration: time.Second}
	})
	proxy := env.Srv.ProxyAddr().String()
	_, port, _ := net.SplitHostPort(proxy)
	env.AddUser("alice", "pw")
	env.AddUser("bob", "pw")
	a := rawStream(t, env, "alice", "r")
	const ini, tgt = "alice@localhost/r", "bob@localhost/r"

	a.send("<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	a.expect("<item jid='proxy.localhost' name='SOCKS5 Bytestreams'/>")
	a.send("<iq type='get' id='d2' to='proxy.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	a.expect("<identity category='proxy' type='bytestreams' name='SOCKS5 Bytestreams'/>")
	a.send("<iq type='get' id='q1' to='proxy.localhost'><query xmlns='" + nsBytestreams + "'/></iq>")
	a.expect("<query xmlns='" + nsBytestreams + "'><streamhost jid='proxy.localhost' host='127.0.0.1' port='" + port + "'/></query>")

	activate := func(id, sid string) {
		a.send("<iq type='set' id='" + id + "' to='proxy.localhost'><query xmlns='" + nsBytestreams + "' sid='" + sid + "'><activate>" + tgt + "</activate></query></iq>")
	}
	// the target connects first (it then tells the initiator which streamhost it used)
	tc := socksConnect(t, proxy, socksHash("s1", ini, tgt))
	activate("a0", "s1")
	a.expect("<iq type='error' id='a0' from='proxy.localhost' to='" + ini + "'><error type='cancel'><not-allowed xmlns='" + nsStanzas + "'/>")
	ic := socksConnect(t, proxy, socksHash("s1", ini, tgt))
	activate("a1", "nope")
	a.expect("<iq type='error' id='a1' from='proxy.localhost' to='" + ini + "'><error type='cancel'><item-not-found xmlns='" + nsStanzas + "'/>")
	activate("a2", "s1")
	a.expect("<iq type='result' id='a2' from='proxy.localhost' to='" + ini + "'/>")

	file := make([]byte, 1<<20+123)
	rand.Read(file)
	go func() {
		ic.Write(file)
		ic.Close()
	}()
	got, err := io.ReadAll(tc)
	if err != nil || !bytes.Equal(got, file) {
		t.Fatalf("target got %d bytes (%v), want the %d sent", len(got), err, len(file))
	}

	// past max_bytes the stream is cut
	tc2 := socksConnect(t, proxy, socksHash("s2", ini, tgt))
	ic2 := socksConnect(t, proxy, socksHash("s2", ini, tgt))
	activate("a3", "s2")
	a.expect("<iq type='result' id='a3'")
	go func() {
		ic2.Write(make([]byte, 4<<20))
	}()
	n, _ := io.Copy(io.Discard, tc2)
	if n >= 4<<20 || n > 3<<20 {
		t.Errorf("relayed %d bytes of a stream limited to %d", n, 3<<20)
	}

	// a connection that is never activated is closed after the timeout
	lone := socksConnect(t, proxy, socksHash("s3", ini, tgt))
	if _, err := lone.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("a lone connection: read %v, want EOF after the timeout", err)
	}

	// SOCKS4 and a non-CONNECT request are refused
	c, _ := net.Dial("tcp", proxy)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte{4, 1, 0, 80, 127, 0, 0, 1, 0})
	if _, err := c.Read(make([]byte, 8)); err != io.EOF {
		t.Errorf("SOCKS4 greeting: read %v, want EOF", err)
	}
	c2, _ := net.Dial("tcp", proxy)
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(5 * time.Second))
	c2.Write([]byte{5, 1, 0})
	readExact(t, c2, []byte{5, 0})
	c2.Write([]byte{5, 2, 0, 1, 127, 0, 0, 1, 0, 80}) // BIND
	readExact(t, c2, []byte{5, 7})
}

// BenchmarkProxy65Relay: throughput of one activated stream through the
// relay on loopback (b.N chunks of 64 KiB from initiator to target).
func BenchmarkProxy65Relay(b *testing.B) {
	env := servertest.Start(b, func(c *server.Config) {
		c.Proxy65.Enabled = true
		c.Proxy65.Listen = "127.0.0.1:0"
		c.Proxy65.MaxBytes = 1 << 62
	})
	proxy := env.Srv.ProxyAddr().String()
	hash := socksHash("bench", "a@localhost/r", "b@localhost/r")
	tc := socksConnect(b, proxy, hash)
	ic := socksConnect(b, proxy, hash)
	tc.SetDeadline(time.Time{})
	ic.SetDeadline(time.Time{})
	if err := env.Srv.Relay().Activate(hash); err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	done := make(chan int64)
	go func() {
		n, _ := io.CopyN(io.Discard, tc, int64(b.N)*int64(len(chunk)))
		done <- n
	}()
	for range b.N {
		if _, err := ic.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if n := <-done; n != int64(b.N)*int64(len(chunk)) {
		b.Fatalf("relayed %d bytes", n)
	}
}

// TestProxy65Rate: a stream is paced at [proxy65] rate: 300 KB at 1 MB/s
// (a tenth of a second's worth to start) take at least 0.2 s, and all arrive.
func TestProxy65Rate(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) {
		c.Proxy65.Enabled = true
		c.Proxy65.Listen = "127.0.0.1:0"
		c.Proxy65.Rate = 1_000_000
	})
	proxy := env.Srv.ProxyAddr().String()
	hash := socksHash("rate", "a@localhost/r", "b@localhost/r")
	tc := socksConnect(t, proxy, hash)
	ic := socksConnect(t, proxy, hash)
	if err := env.Srv.Relay().Activate(hash); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	go func() {
		ic.Write(make([]byte, 300_000))
		ic.Close()
	}()
	n, _ := io.Copy(io.Discard, tc)
	if el := time.Since(start); n != 300_000 || el < 200*time.Millisecond {
		t.Errorf("relayed %d bytes in %v, want 300000 in at least 200ms", n, el)
	}
}
