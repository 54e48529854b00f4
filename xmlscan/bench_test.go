package xmlscan

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
)

// benchStream builds a realistic client stream of about size bytes: chats
// with receipts and chat states, presences with caps, roster results, disco
// results, pings, and 1% vCards with 4–12 KB base64 photos. Entities and
// non-ASCII text are included.
func benchStream(size int) []byte {
	rng := rand.New(rand.NewPCG(42, 7))
	var b bytes.Buffer
	b.WriteString("<?xml version='1.0'?>" + hdr)
	words := []string{"hello", "ok", "see you", "ça va?", "Grüße", "привет", "こんにちは", "😀", "&amp;", "&lt;3", "&quot;yes&quot;", "R&amp;D", "tomorrow", "the meeting", "at 10"}
	jid := func() string { return fmt.Sprintf("user%d@example.net", rng.IntN(5000)) }
	id := 0
	for b.Len() < size {
		id++
		switch n := rng.IntN(100); {
		case n < 40:
			fmt.Fprintf(&b, "<message to='%s/phone' from='%s/laptop' type='chat' id='m%d' xml:lang='en'><body>", jid(), jid(), id)
			for w := rng.IntN(20) + 1; w > 0; w-- {
				b.WriteString(words[rng.IntN(len(words))])
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "</body><active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' id='%x'/></message>", rng.Uint64())
		case n < 50:
			fmt.Fprintf(&b, "<message to='%s' type='chat' id='r%d'><received xmlns='urn:xmpp:receipts' id='m%d'/></message>", jid(), id, id-1)
		case n < 70:
			fmt.Fprintf(&b, "<presence from='%s/res'><show>away</show><status>Out to lunch &amp; back at 2 — café</status><priority>5</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://conversations.im' ver='%x='/><x xmlns='vcard-temp:x:update'><photo>%x</photo></x></presence>", jid(), rng.Uint64(), rng.Uint64())
		case n < 78:
			fmt.Fprintf(&b, "<iq type='result' id='roster%d' to='%s/res'><query xmlns='jabber:iq:roster' ver='v%d'>", id, jid(), id)
			for k := rng.IntN(16) + 5; k > 0; k-- {
				fmt.Fprintf(&b, "<item jid='%s' name='Contact %d — Ünïcödé' subscription='both'><group>Friends</group></item>", jid(), k)
			}
			b.WriteString("</query></iq>")
		case n < 85:
			fmt.Fprintf(&b, "<iq type='result' id='disco%d' from='%s'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' type='phone' name='Conversations'/>", id, jid())
			for _, f := range []string{"http://jabber.org/protocol/caps", "http://jabber.org/protocol/chatstates", "urn:xmpp:receipts", "urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:jingle:1", "http://jabber.org/protocol/disco#info"} {
				fmt.Fprintf(&b, "<feature var='%s'/>", f)
			}
			b.WriteString("</query></iq>")
		case n < 99:
			fmt.Fprintf(&b, "<iq type='get' id='ping%d' to='example.net'><ping xmlns='urn:xmpp:ping'/></iq>\n", id)
		default:
			photo := make([]byte, 3000+rng.IntN(6000))
			for i := range photo {
				photo[i] = byte(rng.Uint32())
			}
			enc := base64.StdEncoding.EncodeToString(photo)
			fmt.Fprintf(&b, "<iq type='set' id='vc%d'><vCard xmlns='vcard-temp'><FN>Jöhn Doe</FN><NICKNAME>jd</NICKNAME><PHOTO><TYPE>image/png</TYPE><BINVAL>", id)
			for len(enc) > 76 {
				b.WriteString(enc[:76])
				b.WriteByte('\n')
				enc = enc[76:]
			}
			b.WriteString(enc + "</BINVAL></PHOTO></vCard></iq>")
		}
		if rng.IntN(10) == 0 {
			b.WriteString(" ") // keepalive
		}
	}
	b.WriteString("</stream:stream>")
	return b.Bytes()
}

var benchData = sync.OnceValue(func() []byte { return benchStream(4 << 20) })

type countSink struct{ stanzas int }

func (c *countSink) StreamOpen(*Frame) error { return nil }
func (c *countSink) Element(*Frame) error    { c.stanzas++; return nil }
func (c *countSink) StreamClose() error      { return nil }

