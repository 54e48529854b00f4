package e2e

import (
	"crypto/sha1"
	"encoding/base64"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"ignis/internal/server"
	"ignis/internal/servertest"
)

const (
	nsPubsub   = "http://jabber.org/protocol/pubsub"
	devicelist = "eu.siacs.conversations.axolotl.devicelist"
	avatarMeta = "urn:xmpp:avatar:metadata"
)

// capsVer is the XEP-0115 §5.1 verification string of a client with one
// identity client/pc and these features.
func capsVer(features []string) string {
	f := slices.Clone(features)
	slices.Sort(f)
	s := "client/pc//Test<"
	for _, v := range f {
		s += v + "<"
	}
	h := sha1.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(h[:])
}

var capsQueryID = regexp.MustCompile(`<iq [^>]*id='(caps[^']*)'`)

// announceCaps sends available presence with caps and, if the server asks
// (the caps are new to it), answers its disco#info query.
func (s *stream) announceCaps(features []string, answer bool) {
	s.t.Helper()
	ver := capsVer(features)
	s.send("<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://ignis.test' ver='" + ver + "'/></presence>")
	if !answer {
		return
	}
	got := s.expect("</iq>")
	m := capsQueryID.FindStringSubmatch(got)
	if m == nil || !strings.Contains(got, "node='https://ignis.test#"+ver+"'") {
		s.t.Fatalf("%s: want a caps query, got %s", s.name, got)
	}
	var b strings.Builder
	b.WriteString("<iq type='result' to='pubsub.localhost' id='" + m[1] + "'><query xmlns='http://jabber.org/protocol/disco#info' node='https://ignis.test#" + ver + "'>")
	b.WriteString("<identity category='client' type='pc' name='Test'/>")
	for _, f := range features {
		b.WriteString("<feature var='" + f + "'/>")
	}
	b.WriteString("</query></iq>")
	s.send(b.String())
}

// iq sends an iq and returns what arrived up to the end of the answer with
// this id.
func (s *stream) iq(id, xml string) string {
	s.t.Helper()
	s.send(xml)
	got := s.expect("id='" + id + "'")
	rest := s.expect(">")
	if got += rest; !strings.HasSuffix(rest, "/>") {
		got += s.expect("</iq>")
	}
	return got
}

// dataForm is a submitted form of formType with pubsub# fields, in name
// order.
func dataForm(formType string, fields map[string]string) string {
	var b strings.Builder
	b.WriteString("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>" + formType + "</value></field>")
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString("<field var='pubsub#" + k + "'><value>" + fields[k] + "</value></field>")
	}
	b.WriteString("</x>")
	return b.String()
}

func publishOpts(fields map[string]string) string {
	if len(fields) == 0 {
		return ""
	}
	return "<publish-options>" + dataForm(nsPubsub+"#publish-options", fields) + "</publish-options>"
}

func publishIQ(id, node, itemID, payload string, opts map[string]string) string {
	item := "<item>"
	if itemID != "" {
		item = "<item id='" + itemID + "'>"
	}
	return "<iq type='set' id='" + id + "'><pubsub xmlns='" + nsPubsub + "'><publish node='" + node + "'>" + item + payload + "</item></publish>" + publishOpts(opts) + "</pubsub></iq>"
}

func wantPubsubError(t *testing.T, what, got string, conds ...string) {
	t.Helper()
	if !strings.Contains(got, "type='error'") {
		t.Fatalf("%s: want an error, got %s", what, got)
	}
	for _, c := range conds {
		if !strings.Contains(got, "<"+c+" ") && !strings.Contains(got, "<"+c+"/>") {
			t.Fatalf("%s: want <%s/>, got %s", what, c, got)
		}
	}
}

