// Package pubsub is publish-subscribe (XEP-0060) in its two forms: the
// personal eventing service every account has at its bare JID (PEP,
// XEP-0163: OMEMO keys, avatars, bookmarks) and the pubsub.DOMAIN service.
// One engine serves both; they differ in who owns a node, who is notified
// and who may create nodes.
//
// PEP notifications follow entity capabilities (XEP-0115): the module
// resolves each client's caps once (a disco#info query from the service's
// domain), verifies the hash, caches the answer shared by verification
// string, and notifies a resource only of the nodes it announced
// NODE+notify for.
//
// Every request of one service (an account, or the service domain) runs in
// order on the module's Serial executor, so a publish reads, evicts and
// writes a node without racing another.
package pubsub

import (
	"context"
	"log/slog"
	"slices"

	"ignis/jid"
	"ignis/mod"
	"ignis/stanza"
	"ignis/store"
)

// Namespaces of XEP-0060, XEP-0163 and XEP-0115.
const (
	NS        = "http://jabber.org/protocol/pubsub"
	NSOwner   = NS + "#owner"
	NSEvent   = NS + "#event"
	NSErrors  = NS + "#errors"
	NSConfig  = NS + "#node_config"
	NSOpts    = NS + "#publish-options"
	NSSubAuth = NS + "#subscribe_authorization"
	NSCaps    = "http://jabber.org/protocol/caps"
	NSInfo    = "http://jabber.org/protocol/disco#info"
	NSItems   = "http://jabber.org/protocol/disco#items"
	NSData    = "jabber:x:data"
)

// Defaults of Config.
const (
	DefaultMaxItems     = 256
	DefaultMaxItemBytes = 128 << 10
	DefaultMaxNodes     = 256
	DefaultMaxCaps      = 4096
)

// Who may create nodes on the pubsub service.
const (
	CreateLocal  = "local"  // accounts of this server (default)
	CreateAdmins = "admins" // only the admin JIDs
	CreateAnyone = "anyone" // any entity that can reach the service
)

// Config is the [pubsub] section. Zero values take the defaults.
type Config struct {
	Host         string    // the service's domain; default "pubsub" (pubsub.DOMAIN); "off" runs PEP only
	MaxItems     int       // items a node keeps at most (what max_items=max means)
	MaxItemBytes int       // largest item payload, in bytes
	MaxNodes     int       // nodes per account (PEP) and per owner on the service
	MaxCaps      int       // entity capabilities cached (shared by verification string)
	Create       string    // who may create service nodes: local, admins, anyone
	Admins       []jid.JID // may create nodes when Create is admins, and own every node
	// Parents are the further local domains (virtual hosts) that get a
	// service of their own at Host in front of them (pubsub.example.net),
	// with nodes apart: a service's nodes are stored under its domain.
	Parents []string
}

// Module is publish-subscribe; its fields are set by New.
type Module struct {
	h   *mod.Handle
	db  *store.DB
	log *slog.Logger
	cfg Config
	svc *mod.Service

	caps caps
}

// New returns the module over h's store.
func New(h *mod.Handle, cfg Config) *Module {
	if cfg.MaxItems <= 0 {
		cfg.MaxItems = DefaultMaxItems
	}
	if cfg.MaxItemBytes <= 0 {
		cfg.MaxItemBytes = DefaultMaxItemBytes
	}
	if cfg.MaxNodes <= 0 {
		cfg.MaxNodes = DefaultMaxNodes
	}
	if cfg.MaxCaps <= 0 {
		cfg.MaxCaps = DefaultMaxCaps
	}
	if cfg.Host == "" {
		cfg.Host = "pubsub"
	}
	if cfg.Create == "" {
		cfg.Create = CreateLocal
	}
	m := &Module{h: h, db: h.DB(), log: h.Log(), cfg: cfg}
	m.caps.init(cfg.MaxCaps)
	return m
}

func (m *Module) Name() string { return "pubsub" }

