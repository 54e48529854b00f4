// Package adhoc runs ad-hoc commands (XEP-0050) at the server's domain, with
// the service administration commands of XEP-0133: add, delete and change the
// password of a user, end a user's sessions, list and count online users,
// count registered users, and announce a message to every online user.
//
// Only the accounts named in [admin] jids see or run the commands; anyone
// else gets forbidden. A command with a form runs in two stages, as XEP-0050
// §3.4 shows: execute answers the form with a sessionid (status executing),
// the client submits it (complete, or execute/next) or cancels. Sessions are
// kept in memory, a few per admin, and expire.
package adhoc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/xmlscan"
)

// Namespaces.
const (
	NSCommands = "http://jabber.org/protocol/commands" // XEP-0050
	NSAdmin    = "http://jabber.org/protocol/admin"    // XEP-0133 (FORM_TYPE and node prefix)
	nsData     = "jabber:x:data"                       // XEP-0004
)

// Config is the module's configuration.
type Config struct {
	// Admins are the bare JIDs that may run the commands.
	Admins []jid.JID
	// SessionTimeout is how long a command waits for its form; default 10 minutes.
	SessionTimeout time.Duration
	// MaxSessions caps the commands in progress per admin; default 8.
	MaxSessions int
}

// Module is the ad-hoc commands feature.
type Module struct {
	h   *mod.Handle
	cfg Config
	reg *mod.Registry

	mu       sync.Mutex
	sessions map[string]*session // by sessionid
}

// New returns the module.
func New(h *mod.Handle, cfg Config) *Module {
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Minute
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 8
	}
	return &Module{h: h, cfg: cfg, sessions: map[string]*session{}}
}

func (m *Module) Name() string { return "adhoc" }

func (m *Module) Register(r *mod.Registry) {
	m.reg = r
	r.IQ(mod.ToServer, stanza.Set, NSCommands, "command", m.command)
	r.Feature(mod.ToServer, NSCommands)
	r.Node(mod.ToServer, NSCommands, mod.DiscoNode{Items: m.listItems, Info: m.listInfo})
	r.Node(mod.ToServer, NSAdmin+"#", mod.DiscoNode{Info: m.commandInfo})
}

// isAdmin reports whether the sender of the stanza in ctx is an admin.
func (m *Module) isAdmin(ctx *mod.Ctx) bool {
	if ctx.From == nil {
		return false
	}
	me := ctx.From.JID().Bare()
	for _, a := range m.cfg.Admins {
		if a.Equal(me) {
			return true
		}
	}
	return false
}

// listItems lists the commands the requester may run (XEP-0050 §2.2): all
// for an admin, none for anyone else.
func (m *Module) listItems(ctx *mod.Ctx) ([]mod.NodeItem, error) {
	if !m.isAdmin(ctx) {
		return nil, nil
	}
	d := ctx.Env.Domain().String()
	out := make([]mod.NodeItem, 0, len(commands))
	for _, c := range commands {
		out = append(out, mod.NodeItem{JID: d, Node: c.node, Name: c.name})
	}
	return out, nil
}

func (m *Module) listInfo(*mod.Ctx) ([]mod.Identity, []string, error) {
	return []mod.Identity{{Category: "automation", Type: "command-list", Name: "Commands"}}, nil, nil
}

// commandInfo answers disco#info of one command (XEP-0050 §2.3).
func (m *Module) commandInfo(ctx *mod.Ctx) ([]mod.Identity, []string, error) {
	return []mod.Identity{{Category: "automation", Type: "command-node", Name: "Command"}},
		[]string{NSCommands, nsData}, nil
}

// find returns the command of a node.
func find(node string) *command {
	for i := range commands {
		if commands[i].node == node {
			return &commands[i]
		}
	}
	return nil
}

// cmdErr is an error of XEP-0050 §4.6: a stanza condition with the
// commands namespace's own condition element.
func cmdErr(c stanza.Condition, app string) *stanza.Error {
	e := stanza.Err(c)
	e.App = []byte("<" + app + " xmlns='" + NSCommands + "'/>")
	return e
}

