package crashtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestKillWithSMAcks is the fault loop for XEP-0198 acknowledgements: an
// <a h='N'/> promises that the client's first N stanzas were handled, and
// for a stanza that is stored (an offline message, a roster change, a
// subscription) handled means on disk. Senders with Stream Management send
// a mix of chat messages to offline alice, roster sets and subscription
// requests to local contacts, each followed by <r/>; the server gets SIGKILL
// at a random point, is restarted, and the next round runs on the same data.
// At the end every acknowledged item must exist exactly once: alice's
// offline messages per sender and round are a gap-free, duplicate-free
// prefix of what was sent, in order, covering every acknowledged one; every
// acknowledged roster item is in the sender's roster; every acknowledged
// subscription request left the contact's item with ask='subscribe'.
//
// IGNIS_CRASH_ROUNDS sets the number of rounds (make soak runs many);
// IGNIS_CRASH_SEED reproduces the kill points.
func TestKillWithSMAcks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	seed := crashSeed()
	rounds := 3
	if s := os.Getenv("IGNIS_CRASH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	t.Logf("seed %d, %d rounds (IGNIS_CRASH_SEED, IGNIS_CRASH_ROUNDS)", seed, rounds)
	rng := rand.New(rand.NewPCG(seed, 1))

	bin := buildServer(t)
	data := filepath.Join(t.TempDir(), "data")
	const senders, contacts, perRound = 3, 40, 300
	addUsers(t, bin, data,
		[]string{"alice@localhost", "pw"},
		[]string{"--bulk", strconv.Itoa(senders), "--users", "s%d", "--password", "pw"},
		[]string{"--bulk", strconv.Itoa(contacts), "--users", "c%d", "--password", "pw"})

	acked := make([][]int, rounds) // [round][sender]: ops 0..acked-1 acknowledged
	for r := range rounds {
		srv := startServer(t, bin, data)
		var conns []*client
		for j := range senders {
			c := login(t, srv.addr, fmt.Sprintf("s%d", j+1))
			c.write(t, "<enable xmlns='urn:xmpp:sm:3'/>")
			c.until(t, "enabled")
			conns = append(conns, c)
		}
		killAt := 1 + rng.IntN(perRound-1)
		acked[r] = smUntilKilled(t, srv, conns, r, perRound, killAt)
		t.Logf("round %d: killed once a sender had %d acknowledged; acknowledged per sender %v", r, killAt, acked[r])
	}

	srv := startServer(t, bin, data)
	alice := login(t, srv.addr, "alice")
	got := alice.fetchAll(t)
	rosters := make([]string, senders)
	for j := range senders {
		c := login(t, srv.addr, fmt.Sprintf("s%d", j+1))
		_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		c.write(t, "<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>")
		e := c.until(t, "iq")
		if e.Type != "result" {
			t.Fatalf("s%d: roster get: %s", j+1, e.Inner)
		}
		rosters[j] = e.Inner
	}
	srv.stop(t)
	// a clean stop (SIGTERM) says how many sessions it closed: alice and the senders
	if want := fmt.Sprintf("sessions closed\" sessions=%d", 1+senders); !strings.Contains(srv.log.String(), want) {
		t.Fatalf("the log of a clean stop lacks %q:\n%s", want, srv.log)
	}

	bySender := map[string][]string{}
	for _, id := range got {
		s, rest, _ := strings.Cut(id, "/")
		bySender[s] = append(bySender[s], rest)
	}
	for j := range senders {
		from := fmt.Sprintf("s%d", j+1)
		ids := bySender[from]
		i := 0
		for r := range rounds {
			var sent []int // the message ops of round r, in order
			for k := range perRound {
				if smOp(k) == opMessage {
					sent = append(sent, k)
				}
			}
			n := 0
			for i < len(ids) && strings.HasPrefix(ids[i], fmt.Sprintf("r%d-", r)) {
				if n >= len(sent) || ids[i] != fmt.Sprintf("r%d-%d", r, sent[n]) {
					t.Fatalf("%s round %d: stored message %d is %s: gap, duplicate or reordering", from, r, n, ids[i])
				}
				i, n = i+1, n+1
			}
			for _, k := range sent[n:] {
				if k < acked[r][j] {
					t.Fatalf("%s round %d: message op %d was acknowledged (h=%d) but is not stored (%d stored)", from, r, k, acked[r][j], n)
				}
			}
			for k := range acked[r][j] {
				switch smOp(k) {
				case opRoster:
					if c := strings.Count(rosters[j], fmt.Sprintf("jid='x%d-%d@example.net'", r, k)); c != 1 {
						t.Fatalf("%s round %d: acknowledged roster item x%d-%d appears %d times", from, r, r, k, c)
					}
				case opSubscribe:
					re := regexp.MustCompile(fmt.Sprintf(`<item[^>]*jid='c%d@localhost'[^>]*>`, smContact(r, k, contacts)))
					items := re.FindAllString(rosters[j], -1)
					if len(items) != 1 || !strings.Contains(items[0], "ask='subscribe'") && !strings.Contains(items[0], "subscription='to'") {
						t.Fatalf("%s round %d: acknowledged subscription op %d: contact items %q", from, r, k, items)
					}
				}
			}
		}
		if i != len(ids) {
			t.Fatalf("%s: stored message %d is %s, from no round in order", from, i, ids[i])
		}
	}
}

