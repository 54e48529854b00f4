package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"mellium.im/sasl"

	"ignis/bench"
	"ignis/internal/server"
	"ignis/internal/servertest"
)

// webEnv starts a server with the web listener on loopback.
func webEnv(t *testing.T, edit ...func(*server.Config)) (env *servertest.Env, httpAddr, httpsAddr string) {
	env = servertest.Start(t, append([]func(*server.Config){func(c *server.Config) {
		c.TLS.Required = false
		c.SASL.PlainWithoutTLS = true
		c.Web.Enabled = true
		c.Web.HTTP = "127.0.0.1:0"
		c.Web.HTTPS = "127.0.0.1:0"
	}}, edit...)...)
	env.AddUser("alice", "wonderland")
	env.AddUser("bob", "pw")
	h, hs := env.Srv.WebAddrs()
	return env, h.String(), hs.String()
}

// wsClient is a real WebSocket client (github.com/coder/websocket).
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func dialWS(t *testing.T, url string, opts *websocket.DialOptions) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	opts.Subprotocols = []string{"xmpp"}
	c, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "xmpp" {
		t.Fatalf("subprotocol %q, want xmpp (RFC 7395 §3.1)", p)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c}
}

func (w *wsClient) send(xml string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(xml)); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

func (w *wsClient) read() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	typ, b, err := w.c.Read(ctx)
	if err == nil && typ != websocket.MessageText {
		err = fmt.Errorf("a %v message: XMPP uses text (RFC 7395 §3.2)", typ)
	}
	return string(b), err
}

func (w *wsClient) expect(re string) string {
	w.t.Helper()
	m, err := w.read()
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	if !regexp.MustCompile("^(?:" + re + ")$").MatchString(m) {
		w.t.Fatalf("got %q, want %s", m, re)
	}
	return m
}

// A browser-like WebSocket client logs in with SCRAM over ws:// and
// wss://, exchanges messages with a TCP client, and closes with <close/>,
// which the server answers with <close/> and a WebSocket close (1000).
func TestWebSocketClient(t *testing.T) {
	env, h, hs := webEnv(t)
	urls := map[string]string{"ws": "ws://" + h + "/xmpp-websocket", "wss": "wss://" + hs + "/xmpp-websocket"}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			opts := &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}}
			ws := dialWS(t, url, opts)
			wsLogin(t, ws, sasl.ScramSha256, "alice", "wonderland", name)
			bob := rawStream(t, env, "bob", "tcp-"+name)
			defer bob.c.Close()

			bob.send("<message to='alice@localhost/" + name + "' type='chat' id='m1'><body>hi web</body></message>")
			ws.expect(`<message xmlns='jabber:client' [^>]*from='bob@localhost/tcp-` + name + `'[^>]*>.*<body>hi web</body>.*</message>`)
			ws.send("<message xmlns='jabber:client' to='bob@localhost/tcp-" + name + "' type='chat' id='m2'><body>hi tcp</body></message>")
			if got := bob.expect("<body>hi tcp</body></message>"); !strings.Contains(got, "from='alice@localhost/"+name+"'") {
				t.Errorf("the TCP client got %q", got)
			}

			ws.send(wsClose)
			ws.expect(regexp.QuoteMeta(wsClose))
			_, err := ws.read()
			if s := websocket.CloseStatus(err); s != websocket.StatusNormalClosure {
				t.Fatalf("after <close/>: %v, want a close frame with 1000", err)
			}
		})
	}
}

