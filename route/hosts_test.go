package route

import (
	"strings"
	"sync"
	"testing"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// echoService is a small service at echo.localhost: it answers messages and
// presences by sending them back from itself, and its own iq namespace.
type echoService struct {
	mu  sync.Mutex
	got []string // what reached the handlers, with ctx.Target
}

func (s *echoService) Name() string { return "echo-service" }
func (s *echoService) Register(r *mod.Registry) {
	r.Service(&mod.Service{
		Host:       "echo",
		Identities: []mod.Identity{{Category: "component", Type: "generic", Name: "Echo"}},
		Features:   []string{"urn:test:echo"},
		Message: func(ctx *mod.Ctx, st *stanza.Stanza) {
			s.seen(ctx, st)
			ctx.Env.Send(st.WithAddrs(st.To, st.From))
		},
		Presence: func(ctx *mod.Ctx, st *stanza.Stanza) {
			s.seen(ctx, st)
			ctx.Env.Send(st.WithAddrs(st.To, st.From))
		},
		IQ: func(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
			s.seen(ctx, iq)
			if string(iq.Payload().NS()) != "urn:test:echo" {
				return nil, stanza.Err(stanza.FeatureNotImplemented)
			}
			return iq.Result(nil), nil
		},
	})
	r.Service(&mod.Service{Host: "mute.example"}) // no handlers at all
}

func (s *echoService) seen(ctx *mod.Ctx, st *stanza.Stanza) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, ctx.Target.String()+" "+string(st.Bytes()))
}

// discoModule answers ToService disco#info like mod/disco does (route's tests
// may not import it).
type discoModule struct{}

func (discoModule) Name() string { return "disco" }
func (discoModule) Register(r *mod.Registry) {
	r.IQ(mod.ToService, stanza.Get, "http://jabber.org/protocol/disco#info", "query", func(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
		var b stanza.Builder
		b.Start("query", "xmlns", "http://jabber.org/protocol/disco#info")
		for _, id := range ctx.Service.Identities {
			b.Element("identity", "", "category", id.Category, "type", id.Type, "name", id.Name)
		}
		return iq.Result(b.Bytes()), nil
	})
}

// remote is a fake server-to-server link.
type remote struct {
	mu   sync.Mutex
	got  []string
	down bool
}

func (l *remote) Send(st *stanza.Stanza) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return false
	}
	l.got = append(l.got, string(st.Bytes()))
	return true
}

