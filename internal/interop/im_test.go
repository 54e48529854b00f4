//go:build interop

package interop

import (
	"slices"
	"strings"
	"testing"
	"time"

	"ignis/internal/server"
)

// bareOf is the bare part of a JID.
func bareOf(j string) string {
	bare, _, _ := strings.Cut(j, "/")
	return bare
}

// presencesFrom returns the types of the presence stanzas who received
// from bare (any resource), in order.
func presencesFrom(r *run, who, bare string) []string {
	var types []string
	for _, p := range r.all("presence", who) {
		if bareOf(p.From) == bare {
			types = append(types, p.Type)
		}
	}
	return types
}

// rosterItem returns who's reported roster item for jid, or fails the test.
func rosterItem(t *testing.T, r *run, who, jid string) observation {
	t.Helper()
	for _, o := range r.all("roster", who) {
		if o.JID == jid {
			return o
		}
	}
	t.Fatalf("%s's roster has no %s (the script's output is above)", who, jid)
	return observation{}
}

// TestInteropIMSubscription has alice and bob subscribe to each other
// (RFC 6121 §3) and see each other come and go (§4).
func TestInteropIMSubscription(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "alice-secret")
	h.env.AddUser("bob", "bob-secret")
	r := h.run(t, "im_subscribe.py", "--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost/laptop", "--alice-password", "alice-secret",
		"--bob", "bob@localhost/phone", "--bob-password", "bob-secret")
	r.succeeded()
	const alice, bob = "alice@localhost", "bob@localhost"

	// Both rosters say both, and so does bob's when he logs in again: the
	// state is stored, not just pushed.
	for _, c := range []struct{ who, contact string }{{"alice", bob}, {"bob", alice}, {"bob2", alice}} {
		if it := rosterItem(t, r, c.who, c.contact); it.Subscription != "both" || it.Ask != "" {
			t.Errorf("%s's roster item %s: subscription %q ask %q, want both and no pending request", c.who, c.contact, it.Subscription, it.Ask)
		}
		if n := len(r.all("roster", c.who)); n != 1 {
			t.Errorf("%s's roster has %d items, want 1", c.who, n)
		}
	}

	// The subscription stanzas each side saw (RFC 6121 §3.1): bob the
	// request, alice the approval and bob's request, bob alice's approval.
	seen := func(who, from string, want ...string) {
		t.Helper()
		var got []string
		for _, typ := range presencesFrom(r, who, from) {
			if strings.HasPrefix(typ, "sub") || strings.HasPrefix(typ, "unsub") {
				got = append(got, typ)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s received subscription presence %q from %s, want %q", who, got, from, want)
		}
	}
	seen("bob", alice, "subscribe", "subscribed")
	seen("alice", bob, "subscribed", "subscribe")

	// In-order delivery (RFC 6120 §10.1): each client approves with
	// <presence type='subscribed'/> and at once sends the contact its
	// presence (slixmpp's RosterItem.authorize), and the server sends the
	// contact the approver's presence once the approval is processed (RFC
	// 6121 §3.1.5). Either way no available presence may reach the contact
	// before the approval: until then the contact had no subscription.
	t.Run("in-order delivery", func(t *testing.T) {
		for _, c := range []struct{ who, from string }{{"alice", bob}, {"bob", alice}} {
			types := presencesFrom(r, c.who, c.from)
			sub, avail := slices.Index(types, "subscribed"), slices.Index(types, "available")
			if sub < 0 || avail < 0 || avail < sub {
				t.Errorf("%s received from %s %q: the available presence %s sent after its approval came before it (RFC 6120 §10.1: in-order delivery)", c.who, c.from, types, c.from)
			}
		}
	})

	// Availability: alice sees bob arrive, leave and return; bob sees alice
	// (first session: once subscribed; second: the probe's answer, then her
	// leaving). Repeats are not counted: a presence may come both from the
	// client (directed) and from the server (on approval).
	avail := func(who, from string, want ...string) {
		t.Helper()
		var got []string
		for _, typ := range presencesFrom(r, who, from) {
			if typ == "available" || typ == "unavailable" {
				got = append(got, typ)
			}
		}
		if got = slices.Compact(got); !slices.Equal(got, want) {
			t.Errorf("%s received presence %q from %s, want %q (repeats folded)", who, got, from, want)
		}
	}
	avail("alice", bob, "available", "unavailable", "available")
	avail("bob", alice, "available")
	avail("bob2", alice, "available", "unavailable")
	for _, p := range r.all("presence", "") {
		if p.Type == "error" {
			t.Errorf("%s received a presence error from %s", p.Who, p.From)
		}
	}
	// XEP-0237 §4: with versioning on, every push carries the new version.
	for _, p := range r.all("roster_push", "") {
		if p.Ver == "" {
			t.Errorf("%s received a roster push for %s without a version", p.Who, p.JID)
		}
	}
}