// XEP-0198 over a WebSocket: the session survives the socket and is resumed
// on a new one, with what it missed.
func TestWebSocketResume(t *testing.T) {
	env, h, _ := webEnv(t)
	url := "ws://" + h + "/xmpp-websocket"
	ws := dialWS(t, url, nil)
	wsLogin(t, ws, sasl.ScramSha256, "alice", "wonderland", "sm")
	ws.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	m := ws.expect(`<enabled xmlns='urn:xmpp:sm:3' id='[^']+' resume='true'[^>]*/>`)
	id := regexp.MustCompile(`id='([^']+)'`).FindStringSubmatch(m)[1]
	ws.c.CloseNow() // the browser tab loses its network

	bob := rawStream(t, env, "bob", "tcp")
	defer bob.c.Close()
	bob.send("<message to='alice@localhost/sm' type='chat' id='m1'><body>while away</body></message>")
	bob.send("<iq type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>")
	bob.expect("id='ping1'") // the message was routed before this

	ws2 := dialWS(t, url, nil)
	ws2.send(wsOpen)
	ws2.expect(wsOpenResp)
	ws2.expect(wsFeatures + `.*`)
	auth := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00wonderland"))
	ws2.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + auth + "</auth>")
	ws2.expect(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
	ws2.send(wsOpen)
	ws2.expect(wsOpenResp)
	ws2.expect(wsFeatures + `.*`)
	ws2.send("<resume xmlns='urn:xmpp:sm:3' h='0' previd='" + id + "'/>")
	ws2.expect(`<resumed xmlns='urn:xmpp:sm:3' [^>]*/>`)
	ws2.expect(`<message xmlns='jabber:client' .*<body>while away</body>.*`)
}

// httpRoundTrip writes a raw request on c and reads one response.
func httpRoundTrip(t *testing.T, c net.Conn, br *bufio.Reader, req string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, c, br)
}