var (
	errForbidden  = stanza.ErrText(stanza.Forbidden, "only the server's administrators may run commands")
	errNoCommand  = stanza.Err(stanza.ItemNotFound)
	errBadAction  = cmdErr(stanza.BadRequest, "bad-action")
	errMalformed  = cmdErr(stanza.BadRequest, "malformed-action")
	errBadSession = cmdErr(stanza.BadRequest, "bad-sessionid")
	errExpired    = cmdErr(stanza.NotAllowed, "session-expired")
	errBusy       = stanza.ErrText(stanza.ResourceConstraint, "too many commands in progress")
)

// stage is where a command session stands.
type stage uint8

const (
	// awaitingForm: the form was sent; the client submits or cancels it.
	awaitingForm stage = iota + 1
)

type session struct {
	id      string
	cmd     *command
	owner   jid.JID // the admin's full JID: only that session may go on
	stage   stage
	expires time.Time
}

// action is the action attribute of <command/> (XEP-0050 §3.4).
type action uint8

const (
	actExecute action = iota + 1
	actNext
	actComplete
	actCancel
	actPrev
)

func parseAction(v string) (action, bool) {
	switch v {
	case "", "execute":
		return actExecute, true
	case "next":
		return actNext, true
	case "complete":
		return actComplete, true
	case "cancel":
		return actCancel, true
	case "prev":
		return actPrev, true
	}
	return 0, false
}

// command answers <command/>: the state machine of one command session.
func (m *Module) command(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if !m.isAdmin(ctx) {
		return nil, errForbidden
	}
	p := iq.Payload()
	nodeB, _ := p.Attr("node")
	node := string(nodeB)
	cmd := find(node)
	if cmd == nil {
		return nil, errNoCommand
	}
	actB, _ := p.Attr("action")
	act, ok := parseAction(string(actB))
	if !ok {
		return nil, errMalformed
	}
	sidB, _ := p.Attr("sessionid")
	owner := ctx.From.JID()

	if len(sidB) == 0 { // a new session
		if act != actExecute {
			return nil, errBadAction
		}
		if f := submitted(p); f != nil || cmd.form == nil {
			// single stage: no form to ask for, or the client sent it already
			return m.run(ctx, iq, cmd, "", f)
		}
		s, err := m.open(cmd, owner)
		if err != nil {
			return nil, err
		}
		return iq.Result(formReply(cmd, s.id, cmd.form)), nil
	}

	s, err := m.take(string(sidB), owner, node)
	if err != nil {
		return nil, err
	}
	switch s.stage {
	case awaitingForm:
		switch act {
		case actCancel:
			return iq.Result(statusReply(cmd, s.id, "canceled", "", nil)), nil
		case actExecute, actNext, actComplete:
			f := submitted(p)
			if f == nil {
				return nil, cmdErr(stanza.BadRequest, "bad-payload")
			}
			return m.run(ctx, iq, cmd, s.id, f)
		default: // prev: there is no earlier stage
			return nil, errBadAction
		}
	}
	return nil, errBadSession
}

// open starts a session waiting for cmd's form.
func (m *Module) open(cmd *command, owner jid.JID) (*session, error) {
	var raw [12]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	now := time.Now()
	s := &session{id: hex.EncodeToString(raw[:]), cmd: cmd, owner: owner, stage: awaitingForm,
		expires: now.Add(m.cfg.SessionTimeout)}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, o := range m.sessions {
		switch {
		case now.After(o.expires):
			delete(m.sessions, id) // expired sessions go lazily, when another opens
		case o.owner.Bare().Equal(owner.Bare()):
			n++
		}
	}
	if n >= m.cfg.MaxSessions {
		return nil, errBusy
	}
	m.sessions[s.id] = s
	return s, nil
}

// take removes and returns the session sid of owner for node.
func (m *Module) take(sid string, owner jid.JID, node string) (*session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sessions[sid]
	if s == nil || !s.owner.Equal(owner) || s.cmd.node != node {
		return nil, errBadSession
	}
	delete(m.sessions, sid)
	if time.Now().After(s.expires) {
		return nil, errExpired
	}
	return s, nil
}

