package e2e

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/component"
	mjid "mellium.im/xmpp/jid"
	mstream "mellium.im/xmpp/stream"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

// componentEnv is a server with two components configured: gw.localhost and
// bot (a label: bot.localhost).
func componentEnv(t *testing.T) *servertest.Env {
	env := servertest.Start(t, func(c *server.Config) {
		c.Component.Listen = "127.0.0.1:0"
		c.Component.Secrets = map[string]string{"gw.localhost": "s3cret", "bot": "b0t"}
	})
	env.AddUser("alice", "pw")
	return env
}

func dialComponent(t *testing.T, env *servertest.Env) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", env.Srv.ComponentAddr().String(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial the component port: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

const componentHeader = "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='%s'>"

var streamIDAttr = regexp.MustCompile(`id='([0-9a-f]+)'`)

// rawComponent opens a component stream of our own and sends the handshake
// for secret; it returns the stream after the header, before the answer.
func rawComponent(t *testing.T, env *servertest.Env, name, secret string) *stream {
	t.Helper()
	s := &stream{t: t, name: name, c: dialComponent(t, env)}
	s.send(strings.Replace(componentHeader, "%s", name, 1))
	hdr := s.expect("from='" + name + "'>")
	m := streamIDAttr.FindStringSubmatch(hdr)
	if m == nil {
		t.Fatalf("no stream id in %q", hdr)
	}
	sum := sha1.Sum([]byte(m[1] + secret))
	// upper case and white space: the server compares the digest, not the text
	s.send("<handshake>\n" + strings.ToUpper(hex.EncodeToString(sum[:])) + " </handshake>")
	return s
}

// compMsg is a message as the component writes it, in its stream's namespace.
type compMsg struct {
	XMLName xml.Name `xml:"jabber:component:accept message"`
	ID      string   `xml:"id,attr,omitempty"`
	To      string   `xml:"to,attr,omitempty"`
	From    string   `xml:"from,attr,omitempty"`
	Type    string   `xml:"type,attr,omitempty"`
	Body    string   `xml:"body,omitempty"`
}

// compIQ is an iq the component gets or sends.
type compIQ struct {
	XMLName xml.Name `xml:"jabber:component:accept iq"`
	ID      string   `xml:"id,attr"`
	To      string   `xml:"to,attr,omitempty"`
	From    string   `xml:"from,attr,omitempty"`
	Type    string   `xml:"type,attr"`
	Inner   []byte   `xml:",innerxml"` // what it sends
	// what it gets: a disco#info answer's identities
	Identities []struct {
		Category string `xml:"category,attr"`
	} `xml:"query>identity"`
}

// gateway is a component connected with mellium's component package that
// answers iqs of type get with a jabber:iq:version result and reports what
// it receives.
type gateway struct {
	*xmpp.Session
	msgs   chan compMsg
	pres   chan string // from→to of each presence
	iqs    chan compIQ // results and errors it gets
	served chan error
}

func connectGateway(t *testing.T, env *servertest.Env, secret string) (*gateway, error) {
	t.Helper()
	s, err := component.NewSession(testCtx(t), mjid.MustParse("gw.localhost"), []byte(secret), dialComponent(t, env))
	if err != nil {
		return nil, err
	}
	g := &gateway{Session: s, msgs: make(chan compMsg, 10), pres: make(chan string, 10), iqs: make(chan compIQ, 10), served: make(chan error, 1)}
	go func() {
		g.served <- s.Serve(xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), r))
			switch start.Name.Local {
			case "message":
				var m compMsg
				if err := d.Decode(&m); err != nil {
					return err
				}
				g.msgs <- m
			case "presence":
				var p struct {
					From string `xml:"from,attr"`
					To   string `xml:"to,attr"`
				}
				if err := d.Decode(&p); err != nil {
					return err
				}
				g.pres <- p.From + "→" + p.To
			case "iq":
				var iq compIQ
				if err := d.Decode(&iq); err != nil {
					return err
				}
				if iq.Type != "get" {
					g.iqs <- iq
					return nil
				}
				return r.Encode(compIQ{ID: iq.ID, To: iq.From, From: iq.To, Type: "result",
					Inner: []byte("<query xmlns='jabber:iq:version'><name>Gateway</name></query>")})
			}
			return nil
		}))
	}()
	t.Cleanup(func() { s.Close() })
	return g, nil
}