func readResponse(t *testing.T, c net.Conn, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// A frame as a client sends it: masked, with the given first byte.
func clientFrame(b0 byte, payload []byte) []byte {
	return bench.AppendClientFrame(nil, b0, [4]byte{1, 2, 3, 4}, payload)
}

const upgradeReq = "GET /xmpp-websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n"

// readFrame reads one server frame: opcode and payload.
func readFrame(t *testing.T, br *bufio.Reader) (byte, []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	if h[1]&0x80 != 0 {
		t.Fatal("a masked server frame (RFC 6455 §5.1)")
	}
	l := uint64(h[1] & 0x7f)
	switch l {
	case 126:
		var x [2]byte
		io.ReadFull(br, x[:])
		l = uint64(binary.BigEndian.Uint16(x[:]))
	case 127:
		var x [8]byte
		io.ReadFull(br, x[:])
		l = binary.BigEndian.Uint64(x[:])
	}
	p := make([]byte, l)
	if _, err := io.ReadFull(br, p); err != nil {
		t.Fatal(err)
	}
	return h[0] & 0x0f, p
}

// The upgrade and the frame codec over a raw socket: refusals with their
// HTTP status, protocol errors with their close code (RFC 6455 §7.4.1),
// ping answered with pong, fragmented messages reassembled.
func TestWebSocketProtocol(t *testing.T) {
	_, h, _ := webEnv(t, func(c *server.Config) {
		c.Web.Origins = []string{"https://chat.example"}
		c.Web.MaxFrameBytes = 4096
		c.Web.MaxHeaderBytes = 2048
	})
	refusals := []struct {
		name, req string
		status    int
	}{
		{"no subprotocol", strings.Replace(upgradeReq, "Sec-WebSocket-Protocol: xmpp\r\n", "", 1), 400},
		{"version 8", strings.Replace(upgradeReq, "Version: 13", "Version: 8", 1), 426},
		{"no upgrade", strings.Replace(upgradeReq, "Upgrade: websocket\r\n", "", 1), 426},
		{"bad key", strings.Replace(upgradeReq, "dGhlIHNhbXBsZSBub25jZQ==", "short", 1), 400},
		{"POST", strings.Replace(strings.Replace(upgradeReq, "GET", "POST", 1), "\r\n\r\n", "\r\nContent-Length: 0\r\n\r\n", 1), 400},
		{"POST without a length", strings.Replace(upgradeReq, "GET", "POST", 1), 411},
		{"foreign origin", strings.Replace(upgradeReq, "Host: localhost\r\n", "Host: localhost\r\nOrigin: https://evil.example\r\n", 1), 403},
		{"unknown path", strings.Replace(upgradeReq, "/xmpp-websocket", "/nothing", 1), 404},
		{"huge header", strings.Replace(upgradeReq, "Host: localhost\r\n", "Host: localhost\r\nX-Pad: "+strings.Repeat("a", 3000)+"\r\n", 1), 431},
		{"HTTP/2.0", strings.Replace(upgradeReq, "HTTP/1.1", "HTTP/2.0", 1), 505},
		{"chunked", "POST /http-bind HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", h)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			resp, _ := httpRoundTrip(t, c, bufio.NewReader(c), tc.req)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}

	frames := []struct {
		name  string
		in    []byte
		close uint16
	}{
		{"unmasked", []byte{0x81, 0x02, 'h', 'i'}, 1002},
		{"binary", clientFrame(0x82, []byte("<x/>")), 1003},
		{"reserved bits", clientFrame(0xC1, []byte("<x/>")), 1002},
		{"too large", clientFrame(0x81, make([]byte, 5000)), 1009},
		{"continuation first", clientFrame(0x80, []byte("<x/>")), 1002},
		{"fragmented ping", clientFrame(0x09, []byte("p")), 1002},
		{"client close", clientFrame(0x88, []byte{0x03, 0xe9}), 1001},
		{"client close without a code", clientFrame(0x88, nil), 1000},
		// found by FuzzWeb: codes no endpoint may send are not echoed (RFC 6455 §7.4)
		{"client close 1005", clientFrame(0x88, []byte{0x03, 0xed}), 1002},
		{"client close 0", clientFrame(0x88, []byte{0, 0, 'x'}), 1002},
		{"client close 1-byte body", clientFrame(0x88, []byte{0x03}), 1002},
		{"client close 4000", clientFrame(0x88, []byte{0x0f, 0xa0}), 4000},
	}
	for _, tc := range frames {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", h)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			resp, _ := httpRoundTrip(t, c, br, upgradeReq)
			if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
				t.Fatalf("upgrade: %d %v", resp.StatusCode, resp.Header)
			}
			c.Write(tc.in)
			op, p := readFrame(t, br)
			if op != 0x8 || len(p) < 2 || binary.BigEndian.Uint16(p) != tc.close {
				t.Fatalf("got opcode %d %q, want close %d", op, p, tc.close)
			}
			if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
				t.Fatalf("after the close frame: %v, want EOF", err)
			}
		})
	}

	t.Run("ping and fragments", func(t *testing.T) {
		c, err := net.Dial("tcp", h)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		httpRoundTrip(t, c, br, upgradeReq)
		// <open/> in three fragments with a ping between them, split across writes
		var in []byte
		in = append(in, clientFrame(0x01, []byte(wsOpen[:10]))...)
		in = append(in, clientFrame(0x89, []byte("are you there"))...)
		in = append(in, clientFrame(0x00, []byte(wsOpen[10:30]))...)
		in = append(in, clientFrame(0x80, []byte(wsOpen[30:]))...)
		for i := range in {
			c.Write(in[i : i+1])
		}
		op, p := readFrame(t, br)
		if op != 0xA || string(p) != "are you there" {
			t.Fatalf("got opcode %d %q, want the pong", op, p)
		}
		op, p = readFrame(t, br)
		if op != 0x1 || !regexp.MustCompile("^"+wsOpenResp+"$").Match(p) {
			t.Fatalf("got opcode %d %q, want <open/>", op, p)
		}
	})
}