// feeds runs bench as sub-benchmarks of b over in, given whole
// (chunk 0, "feed=whole") and in 1500-byte chunks as from the network
// ("feed=1500B"), with allocations and throughput reported.
func feeds(b *testing.B, in []byte, bench func(b *testing.B, chunk int)) {
	for _, chunk := range []int{0, 1500} {
		name := "feed=whole"
		if chunk > 0 {
			name = fmt.Sprintf("feed=%dB", chunk)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			bench(b, chunk)
		})
	}
}

func BenchmarkScanner(b *testing.B) {
	in := benchData()
	feeds(b, in, func(b *testing.B, chunk int) {
		var s Scanner
		var sink countSink
		for b.Loop() {
			s.Reset()
			sink.stanzas = 0
			if chunk == 0 {
				if err := s.Feed(in, &sink); err != nil {
					b.Fatal(err)
				}
				continue
			}
			for p := in; len(p) > 0; {
				n := min(chunk, len(p))
				if err := s.Feed(p[:n], &sink); err != nil {
					b.Fatal(err)
				}
				p = p[n:]
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*sink.stanzas), "ns/stanza")
	})
}

func BenchmarkEncodingXML(b *testing.B) {
	in := benchData()
	feeds(b, in, func(b *testing.B, chunk int) {
		for b.Loop() {
			var r io.Reader = bytes.NewReader(in)
			if chunk > 0 {
				r = &chunkReader{in, chunk}
			}
			d := xml.NewDecoder(r)
			for {
				_, err := d.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

type chunkReader struct {
	p []byte
	n int
}

func (c *chunkReader) Read(b []byte) (int, error) {
	if len(c.p) == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), c.n)], c.p)
	c.p = c.p[n:]
	return n, nil
}

// TestBenchCorpus checks that the scanner and encoding/xml see the same
// elements in the benchmark stream, and that scanning allocates nothing.
func TestBenchCorpus(t *testing.T) {
	in := benchStream(1 << 20)
	want := 0
	d := xml.NewDecoder(bytes.NewReader(in))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := tok.(xml.StartElement); ok {
			want++
		}
	}
	got := 1 // the header
	var s Scanner
	var cs elemCounter
	cs.n = &got
	if err := s.Feed(in, &cs); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("scanner saw %d elements, encoding/xml %d", got, want)
	}
	var sink countSink
	for _, chunk := range []int{0, 1500} {
		allocs := testing.AllocsPerRun(5, func() {
			s.Reset()
			if chunk == 0 {
				s.Feed(in, &sink)
				return
			}
			for p := in; len(p) > 0; p = p[min(chunk, len(p)):] {
				s.Feed(p[:min(chunk, len(p))], &sink)
			}
		})
		if allocs != 0 && !(raceOn && chunk != 0) {
			t.Errorf("chunk %d: %v allocations per stream", chunk, allocs)
		}
	}
}

type elemCounter struct{ n *int }

func (c *elemCounter) StreamOpen(*Frame) error { return nil }
func (c *elemCounter) StreamClose() error      { return nil }
func (c *elemCounter) Element(f *Frame) error {
	var walk func(e Elem)
	walk = func(e Elem) {
		*c.n++
		it := e.Children()
		for {
			ch, ok := it.Next()
			if !ok {
				return
			}
			walk(ch)
		}
	}
	walk(f.Elem)
	return nil
}

// TestScanRepeat scans the benchmark stream $IGNIS_SCAN_REPEAT times, whole
// and in 1500-byte chunks ($IGNIS_SCAN_CHUNK), for instruction counts under
// callgrind, which the benchmark's goroutines and timers would blur (see
// BENCHMARKS.md). Skipped otherwise.
func TestScanRepeat(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("IGNIS_SCAN_REPEAT"))
	if n <= 0 {
		t.Skip("IGNIS_SCAN_REPEAT not set")
	}
	chunk, _ := strconv.Atoi(os.Getenv("IGNIS_SCAN_CHUNK"))
	in := benchData()
	var s Scanner
	var sink countSink
	for range n {
		s.Reset()
		if chunk <= 0 {
			chunk = len(in)
		}
		for p := in; len(p) > 0; p = p[min(chunk, len(p)):] {
			if err := s.Feed(p[:min(chunk, len(p))], &sink); err != nil {
				t.Fatal(err)
			}
		}
	}
}