// TestInteropIMSubscriptionOffline has alice ask offline dave for a
// subscription: the request is stored and delivered when he logs in (RFC
// 6121 §3.1.3), and his approval gives her a subscription to him.
func TestInteropIMSubscriptionOffline(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "alice-secret")
	h.env.AddUser("dave", "dave-secret")
	r := h.run(t, "im_pending.py", "--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost/laptop", "--alice-password", "alice-secret",
		"--dave", "dave@localhost/desk", "--dave-password", "dave-secret")
	r.succeeded()
	const alice, dave = "alice@localhost", "dave@localhost"
	var subs []string
	for _, typ := range presencesFrom(r, "dave", alice) {
		if typ == "subscribe" {
			subs = append(subs, typ)
		}
	}
	if len(subs) != 1 {
		t.Errorf("dave received %d subscription requests from alice, want 1", len(subs))
	}
	if it := rosterItem(t, r, "alice", dave); it.Subscription != "to" || it.Ask != "" {
		t.Errorf("alice's roster item %s: subscription %q ask %q, want to and no pending request", dave, it.Subscription, it.Ask)
	}
	if it := rosterItem(t, r, "dave", alice); it.Subscription != "from" || it.Ask != "" {
		t.Errorf("dave's roster item %s: subscription %q ask %q, want from and no pending request", alice, it.Subscription, it.Ask)
	}
}

// TestInteropIMRosterPush has one of alice's resources add carol to her
// roster, then remove her; the other resource receives both pushes (RFC
// 6121 §2.1.6, §2.3.2, §2.5.2).
func TestInteropIMRosterPush(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "alice-secret")
	h.env.AddUser("carol", "carol-secret")
	const carol, name, group = "carol@localhost", "Carol ☕ <&>", "Friends & Co"
	r := h.run(t, "im_roster_push.py", "--addr", byName(t, h.env.Addr),
		"--jid", "alice@localhost", "--password", "alice-secret",
		"--contact", carol, "--name", name, "--group", group)
	r.succeeded()

	for _, who := range []string{"r1", "r2"} {
		pushes := r.all("roster_push", who)
		if len(pushes) != 2 {
			t.Errorf("%s received %d roster pushes, want 2 (the script's output is above)", who, len(pushes))
			continue
		}
		add, remove := pushes[0], pushes[1]
		if add.JID != carol || add.Subscription != "none" || add.Ask != "" || add.Name != name || !slices.Equal(add.Groups, []string{group}) {
			t.Errorf("%s's first push: %s subscription %q ask %q name %q groups %q, want %s subscription none, name %q, group %q",
				who, add.JID, add.Subscription, add.Ask, add.Name, add.Groups, carol, name, group)
		}
		if remove.JID != carol || remove.Subscription != "remove" {
			t.Errorf("%s's second push: %s subscription %q, want %s subscription remove", who, remove.JID, remove.Subscription, carol)
		}
		// XEP-0237 §4: pushes carry the new version, a new one each time.
		if add.Ver == "" || remove.Ver == "" || add.Ver == remove.Ver {
			t.Errorf("%s's pushes have versions %q and %q, want two different ones", who, add.Ver, remove.Ver)
		}
	}
	if it := rosterItem(t, r, "r2", carol); it.Subscription != "none" || it.Name != name || !slices.Equal(it.Groups, []string{group}) {
		t.Errorf("r2's roster item %s: subscription %q name %q groups %q, want none, %q, %q", carol, it.Subscription, it.Name, it.Groups, name, group)
	}
}

