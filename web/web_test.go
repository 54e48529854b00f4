package web

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"ignis/bench"
)

var testLimits = Limits{MaxHeaderBytes: 512, MaxHeaders: 8, MaxBodyBytes: 64, MaxFrameBytes: 1024}

// parseAll feeds chunks and collects every request completed, or the error.
func parseAll(chunks [][]byte) ([]request, *httpError) {
	p := newParser(&testLimits)
	var got []request
	for _, c := range chunks {
		for len(c) > 0 {
			n, err := p.feed(c)
			if err != nil {
				return got, err
			}
			c = c[n:]
			if p.state == psComplete {
				got = append(got, p.req)
				p.reset()
			}
		}
	}
	return got, nil
}

// The parser gives the same result however the input is split: whole, cut
// at every byte into two, and one byte at a time.
func TestParserSplits(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   []string // method target body, per request
		status int
	}{
		{"GET", "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", []string{"GET /a "}, 0},
		{"POST with a body", "POST /http-bind HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n<b/>x", []string{"POST /http-bind <b/>x"}, 0},
		{"pipelined", "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nhost: h\r\ncontent-length: 2\r\n\r\nhi", []string{"GET /1 ", "POST /2 hi"}, 0},
		{"bare LF and a leading empty line", "\r\nGET / HTTP/1.0\n\n", []string{"GET / "}, 0},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", nil, 400},
		{"bad request line", "GET /\r\n\r\n", nil, 400},
		{"HTTP/2", "GET / HTTP/2.0\r\n\r\n", nil, 505},
		{"folded header", "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", nil, 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", nil, 400},
		{"too many headers", "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X: y\r\n", 8) + "\r\n", nil, 431},
		{"header too large", "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("y", 600) + "\r\n\r\n", nil, 431},
		{"target too long", "GET /" + strings.Repeat("y", 600) + " HTTP/1.1\r\n\r\n", nil, 414},
		{"body too large", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65\r\n\r\n", nil, 413},
		{"POST without a length", "POST / HTTP/1.1\r\nHost: h\r\n\r\n", nil, 411},
		{"two lengths", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", nil, 400},
		{"chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", nil, 501},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			check := func(how string, chunks [][]byte) {
				got, err := parseAll(chunks)
				if tc.status != 0 {
					if err == nil || err.status != tc.status {
						t.Fatalf("%s: error %v, want %d", how, err, tc.status)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				var s []string
				for _, r := range got {
					s = append(s, r.method+" "+r.target+" "+string(r.body))
				}
				if fmt.Sprint(s) != fmt.Sprint(tc.want) {
					t.Fatalf("%s: %q, want %q", how, s, tc.want)
				}
			}
			check("whole", [][]byte{in})
			for i := 1; i < len(in); i++ {
				check(fmt.Sprintf("split at %d", i), [][]byte{bytes.Clone(in[:i]), bytes.Clone(in[i:])})
			}
			var bytewise [][]byte
			for i := range in {
				bytewise = append(bytewise, in[i:i+1])
			}
			check("byte by byte", bytewise)
		})
	}
}

func TestKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		http10     bool
		connection string
		want       bool
	}{
		{false, "", true}, {false, "close", false}, {false, "keep-alive, Upgrade", true},
		{true, "", false}, {true, "keep-alive", true},
	} {
		r := request{http10: tc.http10, connection: tc.connection}
		if r.keepAlive() != tc.want {
			t.Errorf("HTTP/1.0 %v, Connection %q: keep-alive %v", tc.http10, tc.connection, !tc.want)
		}
	}
}

// sink records what the frame reader decodes.
type sink struct {
	got string
	ctl []string
}

func (s *sink) text(p []byte) error { s.got += string(p); return nil }
func (s *sink) control(op byte, p []byte) {
	s.ctl = append(s.ctl, fmt.Sprintf("%d:%s", op, p))
}