// TestHosts: stanzas reach the service, the remote link or a virtual host
// by their domain; unknown domains keep getting remote-server-not-found.
func TestHosts(t *testing.T) {
	link := &remote{}
	for _, tc := range []struct {
		name    string
		send    string
		toBob   string // substring bob gets back ("" = nothing)
		service string // substring the service's handlers saw
		remote  string // substring the remote link got
		down    bool
		fall    string // substring the fallback got ("" = no fallback set)
		fdown   bool   // the fallback refuses
	}{
		{name: "message to the service: from stamped, echoed back",
			send:    "<message to='echo.localhost' from='evil@localhost' id='m1'><body>hi</body></message>",
			service: "echo.localhost <message from='bob@localhost/b' to='echo.localhost'",
			toBob:   "<message from='echo.localhost' to='bob@localhost/b' id='m1'><body>hi</body></message>"},
		{name: "message to a JID under the service",
			send:    "<message to='room@echo.localhost/nick' id='m2'><body>r</body></message>",
			service: "echo.localhost <message from='bob@localhost/b' to='room@echo.localhost/nick'",
			toBob:   "<message from='room@echo.localhost/nick' to='bob@localhost/b' id='m2'>"},
		{name: "presence to the service",
			send:    "<presence to='room@echo.localhost/nick'/>",
			service: "echo.localhost <presence from='bob@localhost/b' to='room@echo.localhost/nick'/>",
			toBob:   "<presence from='room@echo.localhost/nick' to='bob@localhost/b'/>"},
		{name: "iq to the service: its handler",
			send:    "<iq to='echo.localhost' type='get' id='i1'><q xmlns='urn:test:echo'/></iq>",
			service: "echo.localhost <iq from='bob@localhost/b' to='echo.localhost' type='get' id='i1'>",
			toBob:   "<iq type='result' id='i1' from='echo.localhost' to='bob@localhost/b'/>"},
		{name: "iq to the service: its handler's error",
			send:  "<iq to='echo.localhost' type='get' id='i2'><q xmlns='urn:other'/></iq>",
			toBob: "<feature-not-implemented"},
		{name: "disco#info of the service: its identity",
			send:  "<iq to='echo.localhost' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
			toBob: "<identity category='component' type='generic' name='Echo'/>"},
		{name: "service without handlers: message bounces",
			send:  "<message to='mute.example' id='x1'><body>x</body></message>",
			toBob: "<service-unavailable"},
		{name: "service without handlers: iq bounces",
			send:  "<iq to='mute.example' type='get' id='x2'><q xmlns='urn:x'/></iq>",
			toBob: "<service-unavailable"},
		{name: "virtual host: server iq answered from that domain",
			send:  "<iq to='other.test' type='get' id='v1'><q xmlns='urn:test'/></iq>",
			toBob: "<iq type='result' id='v1' from='other.test' to='bob@localhost/b'/>"},
		{name: "remote link: handed over with from stamped",
			send:   "<message to='juliet@example.net' id='r1'><body>r</body></message>",
			remote: "<message from='bob@localhost/b' to='juliet@example.net' id='r1'>"},
		{name: "remote link down: remote-server-not-found",
			send: "<message to='juliet@example.net' id='r2'><body>r</body></message>", down: true,
			toBob: "<remote-server-not-found"},
		{name: "unknown domain: remote-server-not-found",
			send:  "<message to='juliet@example.org' id='r3'><body>r</body></message>",
			toBob: "<remote-server-not-found"},
		{name: "unknown domain with a fallback: handed to it",
			send: "<message to='juliet@example.org' id='f1'><body>r</body></message>",
			fall: "<message from='bob@localhost/b' to='juliet@example.org' id='f1'>"},
		{name: "fallback refuses: remote-server-not-found",
			send: "<message to='juliet@example.org' id='f2'><body>r</body></message>", fall: "-", fdown: true,
			toBob: "<remote-server-not-found"},
		{name: "known remote route wins over the fallback",
			send: "<message to='juliet@example.net' id='f3'><body>r</body></message>", fall: "-",
			remote: "<message from='bob@localhost/b' to='juliet@example.net' id='f3'>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := &echoService{}
			r := New(Config{Domain: jid.MustParse("localhost"), Domains: []jid.JID{jid.MustParse("other.test")}},
				mod.NewRegistry(echoModule{}, discoModule{}, svc))
			bob := &endpoint{j: jid.MustParse("bob@localhost/b"), avail: true}
			if err := r.Bind(bob); err != nil {
				t.Fatal(err)
			}
			link.mu.Lock()
			link.got, link.down = nil, tc.down
			link.mu.Unlock()
			if err := r.AddRemote(jid.MustParse("example.net"), link); err != nil {
				t.Fatal(err)
			}
			fb := &remote{down: tc.fdown}
			if tc.fall != "" {
				r.SetFallback(fb)
			}
			r.Route(bob, stanza.MustParse([]byte(tc.send)))
			check := func(what string, got []string, want string) {
				all := strings.Join(got, "\n")
				if want == "" && what == "bob" && all != "" {
					t.Errorf("bob got %q, want nothing", all)
				}
				if want != "" && !strings.Contains(all, want) {
					t.Errorf("%s got %q, want %q", what, all, want)
				}
			}
			check("bob", bob.got, tc.toBob)
			check("service", svc.got, tc.service)
			check("remote", link.got, tc.remote)
			if tc.fall != "-" {
				check("fallback", fb.got, tc.fall)
			} else if len(fb.got) > 0 {
				t.Errorf("fallback got %q, want nothing", fb.got)
			}
		})
	}
}

// TestHostTable: domains cannot be served twice; a remote route may be
// replaced and removed only by its owner; IsLocal knows virtual hosts.
func TestHostTable(t *testing.T) {
	r := New(Config{Domain: jid.MustParse("localhost"), Domains: []jid.JID{jid.MustParse("other.test")}},
		mod.NewRegistry(&echoService{}))
	for _, d := range []string{"localhost", "other.test", "echo.localhost"} {
		if err := r.AddRemote(jid.MustParse(d), &remote{}); err == nil {
			t.Errorf("AddRemote(%s) took over a domain served here", d)
		}
	}
	a, b := &remote{}, &remote{}
	net := jid.MustParse("example.net")
	if err := r.AddRemote(net, a); err != nil {
		t.Fatal(err)
	}
	if err := r.AddRemote(net, b); err != nil {
		t.Fatal(err)
	}
	r.RemoveRemote(net, a) // a was replaced: b stays
	if h := r.hosts.lookup("example.net"); h == nil || h.remote != b {
		t.Fatal("removing a replaced link removed its successor")
	}
	r.RemoveRemote(net, b)
	if r.hosts.lookup("example.net") != nil {
		t.Fatal("link not removed")
	}
	for d, want := range map[string]bool{"localhost": true, "other.test": true, "echo.localhost": false, "example.net": false} {
		if got := r.IsLocal(jid.MustParse(d)); got != want {
			t.Errorf("IsLocal(%s) = %v", d, got)
		}
	}
	if got := r.ServiceDomains(); len(got) != 2 || got[0].String() != "echo.localhost" || got[1].String() != "mute.example" {
		t.Errorf("ServiceDomains = %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("two services on one domain did not panic")
		}
	}()
	New(Config{Domain: jid.MustParse("localhost")}, mod.NewRegistry(&echoService{}, &echoService{}))
}
