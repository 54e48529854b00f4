package bench

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"slices"
	"strconv"
	"time"

	"ignis/stanza"
	"ignis/xmlscan"
)

// --scenario pep (XEP-0163): every session is in its neighbours' rosters
// (--roster-size, both ways), announces entity capabilities (XEP-0115) whose
// features ask for notifications of the bench's nodes (NODE+notify), answers
// the server's disco#info about them, and publishes at the paced --rate an
// item carrying the mark, in turn to each of --pep-nodes nodes under one
// item id each (so a node keeps one item). A publish is expected to notify
// each contact once: notifications are the delivered messages, their latency
// runs from the publish's due time. The publisher's own notification (its
// resource asked for +notify too) is counted apart.

const (
	nsPubsub      = "http://jabber.org/protocol/pubsub"
	nsPubsubEvent = nsPubsub + "#event"
	nsCaps        = "http://jabber.org/protocol/caps"
	nsDiscoInfo   = "http://jabber.org/protocol/disco#info"
	nsPing        = "urn:xmpp:ping"
	// nsBenchItem is the payload element of a bench item.
	nsBenchItem = "urn:ignis:bench:pep"
	// capsNode is the bench's XEP-0115 node (its "software").
	capsNode = "urn:ignis:bench"
	// capsIdentity is the bench's disco identity, as the hash sees it.
	capsCategory, capsType, capsName = "client", "pc", "ignis bench"
	// capsPingID: the round trip after a caps answer, whose result tells
	// that the server has read the answer.
	capsPingID = "capsping"
	// pubIDPrefix starts the id of every publish iq.
	pubIDPrefix = "pub"
)

// PEPStats is what --scenario pep counted besides the notifications (the
// messages of the result).
type PEPStats struct {
	Nodes             int   `json:"nodes"`              // nodes each user publishes to in turn
	Publishes         int64 `json:"publishes"`          // publish iqs sent
	PublishErrors     int64 `json:"publish_errors"`     // answered with an error (their notifications count as bounced)
	SelfNotifications int64 `json:"self_notifications"` // the publisher's own resource's, not counted as delivered
	Duplicates        int64 `json:"duplicates"`         // a contact's second copy of one publish, not counted
	CapsQueries       int64 `json:"caps_queries"`       // disco#info queries the server sent about the bench's caps
	// ItemsStored: distinct (user, node) pairs published to, each holding one item.
	ItemsStored int64 `json:"items_stored"`
	// the server's RSS when the publishing began and at the plateau, and
	// their difference per stored item (zero without --server-pid)
	ServerRSSBefore  int64   `json:"server_rss_before_publish_bytes,omitempty"`
	ServerRSSAfter   int64   `json:"server_rss_after_publish_bytes,omitempty"`
	ServerRSSPerItem float64 `json:"server_rss_per_item_bytes,omitempty"`
}

// PEP reports whether the run publishes PEP items (--scenario pep).
func (c *Config) PEP() bool { return c.Scenario == "pep" }

// pepNode is the name of the bench's node i.
func (c *Config) pepNode(i int) string {
	if c.PEPNodes <= 1 {
		return c.PEPNodeName
	}
	return c.PEPNodeName + "-" + strconv.Itoa(i)
}

// capsFeatures are the bench client's disco#info features, sorted as
// XEP-0115 §5.1 hashes them.
func (c *Config) capsFeatures() []string {
	f := []string{nsCaps, nsDiscoInfo, nsPing}
	for i := range max(1, c.PEPNodes) {
		f = append(f, c.pepNode(i)+"+notify")
	}
	slices.Sort(f)
	return f
}

// capsVer is the verification string (XEP-0115 §5.1, sha-1) of one identity
// and the features: "category/type/lang/name<" then each "feature<".
func capsVer(category, typ, name string, features []string) string {
	var s []byte
	s = append(s, category+"/"+typ+"//"+name+"<"...)
	for _, f := range features {
		s = append(s, f...)
		s = append(s, '<')
	}
	h := sha1.Sum(s)
	return base64.StdEncoding.EncodeToString(h[:])
}

// pepSetup prepares what every session of a pep run sends: the initial
// presence with caps and the body of the disco#info answer.
func (r *run) pepSetup() {
	feats := r.cfg.capsFeatures()
	ver := capsVer(capsCategory, capsType, capsName, feats)
	var b stanza.Builder
	b.Start("presence")
	b.Element("c", "", "xmlns", nsCaps, "hash", "sha-1", "node", capsNode, "ver", ver)
	r.presence = b.Bytes()
	var q stanza.Builder
	q.Element("identity", "", "category", capsCategory, "type", capsType, "name", capsName)
	for _, f := range feats {
		q.Element("feature", "", "var", f)
	}
	r.discoBody = q.Bytes()
}