func masked(b0 byte, p []byte) []byte {
	return bench.AppendClientFrame(nil, b0, [4]byte{0xa1, 0xb2, 0xc3, 0xd4}, p)
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// The frame reader, fed whole and split at every byte: text reassembled
// across fragments with control frames between them, protocol errors with
// their close codes (RFC 6455 §5, §7.4.1).
func TestWSFrames(t *testing.T) {
	long := strings.Repeat("x", 300) // a 16-bit length
	tests := []struct {
		name string
		in   []byte
		text string
		ctl  []string
		code uint16
	}{
		{"one message", masked(0x81, []byte("<open/>")), "<open/>", nil, 0},
		{"empty", masked(0x81, nil), "", nil, 0},
		{"16-bit length", masked(0x81, []byte(long)), long, nil, 0},
		{"64-bit length", func() []byte {
			b := []byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0}
			return append(b, "abc"...)
		}(), "abc", nil, 0},
		{"fragments and a ping", cat(masked(0x01, []byte("<a")), masked(0x89, []byte("p")), masked(0x00, []byte("/")), masked(0x80, []byte(">"))), "<a/>", []string{"9:p"}, 0},
		{"pong, close", cat(masked(0x8A, nil), masked(0x88, []byte{3, 0xe8})), "", []string{"10:", "8:\x03\xe8"}, 0},
		{"input after close is ignored", cat(masked(0x88, nil), masked(0x81, []byte("x"))), "", []string{"8:"}, 0},
		{"unmasked", []byte{0x81, 0x01, 'x'}, "", nil, closeProtocol},
		{"binary", masked(0x82, []byte("x")), "", nil, closeUnsupported},
		{"rsv1", masked(0xC1, []byte("x")), "", nil, closeProtocol},
		{"unknown opcode", masked(0x83, nil), "", nil, closeProtocol},
		{"continuation without a message", masked(0x80, []byte("x")), "", nil, closeProtocol},
		{"text inside a message", cat(masked(0x01, []byte("a")), masked(0x81, []byte("b"))), "a", nil, closeProtocol},
		{"fragmented control", masked(0x09, nil), "", nil, closeProtocol},
		{"long control", masked(0x89, make([]byte, 126)), "", nil, closeProtocol},
		{"over the limit", masked(0x81, make([]byte, 1025)), "", nil, closeTooBig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := func(how string, chunks [][]byte) {
				var r wsFrames
				var s sink
				var err error
				for _, c := range chunks {
					if err = r.feed(bytes.Clone(c), 1024, &s); err != nil {
						break
					}
				}
				var we *wsError
				switch {
				case tc.code != 0 && (!errors.As(err, &we) || we.code != tc.code):
					t.Fatalf("%s: error %v, want close %d", how, err, tc.code)
				case tc.code == 0 && err != nil:
					t.Fatalf("%s: %v", how, err)
				}
				if s.got != tc.text || fmt.Sprint(s.ctl) != fmt.Sprint(tc.ctl) {
					t.Fatalf("%s: text %q, control %q; want %q, %q", how, s.got, s.ctl, tc.text, tc.ctl)
				}
			}
			run("whole", [][]byte{tc.in})
			for i := 1; i < len(tc.in); i++ {
				run(fmt.Sprintf("split at %d", i), [][]byte{tc.in[:i], tc.in[i:]})
			}
		})
	}
}

func TestAppendFrame(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		p := bytes.Repeat([]byte{'a'}, n)
		f := appendFrame(nil, opText, p)
		var hdr int
		switch {
		case n < 126:
			hdr = 2
		case n <= 0xffff:
			hdr = 4
		default:
			hdr = 10
		}
		if f[0] != 0x81 || f[1]&0x80 != 0 || len(f) != hdr+n {
			t.Errorf("%d bytes: header % x, length %d", n, f[:hdr], len(f))
		}
	}
	if c := appendClose(nil, 1000, "bye"); !bytes.Equal(c, []byte{0x88, 5, 0x03, 0xe8, 'b', 'y', 'e'}) {
		t.Errorf("close frame % x", c)
	}
	// RFC 6455 §1.3's example
	if a := wsAccept("dGhlIHNhbXBsZSBub25jZQ=="); a != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("accept %q", a)
	}
}

// XEP-0124 §14: the rid window with requests = 2.
func TestRidCheck(t *testing.T) {
	for _, tc := range []struct {
		next, rid uint64
		want      ridKind
	}{
		{100, 100, ridNext},
		{100, 99, ridRepeat},
		{100, 98, ridRepeat},
		{100, 97, ridBad},
		{100, 101, ridAhead},
		{100, 102, ridBad},
		{100, 1 << 52, ridBad},
	} {
		if got := ridCheck(tc.next, tc.rid, 2); got != tc.want {
			t.Errorf("next %d, rid %d: %d, want %d", tc.next, tc.rid, got, tc.want)
		}
	}
}

// elementEnd splits what a stream writes at Close into elements.
func TestElementEnd(t *testing.T) {
	in := "<open xmlns='x' id='a>b'/><stream:error xmlns:stream='s'><host-unknown xmlns='y'/><text>a/b</text></stream:error><close xmlns='x'/>"
	var got []string
	for rest := []byte(in); len(rest) > 0; {
		n := elementEnd(rest)
		got = append(got, string(rest[:n]))
		rest = rest[n:]
	}
	want := []string{"<open xmlns='x' id='a>b'/>", "<stream:error xmlns:stream='s'><host-unknown xmlns='y'/><text>a/b</text></stream:error>", "<close xmlns='x'/>"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%q", got)
	}
}
