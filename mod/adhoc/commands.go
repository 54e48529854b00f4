package adhoc

import (
	"errors"
	"slices"
	"strings"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// command is one ad-hoc command: the form it asks for (nil: it runs at
// once) and what it does with the submitted form. run is called off the
// event loops and may block on the store.
type command struct {
	node, name string
	form       []field
	run        func(m *Module, env mod.Env, f form) (result, error)
}

// result is a completed command's note and result form fields.
type result struct {
	note   string
	fields []field
}

// The XEP-0133 commands, in the order disco lists them.
var commands = []command{
	{node: NSAdmin + "#add-user", name: "Add a User", run: addUser, form: []field{
		{Var: "accountjid", Type: "jid-single", Label: "The Jabber ID for the account to be added", Required: true},
		{Var: "password", Type: "text-private", Label: "The password for this account", Required: true},
		{Var: "password-verify", Type: "text-private", Label: "Retype password", Required: true},
	}},
	{node: NSAdmin + "#delete-user", name: "Delete a User", run: deleteUsers, form: []field{
		{Var: "accountjids", Type: "jid-multi", Label: "The Jabber ID(s) to delete", Required: true},
	}},
	{node: NSAdmin + "#end-user-session", name: "End User Session", run: endSessions, form: []field{
		{Var: "accountjids", Type: "jid-multi", Label: "The Jabber ID(s) whose sessions to end", Required: true},
	}},
	{node: NSAdmin + "#change-user-password", name: "Change User Password", run: changePassword, form: []field{
		{Var: "accountjid", Type: "jid-single", Label: "The Jabber ID for this account", Required: true},
		{Var: "password", Type: "text-private", Label: "The new password", Required: true},
	}},
	{node: NSAdmin + "#get-online-users-list", name: "Get List of Online Users", run: onlineList, form: []field{
		{Var: "max_items", Type: "list-single", Label: "Maximum number of items to show",
			Options: []string{"25", "50", "75", "100", "150", "200", "none"}, Values: []string{"100"}},
	}},
	{node: NSAdmin + "#get-online-users-num", name: "Get Number of Online Users", run: onlineNum},
	{node: NSAdmin + "#get-registered-users-num", name: "Get Number of Registered Users", run: registeredNum},
	{node: NSAdmin + "#announce", name: "Send Announcement to Online Users", run: announce, form: []field{
		{Var: "subject", Type: "text-single", Label: "Subject"},
		{Var: "announcement", Type: "text-multi", Label: "Announcement", Required: true},
	}},
}

// localUser parses a submitted JID that must name an account of this server.
func localUser(env mod.Env, s string) (jid.JID, error) {
	j, err := jid.Parse(strings.TrimSpace(s))
	if err != nil || j.Local() == "" {
		return jid.JID{}, stanza.ErrText(stanza.JIDMalformed, "not a user JID: "+s)
	}
	if !env.IsLocal(j) {
		return jid.JID{}, stanza.ErrText(stanza.NotAllowed, j.Domain()+" is not a domain of this server")
	}
	return j, nil
}

func missing(v string) error { return stanza.ErrText(stanza.BadRequest, "the field "+v+" is required") }

func addUser(m *Module, env mod.Env, f form) (result, error) {
	u, err := localUser(env, f.get("accountjid"))
	if err != nil {
		return result{}, err
	}
	pw := f.get("password")
	switch {
	case pw == "":
		return result{}, missing("password")
	case f["password-verify"] != nil && f.get("password-verify") != pw:
		return result{}, stanza.ErrText(stanza.NotAcceptable, "the passwords do not match")
	}
	if err := m.h.DB().Accounts().Create(m.h.User(u), pw); err != nil {
		if errors.Is(err, store.ErrExists) {
			return result{}, stanza.ErrText(stanza.Conflict, u.Bare().String()+" already exists")
		}
		return result{}, err
	}
	return result{note: "Added " + u.Bare().String()}, nil
}

// users parses accountjids, all local; at least one.
func users(env mod.Env, f form) ([]jid.JID, error) {
	var out []jid.JID
	for _, s := range f["accountjids"] {
		if strings.TrimSpace(s) == "" {
			continue
		}
		j, err := localUser(env, s)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	if len(out) == 0 {
		return nil, missing("accountjids")
	}
	return out, nil
}

// deleteUsers deletes accounts and, as `ignis user del` does, tells the
// account hooks, which end their sessions with <not-authorized/>.
func deleteUsers(m *Module, env mod.Env, f form) (result, error) {
	us, err := users(env, f)
	if err != nil {
		return result{}, err
	}
	acc := m.h.DB().Accounts()
	for _, u := range us { // all or nothing: check first
		if _, err := acc.Get(m.h.User(u)); errors.Is(err, store.ErrNotFound) {
			return result{}, stanza.ErrText(stanza.ItemNotFound, "there is no account "+u.Bare().String())
		} else if err != nil {
			return result{}, err
		}
	}
	names := make([]string, 0, len(us))
	for _, u := range us {
		if err := acc.Delete(m.h.User(u)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return result{}, err
		}
		b := u.Bare()
		m.reg.RunAccount(&mod.Ctx{Env: env, Target: b}, mod.AccountDeleted, b)
		names = append(names, b.String())
	}
	return result{note: "Deleted " + strings.Join(names, ", ")}, nil
}

// changePassword sets a password; the account hooks end the account's
// sessions with <reset/> as `ignis user passwd` does.
func changePassword(m *Module, env mod.Env, f form) (result, error) {
	u, err := localUser(env, f.get("accountjid"))
	if err != nil {
		return result{}, err
	}
	pw := f.get("password")
	if pw == "" {
		return result{}, missing("password")
	}
	if err := m.h.DB().Accounts().SetPassword(m.h.User(u), pw); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return result{}, stanza.ErrText(stanza.ItemNotFound, "there is no account "+u.Bare().String())
		}
		return result{}, err
	}
	b := u.Bare()
	m.reg.RunAccount(&mod.Ctx{Env: env, Target: b}, mod.PasswordChanged, b)
	return result{note: "Changed the password of " + b.String()}, nil
}