// pepFeatures are the account's pubsub features, as Prosody announces them
// for PEP (Conversations looks for #publish-options).
var pepFeatures = []string{
	"access-open", "access-presence", "access-roster", "access-whitelist",
	"auto-create", "auto-subscribe", "config-node", "create-and-configure", "create-nodes",
	"delete-items", "delete-nodes", "filtered-notifications", "item-ids", "last-published",
	"multi-items", "persistent-items", "presence-notifications", "presence-subscribe", "publish",
	"publish-options", "purge-nodes", "retract-items", "retrieve-default", "retrieve-items",
}

// serviceFeatures are the pubsub.DOMAIN service's.
var serviceFeatures = []string{
	"access-authorize", "access-open", "access-presence", "access-roster", "access-whitelist",
	"config-node", "create-and-configure", "create-nodes", "delete-items", "delete-nodes",
	"get-pending", "instant-nodes", "item-ids", "last-published", "manage-subscriptions",
	"member-affiliation", "modify-affiliations", "multi-items", "outcast-affiliation",
	"persistent-items", "publish", "publish-options", "publisher-affiliation", "purge-nodes",
	"retract-items", "retrieve-affiliations", "retrieve-default", "retrieve-items",
	"retrieve-subscriptions", "subscribe", "subscription-options",
}

func (m *Module) Register(r *mod.Registry) {
	r.AccountIdentity(mod.Identity{Category: "pubsub", Type: "pep"})
	for _, f := range pepFeatures {
		r.Feature(mod.ToAccount, NS+"#"+f)
	}
	r.Feature(mod.ToAccount, NS)
	r.Feature(mod.ToAccount, NSBookmarks+"#compat")
	m.db.Private().Watch(m.privateSet)
	for _, t := range []stanza.Type{stanza.Get, stanza.Set} {
		r.IQ(mod.ToAccount, t, NS, "pubsub", m.pepIQ)
		r.IQ(mod.ToAccount, t, NSOwner, "pubsub", m.pepIQ)
	}
	r.OutboundPresence(m.presence)
	r.InboundPresence(m.remotePresence)
	r.OnUnavailable(m.unavailable)
	r.OnAccount(m.account)
	r.AccountItems(m.pepItems)

	// The service is registered even with Host "off": its domain is where
	// caps queries come from and their answers go to.
	m.svc = &mod.Service{
		Host:       m.cfg.Host,
		Identities: []mod.Identity{{Category: "pubsub", Type: "service", Name: "Publish-Subscribe"}},
		IQ:         m.serviceIQ,
		Message:    m.serviceMessage,
		Items:      m.serviceItems,
	}
	if m.cfg.Host == "off" {
		m.svc.Host = "pubsub"
		m.svc.Identities = nil
	} else {
		m.svc.Features = append(m.svc.Features, NS)
		for _, f := range serviceFeatures {
			m.svc.Features = append(m.svc.Features, NS+"#"+f)
		}
	}
	r.Service(m.svc)
	if m.cfg.Host == "off" {
		return
	}
	for _, p := range m.cfg.Parents {
		vs := *m.svc // the handlers serve ctx.Target's nodes
		vs.Parent = p
		r.Service(&vs)
	}
}

// space is one pubsub service: an account's PEP or the service domain.
type space struct {
	pep   bool
	owner string  // store key: the account's localpart or the service's domain
	jid   jid.JID // the account's bare JID or the service's domain: notifications come from it
	st    store.Pubsub
}

func (m *Module) pepSpace(bare jid.JID) space {
	return space{pep: true, owner: m.h.User(bare), jid: bare, st: m.db.PEP()}
}

func (m *Module) serviceSpace(domain jid.JID) space {
	return space{owner: domain.String(), jid: domain, st: m.db.PubsubService()}
}

func (s space) key() string {
	if s.pep {
		return "pep:" + s.owner
	}
	return "svc:" + s.owner
}

