package pubsub

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/xmlscan"
)

// capsFeatures is what PEP needs of a client's capabilities: the nodes it
// wants notifications of (its NODE+notify features), sorted. One value is
// shared by every resource that announced the same verification string.
type capsFeatures struct{ notify []string }

// resCaps is one available resource's announced caps.
type resCaps struct {
	ver string
	f   *capsFeatures // nil until resolved
}

// capsQuery is a disco#info query in flight for a verification string.
type capsQuery struct {
	id, ver, algo string
	to            jid.JID // who was asked (the answer must come from it)
	sent          time.Time
	waiters       []jid.JID // resources that announced ver meanwhile
}

// capsQueryTimeout: a query unanswered for this long is asked again of the
// next resource that announces the same caps.
const capsQueryTimeout = 30 * time.Second

// caps is the entity capabilities cache (XEP-0115 §5.4 processing): by
// verified verification string, bounded, and per available resource.
type caps struct {
	mu      sync.Mutex
	max     int
	byVer   map[string]*capsFeatures
	byRes   map[string]*resCaps   // full JID → caps
	queries map[string]*capsQuery // by verification string
	byID    map[string]*capsQuery // by iq id
	seq     uint64
}

func (c *caps) init(max int) {
	c.max = max
	c.byVer = map[string]*capsFeatures{}
	c.byRes = map[string]*resCaps{}
	c.queries = map[string]*capsQuery{}
	c.byID = map[string]*capsQuery{}
}

// wants reports whether the resource full asked for notifications of node.
func (c *caps) wants(full jid.JID, node string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	rc := c.byRes[full.String()]
	return rc != nil && rc.f != nil && sortedContains(rc.f.notify, node)
}

func (c *caps) forget(full jid.JID) {
	c.mu.Lock()
	delete(c.byRes, full.String())
	c.mu.Unlock()
}

func (c *caps) forgetUser(bare jid.JID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prefix := bare.String() + "/"
	for k := range c.byRes {
		if strings.HasPrefix(k, prefix) {
			delete(c.byRes, k)
		}
	}
}

// store caches verified features under ver, evicting an arbitrary entry
// when full (resources keep the values they point to).
func (c *caps) store(ver string, f *capsFeatures) {
	if _, ok := c.byVer[ver]; !ok && len(c.byVer) >= c.max {
		for k := range c.byVer {
			delete(c.byVer, k)
			break
		}
	}
	c.byVer[ver] = f
}

// presence sees a local session's presence: an available broadcast with a
// <c xmlns='http://jabber.org/protocol/caps'/> element records the
// resource's caps, resolving them when they are new (XEP-0115 §6.3).
func (m *Module) presence(ctx *mod.Ctx, st *stanza.Stanza) bool {
	if ctx.From == nil || !st.To.IsZero() {
		return false
	}
	if st.Type == stanza.Unavailable {
		m.caps.forget(ctx.From.JID())
		return false
	}
	if st.Type != stanza.TypeNone {
		return false
	}
	c := st.Elem().Child("c", NSCaps)
	if c.IsZero() {
		return false
	}
	algo, _ := c.Attr("hash")
	ver, _ := c.Attr("ver")
	node, _ := c.Attr("node")
	if len(algo) == 0 || len(ver) == 0 || newHash(string(algo)) == nil {
		return false // legacy caps (no hash) are not resolved
	}
	full, env := ctx.From.JID(), ctx.Env
	m.announce(env, full, string(algo), string(ver), string(node))
	return false
}

