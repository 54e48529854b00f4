package bench

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"ignis/scram"
	"ignis/xmlscan"
)

// TestSCRAMClient runs the client against a server side built from
// ignis/scram's stored keys, for each hash.
func TestSCRAMClient(t *testing.T) {
	for _, mech := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			h, _ := scramHash(mech)
			salt := []byte("0123456789abcdef")
			keys := scram.Derive(h, "pencil", salt, 4096)
			cache := &saltCache{}
			for round := range 2 { // the second login uses the cached salted password
				c := &scramClient{h: h, user: "us=er,1", password: "pencil", cache: cache}
				first := c.first()
				if !bytes.HasPrefix(first, []byte("n,,n=us=3Der=2C1,r=")) {
					t.Fatalf("client-first %q", first)
				}
				serverFirst := []byte("r=" + c.nonce + "SERVERNONCE,s=" + base64.StdEncoding.EncodeToString(salt) + ",i=4096")
				final, err := c.final(serverFirst)
				if err != nil {
					t.Fatal(err)
				}
				without, proofB64, ok := bytes.Cut(final, []byte(",p="))
				if !ok || string(without) != "c=biws,r="+c.nonce+"SERVERNONCE" {
					t.Fatalf("client-final %q", final)
				}
				proof, _ := base64.StdEncoding.DecodeString(string(proofB64))
				authMsg := append(append(append(append(append([]byte{}, first[3:]...), ','), serverFirst...), ','), without...)
				sig, ok := keys.VerifyProof(h, authMsg, proof)
				if !ok {
					t.Fatalf("round %d: the server rejects the proof", round)
				}
				if err := c.verify([]byte("v=" + base64.StdEncoding.EncodeToString(sig))); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if err := c.verify([]byte("v=" + base64.StdEncoding.EncodeToString([]byte("forged-signature-forged!")))); err == nil {
					t.Fatal("a forged server signature is accepted")
				}
			}
			if len(cache.m) != 1 {
				t.Errorf("salt cache holds %d entries, want 1", len(cache.m))
			}
		})
	}
	c := &scramClient{h: scram.SHA1, user: "u", password: "p"}
	c.first()
	for _, bad := range []string{
		"r=othernonce,s=c2FsdA==,i=4096",      // nonce not ours
		"r=" + c.nonce + ",s=c2FsdA==,i=4096", // no server part
		"r=" + c.nonce + "x,s=!!,i=4096",      // bad salt
		"r=" + c.nonce + "x,s=c2FsdA==,i=0",   // bad count
		"m=ext,r=" + c.nonce + "x,s=c2FsdA==,i=1",
	} {
		if _, err := c.final([]byte(bad)); err == nil {
			t.Errorf("server-first %q accepted", bad)
		}
	}
}

func TestMarkRoundTrip(t *testing.T) {
	b := []byte("<message><body>")
	b = appendMark(b, 4000000000, 17, 123456, 1700000000123456789)
	b = append(b, "xxxx</body></message>"...)
	e, err := xmlscan.ParseElem(b, "jabber:client")
	if err != nil {
		t.Fatal(err)
	}
	run, sender, seq, ts, ok := parseMark(e.Child("body", ""))
	if !ok || run != 4000000000 || sender != 17 || seq != 123456 || ts != 1700000000123456789 {
		t.Errorf("parseMark = %d %d %d %d %v", run, sender, seq, ts, ok)
	}
	for _, body := range []string{"<body/>", "<body>hello</body>", "<body>IB1 1 2 3</body>", "<body>IB1 7 a 2 3 </body>"} {
		e, _ := xmlscan.ParseElem([]byte(body), "jabber:client")
		if _, _, _, _, ok := parseMark(e); ok {
			t.Errorf("parseMark(%s) ok", body)
		}
	}
	if n := testing.AllocsPerRun(100, func() { parseMark(e.Child("body", "")) }); n != 0 {
		t.Errorf("parseMark allocates %.0f times", n)
	}
}

func TestPaddedBody(t *testing.T) {
	r := &run{cfg: &Config{MsgSize: 100, Users: "user%d", FirstUser: 1, Domain: "example.org"}, id: 42}
	r.toPre, r.toPost = []byte("user"), []byte("@example.org")
	s := &session{idx: 3, partner: 8}
	msg := r.appendMessage(nil, s, 5, time.Now().UnixNano())
	e, err := xmlscan.ParseElem(msg, "jabber:client")
	if err != nil {
		t.Fatalf("%s: %v", msg, err)
	}
	if to, _ := e.Attr("to"); string(to) != "user9@example.org" {
		t.Errorf("to = %q", to)
	}
	body := e.Child("body", "").AppendText(nil)
	if len(body) != 100 || !strings.HasPrefix(string(body), "IB1 42 3 5 ") {
		t.Errorf("body (%d bytes) %q", len(body), body)
	}
}