// endSessions ends the sessions of bare JIDs (all of the account's) or full
// JIDs (that one), like `ignis kick`.
func endSessions(m *Module, env mod.Env, f form) (result, error) {
	us, err := users(env, f)
	if err != nil {
		return result{}, err
	}
	se := stanza.StreamErr(stanza.StreamPolicyViolation, "ended by the server's administrator")
	n := 0
	for _, u := range us {
		if u.Resource() != "" {
			if r := env.Lookup(u); r != nil {
				r.Close(se)
				n++
			}
			continue
		}
		env.Resources(u, func(r mod.Resource) bool { r.Close(se); n++; return true })
	}
	return result{note: "Ended " + itoa(n) + " session(s)"}, nil
}

// online lists the distinct bare JIDs with a bound session, sorted.
func online(env mod.Env) ([]string, error) {
	all, ok := env.(mod.SessionLister)
	if !ok {
		return nil, stanza.Err(stanza.FeatureNotImplemented)
	}
	seen := map[string]bool{}
	all.EachResource(func(r mod.Resource) bool {
		seen[r.JID().Bare().String()] = true
		return true
	})
	out := make([]string, 0, len(seen))
	for j := range seen {
		out = append(out, j)
	}
	slices.Sort(out)
	return out, nil
}

func onlineList(m *Module, env mod.Env, f form) (result, error) {
	js, err := online(env)
	if err != nil {
		return result{}, err
	}
	limit := 100
	switch v := f.get("max_items"); v {
	case "none":
		limit = len(js)
	case "":
	default:
		n := 0
		for _, c := range v {
			if c < '0' || c > '9' || n > 1<<20 {
				return result{}, stanza.ErrText(stanza.BadRequest, "max_items must be a number or none")
			}
			n = n*10 + int(c-'0')
		}
		limit = n
	}
	if len(js) > limit {
		js = js[:limit]
	}
	return result{fields: []field{{Var: "onlineuserjids", Type: "jid-multi", Label: "The list of all online users", Values: js}}}, nil
}

func onlineNum(m *Module, env mod.Env, _ form) (result, error) {
	js, err := online(env)
	if err != nil {
		return result{}, err
	}
	return result{fields: []field{{Var: "onlineusersnum", Type: "text-single", Label: "The number of online users", Values: []string{itoa(len(js))}}}}, nil
}

func registeredNum(m *Module, _ mod.Env, _ form) (result, error) {
	n, err := m.h.DB().Accounts().Count()
	if err != nil {
		return result{}, err
	}
	return result{fields: []field{{Var: "registeredusersnum", Type: "text-single", Label: "The number of registered users", Values: []string{itoa(n)}}}}, nil
}

// announce sends a headline from the server's domain to every bound session
// (XEP-0133 §4.23; a headline is not stored offline, RFC 6121 §5.2.2).
func announce(m *Module, env mod.Env, f form) (result, error) {
	body := strings.Join(f["announcement"], "\n")
	if strings.TrimSpace(body) == "" {
		return result{}, missing("announcement")
	}
	all, ok := env.(mod.SessionLister)
	if !ok {
		return result{}, stanza.Err(stanza.FeatureNotImplemented)
	}
	var to []jid.JID
	all.EachResource(func(r mod.Resource) bool { to = append(to, r.JID()); return true })
	from := env.Domain().String()
	for _, j := range to {
		var b stanza.Builder
		b.Start("message", "from", from, "to", j.String(), "type", "headline")
		if s := f.get("subject"); s != "" {
			b.Element("subject", s)
		}
		b.Element("body", body)
		st, err := stanza.Parse(b.Bytes())
		if err != nil {
			return result{}, err
		}
		env.Send(st)
	}
	return result{note: "Announced to " + itoa(len(to)) + " session(s)"}, nil
}