// remotePresence sees a presence that another server's user sends to an
// account here: its caps are resolved as a local resource's are, so that
// the account's PEP can notify that contact too (XEP-0163 §4.3). Remote
// resources are bounded (a peer could announce without end) and
// forgotten when they go unavailable.
func (m *Module) remotePresence(ctx *mod.Ctx, st *stanza.Stanza) bool {
	env := ctx.Env
	from := st.From
	if from.Resource() == "" || from.Local() == "" || mod.IsLocalUser(env, from) {
		return false
	}
	if st.Type == stanza.Unavailable {
		m.caps.forget(from)
		return false
	}
	if st.Type != stanza.TypeNone {
		return false
	}
	c := st.Elem().Child("c", NSCaps)
	if c.IsZero() {
		return false
	}
	algo, _ := c.Attr("hash")
	ver, _ := c.Attr("ver")
	node, _ := c.Attr("node")
	if len(algo) == 0 || len(ver) == 0 || newHash(string(algo)) == nil || !m.caps.room(from) {
		return false
	}
	m.announce(env, from, string(algo), string(ver), string(node))
	return false
}

// room reports whether the cache takes full's caps: one it knows, or a
// new one while it holds fewer resources than 4 × max.
func (c *caps) room(full jid.JID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, known := c.byRes[full.String()]
	return known || len(c.byRes) < 4*c.max
}

// resources returns the resources of bare (another server's user) whose
// caps ask for notifications of node.
func (c *caps) resources(bare jid.JID, node string) []jid.JID {
	c.mu.Lock()
	defer c.mu.Unlock()
	prefix := bare.String() + "/"
	var out []jid.JID
	for k, rc := range c.byRes {
		if strings.HasPrefix(k, prefix) && rc.f != nil && sortedContains(rc.f.notify, node) {
			if j, err := jid.Parse(k); err == nil {
				out = append(out, j)
			}
		}
	}
	return out
}

// announce records that full has caps ver, and sends it the last items it
// now wants, or asks what ver means.
func (m *Module) announce(env mod.Env, full jid.JID, algo, ver, node string) {
	c := &m.caps
	c.mu.Lock()
	rc := c.byRes[full.String()]
	if rc != nil && rc.ver == ver {
		c.mu.Unlock()
		return // the same caps again: nothing new to send
	}
	f := c.byVer[ver]
	c.byRes[full.String()] = &resCaps{ver: ver, f: f}
	if f != nil {
		c.mu.Unlock()
		m.sendLast(env, full, f)
		return
	}
	now := time.Now()
	if q := c.queries[ver]; q != nil && now.Sub(q.sent) < capsQueryTimeout {
		if len(q.waiters) < 1024 {
			q.waiters = append(q.waiters, full)
		}
		c.mu.Unlock()
		return
	} else if q != nil {
		delete(c.byID, q.id)
	}
	if len(c.byID) >= c.max {
		c.mu.Unlock()
		m.log.Warn("too many caps queries in flight", "jid", full.String())
		return
	}
	c.seq++
	q := &capsQuery{id: "caps" + strconv.FormatUint(c.seq, 36), ver: ver, algo: algo, to: full, sent: now}
	c.queries[ver], c.byID[q.id] = q, q
	c.mu.Unlock()

	var b stanza.Builder
	b.Start("iq", "type", "get", "id", q.id, "from", m.svcDomain(env).String(), "to", full.String())
	b.Element("query", "", "xmlns", NSInfo, "node", node+"#"+ver)
	b.End()
	env.Send(stanza.MustParse(b.Bytes()))
}

func (m *Module) svcDomain(env mod.Env) jid.JID {
	d, _ := m.svc.Domain(env.Domain())
	return d
}

