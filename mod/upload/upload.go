// Package upload is HTTP File Upload (XEP-0363) at upload.DOMAIN: a user asks
// for a slot (filename, size, content type) and gets a PUT and a GET URL
// under a random, unguessable path; the file is PUT over HTTPS to the
// server's own listener (Handler, wired by internal/server) and fetched from
// there by whoever got the GET URL.
//
// Files live under the data folder's upload/ as <id>/<filename> with a
// small meta.json (owner, size, type, time): that is all the state, read
// back at start, so quotas survive restarts without a table. A user's
// quota counts stored files and slots handed out but not yet used. Files
// older than Expiry are deleted.
package upload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
)

// NS is the XEP-0363 namespace (also the FORM_TYPE of max-file-size).
const NS = "urn:xmpp:http:upload:0"

// slotTTL is how long a slot waits for its PUT.
const slotTTL = 5 * time.Minute

// Config is the module's configuration.
type Config struct {
	Host string // the service's domain; default "upload" (upload.DOMAIN)
	// Parents are the further local domains (virtual hosts) that get a
	// service of their own (upload.example.net) over the same files,
	// quotas and HTTP listener.
	Parents []string
	Dir     string // where files are kept
	// URL is the base URL of the links of the service of a local domain
	// (domain), without a trailing slash.
	URL         func(domain string) string
	MaxFileSize int64
	Quota       int64         // bytes per user; 0: none
	Expiry      time.Duration // 0: files are kept
}

// Module is the upload service and its HTTP handler.
type Module struct {
	h   *mod.Handle
	cfg Config

	mu      sync.Mutex
	slots   map[string]*slot // by id: handed out, not yet PUT
	usage   map[string]int64 // bytes per owner (bare JID): stored and reserved
	clients map[string]bool  // PUTs in progress, by id
}

// slot is an upload a user was allowed to make.
type slot struct {
	Owner   string    `json:"owner"`
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	Type    string    `json:"type"`
	Created time.Time `json:"created"`
	expires time.Time
}

// New returns the module; Load reads what is stored.
func New(h *mod.Handle, cfg Config) *Module {
	if cfg.Host == "" {
		cfg.Host = "upload"
	}
	return &Module{h: h, cfg: cfg, slots: map[string]*slot{}, usage: map[string]int64{}, clients: map[string]bool{}}
}

// Load makes the folder and counts the stored files against their owners'
// quotas.
func (m *Module) Load() error {
	if err := os.MkdirAll(m.cfg.Dir, 0o700); err != nil {
		return err
	}
	ents, err := os.ReadDir(m.cfg.Dir)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range ents {
		if s, err := m.meta(e.Name()); err == nil {
			m.usage[s.Owner] += s.Size
		} else if goodID(e.Name()) {
			os.RemoveAll(filepath.Join(m.cfg.Dir, e.Name())) // a PUT cut by a crash
		}
	}
	return nil
}

func (m *Module) Name() string { return "upload" }

func (m *Module) Register(r *mod.Registry) {
	for _, p := range append([]string{""}, m.cfg.Parents...) {
		r.Service(&mod.Service{
			Host:       m.cfg.Host,
			Parent:     p,
			Identities: []mod.Identity{{Category: "store", Type: "file", Name: "HTTP File Upload"}},
			Features:   []string{NS},
			Forms: []mod.InfoForm{{Type: NS, Fields: []mod.InfoField{
				{Var: "max-file-size", Value: strconv.FormatInt(m.cfg.MaxFileSize, 10)}}}},
			IQ: m.request,
		})
	}
}

// Start sweeps expired files now and then.
func (m *Module) Start(context.Context) error {
	if m.cfg.Expiry <= 0 {
		return nil
	}
	return m.h.Every(min(time.Hour, max(m.cfg.Expiry/10, time.Minute)), func(context.Context) { m.Sweep(time.Now()) })
}

var (
	errNotHere  = stanza.Err(stanza.FeatureNotImplemented)
	errBadName  = stanza.ErrText(stanza.BadRequest, "the filename must be a plain file name")
	errBadSize  = stanza.ErrText(stanza.BadRequest, "the size must be a positive number of bytes")
	errBadType  = stanza.ErrText(stanza.BadRequest, "malformed content-type")
	errQuota    = stanza.ErrText(stanza.ResourceConstraint, "your upload quota is used up")
	errStranger = stanza.ErrText(stanza.Forbidden, "the upload service serves this server's users")
)

// request answers a slot request (XEP-0363 §4).
func (m *Module) request(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	p := iq.Payload()
	if iq.Type != stanza.Get || string(p.NS()) != NS || string(p.Local()) != "request" || iq.To.Local() != "" {
		return nil, errNotHere
	}
	if ctx.From == nil || !ctx.Env.IsLocal(ctx.From.JID()) {
		return nil, errStranger
	}
	nameB, _ := p.Attr("filename")
	sizeB, _ := p.Attr("size")
	typB, _ := p.Attr("content-type")
	name, typ := string(nameB), string(typB)
	if !goodName(name) {
		return nil, errBadName
	}
	size, err := strconv.ParseInt(string(sizeB), 10, 64)
	if err != nil || size <= 0 {
		return nil, errBadSize
	}
	if typ != "" && (len(typ) > 255 || strings.ContainsAny(typ, "\r\n") || !strings.Contains(typ, "/")) {
		return nil, errBadType
	}
	if size > m.cfg.MaxFileSize {
		e := stanza.ErrText(stanza.NotAcceptable, "file too large")
		e.App = []byte("<file-too-large xmlns='" + NS + "'><max-file-size>" + strconv.FormatInt(m.cfg.MaxFileSize, 10) + "</max-file-size></file-too-large>")
		return nil, e
	}
	owner := ctx.From.JID().Bare().String()
	id, err := randomID()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	m.mu.Lock()
	m.expireSlots(now)
	if m.cfg.Quota > 0 && m.usage[owner]+size > m.cfg.Quota {
		m.mu.Unlock()
		return nil, errQuota
	}
	m.usage[owner] += size
	m.slots[id] = &slot{Owner: owner, Name: name, Size: size, Type: typ, Created: now, expires: now.Add(slotTTL)}
	m.mu.Unlock()

	u := m.cfg.URL(ctx.Service.ParentDomain(ctx.Env.Domain())) + "/upload/" + id + "/" + url.PathEscape(name)
	var b stanza.Builder
	b.Start("slot", "xmlns", NS)
	b.Element("put", "", "url", u)
	b.Element("get", "", "url", u)
	m.h.Log().Debug("slot", "user", owner, "size", size, "id", id)
	return iq.Result(b.Bytes()), nil
}

