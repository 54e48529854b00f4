package crashtest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestKillDuringOfflineStores: bob streams messages to alice, who is
// offline, so the server stores them; at a random point the server gets
// SIGKILL. After a restart alice retrieves her queue, which must hold every
// message the server acknowledged, with no duplicate, no gap and no
// reordering. Three kill/restart rounds run on one data folder, so recovery
// of the per-user sequence numbers after a crash is checked too (reusing
// one would overwrite an earlier round's message).
//
// What "acknowledged" means. This sender does not use stream management
// (TestKillWithSMAcks covers XEP-0198 <a/>, in sm_test.go), and a
// ping proves nothing because stores are asynchronous. Bob therefore follows
// every 50 messages with an XEP-0013 <purge/> of his own (empty) queue. That
// iq is a durability barrier by construction:
//   - one session's stanzas are handled in order on its event loop, and the
//     offline hook submits each store to the store's writer before it
//     returns; the purge handler submits its range delete the same way;
//   - the writer commits in submission order, each group with one synced
//     commit, and the purge's result is sent only after its commit returned;
//   - so when bob reads the result, every message he sent before it and that
//     the server did not bounce is on disk.
//
// The check is then: alice's stored messages from a round are exactly
// messages 0..K-1 of it, in order, with K at least one past the last message
// a received barrier covered; bob got no error. A server that answered
// before committing, committed out of order, lost a batch, or reused
// sequence numbers after the crash fails it.
//
// SIGKILL kills the process, not the machine: data written to the OS but
// not fsynced survives it. Losing unsynced data is what store's CrashClone
// tests cover (TestOfflineStoreAsyncDurable); this test covers the whole
// server path from socket to disk and the restart.
func TestKillDuringOfflineStores(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	seed := crashSeed()
	t.Logf("seed %d (IGNIS_CRASH_SEED=%d reproduces the kill points)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	bin := buildServer(t)
	data := filepath.Join(t.TempDir(), "data")
	const senders = 4
	addUsers(t, bin, data, []string{"alice@localhost", "pw"}, []string{"--bulk", strconv.Itoa(senders), "--users", "s%d", "--password", "pw"})

	const rounds, perRound, every = 3, 1500, 50
	acked := make([][]int, rounds) // [round][sender]: messages 0..acked-1 were acknowledged
	for r := range rounds {
		srv := startServer(t, bin, data)
		var conns []*client
		for j := range senders {
			conns = append(conns, login(t, srv.addr, fmt.Sprintf("s%d", j+1)))
		}
		killAt := every * (3 + rng.IntN(perRound/every-6)) // once a sender has this many acknowledged
		acked[r] = streamUntilKilled(t, srv, conns, r, perRound, every, killAt)
		t.Logf("round %d: killed; acknowledged per sender %v", r, acked[r])
	}

	srv := startServer(t, bin, data)
	alice := login(t, srv.addr, "alice")
	got := alice.fetchAll(t)
	srv.stop(t)

	// Per sender, got must hold round 0's 0..K-1, then round 1's 0..K-1, …
	// with each K at least what was acknowledged.
	bySender := map[string][]string{}
	for _, id := range got {
		s, rest, _ := strings.Cut(id, "/")
		bySender[s] = append(bySender[s], rest)
	}
	for j := range senders {
		ids := bySender[fmt.Sprintf("s%d", j+1)]
		i := 0
		for r := range rounds {
			k := 0
			for i < len(ids) && strings.HasPrefix(ids[i], fmt.Sprintf("r%d-", r)) {
				if want := fmt.Sprintf("r%d-%d", r, k); ids[i] != want {
					t.Fatalf("sender %d round %d: stored message %d is %s, want %s (gap, duplicate or reordering)", j+1, r, k, ids[i], want)
				}
				i, k = i+1, k+1
			}
			if k < acked[r][j] {
				t.Fatalf("sender %d round %d: %d messages survived the kill, but %d were acknowledged", j+1, r, k, acked[r][j])
			}
			t.Logf("sender %d round %d: %d acknowledged, %d on disk", j+1, r, acked[r][j], k)
		}
		if i != len(ids) {
			t.Fatalf("sender %d: stored message %d is %s, from no round in order", j+1, i, ids[i])
		}
	}
}

// crashSeed is the seed of the kill points: IGNIS_CRASH_SEED if set (to
// reproduce a run), else the time.
func crashSeed() uint64 {
	if s := os.Getenv("IGNIS_CRASH_SEED"); s != "" {
		seed, _ := strconv.ParseUint(s, 10, 64)
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// addUsers runs `ignis user add` on data once per argument list.
func addUsers(t *testing.T, bin, data string, argLists ...[]string) {
	t.Helper()
	for _, args := range argLists {
		cmd := exec.Command(bin, append([]string{"user", "add", "--data", data}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("user add %s: %v\n%s", args, err, out)
		}
	}
}

// buildServer builds cmd/ignis into a temporary folder.
func buildServer(t *testing.T) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "ignis")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ignis")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// server is a running server process.
type server struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}
	log    *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) add(line string) {
	l.mu.Lock()
	l.b.WriteString(line)
	l.b.WriteByte('\n')
	l.mu.Unlock()
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer runs the binary on data with plain-text PLAIN allowed on a
// free loopback port, and waits for its "ignis started" line.
func startServer(t *testing.T, bin, data string) *server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	conf := filepath.Join(t.TempDir(), "ignis.toml")
	// a large output allowance: fetchAll asks for megabytes at once
	toml := "[sasl]\nplain_without_tls = true\n[offline]\nmax_per_user = 100000\n[roster]\nmax_items = 100000\n[limits]\nmax_pending_output = 67108864\n"
	if err := os.WriteFile(conf, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", conf, "--data", data, "--c2s", addr, "--c2s-tls", "off", "--log-level", "info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, addr: addr, exited: make(chan struct{}), log: &lockedBuffer{}}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		started := false
		for sc.Scan() {
			s.log.add(sc.Text())
			if !started && strings.Contains(sc.Text(), "ignis started") {
				started = true
				close(ready)
			}
		}
		_ = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.exited
		if t.Failed() {
			t.Logf("server log:\n%s", s.log)
		}
	})
	select {
	case <-ready:
	case <-s.exited:
		t.Fatalf("server exited before starting:\n%s", s.log)
	case <-time.After(15 * time.Second):
		t.Fatalf("server not started within 15 s:\n%s", s.log)
	}
	return s
}