// capsAnswer takes a client's answer to a caps query: verified, the
// features are cached under their verification string; otherwise they
// serve only the resource that answered (XEP-0115 §5.4 says not to cache a
// hash that does not match).
func (m *Module) capsAnswer(env mod.Env, iq *stanza.Stanza) {
	c := &m.caps
	c.mu.Lock()
	q := c.byID[iq.ID]
	if q == nil || !q.to.Equal(iq.From) {
		c.mu.Unlock()
		return
	}
	delete(c.byID, q.id)
	if c.queries[q.ver] == q {
		delete(c.queries, q.ver)
	}
	c.mu.Unlock()
	if iq.Type != stanza.Result {
		return
	}
	query := iq.Payload()
	f, verified := parseCaps(query, q.algo, q.ver)
	waiters := []jid.JID{q.to}
	c.mu.Lock()
	if verified {
		c.store(q.ver, f)
		waiters = append(waiters, q.waiters...)
	}
	var send []jid.JID
	for _, w := range waiters {
		if rc := c.byRes[w.String()]; rc != nil && rc.ver == q.ver && rc.f == nil {
			rc.f = f
			send = append(send, w)
		}
	}
	c.mu.Unlock()
	if !verified {
		m.log.Debug("caps hash does not match", "jid", iq.From.String(), "ver", q.ver)
	}
	for _, w := range send {
		m.sendLast(env, w, f)
	}
}

func newHash(algo string) hash.Hash {
	switch algo {
	case "sha-1":
		return sha1.New()
	case "sha-256":
		return sha256.New()
	case "sha-512":
		return sha512.New()
	}
	return nil
}

// parseCaps reads a disco#info answer: the +notify nodes, and whether its
// XEP-0115 §5.1 verification string hashes to ver.
func parseCaps(query xmlscan.Elem, algo, ver string) (*capsFeatures, bool) {
	var ids, feats []string
	type capsForm struct {
		typ    string
		fields []string // "var<v1<v2<" each, values sorted
	}
	var forms []capsForm
	f := &capsFeatures{}
	it := query.Children()
	for e, ok := it.Next(); ok; e, ok = it.Next() {
		switch string(e.Local()) {
		case "identity":
			cat, _ := e.Attr("category")
			typ, _ := e.Attr("type")
			lang, _ := e.Attr("xml:lang")
			name, _ := e.Attr("name")
			ids = append(ids, string(cat)+"/"+string(typ)+"/"+string(lang)+"/"+string(name))
		case "feature":
			v, _ := e.Attr("var")
			feats = append(feats, string(v))
			if n, ok := strings.CutSuffix(string(v), "+notify"); ok && n != "" {
				f.notify = append(f.notify, n)
			}
		case "x":
			if string(e.NS()) != NSData {
				continue
			}
			var cf capsForm
			fi := e.Children()
			for fl, ok := fi.Next(); ok; fl, ok = fi.Next() {
				v, _ := fl.Attr("var")
				var vals []string
				vi := fl.Children()
				for val, ok := vi.Next(); ok; val, ok = vi.Next() {
					if string(val.Local()) == "value" {
						vals = append(vals, string(val.AppendText(nil)))
					}
				}
				if string(v) == "FORM_TYPE" {
					if len(vals) > 0 {
						cf.typ = vals[0]
					}
					continue
				}
				slices.Sort(vals)
				fs := string(v) + "<"
				for _, val := range vals {
					fs += val + "<"
				}
				cf.fields = append(cf.fields, fs)
			}
			if cf.typ != "" {
				slices.Sort(cf.fields)
				forms = append(forms, cf)
			}
		}
	}
	slices.Sort(f.notify)
	f.notify = slices.Compact(f.notify)
	slices.Sort(ids)
	slices.Sort(feats)
	slices.SortFunc(forms, func(a, b capsForm) int { return strings.Compare(a.typ, b.typ) })
	var s strings.Builder
	for _, id := range ids {
		s.WriteString(id + "<")
	}
	for _, v := range feats {
		s.WriteString(v + "<")
	}
	for _, cf := range forms {
		s.WriteString(cf.typ + "<")
		for _, fl := range cf.fields {
			s.WriteString(fl)
		}
	}
	h := newHash(algo)
	if h == nil {
		return f, false
	}
	h.Write([]byte(s.String()))
	return f, base64.StdEncoding.EncodeToString(h.Sum(nil)) == ver
}

// unavailable forgets a resource's caps.
func (m *Module) unavailable(_ *mod.Ctx, res mod.Resource) { m.caps.forget(res.JID()) }