// expireSlots drops slots never used, giving their bytes back (m.mu held).
func (m *Module) expireSlots(now time.Time) {
	for id, s := range m.slots {
		if now.After(s.expires) && !m.clients[id] {
			delete(m.slots, id)
			m.usage[s.Owner] -= s.Size
		}
	}
}

// goodName accepts a file name that is one path element of printable text.
func goodName(n string) bool {
	if n == "" || len(n) > 255 || n == "." || n == ".." || !utf8.ValidString(n) || strings.ContainsAny(n, "/\\") {
		return false
	}
	for _, r := range n {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func randomID() (string, error) {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// meta reads the meta.json of a stored upload.
func (m *Module) meta(id string) (*slot, error) {
	if !goodID(id) {
		return nil, os.ErrNotExist
	}
	b, err := os.ReadFile(filepath.Join(m.cfg.Dir, id, "meta.json"))
	if err != nil {
		return nil, err
	}
	var s slot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func goodID(id string) bool {
	if len(id) != 36 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// Sweep deletes the files older than Expiry at now.
func (m *Module) Sweep(now time.Time) {
	if m.cfg.Expiry <= 0 {
		return
	}
	ents, err := os.ReadDir(m.cfg.Dir)
	if err != nil {
		m.h.Log().Warn("upload sweep", "err", err)
		return
	}
	n := 0
	for _, e := range ents {
		s, err := m.meta(e.Name())
		if err != nil || now.Sub(s.Created) < m.cfg.Expiry {
			continue
		}
		if err := os.RemoveAll(filepath.Join(m.cfg.Dir, e.Name())); err != nil {
			m.h.Log().Warn("upload sweep", "err", err)
			continue
		}
		m.mu.Lock()
		m.usage[s.Owner] -= s.Size
		m.mu.Unlock()
		n++
	}
	if n > 0 {
		m.h.Log().Info("expired uploads deleted", "files", n)
	}
}

// Usage is the bytes counted against a user's quota.
func (m *Module) Usage(bare jid.JID) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.usage[bare.String()]
}

// ServeHTTP serves PUT and GET of /upload/<id>/<filename>.
func (m *Module) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/upload/")
	id, name, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || !goodID(id) || !goodName(name) {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodPut:
		m.put(w, r, id, name)
	case http.MethodGet, http.MethodHead:
		m.get(w, r, id, name)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (m *Module) put(w http.ResponseWriter, r *http.Request, id, name string) {
	m.mu.Lock()
	s := m.slots[id]
	if s == nil || s.Name != name || m.clients[id] {
		m.mu.Unlock()
		http.Error(w, "no such slot", http.StatusForbidden)
		return
	}
	m.clients[id] = true
	m.mu.Unlock()
	done := false
	defer func() {
		m.mu.Lock()
		delete(m.clients, id)
		if done {
			delete(m.slots, id) // its bytes now count as stored
		}
		m.mu.Unlock()
	}()
	// XEP-0363 §7: the PUT carries exactly the size (and type) requested
	if r.ContentLength != s.Size {
		http.Error(w, "Content-Length must be the size of the slot", http.StatusBadRequest)
		return
	}
	if s.Type != "" && r.Header.Get("Content-Type") != s.Type {
		http.Error(w, "Content-Type must be the type of the slot", http.StatusBadRequest)
		return
	}
	dir := filepath.Join(m.cfg.Dir, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		http.Error(w, "already uploaded", http.StatusConflict)
		return
	}
	fail := func(code int, msg string) {
		os.RemoveAll(dir)
		http.Error(w, msg, code)
	}
	f, err := os.OpenFile(filepath.Join(dir, "file"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		fail(http.StatusInternalServerError, "cannot store")
		return
	}
	n, err := io.Copy(f, http.MaxBytesReader(w, r.Body, s.Size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || n != s.Size {
		fail(http.StatusBadRequest, "the body is not the size of the slot")
		return
	}
	meta, _ := json.Marshal(s)
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), meta, 0o600); err != nil {
		fail(http.StatusInternalServerError, "cannot store")
		return
	}
	done = true
	m.h.Log().Info("file uploaded", "user", s.Owner, "size", s.Size, "id", id)
	w.WriteHeader(http.StatusCreated)
}

func (m *Module) get(w http.ResponseWriter, r *http.Request, id, name string) {
	s, err := m.meta(id)
	if err != nil || s.Name != name {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(m.cfg.Dir, id, "file"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	typ := s.Type
	if typ == "" {
		typ = "application/octet-stream"
	}
	w.Header().Set("Content-Type", typ)
	// a browser must not run what a user uploaded as part of this origin
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", s.Created, f)
}

var _ http.Handler = (*Module)(nil)