// stop ends the server with SIGTERM (a clean shutdown).
func (s *server) stop(t *testing.T) {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop within 15 s")
	}
}

// client is a minimal XMPP client over plain TCP (PLAIN; tests only).
type client struct {
	conn net.Conn
	dec  *xml.Decoder
	jid  string
}

// element is a received top-level element with what the test looks at.
type element struct {
	XMLName xml.Name
	Type    string `xml:"type,attr"`
	ID      string `xml:"id,attr"`
	H       string `xml:"h,attr"` // XEP-0198 <a/>
	Inner   string `xml:",innerxml"`
}

const header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"

func login(t *testing.T, addr, user string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	c := &client{conn: conn, dec: xml.NewDecoder(conn)}
	c.write(t, header)
	c.until(t, "features")
	c.write(t, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00pw"))+"</auth>")
	if e := c.until(t, "success", "failure"); e.XMLName.Local != "success" {
		t.Fatalf("%s: authentication failed: %s", user, e.Inner)
	}
	c.write(t, header)
	c.until(t, "features")
	c.write(t, "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>crash</resource></bind></iq>")
	if e := c.until(t, "iq"); e.Type != "result" {
		t.Fatalf("%s: bind: %s", user, e.Inner)
	}
	c.jid = user + "@localhost/crash"
	_ = conn.SetDeadline(time.Time{})
	return c
}

func (c *client) write(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// next decodes the next element at stream level (skipping the stream
// headers, which the decoder sees as open elements).
func (c *client) next() (element, error) {
	for {
		tok, err := c.dec.Token()
		if err != nil {
			return element{}, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local == "stream" {
			continue
		}
		var e element
		err = c.dec.DecodeElement(&e, &se)
		return e, err
	}
}

// until reads elements until one with one of the names arrives.
func (c *client) until(t *testing.T, names ...string) element {
	t.Helper()
	for {
		e, err := c.next()
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		for _, n := range names {
			if e.XMLName.Local == n {
				return e
			}
		}
	}
}

// streamUntilKilled makes each sender send round r's n messages to alice,
// every batch of every followed by a purge barrier, and kills the server as
// soon as one sender has killAt acknowledged. It returns how many each had
// acknowledged: results read after the kill count, since the server sent
// them before it died.
func streamUntilKilled(t *testing.T, srv *server, senders []*client, r, n, every, killAt int) []int {
	t.Helper()
	body := strings.Repeat("x", 1000) // larger batches: a longer queue at the writer
	var (
		killed atomic.Bool
		once   sync.Once
		wg     sync.WaitGroup
		mu     sync.Mutex
		fail   string
	)
	kill := func() {
		once.Do(func() {
			killed.Store(true)
			if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				mu.Lock()
				fail = "kill: " + err.Error()
				mu.Unlock()
			}
		})
	}
	acked := make([]int, len(senders))
	for j, c := range senders {
		from := strings.TrimSuffix(c.jid, "@localhost/crash")
		go func() {
			var b strings.Builder
			for i := 0; i < n; i++ {
				fmt.Fprintf(&b, "<message to='alice@localhost' type='chat' id='%s/r%d-%d'><body>%s</body></message>", from, r, i, body)
				if i%every == every-1 {
					fmt.Fprintf(&b, "<iq type='set' id='%d'><offline xmlns='http://jabber.org/protocol/offline'><purge/></offline></iq>", i+1)
					if _, err := io.WriteString(c.conn, b.String()); err != nil {
						return // the server is gone
					}
					b.Reset()
				}
			}
		}()
		wg.Go(func() {
			_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			for {
				e, err := c.next()
				if err != nil {
					if !killed.Load() {
						mu.Lock()
						fail = fmt.Sprintf("%s: stream ended before the kill: %v", from, err)
						mu.Unlock()
						kill()
					}
					return
				}
				if e.Type == "error" {
					mu.Lock()
					fail = fmt.Sprintf("%s got an error %s %s: %s", from, e.XMLName.Local, e.ID, e.Inner)
					mu.Unlock()
					kill()
					return
				}
				if e.XMLName.Local != "iq" || e.Type != "result" {
					continue
				}
				// results may overtake one another (each is sent from its
				// own goroutine); each covers everything sent before its iq
				k, err := strconv.Atoi(e.ID)
				if err != nil || k <= 0 || k%every != 0 || k > n {
					mu.Lock()
					fail = fmt.Sprintf("%s: unexpected result %q", from, e.ID)
					mu.Unlock()
					kill()
					return
				}
				acked[j] = max(acked[j], k)
				if acked[j] >= killAt {
					kill()
				}
			}
		})
	}
	wg.Wait()
	<-srv.exited
	if fail != "" {
		t.Fatalf("round %d: %s", r, fail)
	}
	return acked
}

// fetchAll retrieves every stored message with XEP-0013 <fetch/> and
// returns their ids in order.
func (c *client) fetchAll(t *testing.T) []string {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	c.write(t, "<iq type='get' id='fetch'><offline xmlns='http://jabber.org/protocol/offline'><fetch/></offline></iq>")
	var ids []string
	for {
		e, err := c.next()
		if err != nil {
			t.Fatalf("fetch: %v after %d messages", err, len(ids))
		}
		switch {
		case e.XMLName.Local == "message" && e.Type == "chat":
			if !strings.Contains(e.Inner, "urn:xmpp:delay") {
				t.Fatalf("message %s has no delay: %s", e.ID, e.Inner)
			}
			ids = append(ids, e.ID)
		case e.XMLName.Local == "iq" && e.ID == "fetch":
			if e.Type != "result" {
				t.Fatalf("fetch: %s", e.Inner)
			}
			return ids
		}
	}
}
