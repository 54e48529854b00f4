package e2e

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	mjid "mellium.im/xmpp/jid"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// message is what the tests send and receive.
type message struct {
	XMLName xml.Name `xml:"jabber:client message"`
	ID      string   `xml:"id,attr,omitempty"`
	To      string   `xml:"to,attr,omitempty"`
	From    string   `xml:"from,attr,omitempty"`
	Type    string   `xml:"type,attr,omitempty"`
	Body    string   `xml:"body,omitempty"`
	Error   *struct {
		Type string `xml:"type,attr"`
		Cond struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"error"`
}

// client is one logged-in mellium session whose incoming messages are
// collected on a channel.
type client struct {
	*xmpp.Session
	msgs   chan message
	pres   chan string // from of each presence received
	served chan error
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// login connects user over STARTTLS with one SASL mechanism and binds resource.
func login(t *testing.T, env *servertest.Env, user, pass, resource string, mech sasl.Mechanism) *client {
	t.Helper()
	s, err := dialSession(t, env, user, pass, resource, false, mech)
	if err != nil {
		t.Fatalf("login %s with %s: %v", user, mech.Name, err)
	}
	return serve(t, s)
}

func dialSession(t *testing.T, env *servertest.Env, user, pass, resource string, direct bool, mech sasl.Mechanism, extra ...xmpp.StreamFeature) (*xmpp.Session, error) {
	t.Helper()
	ctx := testCtx(t)
	addr := mjid.MustParse(user + "@localhost")
	bind := xmpp.BindResource() // requests the origin's resourcepart, if any
	if resource != "" {
		addr = mjid.MustParse(user + "@localhost/" + resource)
	}
	feats := []xmpp.StreamFeature{xmpp.SASL("", pass, mech), bind}
	var conn net.Conn
	if direct {
		conn = traced(t, env.DialTLS())
	} else {
		conn = traced(t, env.Dial())
		feats = append([]xmpp.StreamFeature{xmpp.StartTLS(env.ClientTLS())}, feats...)
	}
	feats = append(feats, extra...)
	return xmpp.NewClientSession(ctx, addr, conn, feats...)
}

func serve(t *testing.T, s *xmpp.Session) *client {
	c := &client{Session: s, msgs: make(chan message, 100), pres: make(chan string, 100), served: make(chan error, 1)}
	go func() {
		c.served <- s.Serve(xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			if start.Name.Local == "presence" {
				for _, a := range start.Attr {
					if a.Name.Local == "from" {
						c.pres <- a.Value
					}
				}
				return nil
			}
			if start.Name.Local != "message" {
				return nil
			}
			// the reader starts after the start element: put it back so
			// the decoder sees a balanced element
			var m message
			d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), r))
			if err := d.Decode(&m); err != nil {
				return err
			}
			c.msgs <- m
			return nil
		}))
	}()
	t.Cleanup(func() { s.Close() })
	return c
}

func (c *client) send(t *testing.T, m message) {
	t.Helper()
	if err := c.Encode(testCtx(t), m); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// presence sends initial presence and waits until the server reflects it
// back (RFC 6121 §4.2.2): from then on the resource is available.
func (c *client) presence(t *testing.T) {
	t.Helper()
	if err := c.Send(testCtx(t), xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "jabber:client", Local: "presence"}})); err != nil {
		t.Fatalf("presence: %v", err)
	}
	self := c.LocalAddr().String()
	for {
		select {
		case from := <-c.pres:
			if from == self {
				return
			}
		case err := <-c.served:
			t.Fatalf("stream ended before the presence echo: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: own presence not reflected within 10 s", self)
		}
	}
}

func (c *client) expect(t *testing.T) message {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case err := <-c.served:
		t.Fatalf("%s: stream ended before a message arrived: %v", c.LocalAddr(), err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no message within 10 s", c.LocalAddr())
	}
	return message{}
}

var mechanisms = []sasl.Mechanism{sasl.ScramSha256, sasl.ScramSha256Plus, sasl.ScramSha1, sasl.ScramSha1Plus, sasl.Plain}

// TestLoginEachMechanism: STARTTLS, then each SASL mechanism mellium has,
// then binding; the session's address is the account's with a resource.
func TestLoginEachMechanism(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "wonderland")
	for _, m := range mechanisms {
		t.Run(m.Name, func(t *testing.T) {
			s, err := dialSession(t, env, "alice", "wonderland", "", false, m)
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			defer s.Close()
			got := s.LocalAddr()
			if got.Bare().String() != "alice@localhost" || got.Resourcepart() == "" {
				t.Fatalf("bound %q, want alice@localhost/<generated>", got)
			}
			if s.State()&xmpp.Secure == 0 {
				t.Fatal("session not secure after STARTTLS")
			}
		})
		t.Run(m.Name+"/wrong-password", func(t *testing.T) {
			_, err := dialSession(t, env, "alice", "looking-glass", "", false, m)
			if err == nil {
				t.Fatal("login with a wrong password succeeded")
			}
		})
	}
}

// TestDirectTLS: XEP-0368 TLS from the first byte, then SCRAM-SHA-256-PLUS.
func TestDirectTLS(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "wonderland")
	s, err := dialSession(t, env, "alice", "wonderland", "", true, sasl.ScramSha256Plus)
	if err != nil {
		t.Fatalf("login over direct TLS: %v", err)
	}
	defer s.Close()
	if got := s.LocalAddr(); got.Bare().String() != "alice@localhost" || got.Resourcepart() == "" {
		t.Fatalf("bound %q, want alice@localhost/<generated>", got)
	}
}

// TestChat: two users exchange messages to full and bare JIDs; the server
// stamps the sender's full JID as from.
func TestChat(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "wonderland")
	env.AddUser("bob", "builder")
	a := login(t, env, "alice", "wonderland", "", sasl.ScramSha256Plus)
	b := login(t, env, "bob", "builder", "", sasl.ScramSha256)
	aj, bj := a.LocalAddr().String(), b.LocalAddr().String()

	a.send(t, message{ID: "m1", To: bj, Type: "chat", Body: "hi bob"})
	got := b.expect(t)
	if got.Body != "hi bob" || got.From != aj || got.Type != "chat" || got.ID != "m1" {
		t.Fatalf("bob got %+v, want body 'hi bob' from %s", got, aj)
	}

	// to the bare JID: delivered once bob is available
	b.presence(t)
	a.send(t, message{ID: "m2", To: "bob@localhost", Type: "chat", Body: "to your bare JID"})
	if got := b.expect(t); got.Body != "to your bare JID" || got.From != aj {
		t.Fatalf("bob got %+v", got)
	}
	b.send(t, message{ID: "m3", To: aj, Type: "chat", Body: "hi alice ✓ <&>"})
	if got := a.expect(t); got.Body != "hi alice ✓ <&>" || got.From != bj {
		t.Fatalf("alice got %+v", got)
	}
}

// TestResourceConflict: binding a bound resource ends the older session
// with a <conflict/> stream error; the newer one gets the messages.
// (Raw sessions: mellium v0.22 cannot request a resource.)
func TestResourceConflict(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "wonderland")
	env.AddUser("bob", "builder")
	old := rawLogin(t, env, "alice", "wonderland", "phone")
	young := rawLogin(t, env, "alice", "wonderland", "phone")
	if got := readAll(t, old); !strings.Contains(got, streamErr("conflict")) || !strings.HasSuffix(got, "</stream:stream>") {
		t.Fatalf("old session got %q, want a conflict stream error and the end of the stream", got)
	}
	b := login(t, env, "bob", "builder", "", sasl.ScramSha256)
	b.send(t, message{To: "alice@localhost/phone", Type: "chat", Body: "which phone?"})
	readUntil(t, young, "<body>which phone?</body>")
}

// TestSpoofedFrom: a from that is not the client's own address ends the
// stream with <invalid-from/> (RFC 6120 §8.1.2.1); the bare JID is accepted.
func TestSpoofedFrom(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "wonderland")
	env.AddUser("bob", "builder")
	b := rawLogin(t, env, "bob", "builder", "b")
	c := rawLogin(t, env, "alice", "wonderland", "home")
	io.WriteString(c, "<message to='bob@localhost/b' from='alice@localhost' id='ok'><body>own bare JID</body></message>")
	if got := readUntil(t, b, "</message>"); !strings.Contains(got, "from='alice@localhost/home'") {
		t.Fatalf("bob got %q, want from stamped with alice's full JID", got)
	}
	io.WriteString(c, "<message to='bob@localhost/b' from='mallory@localhost'><body>spoof</body></message>")
	if got := readAll(t, c); !strings.Contains(got, streamErr("invalid-from")) {
		t.Fatalf("got %q, want an invalid-from stream error", got)
	}
}

// TestUndeliverable: a message to a user with no available resource bounces
// with service-unavailable (offline storage comes with the IM features).
func TestUndeliverable(t *testing.T) {
	env := servertest.Start(t)
	env.AddUser("alice", "wonderland")
	c := rawLogin(t, env, "alice", "wonderland", "home")
	io.WriteString(c, "<message to='nobody@localhost' type='chat' id='x1'><body>anyone?</body></message>")
	got := readUntil(t, c, "</message>")
	for _, want := range []string{"type='error'", "id='x1'", "from='nobody@localhost'", "to='alice@localhost/home'", "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"} {
		if !strings.Contains(got, want) {
			t.Fatalf("got %q, want %q in it", got, want)
		}
	}
}

// TestCompression: XEP-0138 zlib negotiated after authentication (under
// TLS, which must be allowed explicitly), then a chat exchange through it,
// decoded by the standard library's zlib.
func TestCompression(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Compression.Enabled, c.Compression.OnTLS = true, true })
	env.AddUser("alice", "wonderland")
	env.AddUser("bob", "builder")
	ctx := testCtx(t)
	used := make(chan struct{}, 1)
	s, err := xmpp.NewClientSession(ctx, mjid.MustParse("alice@localhost"), env.Dial(),
		xmpp.StartTLS(env.ClientTLS()),
		xmpp.SASL("", "wonderland", sasl.ScramSha256),
		compressionFeature(used),
		xmpp.BindResource())
	if err != nil {
		t.Fatalf("login with compression: %v", err)
	}
	select {
	case <-used:
	default:
		t.Fatal("compression was not negotiated")
	}
	a := serve(t, s)
	b := login(t, env, "bob", "builder", "", sasl.ScramSha256)
	body := string(bytes.Repeat([]byte("squeeze me "), 200))
	b.send(t, message{To: a.LocalAddr().String(), Type: "chat", Body: body})
	if got := a.expect(t); got.Body != body {
		t.Fatalf("compressed stream delivered %d bytes of body, want %d", len(got.Body), len(body))
	}
	a.send(t, message{To: b.LocalAddr().String(), Type: "chat", Body: "and back"})
	if got := b.expect(t); got.Body != "and back" {
		t.Fatalf("bob got %+v", got)
	}
}

// compressionFeature is a client-side XEP-0138 for mellium, which has none.
func compressionFeature(used chan<- struct{}) xmpp.StreamFeature {
	return xmpp.StreamFeature{
		Name:       xml.Name{Space: "http://jabber.org/features/compress", Local: "compression"},
		Necessary:  xmpp.Authn,
		Prohibited: xmpp.Ready,
		Parse: func(ctx context.Context, d *xml.Decoder, start *xml.StartElement) (bool, interface{}, error) {
			return false, nil, d.Skip()
		},
		Negotiate: func(ctx context.Context, s *xmpp.Session, _ interface{}) (xmpp.SessionState, io.ReadWriter, error) {
			conn := s.Conn()
			if _, err := fmt.Fprint(conn, "<compress xmlns='http://jabber.org/protocol/compress'><method>zlib</method></compress>"); err != nil {
				return 0, nil, err
			}
			r := s.TokenReader()
			defer r.Close()
			tok, err := r.Token()
			if err != nil {
				return 0, nil, err
			}
			if se, ok := tok.(xml.StartElement); !ok || se.Name.Local != "compressed" {
				return 0, nil, fmt.Errorf("compression refused: %v", tok)
			}
			if tok, err := r.Token(); err != nil {
				return 0, nil, err
			} else if _, ok := tok.(xml.EndElement); !ok {
				return 0, nil, fmt.Errorf("compression: want </compressed>, got %v", tok)
			}
			used <- struct{}{}
			return 0, &zlibConn{Conn: conn}, nil
		},
	}
}

// zlibConn is a zlib stream over a connection, sync-flushed on every write.
type zlibConn struct {
	net.Conn
	once sync.Once
	zr   io.ReadCloser
	zw   *zlib.Writer
	err  error
}

func (z *zlibConn) Read(p []byte) (int, error) {
	z.once.Do(func() { z.zr, z.err = zlib.NewReader(z.Conn) })
	if z.err != nil {
		return 0, z.err
	}
	return z.zr.Read(p)
}

func (z *zlibConn) Write(p []byte) (int, error) {
	if z.zw == nil {
		z.zw = zlib.NewWriter(z.Conn)
	}
	n, err := z.zw.Write(p)
	if err != nil {
		return n, err
	}
	return n, z.zw.Flush()
}