// TestPEP: XEP-0163 over real sockets. alice publishes her OMEMO device
// list (open, through publish-options) and her avatar metadata (presence
// access); bob, a contact whose caps ask for +notify, is notified with the
// payload; dave, a contact whose caps do not, is not; carol, a stranger,
// reads the open node but not the presence one. publish-options that do
// not match the node are refused, max_items keeps the newest items,
// retraction notifies, a second resource with known caps gets the last
// items without a new caps query, and purge and delete empty the node.
func TestPEP(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) { c.Pubsub.MaxItemBytes = 2048 })
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		env.AddUser(u, "pw")
	}
	subscribedBoth(t, env, [2]string{"alice", "bob"}, [2]string{"alice", "dave"})
	alice := rawStream(t, env, "alice", "a")
	bob := rawStream(t, env, "bob", "b")
	carol := rawStream(t, env, "carol", "c")
	dave := rawStream(t, env, "dave", "d")

	got := carol.iq("d1", "<iq type='get' id='d1' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if !strings.Contains(got, "<identity category='pubsub' type='pep'/>") || !strings.Contains(got, "<feature var='"+nsPubsub+"#publish-options'/>") {
		t.Fatalf("account disco#info lacks pubsub/pep or #publish-options: %s", got)
	}

	bobCaps := []string{"http://jabber.org/protocol/caps", devicelist + "+notify", avatarMeta + "+notify", "test+notify"}
	bob.announceCaps(bobCaps, true)
	dave.announceCaps([]string{"http://jabber.org/protocol/caps", "urn:xmpp:ping"}, true)
	alice.online()
	// the caps answers were taken before alice publishes: a round trip each
	bob.iq("p1", "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
	dave.iq("p1", "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")

	devices := "<list xmlns='eu.siacs.conversations.axolotl'><device id='42'/></list>"
	got = alice.iq("pub1", publishIQ("pub1", devicelist, "current", devices, map[string]string{"access_model": "open"}))
	if !strings.Contains(got, "<publish node='"+devicelist+"'><item id='current'/></publish>") {
		t.Fatalf("publish: %s", got)
	}
	ev := bob.expect("</message>")
	if !strings.Contains(ev, "from='alice@localhost'") || !strings.Contains(ev, "<items node='"+devicelist+"'><item id='current'>"+devices+"</item></items>") {
		t.Fatalf("bob's notification: %s", ev)
	}

	t.Run("stranger-reads-open-node", func(t *testing.T) {
		got := carol.iq("i1", "<iq type='get' id='i1' to='alice@localhost'><pubsub xmlns='"+nsPubsub+"'><items node='"+devicelist+"'/></pubsub></iq>")
		if !strings.Contains(got, devices) {
			t.Fatalf("carol's retrieval: %s", got)
		}
	})
	t.Run("precondition-not-met", func(t *testing.T) {
		got := alice.iq("pub2", publishIQ("pub2", devicelist, "current", devices, map[string]string{"access_model": "presence"}))
		wantPubsubError(t, "mismatched publish-options", got, "conflict", "precondition-not-met")
	})
	meta := "<metadata xmlns='urn:xmpp:avatar:metadata'><info id='abc' bytes='10' type='image/png'/></metadata>"
	t.Run("presence-access", func(t *testing.T) {
		wantResult(t, alice.iq("pub3", publishIQ("pub3", avatarMeta, "abc", meta, nil)))
		if ev := bob.expect("</message>"); !strings.Contains(ev, meta) {
			t.Fatalf("bob's avatar notification: %s", ev)
		}
		got := carol.iq("i2", "<iq type='get' id='i2' to='alice@localhost'><pubsub xmlns='"+nsPubsub+"'><items node='"+avatarMeta+"'/></pubsub></iq>")
		wantPubsubError(t, "stranger reads a presence node", got, "not-authorized", "presence-subscription-required")
		got = bob.iq("i3", "<iq type='get' id='i3' to='alice@localhost'><pubsub xmlns='"+nsPubsub+"'><items node='"+avatarMeta+"'/></pubsub></iq>")
		if !strings.Contains(got, meta) {
			t.Fatalf("contact's retrieval: %s", got)
		}
	})
	t.Run("not-owner", func(t *testing.T) {
		got := bob.iq("x1", "<iq type='set' id='x1' to='alice@localhost'><pubsub xmlns='"+nsPubsub+"'><publish node='"+avatarMeta+"'><item>"+meta+"</item></publish></pubsub></iq>")
		wantPubsubError(t, "publish to another's PEP", got, "forbidden")
	})
	t.Run("max-items", func(t *testing.T) {
		for i, id := range []string{"1", "2", "3"} {
			got := alice.iq("m"+id, publishIQ("m"+id, "test", id, "<n xmlns='urn:test'>"+id+"</n>", map[string]string{"max_items": "2", "persist_items": "true"}))
			wantResult(t, got)
			if ev := bob.expect("</message>"); !strings.Contains(ev, "<item id='"+id+"'>") {
				t.Fatalf("notification %d: %s", i, ev)
			}
		}
		got := alice.iq("g1", "<iq type='get' id='g1'><pubsub xmlns='"+nsPubsub+"'><items node='test'/></pubsub></iq>")
		if strings.Contains(got, "id='1'") || !strings.Contains(got, "<item id='3'><n xmlns='urn:test'>3</n></item><item id='2'>") {
			t.Fatalf("want items 3 and 2, newest first: %s", got)
		}
		got = alice.iq("g2", "<iq type='get' id='g2'><pubsub xmlns='"+nsPubsub+"'><items node='test' max_items='1'/></pubsub></iq>")
		if strings.Contains(got, "id='2'") || !strings.Contains(got, "id='3'") {
			t.Fatalf("max_items=1: %s", got)
		}
		got = alice.iq("g3", "<iq type='get' id='g3'><pubsub xmlns='"+nsPubsub+"'><items node='test'><item id='2'/></items></pubsub></iq>")
		if strings.Contains(got, "id='3'") || !strings.Contains(got, "id='2'") {
			t.Fatalf("by id: %s", got)
		}
	})
	t.Run("retract", func(t *testing.T) {
		got := alice.iq("r1", "<iq type='set' id='r1'><pubsub xmlns='"+nsPubsub+"'><retract node='test' notify='true'><item id='3'/></retract></pubsub></iq>")
		wantResult(t, got)
		if ev := bob.expect("</message>"); !strings.Contains(ev, "<retract id='3'/>") {
			t.Fatalf("retract notification: %s", ev)
		}
		got = alice.iq("r2", "<iq type='set' id='r2'><pubsub xmlns='"+nsPubsub+"'><retract node='test'><item id='nope'/></retract></pubsub></iq>")
		wantPubsubError(t, "retract of a missing item", got, "item-not-found")
	})
	t.Run("bad-input", func(t *testing.T) {
		big := "<big xmlns='urn:test'>" + strings.Repeat("x", 3000) + "</big>"
		wantPubsubError(t, "too big", alice.iq("b1", publishIQ("b1", "test", "", big, nil)), "not-acceptable", "payload-too-big")
		wantPubsubError(t, "two payloads", alice.iq("b2", publishIQ("b2", "test", "", "<a xmlns='urn:a'/><b xmlns='urn:b'/>", nil)), "bad-request", "invalid-payload")
		wantPubsubError(t, "no node", alice.iq("b3", "<iq type='set' id='b3'><pubsub xmlns='"+nsPubsub+"'><publish><item><a xmlns='urn:a'/></item></publish></pubsub></iq>"), "bad-request", "nodeid-required")
		wantPubsubError(t, "missing node", alice.iq("b4", "<iq type='get' id='b4'><pubsub xmlns='"+nsPubsub+"'><items node='nothing'/></pubsub></iq>"), "item-not-found")
		wantPubsubError(t, "bad max_items", alice.iq("b5", publishIQ("b5", "other", "", "<a xmlns='urn:a'/>", map[string]string{"max_items": "many"})), "conflict", "precondition-not-met")
		// found by FuzzConfigForm: of several bad fields, the same one is named every time
		for i := range 6 {
			id := "b6-" + strconv.Itoa(i)
			got := alice.iq(id, "<iq type='set' id='"+id+"'><pubsub xmlns='"+nsPubsub+"#owner'><configure node='test'>"+
				dataForm(nsPubsub+"#node_config", map[string]string{"max_items": "many", "access_model": "nope", "persist_items": "maybe"})+"</configure></pubsub></iq>")
			wantPubsubError(t, "a form with three bad fields", got, "not-acceptable")
			if !strings.Contains(got, "pubsub#access_model") {
				t.Fatalf("answer %d names another field: %s", i, got)
			}
		}
	})
	t.Run("last-item-to-new-resource", func(t *testing.T) {
		b2 := rawStream(t, env, "bob", "b2")
		b2.announceCaps(bobCaps, false) // known caps: no query
		got := b2.expect("</message>")
		got += b2.expect("</message>")
		got += b2.expect("</message>")
		if strings.Contains(got, "<iq ") || !strings.Contains(got, devices) || !strings.Contains(got, meta) || !strings.Contains(got, "<item id='2'>") {
			t.Fatalf("second resource: %s", got)
		}
	})
	t.Run("purge-delete", func(t *testing.T) {
		wantResult(t, alice.iq("o1", "<iq type='set' id='o1'><pubsub xmlns='"+nsPubsub+"#owner'><purge node='test'/></pubsub></iq>"))
		got := alice.iq("o2", "<iq type='get' id='o2'><pubsub xmlns='"+nsPubsub+"'><items node='test'/></pubsub></iq>")
		if strings.Contains(got, "<item ") {
			t.Fatalf("items after purge: %s", got)
		}
		wantResult(t, alice.iq("o3", "<iq type='set' id='o3'><pubsub xmlns='"+nsPubsub+"#owner'><delete node='test'/></pubsub></iq>"))
		wantPubsubError(t, "deleted node", alice.iq("o4", "<iq type='get' id='o4'><pubsub xmlns='"+nsPubsub+"'><items node='test'/></pubsub></iq>"), "item-not-found")
	})
	// dave's caps had no +notify: the only stanzas he got are his round trips.
	dave.send("<iq type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>")
	if got := dave.expect("id='p2'"); strings.Contains(got, "<message") {
		t.Fatalf("dave was notified: %s", got)
	}
}