func (g *gateway) send(t *testing.T, v any) {
	t.Helper()
	if err := g.Encode(testCtx(t), v); err != nil {
		t.Fatalf("gateway send: %v", err)
	}
}

// wait returns the next value of ch, failing after 10 s or if the stream ends.
func wait[T any](t *testing.T, g *gateway, ch chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case err := <-g.served:
		t.Fatalf("gateway stream ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway: nothing within 10 s")
	}
	var zero T
	return zero
}

// TestComponent: XEP-0114 over the component port with mellium's component
// package: a good handshake joins gw.localhost to the server (disco#items
// lists it), messages, iqs and presences cross both ways, and the gateway
// reaches the server's own services; a bad handshake, an unknown name, a
// second connection, a spoofed from each get their stream error, and once
// the gateway is gone its domain bounces.
func TestComponent(t *testing.T) {
	env := componentEnv(t)
	alice := rawStream(t, env, "alice", "r")
	alice.online()
	const me = "alice@localhost/r"

	t.Run("bad-handshake", func(t *testing.T) {
		_, err := connectGateway(t, env, "wrong")
		var se mstream.Error
		if !errors.As(err, &se) || se.Err != "not-authorized" {
			t.Fatalf("connect with a wrong secret: %v, want the not-authorized stream error", err)
		}
	})
	t.Run("unknown-name", func(t *testing.T) {
		c := dialComponent(t, env)
		io.WriteString(c, strings.Replace(componentHeader, "%s", "nope.localhost", 1))
		got := readAll(t, c)
		if !strings.Contains(got, "<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>") {
			t.Fatalf("got %q, want host-unknown", got)
		}
	})
	t.Run("client-namespace", func(t *testing.T) {
		c := dialComponent(t, env)
		io.WriteString(c, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='gw.localhost'>")
		if got := readAll(t, c); !strings.Contains(got, "<invalid-namespace ") {
			t.Fatalf("got %q, want invalid-namespace", got)
		}
	})

	gw, err := connectGateway(t, env, "s3cret")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Run("disco-items", func(t *testing.T) {
		alice.send("<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
		got := alice.expect("</iq>")
		if !strings.Contains(got, "<item jid='gw.localhost'/>") || strings.Contains(got, "bot.localhost") {
			t.Fatalf("disco#items %q, want the connected gw.localhost only", got)
		}
	})
	t.Run("message-both-ways", func(t *testing.T) {
		alice.send("<message to='bob@gw.localhost' id='m1' type='chat'><body>hello gateway</body></message>")
		m := wait(t, gw, gw.msgs)
		if m.From != me || m.To != "bob@gw.localhost" || m.Body != "hello gateway" || m.ID != "m1" {
			t.Fatalf("gateway got %+v", m)
		}
		gw.send(t, compMsg{ID: "m2", From: "bob@gw.localhost/legacy", To: "alice@localhost", Type: "chat", Body: "hello alice"})
		got := squote(alice.expect("hello alice</body></message>"))
		if !strings.Contains(got, "<message from='bob@gw.localhost/legacy' to='alice@localhost' id='m2' type='chat'>") &&
			!strings.Contains(got, "<message id='m2' to='alice@localhost' from='bob@gw.localhost/legacy' type='chat'>") ||
			strings.Contains(got, "jabber:component:accept") {
			t.Fatalf("alice got %q, want the gateway's message in her stream's namespace", got)
		}
	})
	t.Run("iq-to-component", func(t *testing.T) {
		alice.send("<iq type='get' id='v1' to='gw.localhost'><query xmlns='jabber:iq:version'/></iq>")
		got := squote(alice.expect("</iq>"))
		if !strings.Contains(got, "type='result'") || !strings.Contains(got, "id='v1'") || !strings.Contains(got, "<name>Gateway</name>") {
			t.Fatalf("alice got %q, want the gateway's version", got)
		}
	})
	t.Run("iq-from-component-to-server", func(t *testing.T) {
		gw.send(t, compIQ{ID: "c1", From: "gw.localhost", To: "localhost", Type: "get",
			Inner: []byte("<query xmlns='http://jabber.org/protocol/disco#info'/>")})
		iq := wait(t, gw, gw.iqs)
		if iq.Type != "result" || iq.ID != "c1" || len(iq.Identities) == 0 || iq.Identities[0].Category != "server" {
			t.Fatalf("gateway got %+v, want the server's disco#info", iq)
		}
	})
	t.Run("presence-both-ways", func(t *testing.T) {
		alice.send("<presence to='bob@gw.localhost'/>")
		if got := wait(t, gw, gw.pres); got != me+"→bob@gw.localhost" {
			t.Fatalf("gateway got presence %s", got)
		}
		if err := gw.Send(testCtx(t), xmlstream.Wrap(nil, xml.StartElement{
			Name: xml.Name{Space: "jabber:component:accept", Local: "presence"},
			Attr: []xml.Attr{{Name: xml.Name{Local: "from"}, Value: "bob@gw.localhost/legacy"}, {Name: xml.Name{Local: "to"}, Value: me}},
		})); err != nil {
			t.Fatal(err)
		}
		alice.expect(`<presence from="bob@gw.localhost/legacy" to="` + me + `">`)
	})
	t.Run("second-connection", func(t *testing.T) {
		s := rawComponent(t, env, "gw.localhost", "s3cret")
		if got := string(s.buf) + readAll(t, s.c); !strings.Contains(got, "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>") {
			t.Fatalf("got %q, want conflict", got)
		}
		// the first one still serves the domain
		alice.send("<message to='gw.localhost' id='m3'><body>still there?</body></message>")
		if m := wait(t, gw, gw.msgs); m.Body != "still there?" {
			t.Fatalf("gateway got %+v", m)
		}
	})
	t.Run("invalid-from", func(t *testing.T) {
		bot := rawComponent(t, env, "bot.localhost", "b0t")
		bot.expect("<handshake/>")
		bot.send("<message from='x@gw.localhost' to='alice@localhost'><body>spoof</body></message>")
		if got := readAll(t, bot.c); !strings.Contains(got, "<invalid-from xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>") {
			t.Fatalf("got %q, want invalid-from", got)
		}
		// bot.localhost went away with its stream
		alice.send("<message to='bot.localhost' id='m4'><body>x</body></message>")
		alice.expect("<remote-server-not-found xmlns='" + nsStanzas + "'/>")
	})
	t.Run("gone", func(t *testing.T) {
		// the server closes its end after the domain has left the host table
		gw.Close()
		select {
		case <-gw.served:
		case <-time.After(10 * time.Second):
			t.Fatal("the server did not close the gateway's stream")
		}
		if c := env.Srv.Components().Connected(); len(c) != 0 {
			t.Fatalf("connected after the close: %v", c)
		}
		alice.send("<message to='bob@gw.localhost' id='m5' type='chat'><body>anyone?</body></message>")
		alice.expect("<remote-server-not-found xmlns='" + nsStanzas + "'/>")
	})
}

// squote writes the attributes of what a mellium encoder wrote (double
// quotes) the way the server writes its own.
func squote(s string) string { return strings.ReplaceAll(s, `"`, "'") }

// TestComponentShutdown: a stopping server ends a component's stream with
// <system-shutdown/>, as it does the clients'.
func TestComponentShutdown(t *testing.T) {
	env := componentEnv(t)
	gw := rawComponent(t, env, "gw.localhost", "s3cret")
	gw.expect("<handshake/>")
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- env.Srv.Stop(ctx)
	}()
	if got := readAll(t, gw.c); !strings.Contains(got, "<system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>") {
		t.Fatalf("got %q, want system-shutdown", got)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}