// TestHistogramMerge merges worker histograms through their encoded form
// and checks the result equals one histogram fed everything.
func TestHistogramMerge(t *testing.T) {
	all := NewHistogram()
	var parts []*Result
	for w := range 3 {
		rec := newRecorder()
		for i := range 1000 {
			d := time.Duration(w*1000+i) * 10 * time.Microsecond
			rec.record(i, d)
			_ = all.RecordValue(d.Microseconds())
		}
		h := rec.total()
		parts = append(parts, &Result{
			LatencyHDR: EncodeHistogram(h), MessagesSent: 1000, MessagesDelivered: 1000 - int64(w),
			SessionsEstablished: 10, PeakOnline: 10, Failures: map[string]int64{"timeout": int64(w)},
			LoadS: 10, SendS: float64(5 + w),
		})
	}
	res, err := MergeResults(parts)
	if err != nil {
		t.Fatal(err)
	}
	want := Summarize(all)
	if d := res.LatencyMs.Mean - want.Mean; d > 1e-6 || d < -1e-6 {
		t.Errorf("merged mean %v, want %v", res.LatencyMs.Mean, want.Mean)
	}
	want.Mean = res.LatencyMs.Mean
	if res.LatencyMs != want {
		t.Errorf("merged %+v, want %+v", res.LatencyMs, want)
	}
	if res.LatencyMs.Count != 3000 || res.LatencyMs.P50 < 14.9 || res.LatencyMs.P50 > 15.1 {
		t.Errorf("merged percentiles %+v", res.LatencyMs)
	}
	if res.MessagesSent != 3000 || res.MessagesDelivered != 2997 || res.MessagesLost != 3 ||
		res.SessionsEstablished != 30 || res.Failures["timeout"] != 3 || res.Workers != 3 {
		t.Errorf("merged counters: %+v", res)
	}
	if res.MessagesPerS != 2997.0/7 {
		t.Errorf("messages/s = %v, want over the longest send time", res.MessagesPerS)
	}
	// the per-second interval is taken and reset
	rec := newRecorder()
	rec.record(0, time.Millisecond)
	iv := NewHistogram()
	rec.takeInterval(iv)
	iv2 := NewHistogram()
	rec.takeInterval(iv2)
	if iv.TotalCount() != 1 || iv2.TotalCount() != 0 || rec.total().TotalCount() != 1 {
		t.Errorf("intervals %d, %d; total %d", iv.TotalCount(), iv2.TotalCount(), rec.total().TotalCount())
	}
	// the whole run counts what is in the current interval too
	rec.record(1, 2*time.Millisecond)
	if n := rec.total().TotalCount(); n != 2 {
		t.Errorf("total %d with one value not yet taken, want 2", n)
	}
	iv3 := NewHistogram()
	if rec.takeInterval(iv3); iv3.TotalCount() != 1 || rec.total().TotalCount() != 2 {
		t.Errorf("interval %d, total %d after taking it; want 1, 2", iv3.TotalCount(), rec.total().TotalCount())
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := ReadProc(pidSelf())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if s.RSS <= 0 || s.CPU < 0 {
		t.Errorf("self: %+v", s)
	}
}

// The joined test must hold for each server's spelling of the self-presence
// (Prosody and ejabberd quote and order differently from Ignis).
func TestSelfPresence(t *testing.T) {
	for _, tt := range []struct {
		name, xml string
		want      bool
	}{
		{"ignis", `<presence from='r@c/u1'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator'/><status code='110'/><status code='201'/></x></presence>`, true},
		{"double quotes, 201 first", `<presence from="r@c/u1"><x xmlns="http://jabber.org/protocol/muc#user"><item role="moderator" affiliation="owner"/><status code="201"/><status code="110"/></x></presence>`, true},
		{"spaces, other children", `<presence from='r@c/u1'><c xmlns='http://jabber.org/protocol/caps'/><x xmlns='http://jabber.org/protocol/muc#user'><item role='participant' affiliation='none'/><status code = '110' /></x></presence>`, true},
		{"another occupant", `<presence from='r@c/u2'><x xmlns='http://jabber.org/protocol/muc#user'><item role='participant' affiliation='none'/></x></presence>`, false},
		{"110 outside muc#user", `<presence from='r@c/u1'><x xmlns='urn:example'><status code='110'/></x></presence>`, false},
	} {
		e, err := xmlscan.ParseElem([]byte(tt.xml), "jabber:client")
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := selfPresence(e); got != tt.want {
			t.Errorf("%s: selfPresence = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCapsVer: the verification string of XEP-0115 §5.2's simple example,
// and the bench's own features in hash order.
func TestCapsVer(t *testing.T) {
	feats := []string{"http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc"}
	if got := capsVer("client", "pc", "Exodus 0.9.1", feats); got != "QgayPKawpkPSDYmwT/WM94uAlu0=" {
		t.Errorf("XEP-0115 example: %s", got)
	}
	c := &Config{PEPNodeName: "urn:n", PEPNodes: 2}
	want := []string{nsCaps, nsDiscoInfo, "urn:n-0+notify", "urn:n-1+notify", nsPing}
	if got := c.capsFeatures(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("features %q, want %q", got, want)
	}
}

// TestPEPNotification: a notification counts as delivered whatever the
// server's quoting, the publisher's own apart, an earlier run's as stale,
// and a message without an event not at all.
func TestPEPNotification(t *testing.T) {
	r := &run{cfg: &Config{Domain: "localhost", Users: "user%d", FirstUser: 1, Scenario: "pep"}, id: 7, msgLat: newRecorder()}
	s := &session{r: r, idx: 0} // user1
	mark := string(appendMark(nil, 7, 3, 1, time.Now().UnixNano()))
	mark4 := string(appendMark(nil, 7, 4, 1, time.Now().UnixNano()))
	old := string(appendMark(nil, 6, 3, 1, time.Now().UnixNano()))
	for _, tt := range []struct {
		name, xml        string
		handled          bool
		deliv, self, stl int64
	}{
		{"prosody", `<message from='user2@localhost' type='headline'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'><item id='current' publisher='user2@localhost'><mark xmlns='urn:ignis:bench:pep'>` + mark + `xx</mark></item></items></event></message>`, true, 1, 0, 0},
		{"double quotes", `<message from="user3@localhost"><event xmlns="http://jabber.org/protocol/pubsub#event"><items node="n"><item id="current"><mark xmlns="urn:ignis:bench:pep">` + mark4 + `</mark></item></items></event></message>`, true, 2, 0, 0},
		{"own", `<message from='user1@localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'><item id='current'><mark xmlns='urn:ignis:bench:pep'>` + mark + `</mark></item></items></event></message>`, true, 2, 1, 0},
		{"duplicate", `<message from='user3@localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'><item id='current'><mark xmlns='urn:ignis:bench:pep'>` + mark4 + `</mark></item></items></event></message>`, true, 2, 1, 0},
		{"earlier run", `<message from='user2@localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'><item id='current'><mark xmlns='urn:ignis:bench:pep'>` + old + `</mark></item></items></event></message>`, true, 2, 1, 1},
		{"no event", `<message from='user2@localhost'><body>` + mark + `</body></message>`, false, 2, 1, 1},
	} {
		e, err := xmlscan.ParseElem([]byte(tt.xml), "jabber:client")
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := s.pepNotification(e); got != tt.handled {
			t.Errorf("%s: handled %v", tt.name, got)
		}
		if d, sf, st := r.st.msgDelivered.Load(), r.st.pepSelf.Load(), r.st.stale.Load(); d != tt.deliv || sf != tt.self || st != tt.stl {
			t.Errorf("%s: delivered %d, own %d, stale %d; want %d, %d, %d", tt.name, d, sf, st, tt.deliv, tt.self, tt.stl)
		}
	}
	if d := r.st.pepDup.Load(); d != 1 {
		t.Errorf("duplicates %d, want 1", d)
	}
}

// TestSentStamp: the --split placeholder is found after the mark and the
// loop's stamp reads back as the mark's fifth number.
func TestSentStamp(t *testing.T) {
	r := &run{cfg: &Config{MsgSize: 64, Split: true}, id: 7}
	b := r.appendPadded([]byte("<body>"), 3, 42, 1_700_000_000_123_456_789)
	off := sentOffset(b)
	if off < 0 {
		t.Fatalf("no placeholder in %q", b)
	}
	stampSent(b[off:], 1_800_000_000_000_000_123)
	v, _, ok := leadingInt(b[off:])
	if !ok || v != 1_800_000_000_000_000_123 {
		t.Fatalf("stamp read back %d %v from %q", v, ok, b)
	}
	if sentOffset([]byte("<body>IB1 7 3 42 </body>")) >= 0 {
		t.Error("placeholder found in a mark without one")
	}
}