// XEP-0156: host-meta and host-meta.json list both URLs as the client
// reached the server, with CORS for the configured origin.
func TestHostMeta(t *testing.T) {
	_, h, hs := webEnv(t, func(c *server.Config) { c.Web.Origins = []string{"https://chat.example"} })
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, tc := range []struct{ url, want string }{
		{"http://" + h + "/.well-known/host-meta", "<Link rel='urn:xmpp:alt-connections:websocket' href='ws://" + h + "/xmpp-websocket'/>"},
		{"http://" + h + "/.well-known/host-meta", "<Link rel='urn:xmpp:alt-connections:xbosh' href='http://" + h + "/http-bind'/>"},
		{"https://" + hs + "/.well-known/host-meta.json", `{"rel":"urn:xmpp:alt-connections:websocket","href":"wss://` + hs + `/xmpp-websocket"}`},
		{"https://" + hs + "/.well-known/host-meta.json", `{"rel":"urn:xmpp:alt-connections:xbosh","href":"https://` + hs + `/http-bind"}`},
	} {
		req, _ := http.NewRequest("GET", tc.url, nil)
		req.Header.Set("Origin", "https://chat.example")
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: %d %s, want %s", tc.url, resp.StatusCode, b, tc.want)
		}
		if o := resp.Header.Get("Access-Control-Allow-Origin"); o != "https://chat.example" {
			t.Errorf("%s: Access-Control-Allow-Origin %q", tc.url, o)
		}
	}
}

// boshClient speaks XEP-0206 with raw HTTP requests, each on a connection
// of its own or on a kept-alive one.
type boshClient struct {
	t    *testing.T
	addr string
	sid  string
	rid  uint64
}

// post sends body on a new connection and returns the response body.
func (b *boshClient) post(body string) string {
	b.t.Helper()
	c, br := b.start(body)
	defer c.Close()
	return b.finish(c, br)
}