// pepIQ serves the pubsub requests addressed to an account (PEP).
func (m *Module) pepIQ(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if ctx.Target.Local() == "" {
		return nil, stanza.Err(stanza.ServiceUnavailable)
	}
	return m.serial(ctx.Env, m.pepSpace(ctx.Target), iq)
}

// serviceIQ serves pubsub.DOMAIN, and takes the answers to caps queries.
func (m *Module) serviceIQ(ctx *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	if iq.Type == stanza.Result || iq.Type == stanza.TypeError {
		m.capsAnswer(ctx.Env, iq)
		return nil, nil
	}
	if m.cfg.Host == "off" || iq.To.Local() != "" || iq.To.Resource() != "" {
		return nil, stanza.Err(stanza.ServiceUnavailable)
	}
	ns := string(iq.Payload().NS())
	if (ns != NS && ns != NSOwner) || string(iq.Payload().Local()) != "pubsub" {
		return nil, stanza.Err(stanza.ServiceUnavailable)
	}
	return m.serial(ctx.Env, m.serviceSpace(ctx.Target), iq)
}

// serial runs the request after the service's earlier ones and sends its
// answer from the executor.
func (m *Module) serial(env mod.Env, sp space, iq *stanza.Stanza) (*stanza.Stanza, error) {
	err := m.h.Serial(sp.key(), func(context.Context) {
		reply, err := m.handle(env, sp, iq)
		m.answer(env, iq, reply, err)
	})
	if err != nil {
		return nil, stanza.ErrText(stanza.ResourceConstraint, "too many pubsub requests waiting")
	}
	return nil, nil
}

func (m *Module) answer(env mod.Env, iq *stanza.Stanza, reply *stanza.Stanza, err error) {
	if err != nil {
		se, ok := err.(*stanza.Error)
		if !ok {
			m.log.Error("pubsub request failed", "from", iq.From.String(), "err", err)
			se = stanza.Err(stanza.InternalServerError)
		}
		reply = iq.ErrorReply(se)
	}
	if reply != nil {
		env.Send(reply)
	}
}

// account forgets a deleted account's caps state (the store dropped its
// nodes with the account's tables).
func (m *Module) account(_ *mod.Ctx, ev mod.AccountEvent, user jid.JID) {
	if ev == mod.AccountDeleted {
		m.caps.forgetUser(user)
	}
}

// pubErr is a stanza error with a pubsub-specific condition (XEP-0060 §7).
func pubErr(c stanza.Condition, app string) *stanza.Error {
	e := stanza.Err(c)
	e.App = []byte("<" + app + " xmlns='" + NSErrors + "'/>")
	return e
}

// unsupported is feature-not-implemented with <unsupported feature='…'/>.
func unsupported(feature string) *stanza.Error {
	e := stanza.Err(stanza.FeatureNotImplemented)
	var b stanza.Builder
	b.Element("unsupported", "", "xmlns", NSErrors, "feature", feature)
	e.App = b.Bytes()
	return e
}

var (
	errNodeRequired   = pubErr(stanza.BadRequest, "nodeid-required")
	errInvalidPayload = pubErr(stanza.BadRequest, "invalid-payload")
	errItemRequired   = pubErr(stanza.BadRequest, "item-required")
	errPayloadBig     = pubErr(stanza.NotAcceptable, "payload-too-big")
	errPrecondition   = pubErr(stanza.Conflict, "precondition-not-met")
	errMaxNodes       = pubErr(stanza.NotAllowed, "max-nodes-exceeded")
	errInvalidOpts    = pubErr(stanza.BadRequest, "invalid-options")
	errNotFound       = stanza.Err(stanza.ItemNotFound)
	errForbidden      = stanza.Err(stanza.Forbidden)
	errNodeExists     = stanza.ErrText(stanza.Conflict, "the node exists")
	errBadRequest     = stanza.Err(stanza.BadRequest)
)

// sortedContains reports whether a sorted list holds s.
func sortedContains(list []string, s string) bool {
	_, ok := slices.BinarySearch(list, s)
	return ok
}