// TestBookmarks: XEP-0402 bookmarks published as Gajim does (whitelist,
// max_items=max, XEP-0223 private node) appear in XEP-0049 private storage;
// bookmarks an older client stores there become the node's items, and the
// account's other resource is notified; a contact cannot read them.
func TestBookmarks(t *testing.T) {
	env := servertest.Start(t)
	for _, u := range []string{"alice", "bob"} {
		env.AddUser(u, "pw")
	}
	subscribedBoth(t, env, [2]string{"alice", "bob"})
	gajim := rawStream(t, env, "alice", "gajim")
	old := rawStream(t, env, "alice", "old")
	bob := rawStream(t, env, "bob", "b")
	gajim.announceCaps([]string{"urn:xmpp:bookmarks:1+notify"}, true)
	got := gajim.iq("d1", "<iq type='get' id='d1' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if !strings.Contains(got, "<feature var='urn:xmpp:bookmarks:1#compat'/>") {
		t.Fatalf("no bookmarks compat feature: %s", got)
	}

	opts := map[string]string{"persist_items": "true", "max_items": "max", "access_model": "whitelist", "send_last_published_item": "never"}
	conf := "<conference xmlns='urn:xmpp:bookmarks:1' name='Coven' autojoin='true'><nick>alice</nick></conference>"
	got = gajim.iq("b1", publishIQ("b1", "urn:xmpp:bookmarks:1", "coven@chat.example", conf, opts))
	if !strings.Contains(got, "<item id='coven@chat.example'/>") || !strings.Contains(got, "<item id='coven@chat.example'>"+conf+"</item>") {
		t.Fatalf("publish bookmark and its notification: %s", got)
	}
	got = old.iq("p1", "<iq type='get' id='p1'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>")
	if !strings.Contains(got, "<conference jid='coven@chat.example' name='Coven' autojoin='true'><nick>alice</nick></conference>") {
		t.Fatalf("private storage after a XEP-0402 publish: %s", got)
	}

	wantPubsubError(t, "whitelist", bob.iq("i1", "<iq type='get' id='i1' to='alice@localhost'><pubsub xmlns='"+nsPubsub+"'><items node='urn:xmpp:bookmarks:1'/></pubsub></iq>"), "not-allowed", "closed-node")

	// an older client replaces the list through private storage
	wantResult(t, old.iq("p2", "<iq type='set' id='p2'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'>"+
		"<conference jid='tea@chat.example' name='Tea' autojoin='false'><nick>al</nick></conference></storage></query></iq>"))
	ev := gajim.expect("</message>")
	ev += gajim.expect("</message>")
	if !strings.Contains(ev, "<item id='tea@chat.example'><conference xmlns='urn:xmpp:bookmarks:1' name='Tea' autojoin='false'><nick>al</nick></conference></item>") ||
		!strings.Contains(ev, "<retract id='coven@chat.example'/>") {
		t.Fatalf("notifications of the private storage set: %s", ev)
	}
	got = gajim.iq("i2", "<iq type='get' id='i2'><pubsub xmlns='"+nsPubsub+"'><items node='urn:xmpp:bookmarks:1'/></pubsub></iq>")
	if strings.Contains(got, "coven@") || !strings.Contains(got, "tea@chat.example") {
		t.Fatalf("node after the private storage set: %s", got)
	}
}

