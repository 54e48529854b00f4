package proxy65

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
	"time"
)

// FuzzSOCKS5: three strangers on the proxy port send whatever they like,
// split as the input says; the stream they name may be activated as the
// XMPP side would. Each SOCKS5 reply is one RFC 1928 wants, the handshake
// buffer stays bounded, bytes relayed between two live ends arrive whole
// and in order, and once every connection is closed the relay holds no
// stream.
//
// The input is a program: a byte op, then for op&3 < 3 a length byte and
// that many bytes for connection op&3; op&3 == 3 activates the stream of
// the first connection to have joined, or closes connection op>>2&3.
func FuzzSOCKS5(f *testing.F) {
	chunk := func(c byte, b []byte) []byte { return append([]byte{c, byte(len(b))}, b...) }
	req := append([]byte{5, 1, 0}, request(hash)...)
	var both []byte
	both = append(both, chunk(0, req)...)
	both = append(both, chunk(1, req[:7])...)
	both = append(both, chunk(1, req[7:])...)
	both = append(both, 3)
	both = append(both, chunk(0, []byte("hello"))...)
	both = append(both, chunk(1, []byte("bye"))...)
	both = append(both, chunk(2, req)...)
	both = append(both, 3|1<<2)
	both = append(both, chunk(0, []byte("gone"))...)
	f.Add(both)
	f.Add(chunk(0, []byte{5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80}))
	f.Add(chunk(0, append([]byte{5, 2, 1, 2}, 5)))
	f.Add(chunk(0, append([]byte{5, 1, 0}, request("short")...)))
	f.Add(chunk(2, append(req, "early"...)))
	f.Add(append(chunk(0, req), chunk(0, req)...))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, prog []byte) {
		r := New(Config{MaxBuffer: 64, MaxBytes: 256, Timeout: time.Minute, Logger: logger})
		var (
			ts    [3]*fakeTransport
			cs    [3]*conn
			hs    [3]int    // output bytes of each handshake
			sent  [3][]byte // bytes each end relayed to the other
			ended [3]bool
			first = -1
		)
		for i := range cs {
			ts[i] = &fakeTransport{}
			cs[i] = r.Handler(ts[i]).(*conn)
		}
		end := func(i int) {
			if !ended[i] {
				ended[i] = true
				cs[i].Closed(nil)
			}
		}
		for len(prog) > 0 {
			op := prog[0]
			prog = prog[1:]
			i := int(op & 3)
			if i == 3 {
				if j := int(op>>2) & 3; j < 3 {
					end(j)
				} else if first >= 0 && cs[first].st != nil {
					_ = r.Activate(cs[first].st.hash)
				}
			} else if len(prog) > 0 {
				n := min(int(prog[0]), len(prog)-1)
				p := bytes.Clone(prog[1 : 1+n])
				prog = prog[1+n:]
				if ended[i] {
					continue
				}
				before := cs[i].state
				err := cs[i].Traffic(p)
				switch {
				case err != nil:
					end(i) // the loop closes a connection whose handler failed
				case before >= stWaiting:
					sent[i] = append(sent[i], p...)
				case cs[i].state >= stWaiting:
					hs[i] = ts[i].out.Len()
					if first < 0 {
						first = i
					}
				}
				if len(cs[i].carry) > maxHandshake+2+255 {
					t.Fatalf("handshake carry %d", len(cs[i].carry))
				}
			}
			for j := range cs {
				if !ended[j] {
					cs[j].Wakeup()
				}
			}
		}
		for i, c := range cs {
			checkReplies(t, ts[i].out.Bytes(), hs[i], c.state >= stWaiting || hs[i] > 0)
			if ended[i] || c.st == nil {
				continue
			}
			// a live pair: what one end sent is what the other got
			for j, d := range cs {
				if j != i && !ended[j] && d.st == c.st && hs[j] > 0 {
					if got := ts[j].out.Bytes()[hs[j]:]; !bytes.Equal(got, sent[i]) {
						t.Fatalf("%d sent %q, %d got %q", i, sent[i], j, got)
					}
				}
			}
		}
		for i := range cs {
			end(i)
		}
		if n := r.Streams(); n != 0 {
			t.Fatalf("%d streams left after every connection closed", n)
		}
	})
}

// checkReplies: a handshake's output is the method choice and then, if a
// request came, one RFC 1928 §6 reply: success echoing the address, or a
// failure with an IPv4 address of zeros.
func checkReplies(t *testing.T, out []byte, hs int, joined bool) {
	t.Helper()
	h := out
	if joined {
		h = out[:hs]
	}
	if len(h) == 0 {
		return
	}
	if len(h) < 2 || h[0] != 5 || (h[1] != 0 && h[1] != 0xff) {
		t.Fatalf("method choice %x", h)
	}
	rest := h[2:]
	switch {
	case h[1] == 0xff && len(rest) != 0:
		t.Fatalf("wrote %x after refusing every method", h)
	case len(rest) == 0:
	case joined:
		if len(rest) != 7+40 || rest[0] != 5 || rest[1] != 0 || rest[3] != 3 || rest[4] != 40 || rest[45] != 0 || rest[46] != 0 {
			t.Fatalf("success reply %x", rest)
		}
	default:
		if len(rest) != 10 || rest[0] != 5 || rest[1] == 0 || rest[3] != 1 {
			t.Fatalf("failure reply %x", rest)
		}
	}
}