// start sends body and returns without reading: the request may be held.
func (b *boshClient) start(body string) (net.Conn, *bufio.Reader) {
	b.t.Helper()
	c, err := net.Dial("tcp", b.addr)
	if err != nil {
		b.t.Fatal(err)
	}
	req := "POST /http-bind HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if _, err := io.WriteString(c, req); err != nil {
		b.t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

func (b *boshClient) finish(c net.Conn, br *bufio.Reader) string {
	b.t.Helper()
	resp, body := readResponse(b.t, c, br)
	if resp.StatusCode != 200 {
		b.t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	return body
}

// wrap makes a request body with the next rid.
func (b *boshClient) wrap(attrs, payload string) string {
	b.rid++
	return fmt.Sprintf("<body xmlns='http://jabber.org/protocol/httpbind' sid='%s' rid='%d'%s>%s</body>", b.sid, b.rid, attrs, payload)
}

// boshLogin creates a session, authenticates with PLAIN, restarts and binds.
func boshLogin(t *testing.T, addr, user, pass, resource string, wait int) *boshClient {
	t.Helper()
	b := &boshClient{t: t, addr: addr, rid: 1000}
	w := strconv.Itoa(wait)
	resp := b.post("<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' content='text/xml; charset=utf-8' hold='1' rid='1000' to='localhost' wait='" + w + "' ver='1.11' xml:lang='en' xmpp:version='1.0'/>")
	m := regexp.MustCompile(`^<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' xmlns:stream='http://etherx.jabber.org/streams' sid='([0-9a-f]+)' wait='` + w + `' requests='2' hold='1' inactivity='\d+' polling='\d+' ver='1.11' from='localhost' authid='[0-9a-f]{24}' xmpp:version='1.0' xmpp:restartlogic='true'><stream:features xmlns:stream='http://etherx.jabber.org/streams'>.*<mechanism>PLAIN</mechanism>.*</stream:features></body>$`).FindStringSubmatch(resp)
	if m == nil {
		t.Fatalf("session creation response: %s", resp)
	}
	b.sid = m[1]
	auth := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	if r := b.post(b.wrap("", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+auth+"</auth>")); !strings.Contains(r, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>") {
		t.Fatalf("auth: %s", r)
	}
	if r := b.post(b.wrap(" xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true' to='localhost'", "")); !strings.Contains(r, "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>") {
		t.Fatalf("restart: %s", r)
	}
	r := b.post(b.wrap("", "<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>"+resource+"</resource></bind></iq>"))
	if !strings.Contains(r, "<jid>"+user+"@localhost/"+resource+"</jid>") {
		t.Fatalf("bind: %s", r)
	}
	return b
}

// BOSH by raw HTTP: session creation with the features, SASL, restart,
// bind; a held request answered when a TCP user's message arrives; the
// same rid again answered with the same response; a rid out of the window
// ends the session with item-not-found; terminate.
func TestBOSH(t *testing.T) {
	env, h, _ := webEnv(t)
	b := boshLogin(t, h, "alice", "wonderland", "bosh", 10)
	bob := rawStream(t, env, "bob", "tcp")
	defer bob.c.Close()

	// an empty request is held until the message comes
	c, br := b.start(b.wrap("", ""))
	defer c.Close()
	bob.send("<message to='alice@localhost/bosh' type='chat' id='m1'><body>hi bosh</body></message>")
	got := b.finish(c, br)
	if !regexp.MustCompile(`^<body xmlns='http://jabber.org/protocol/httpbind'><message xmlns='jabber:client' [^>]*from='bob@localhost/tcp'[^>]*><body>hi bosh</body></message></body>$`).MatchString(got) {
		t.Fatalf("held request: %s", got)
	}
	// the client lost that response: the same rid gets it again
	b.rid--
	if again := b.post(b.wrap("", "")); again != got {
		t.Fatalf("duplicate rid: %s, want %s", again, got)
	}

	// stanzas the other way, without their namespace (jabber:client is implied)
	c2, br2 := b.start(b.wrap("", "<message to='bob@localhost/tcp' type='chat' id='m2'><body>hi tcp</body></message>"))
	defer c2.Close()
	if got := bob.expect("<body>hi tcp</body></message>"); !strings.Contains(got, "from='alice@localhost/bosh'") {
		t.Fatalf("the TCP client got %q", got)
	}
	// a second request makes the first one, held, return empty (hold=1)
	c3, br3 := b.start(b.wrap("", ""))
	defer c3.Close()
	if r := b.finish(c2, br2); r != "<body xmlns='http://jabber.org/protocol/httpbind'></body>" {
		t.Fatalf("released request: %s", r)
	}
	// terminate: the held request and the terminate are answered
	r := b.post(b.wrap(" type='terminate'", "<presence xmlns='jabber:client' type='unavailable'/>"))
	r3 := b.finish(c3, br3)
	if !strings.Contains(r+r3, "type='terminate'") {
		t.Fatalf("terminate: %s / %s", r3, r)
	}
	if r := b.post(b.wrap("", "")); r != "<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' condition='item-not-found'/>" {
		t.Fatalf("after terminate: %s", r)
	}
	if n := env.Srv.WebBOSHSessions(); n != 0 {
		t.Fatalf("%d BOSH sessions left", n)
	}
}

// BOSH limits: a held request comes back empty after the wait, a rid out
// of the window and an unknown sid get item-not-found, a session with no
// request for the inactivity time ends, a body over the limit gets 413.
func TestBOSHLimits(t *testing.T) {
	env, h, _ := webEnv(t, func(c *server.Config) {
		c.Web.BOSHInactivity.Duration = time.Second
		c.Web.MaxBodyBytes = 2048
	})
	b := boshLogin(t, h, "alice", "wonderland", "bosh", 1)

	start := time.Now()
	b.rid++
	c, br := b.start(fmt.Sprintf("<body xmlns='http://jabber.org/protocol/httpbind' sid='%s' rid='%d'/>", b.sid, b.rid))
	if r := b.finish(c, br); r != "<body xmlns='http://jabber.org/protocol/httpbind'></body>" {
		t.Fatalf("after wait: %s", r)
	}
	c.Close()
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("answered after %v: the wait was 1 s", d)
	}

	c2, err := net.Dial("tcp", h)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	big := strings.Repeat("x", 3000)
	resp, _ := httpRoundTrip(t, c2, bufio.NewReader(c2), "POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n"+big)
	if resp.StatusCode != 413 {
		t.Fatalf("big body: %d", resp.StatusCode)
	}

	if r := (&boshClient{t: t, addr: h, sid: "nope"}).post("<body xmlns='http://jabber.org/protocol/httpbind' sid='nope' rid='5'/>"); !strings.Contains(r, "condition='item-not-found'") {
		t.Fatalf("unknown sid: %s", r)
	}
	b.rid += 10
	if r := b.post(b.wrap("", "")); !strings.Contains(r, "condition='item-not-found'") {
		t.Fatalf("rid out of the window: %s", r)
	}
	if n := env.Srv.WebBOSHSessions(); n != 0 {
		t.Fatalf("%d BOSH sessions left after a bad rid", n)
	}

	// inactivity: a new session, then nothing
	b2 := boshLogin(t, h, "alice", "wonderland", "idle", 1)
	deadline := time.Now().Add(10 * time.Second)
	for env.Srv.WebBOSHSessions() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the inactive BOSH session is still there")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := b2.post(b2.wrap("", "")); !strings.Contains(r, "condition='item-not-found'") {
		t.Fatalf("after inactivity: %s", r)
	}
}