func psIQ(id, typ, ns, body string) string {
	return "<iq type='" + typ + "' id='" + id + "' to='pubsub.localhost'><pubsub xmlns='" + ns + "'>" + body + "</pubsub></iq>"
}

func configForm(fields map[string]string) string {
	return dataForm(nsPubsub+"#node_config", fields)
}

// TestPubsubService: XEP-0060 at pubsub.localhost. alice creates a
// configured node that disco lists; bob subscribes and is notified with the
// payload; publishing needs the publisher affiliation; an outcast cannot
// read; an authorize node holds dave's subscription until alice approves it
// with the form she was sent; deleting the node notifies the subscribers;
// with create = "admins" an account cannot create nodes.
func TestPubsubService(t *testing.T) {
	env := servertest.Start(t)
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		env.AddUser(u, "pw")
	}
	alice := rawStream(t, env, "alice", "a")
	bob := rawStream(t, env, "bob", "b")
	carol := rawStream(t, env, "carol", "c")
	dave := rawStream(t, env, "dave", "d")
	for _, s := range []*stream{alice, bob, dave} {
		s.online()
	}
	got := alice.iq("d1", "<iq type='get' id='d1' to='pubsub.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if !strings.Contains(got, "<identity category='pubsub' type='service'") || !strings.Contains(got, "<feature var='"+nsPubsub+"#create-nodes'/>") {
		t.Fatalf("service disco#info: %s", got)
	}
	wantResult(t, alice.iq("c1", psIQ("c1", "set", nsPubsub, "<create node='news'/><configure>"+configForm(map[string]string{"title": "News", "max_items": "5", "access_model": "open"})+"</configure>")))
	wantPubsubError(t, "second create", alice.iq("c2", psIQ("c2", "set", nsPubsub, "<create node='news'/>")), "conflict")
	got = bob.iq("d2", "<iq type='get' id='d2' to='pubsub.localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	if !strings.Contains(got, "<item jid='pubsub.localhost' node='news' name='News'/>") {
		t.Fatalf("service disco#items: %s", got)
	}
	got = alice.iq("g1", psIQ("g1", "get", nsPubsub+"#owner", "<configure node='news'/>"))
	if !strings.Contains(got, "<field var='pubsub#max_items' type='text-single'><value>5</value>") {
		t.Fatalf("configuration form: %s", got)
	}

	wantPubsubError(t, "subscribe another", bob.iq("s0", psIQ("s0", "set", nsPubsub, "<subscribe node='news' jid='carol@localhost'/>")), "bad-request", "invalid-jid")
	got = bob.iq("s1", psIQ("s1", "set", nsPubsub, "<subscribe node='news' jid='bob@localhost'/>"))
	if !strings.Contains(got, "subscription='subscribed'") {
		t.Fatalf("subscribe: %s", got)
	}
	entry := "<entry xmlns='http://www.w3.org/2005/Atom'><title>hello</title></entry>"
	got = alice.iq("p1", psIQ("p1", "set", nsPubsub, "<publish node='news'><item id='e1'>"+entry+"</item></publish>"))
	wantResult(t, got, "<item id='e1'/>")
	if ev := bob.expect("</message>"); !strings.Contains(ev, "from='pubsub.localhost'") || !strings.Contains(ev, "<item id='e1' publisher='alice@localhost'>"+entry+"</item>") {
		t.Fatalf("bob's notification: %s", ev)
	}

	wantPubsubError(t, "publish without affiliation", bob.iq("p2", psIQ("p2", "set", nsPubsub, "<publish node='news'><item>"+entry+"</item></publish>")), "forbidden")
	wantResult(t, alice.iq("a1", psIQ("a1", "set", nsPubsub+"#owner", "<affiliations node='news'><affiliation jid='bob@localhost' affiliation='publisher'/><affiliation jid='carol@localhost' affiliation='outcast'/></affiliations>")))
	got = bob.iq("p3", psIQ("p3", "set", nsPubsub, "<publish node='news'><item id='e2'>"+entry+"</item></publish>"))
	if !strings.Contains(got, "<item id='e2' publisher='bob@localhost'>") || !strings.Contains(got, "<item id='e2'/>") {
		t.Fatalf("publisher's publish and own notification: %s", got)
	}
	wantPubsubError(t, "outcast", carol.iq("i1", psIQ("i1", "get", nsPubsub, "<items node='news'/>")), "forbidden")
	got = alice.iq("a2", psIQ("a2", "get", nsPubsub+"#owner", "<affiliations node='news'/>"))
	if !strings.Contains(got, "<affiliation jid='bob@localhost' affiliation='publisher'/>") {
		t.Fatalf("affiliations: %s", got)
	}

	t.Run("authorize", func(t *testing.T) {
		wantResult(t, alice.iq("c3", psIQ("c3", "set", nsPubsub, "<create node='club'/><configure>"+configForm(map[string]string{"access_model": "authorize"})+"</configure>")))
		got := dave.iq("s2", psIQ("s2", "set", nsPubsub, "<subscribe node='club' jid='dave@localhost'/>"))
		if !strings.Contains(got, "subscription='pending'") {
			t.Fatalf("subscribe to an authorize node: %s", got)
		}
		wantPubsubError(t, "pending reads", dave.iq("i2", psIQ("i2", "get", nsPubsub, "<items node='club'/>")), "not-authorized", "not-subscribed")
		form := alice.expect("</message>")
		if !strings.Contains(form, "<value>dave@localhost</value>") || !strings.Contains(form, "pubsub#subscribe_authorization") {
			t.Fatalf("approval form: %s", form)
		}
		alice.send("<message to='pubsub.localhost'><x xmlns='jabber:x:data' type='submit'>" +
			"<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_authorization</value></field>" +
			"<field var='pubsub#node'><value>club</value></field><field var='pubsub#subscriber_jid'><value>dave@localhost</value></field>" +
			"<field var='pubsub#allow'><value>true</value></field></x></message>")
		if ev := dave.expect("</message>"); !strings.Contains(ev, "subscription='subscribed'") {
			t.Fatalf("approval: %s", ev)
		}
		wantResult(t, dave.iq("i3", psIQ("i3", "get", nsPubsub, "<items node='club'/>")))
	})
	t.Run("delete", func(t *testing.T) {
		wantPubsubError(t, "delete by non-owner", bob.iq("x1", psIQ("x1", "set", nsPubsub+"#owner", "<delete node='news'/>")), "forbidden")
		wantResult(t, alice.iq("x2", psIQ("x2", "set", nsPubsub+"#owner", "<delete node='news'/>")))
		if ev := bob.expect("</message>"); !strings.Contains(ev, "<delete node='news'/>") {
			t.Fatalf("delete notification: %s", ev)
		}
		wantPubsubError(t, "deleted", bob.iq("x3", psIQ("x3", "get", nsPubsub, "<items node='news'/>")), "item-not-found")
	})

	admins := servertest.Start(t, func(c *server.Config) { c.Pubsub.Create = "admins" })
	admins.AddUser("alice", "pw")
	a := rawStream(t, admins, "alice", "a")
	wantPubsubError(t, "create = admins", a.iq("c1", psIQ("c1", "set", nsPubsub, "<create node='x'/>")), "forbidden")
}