type smOpKind int

const (
	opMessage smOpKind = iota
	opRoster
	opSubscribe
)

// smOp is what the k-th stanza of a round is.
func smOp(k int) smOpKind {
	switch {
	case k%7 == 3:
		return opRoster
	case k%11 == 5:
		return opSubscribe
	}
	return opMessage
}

func smContact(r, k, contacts int) int { return (r*13+k)%contacts + 1 }

var hAttr = regexp.MustCompile(`^\d+$`)

// smUntilKilled makes each sender send n stanzas, each followed by <r/>,
// and kills the server once a sender has killAt acknowledged. It returns
// the highest h each sender got.
func smUntilKilled(t *testing.T, srv *server, senders []*client, r, n, killAt int) []int {
	t.Helper()
	body := strings.Repeat("y", 500)
	var (
		killed atomic.Bool
		once   sync.Once
		wg     sync.WaitGroup
		mu     sync.Mutex
		fail   string
	)
	setFail := func(s string) {
		mu.Lock()
		if fail == "" {
			fail = s
		}
		mu.Unlock()
	}
	kill := func() {
		once.Do(func() {
			killed.Store(true)
			if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				setFail("kill: " + err.Error())
			}
		})
	}
	acked := make([]int, len(senders))
	for j, c := range senders {
		from := strings.TrimSuffix(c.jid, "@localhost/crash")
		var wmu sync.Mutex // the writer and the reader's <a/> answers share the socket
		write := func(s string) bool {
			wmu.Lock()
			defer wmu.Unlock()
			_, err := c.conn.Write([]byte(s))
			return err == nil
		}
		go func() {
			for k := range n {
				var st string
				switch smOp(k) {
				case opMessage:
					st = fmt.Sprintf("<message to='alice@localhost' type='chat' id='%s/r%d-%d'><body>%s</body></message>", from, r, k, body)
				case opRoster:
					st = fmt.Sprintf("<iq type='set' id='ro%d'><query xmlns='jabber:iq:roster'><item jid='x%d-%d@example.net'/></query></iq>", k, r, k)
				case opSubscribe:
					st = fmt.Sprintf("<presence type='subscribe' to='c%d@localhost'/>", smContact(r, k, 40))
				}
				if !write(st + "<r xmlns='urn:xmpp:sm:3'/>") {
					return // the server is gone
				}
			}
		}()
		wg.Go(func() {
			_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			received := 0
			for {
				e, err := c.next()
				if err != nil {
					if !killed.Load() {
						setFail(fmt.Sprintf("%s: stream ended before the kill: %v", from, err))
						kill()
					}
					return
				}
				switch e.XMLName.Local {
				case "a":
					if !hAttr.MatchString(e.H) {
						setFail(fmt.Sprintf("%s: bad h %q", from, e.H))
						kill()
						return
					}
					h, _ := strconv.Atoi(e.H)
					if h > n {
						setFail(fmt.Sprintf("%s: h=%d after %d stanzas", from, h, n))
						kill()
						return
					}
					mu.Lock()
					acked[j] = max(acked[j], h)
					mu.Unlock()
					if h >= killAt {
						kill()
					}
				case "r":
					write(fmt.Sprintf("<a xmlns='urn:xmpp:sm:3' h='%d'/>", received))
				case "message", "iq", "presence":
					received++
					if e.Type == "error" && e.XMLName.Local != "presence" {
						setFail(fmt.Sprintf("%s got an error %s %s: %s", from, e.XMLName.Local, e.ID, e.Inner))
						kill()
						return
					}
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