// TestInteropIMOffline has bob message alice while she is offline; she gets
// the message at her next login (RFC 6121 §8.5.2.2, XEP-0160) with a
// XEP-0203 delay stamped by the server, in between bob's send and her login.
func TestInteropIMOffline(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "alice-secret")
	h.env.AddUser("bob", "bob-secret")
	const body = "Stored for later: ünïcödé ✓ 😀 <&> ]]>"
	r := h.run(t, "im_offline.py", "--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost/laptop", "--alice-password", "alice-secret",
		"--bob", "bob@localhost/phone", "--bob-password", "bob-secret", "--body", body)
	r.succeeded()
	sent := r.one("sent", "bob")
	got := r.all("message", "alice")
	if len(got) != 1 {
		t.Fatalf("alice received %d messages, want 1 (the script's output is above)", len(got))
	}
	m := got[0]
	if m.From != sent.JID || bareOf(m.To) != "alice@localhost" || m.Type != "chat" || m.Body != body || m.ID != sent.ID {
		t.Errorf("alice received a %q message %q from %q to %q with body %q, want chat %q from %q to alice with body %q", m.Type, m.ID, m.From, m.To, m.Body, sent.ID, sent.JID, body)
	}
	if m.DelayFrom != "localhost" {
		t.Errorf("delay from %q, want the server, localhost (XEP-0203 §3)", m.DelayFrom)
	}
	stamp, err := time.Parse(time.RFC3339Nano, m.Stamp)
	if err != nil {
		t.Fatalf("delay stamp %q: %v", m.Stamp, err)
	}
	before, err1 := time.Parse(time.RFC3339Nano, sent.Before)
	after, err2 := time.Parse(time.RFC3339Nano, sent.After)
	if err1 != nil || err2 != nil {
		t.Fatalf("the script's times %q, %q: %v %v", sent.Before, sent.After, err1, err2)
	}
	// XEP-0082 stamps may drop fractions of a second: allow one.
	if stamp.Before(before.Truncate(time.Second)) || stamp.After(after) {
		t.Errorf("delay stamp %v, want the time the server received the message, between %v and %v", stamp, before, after)
	}
}

// TestInteropIMBlocking has alice block bob (XEP-0191): his message is not
// delivered, and he gets an error, while carol's sent after it is; once
// unblocked, his next message arrives.
func TestInteropIMBlocking(t *testing.T) {
	h := newHarness(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		h.env.AddUser(u, u+"-secret")
	}
	r := h.run(t, "im_blocking.py", "--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost/laptop", "--alice-password", "alice-secret",
		"--bob", "bob@localhost/phone", "--bob-password", "bob-secret",
		"--carol", "carol@localhost/tablet", "--carol-password", "carol-secret")
	r.succeeded()

	lists := r.all("blocklist", "alice")
	if len(lists) != 2 || !slices.Equal(lists[0].Items, []string{"bob@localhost"}) || len(lists[1].Items) != 0 {
		var got [][]string
		for _, l := range lists {
			got = append(got, l.Items)
		}
		t.Errorf("alice's blocklists after block and unblock: %q, want [bob@localhost] then []", got)
	}

	var got []string
	for _, m := range r.all("message", "alice") {
		got = append(got, bareOf(m.From)+": "+m.Type+" "+m.Body)
	}
	if want := []string{"carol@localhost: chat barrier", "bob@localhost: chat unblocked"}; !slices.Equal(got, want) {
		t.Errorf("alice received %q, want %q: bob's message while blocked must not arrive", got, want)
	}

	// XEP-0191 §3.4: the blocked sender's message gets an error, SHOULD be
	// <service-unavailable/>, as if the user were offline; from her bare
	// JID, to which he wrote.
	errs := r.all("message", "bob")
	if len(errs) != 1 {
		t.Fatalf("bob received %d messages, want one error (the script's output is above)", len(errs))
	}
	if e := errs[0]; e.Type != "error" || e.From != "alice@localhost" || e.Condition != "service-unavailable" {
		t.Errorf("bob received a %q message from %q with condition %q, want an error from alice@localhost with service-unavailable", e.Type, e.From, e.Condition)
	}
}