// More of XEP-0124 and HTTP: two requests racing on two connections (the
// older is released empty, the newer carries the reply), a stream error at
// session creation, a CORS preflight, pipelined keep-alive requests.
func TestBOSHMore(t *testing.T) {
	env, h, _ := webEnv(t, func(c *server.Config) { c.Web.Origins = []string{"https://chat.example"} })
	b := boshLogin(t, h, "alice", "wonderland", "bosh", 10)
	bob := rawStream(t, env, "bob", "tcp")
	defer bob.c.Close()

	// rid n+1 may reach the server before rid n: it waits for the gap
	next := b.rid + 1
	b.rid = next // wrap makes next+1
	c2, br2 := b.start(b.wrap("", ""))
	defer c2.Close()
	b.rid = next - 1
	c1, br1 := b.start(b.wrap("", "<message to='bob@localhost/tcp' type='chat'><body>first</body></message>"))
	defer c1.Close()
	bob.expect("<body>first</body></message>")
	if r := b.finish(c1, br1); r != "<body xmlns='http://jabber.org/protocol/httpbind'></body>" {
		t.Fatalf("the older request: %s", r)
	}
	bob.send("<message to='alice@localhost/bosh' type='chat'><body>reply</body></message>")
	if r := b.finish(c2, br2); !strings.Contains(r, "<body>reply</body>") {
		t.Fatalf("the newer request: %s", r)
	}

	bad := &boshClient{t: t, addr: h}
	r := bad.post("<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' rid='7' to='elsewhere' wait='5' hold='1' xmpp:version='1.0'/>")
	if !regexp.MustCompile(`type='terminate' condition='remote-stream-error'>.*<stream:error xmlns:stream='http://etherx.jabber.org/streams'><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`).MatchString(r) {
		t.Fatalf("a stream error at creation: %s", r)
	}

	c, err := net.Dial("tcp", h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	io.WriteString(c, "OPTIONS /http-bind HTTP/1.1\r\nHost: x\r\nOrigin: https://chat.example\r\nAccess-Control-Request-Method: POST\r\n\r\n"+
		"GET /.well-known/host-meta.json HTTP/1.1\r\nHost: x\r\n\r\n"+
		"OPTIONS /http-bind HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n\r\n")
	resp, _ := readResponse(t, c, br)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://chat.example" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, body := readResponse(t, c, br); resp.StatusCode != 200 || !strings.Contains(body, "xbosh") {
		t.Fatalf("the pipelined request: %d %s", resp.StatusCode, body)
	}
	if resp, _ := readResponse(t, c, br); resp.StatusCode != 403 {
		t.Fatalf("a foreign origin's preflight: %d", resp.StatusCode)
	}
}
