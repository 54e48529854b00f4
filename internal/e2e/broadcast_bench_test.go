package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// countMarks reads c until it fails, sending one value on got for each
// occurrence of mark (which may straddle reads).
func countMarks(c net.Conn, mark []byte, got chan<- struct{}) {
	buf := make([]byte, 32<<10)
	var carry []byte
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		data := append(carry, buf[:n]...)
		for {
			i := bytes.Index(data, mark)
			if i < 0 {
				break
			}
			got <- struct{}{}
			data = data[i+len(mark):]
		}
		keep := min(len(data), len(mark)-1)
		carry = append(carry[:0:0], data[len(data)-keep:]...)
	}
}

// BenchmarkBroadcastFanOut: one op is a message from the admin to
// all@broadcast.localhost until every one of N online users (direct TLS,
// one resource each) has read it: the fan-out's latency through the
// router, the recipients' loops, TLS and the kernel, measured by the clients.
func BenchmarkBroadcastFanOut(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			env := servertest.Start(b, func(c *server.Config) {
				c.Admin.JIDs = []string{"admin@localhost"}
				c.Broadcast.PerMinute = 6000
			})
			env.AddUser("admin", "pw")
			got := make(chan struct{}, n)
			mark := []byte("fan-out</body>")
			for i := range n {
				u := fmt.Sprintf("u%d", i)
				env.AddUser(u, "pw")
				c := rawLoginOn(b, env.DialTLS(), u, "pw", "r")
				io.WriteString(c, "<presence/>")
				readUntil(b, c, "<presence from=")
				_ = c.SetReadDeadline(time.Time{})
				go countMarks(c, mark, got)
			}
			admin := rawLoginOn(b, env.DialTLS(), "admin", "pw", "r")
			go io.Copy(io.Discard, admin) // the admin's own input is not looked at
			msg := []byte("<message to='all@broadcast.localhost' type='headline'><body>fan-out</body></message>")
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := admin.Write(msg); err != nil {
					b.Fatal(err)
				}
				for range n {
					select {
					case <-got:
					case <-time.After(30 * time.Second):
						b.Fatal("a recipient did not get the broadcast within 30 s")
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/recipient")
		})
	}
}
