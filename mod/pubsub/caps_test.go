package pubsub

import (
	"testing"

	"ignis/jid"
	"ignis/xmlscan"
)

// TestParseCaps: the verification strings of XEP-0115 §5.2 and §5.3 (the
// second with an extended form and a multi-valued field) verify, a changed
// answer does not, and the +notify features become the sorted node list.
func TestParseCaps(t *testing.T) {
	for _, tc := range []struct {
		name, xml, ver string
		ok             bool
		notify         []string
	}{
		{name: "simple", ver: "QgayPKawpkPSDYmwT/WM94uAlu0=", ok: true,
			xml: `<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' name='Exodus 0.9.1' type='pc'/>` +
				`<feature var='http://jabber.org/protocol/caps'/><feature var='http://jabber.org/protocol/disco#info'/>` +
				`<feature var='http://jabber.org/protocol/disco#items'/><feature var='http://jabber.org/protocol/muc'/></query>`},
		{name: "tampered", ver: "QgayPKawpkPSDYmwT/WM94uAlu0=",
			xml: `<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' name='Exodus 0.9.1' type='pc'/>` +
				`<feature var='http://jabber.org/protocol/caps'/><feature var='urn:xmpp:avatar:metadata+notify'/><feature var='b+notify'/></query>`,
			notify: []string{"b", "urn:xmpp:avatar:metadata"}},
		{name: "complex", ver: "q07IKJEyjvHSyhy//CH0CxmKi8w=", ok: true,
			xml: `<query xmlns='http://jabber.org/protocol/disco#info'>` +
				`<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>` +
				`<identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>` +
				`<feature var='http://jabber.org/protocol/caps'/><feature var='http://jabber.org/protocol/disco#info'/>` +
				`<feature var='http://jabber.org/protocol/disco#items'/><feature var='http://jabber.org/protocol/muc'/>` +
				`<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>` +
				`<field var='ip_version' type='text-multi'><value>ipv4</value><value>ipv6</value></field>` +
				`<field var='os'><value>Mac</value></field><field var='os_version'><value>10.5.1</value></field>` +
				`<field var='software'><value>Psi</value></field><field var='software_version'><value>0.11</value></field></x></query>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := xmlscan.ParseElem([]byte(tc.xml), "")
			if err != nil {
				t.Fatal(err)
			}
			f, ok := parseCaps(e, "sha-1", tc.ver)
			if ok != tc.ok {
				t.Fatalf("verified = %v, want %v", ok, tc.ok)
			}
			if len(f.notify) != len(tc.notify) {
				t.Fatalf("notify = %v, want %v", f.notify, tc.notify)
			}
			for i := range f.notify {
				if f.notify[i] != tc.notify[i] {
					t.Fatalf("notify = %v, want %v", f.notify, tc.notify)
				}
			}
		})
	}
}

// TestRemoteResources: another server's resources are kept per full JID,
// found by bare JID and node, and bounded at four times the cache size.
func TestRemoteResources(t *testing.T) {
	var c caps
	c.init(1)
	f := &capsFeatures{notify: []string{"a", "b"}}
	for _, full := range []string{"bob@b.test/1", "bob@b.test/2", "bobby@b.test/1"} {
		if !c.room(jid.MustParse(full)) {
			t.Fatalf("no room for %s", full)
		}
		c.byRes[full] = &resCaps{ver: "v", f: f}
	}
	c.byRes["bob@b.test/3"] = &resCaps{ver: "w"} // not resolved yet
	if got := c.resources(jid.MustParse("bob@b.test"), "b"); len(got) != 2 {
		t.Errorf("resources of bob for b: %v, want /1 and /2", got)
	}
	if got := c.resources(jid.MustParse("bob@b.test"), "c"); len(got) != 0 {
		t.Errorf("resources of bob for c: %v, want none", got)
	}
	if c.room(jid.MustParse("carol@b.test/1")) || !c.room(jid.MustParse("bob@b.test/1")) {
		t.Error("at 4 × max: a new resource must be refused, a known one taken")
	}
}