// run executes cmd with the submitted form f off the event loop (account
// changes write the store and derive keys) and sends the reply from there.
func (m *Module) run(ctx *mod.Ctx, iq *stanza.Stanza, cmd *command, sid string, f form) (*stanza.Stanza, error) {
	env, admin := ctx.Env, ctx.From.JID()
	if sid == "" {
		sid = newSID()
	}
	err := m.h.Serial("adhoc "+admin.Bare().String(), func(context.Context) {
		res, err := cmd.run(m, env, f)
		var reply *stanza.Stanza
		var se *stanza.Error
		switch {
		case err == nil:
			m.h.Log().Info("command", "node", cmd.node, "admin", admin.String(), "note", res.note)
			reply = iq.Result(statusReply(cmd, sid, "completed", res.note, res.fields))
		case errors.As(err, &se):
			reply = iq.ErrorReply(se)
		default:
			m.h.Log().Warn("command failed", "node", cmd.node, "admin", admin.String(), "err", err)
			reply = iq.ErrorReply(stanza.Err(stanza.InternalServerError))
		}
		env.Send(reply)
	})
	if err != nil {
		return nil, errBusy
	}
	return nil, nil
}

func newSID() string {
	var raw [12]byte
	_, _ = rand.Read(raw[:])
	return hex.EncodeToString(raw[:])
}

// form is a submitted data form: values by field var.
type form map[string][]string

func (f form) get(v string) string {
	if len(f[v]) == 0 {
		return ""
	}
	return f[v][0]
}

// submitted reads the <x type='submit'/> form in <command/>, or nil.
func submitted(cmd xmlscan.Elem) form {
	x := cmd.Child("x", nsData)
	if x.IsZero() {
		return nil
	}
	if t, _ := x.Attr("type"); string(t) != "submit" {
		return nil
	}
	f := form{}
	it := x.Children()
	for {
		fl, ok := it.Next()
		if !ok {
			return f
		}
		if string(fl.Local()) != "field" {
			continue
		}
		v, _ := fl.Attr("var")
		vals := f[string(v)]
		vi := fl.Children()
		for {
			val, ok := vi.Next()
			if !ok {
				break
			}
			if string(val.Local()) == "value" {
				vals = append(vals, string(val.AppendText(nil)))
			}
		}
		f[string(v)] = vals
	}
}

// field is one field of a form the server sends.
type field struct {
	Var, Type, Label string
	Required         bool
	Options          []string
	Values           []string
}

// formReply is the first stage: the form to fill (XEP-0050 §3.4.2).
func formReply(cmd *command, sid string, fields []field) []byte {
	var b stanza.Builder
	b.Start("command", "xmlns", NSCommands, "node", cmd.node, "sessionid", sid, "status", "executing")
	b.Start("actions", "execute", "complete")
	b.Element("complete", "")
	b.End()
	writeForm(&b, "form", cmd.name, fields)
	return b.Bytes()
}

// statusReply is a command's last answer: completed (with a note and maybe
// a result form) or canceled.
func statusReply(cmd *command, sid, status, note string, fields []field) []byte {
	var b stanza.Builder
	b.Start("command", "xmlns", NSCommands, "node", cmd.node, "sessionid", sid, "status", status)
	if note != "" {
		b.Element("note", note, "type", "info")
	}
	if len(fields) > 0 {
		writeForm(&b, "result", cmd.name, fields)
	}
	return b.Bytes()
}

func writeForm(b *stanza.Builder, typ, title string, fields []field) {
	b.Start("x", "xmlns", nsData, "type", typ)
	if typ == "form" {
		b.Element("title", title)
	}
	b.Start("field", "var", "FORM_TYPE", "type", "hidden")
	b.Element("value", NSAdmin)
	b.End()
	for _, f := range fields {
		b.Start("field", "var", f.Var, "type", f.Type, "label", f.Label)
		if f.Required {
			b.Element("required", "")
		}
		for _, o := range f.Options {
			b.Start("option", "label", o)
			b.Element("value", o)
			b.End()
		}
		for _, v := range f.Values {
			b.Element("value", v)
		}
		b.End()
	}
	b.End()
}

func itoa(n int) string { return strconv.Itoa(n) }