// TestInteropIMVCard has alice publish her vCard (XEP-0054 §3.2); bob and
// alice retrieve it (§3.3, §3.1) with the same fields.
func TestInteropIMVCard(t *testing.T) {
	h := newHarness(t)
	h.env.AddUser("alice", "alice-secret")
	h.env.AddUser("bob", "bob-secret")
	h.env.AddUser("carol", "carol-secret")
	const fn, nick, given = "Alice Ætherwood ✓ <&>", "ally 😀", "Älice"
	r := h.run(t, "im_vcard.py", "--addr", byName(t, h.env.Addr),
		"--alice", "alice@localhost/laptop", "--alice-password", "alice-secret",
		"--bob", "bob@localhost/phone", "--bob-password", "bob-secret",
		"--nobody", "carol@localhost", "--fn", fn, "--nickname", nick, "--given", given)
	r.succeeded()
	for _, who := range []string{"bob", "alice"} {
		v := r.one("vcard", who)
		if v.JID != "alice@localhost" || v.FN != fn || v.Nickname != nick || v.Name != given {
			t.Errorf("%s got %s's vCard with FN %q NICKNAME %q GIVEN %q, want %q %q %q", who, v.JID, v.FN, v.Nickname, v.Name, fn, nick, given)
		}
		// RFC 6120 §8.1.2.1: the answer comes from the JID asked.
		if v.From != "alice@localhost" && !(who == "alice" && v.From == "") {
			t.Errorf("%s's vCard answer is from %q, want alice@localhost", who, v.From)
		}
	}
	// XEP-0054 §3.3: a user without a vCard looks like no user at all.
	if e := r.one("vcard_error", "bob"); e.Type != "error" || e.Condition != "service-unavailable" {
		t.Errorf("bob's request for carol's missing vCard got %q %q, want an error service-unavailable", e.Type, e.Condition)
	}
}

// TestInteropIMRegister turns in-band registration on and has slixmpp create
// an account (XEP-0077 §3.1), log in with it on the same stream, then again
// on a new one. Registering a taken username fails with conflict.
func TestInteropIMRegister(t *testing.T) {
	h := newHarness(t, func(c *server.Config) { c.Register.Enabled = true })
	h.env.AddUser("taken", "taken-secret")
	addr := byName(t, h.env.Addr)
	const pass = "fresh pässword ☃"

	t.Run("new account", func(t *testing.T) {
		r := h.run(t, "im_register.py", "--addr", addr, "--jid", "newbie@localhost", "--password", pass)
		r.succeeded()
		form := r.one("register_form", "")
		if !slices.Contains(form.Features, "username") || !slices.Contains(form.Features, "password") || form.Text == "" {
			t.Errorf("registration form with fields %q and instructions %q, want username, password and instructions", form.Features, form.Text)
		}
		if reg := r.one("register", ""); reg.Type != "result" {
			t.Fatalf("registration answered with %q %q, want a result", reg.Type, reg.Condition)
		}
		checkSession(t, r.one("session", ""), "newbie", "", true)
	})

	t.Run("login", func(t *testing.T) {
		r := h.run(t, "login.py", "--addr", addr, "--jid", "newbie@localhost", "--password", pass, "--mech", "SCRAM-SHA-256")
		r.succeeded()
		r.none("failed_auth")
		checkSession(t, r.one("session", ""), "newbie", "SCRAM-SHA-256", true)
	})

	t.Run("taken username", func(t *testing.T) {
		r := h.run(t, "im_register.py", "--addr", addr, "--jid", "taken@localhost", "--password", "another-secret",
			"--register-only", "--expect", "auth-failure")
		r.succeeded()
		r.none("session")
		r.none("failed_auth")
		if reg := r.one("register", ""); reg.Type != "error" || reg.Condition != "conflict" {
			t.Errorf("registering a taken username answered with %q %q, want an error conflict (XEP-0077 §3.1)", reg.Type, reg.Condition)
		}
		// The account is untouched: its own password still works.
		r = h.run(t, "login.py", "--addr", addr, "--jid", "taken@localhost", "--password", "taken-secret")
		r.succeeded()
		checkSession(t, r.one("session", ""), "taken", "", true)
	})
}

// TestInteropIMRegisterSTARTTLS: with the default configuration (accounts
// created by local clients only), slixmpp's XEP-0077 plugin registers after
// STARTTLS, as every real client does, then logs in on the same stream. The
// stream once forgot that its client was local when TLS started and answered
// service-unavailable.
func TestInteropIMRegisterSTARTTLS(t *testing.T) {
	h := newHarness(t)
	r := h.run(t, "im_register.py", "--addr", byName(t, h.env.Addr), "--jid", "local@localhost", "--password", "local-secret")
	r.succeeded()
	r.none("failed_auth")
	if reg := r.one("register", ""); reg.Type != "result" {
		t.Fatalf("registration after STARTTLS answered %q %q, want a result", reg.Type, reg.Condition)
	}
	checkSession(t, r.one("session", ""), "local", "", true)
}