// pepIQ handles the iqs of a pep run in any phase after the roster get:
// the server's disco#info (answered with the caps, then a ping whose result
// tells that the answer was read), that ping's result, and publish errors.
// It reports whether e was one of them.
func (s *session) pepIQ(e xmlscan.Elem) (bool, error) {
	r := s.r
	if string(e.Local()) != "iq" {
		return false, nil
	}
	t, _ := e.Attr("type")
	id, _ := e.Attr("id")
	switch string(t) {
	case "get":
		q := e.Child("query", nsDiscoInfo)
		if q.IsZero() {
			return false, nil
		}
		r.st.capsQueries.Add(1)
		from, _ := e.Attr("from")
		var b stanza.Builder
		b.Start("iq", "type", "result", "id", string(id), "to", string(from))
		if node, ok := q.Attr("node"); ok {
			b.Start("query", "xmlns", nsDiscoInfo, "node", string(node))
		} else {
			b.Start("query", "xmlns", nsDiscoInfo)
		}
		b.Raw(r.discoBody)
		b.End()
		b.End()
		b.Start("iq", "type", "get", "id", capsPingID)
		b.Element("ping", "", "xmlns", nsPing)
		return true, s.write(b.Bytes())
	case "result":
		if string(id) == capsPingID {
			r.st.capsReady.Add(1)
			return true, nil
		}
		return bytes.HasPrefix(id, []byte(pubIDPrefix)), nil
	case "error":
		if string(id) == capsPingID {
			r.st.capsReady.Add(1) // answered all the same: the caps answer was read
			return true, nil
		}
		if bytes.HasPrefix(id, []byte(pubIDPrefix)) {
			r.st.pubErrors.Add(1)
			r.st.msgBounced.Add(int64(r.cfg.RosterSize))
			r.st.addReason("publish: " + errorCondition(e))
			return true, nil
		}
	}
	return false, nil
}

// pepNotification counts a PEP notification (a message with a pubsub event
// whose item carries a mark): delivered, or the publisher's own.
func (s *session) pepNotification(e xmlscan.Elem) bool {
	ev := e.Child("event", nsPubsubEvent)
	if ev.IsZero() {
		return false
	}
	r := s.r
	mark := ev.Child("items", "").Child("item", "").Child("mark", nsBenchItem)
	run, sidx, seq, ts, ok := parseMark(mark)
	if !ok {
		return true
	}
	if run != r.id {
		r.st.stale.Add(1) // an earlier run's last item, sent on presence
		return true
	}
	if from, _ := e.Attr("from"); s.isSelf(from) {
		r.st.pepSelf.Add(1)
		return true
	}
	// a publisher's items come in order (one sender, one path), so a seq
	// not above the last one seen from it is a second copy
	if s.lastSeq == nil {
		s.lastSeq = make(map[int32]int64, r.cfg.RosterSize)
	}
	if last, seen := s.lastSeq[sidx]; seen && seq <= last {
		r.st.pepDup.Add(1)
		return true
	}
	s.lastSeq[sidx] = seq
	r.st.msgDelivered.Add(1)
	r.msgLat.record(int(sidx), time.Duration(time.Now().UnixNano()-ts))
	return true
}

// isSelf reports whether from is s's bare JID.
func (s *session) isSelf(from []byte) bool {
	if s.bare == nil {
		s.bare = []byte(s.user() + "@" + s.r.cfg.Domain)
	}
	return bytes.Equal(from, s.bare)
}

// appendPublish writes s's publish number seq: the item goes to the nodes
// in turn, under one id.
func (r *run) appendPublish(b []byte, s *session, seq, ts int64) []byte {
	k := int(s.pubs.Add(1) - 1)
	n := max(1, r.cfg.PEPNodes)
	if k < n {
		r.st.itemsStored.Add(1)
	}
	b = append(b, "<iq type='set' id='"+pubIDPrefix...)
	b = strconv.AppendInt(b, seq, 36)
	b = append(b, "'><pubsub xmlns='"+nsPubsub+"'><publish node='"...)
	b = xmlscan.AppendEscapedAttr(b, r.cfg.pepNode(k%n))
	b = append(b, "'><item id='current'><mark xmlns='"+nsBenchItem+"'>"...)
	// the sender in the mark is the global index: contacts live in other
	// workers too, and tell copies apart by it (pepNotification)
	b = r.appendPadded(b, int32(r.cfg.UserOffset)+s.idx, seq, ts)
	return append(b, "</mark></item></publish></pubsub></iq>"...)
}

// capsQuiet: once a caps answer was read, the caps queries are over when
// none came for this long.
const capsQuiet = 500 * time.Millisecond

// waitCaps holds the start of the publishing until the server has read a
// caps answer (the ping after it came back) and asked nothing more for
// capsQuiet, so that no item is published before the server knows who
// wants it: Ignis asks one resource per verification string, Prosody a few
// until one answers, ejabberd every resource. A server that knows the caps
// from an earlier run asks nothing, so the wait is bounded by --caps-wait;
// with workers, those whose sessions were not asked wait out the bound.
func (r *run) waitCaps(done <-chan struct{}) {
	deadline := time.Now().Add(r.cfg.CapsWait)
	last, lastAt := int64(-1), time.Now()
	for time.Now().Before(deadline) {
		if n := r.st.capsQueries.Load(); n != last {
			last, lastAt = n, time.Now()
		}
		if r.st.capsReady.Load() > 0 && time.Since(lastAt) >= capsQuiet {
			return
		}
		select {
		case <-done:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}
