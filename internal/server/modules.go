package server

import (
	"ignis/jid"
	"ignis/mod"
	"ignis/mod/account"
	"ignis/mod/adhoc"
	"ignis/mod/blocking"
	"ignis/mod/broadcast"
	"ignis/mod/carbons"
	"ignis/mod/disco"
	"ignis/mod/entitytime"
	"ignis/mod/last"
	"ignis/mod/mam"
	"ignis/mod/muc"
	"ignis/mod/offline"
	"ignis/mod/ping"
	"ignis/mod/presence"
	"ignis/mod/privacy"
	"ignis/mod/private"
	"ignis/mod/pubsub"
	"ignis/mod/register"
	"ignis/mod/roster"
	"ignis/mod/sharedgroup"
	"ignis/mod/vcard"
	"ignis/mod/version"
	"ignis/store"
)

// deps is what feature modules are built from.
type deps struct {
	db  *store.DB
	cfg *Config
	rt  *mod.Runtime // makes each module's handle
	srv *Server      // services that run beside the streams (proxy, upload); nil in some tests
}

// modules returns the feature modules the server runs, one line each, in
// the order their hooks run.
func modules(d deps) []mod.Module {
	h := d.rt.Handle
	var extra []mod.Module
	if c := d.cfg.MUC; c.Enabled {
		// one service per local domain: the primary's first (Parent "")
		for _, p := range append([]string{""}, d.cfg.serviceParents(svcMUC)...) {
			extra = append(extra, muc.New(h("muc"), muc.Config{Host: c.Host, Parent: p, Create: c.Create, MaxRoomsPerUser: c.MaxRoomsPerUser,
				MaxOccupants: c.MaxOccupants, MaxHistory: c.MaxHistory, MessageRate: c.MessageRate, MessageBurst: c.MessageBurst,
				BusyOutput: c.BusyOutput, BusyShare: c.BusyShare, JoinWindow: c.JoinWindow, PresenceBacklog: c.PresenceBacklog,
				Admins: d.admins(), VoiceInterval: c.VoiceInterval.Duration, MaxRegistrations: c.MaxRegistrations,
				ReleaseAfterJoins: c.ReleaseAfterJoins}))
		}
	}
	if d.cfg.Broadcast.Enabled {
		for _, p := range d.cfg.serviceParents(svcBroadcast) {
			bc := d.cfg.broadcastConfig()
			bc.Parent = p
			extra = append(extra, broadcast.New(h("broadcast"), bc))
		}
	}
	return append(append([]mod.Module{
		&disco.Module{ServerName: "Ignis", DB: d.db},
		ping.Module{},
		vcard.New(h("vcard")),
		private.New(h("private")),
		version.Module{},
		&entitytime.Module{},
		last.New(h("last")),
		register.New(h("register"), register.Policy{Anyone: d.cfg.Register.Enabled, Loopback: d.cfg.Register.Loopback, AllowPlain: d.cfg.Register.AllowPlain}),
		blocking.New(h("blocking")),
		privacy.New(h("privacy")),
		&sharedgroup.Module{DB: d.db, Primary: d.cfg.primary()},
		mam.New(h("mam"), mam.Config{Enabled: d.cfg.Archive.Enabled, Retention: d.cfg.Archive.Retention.Duration}),
		offline.New(h("offline"), offline.Config{MaxPerUser: d.cfg.Offline.MaxPerUser, MaxBytesPerUser: d.cfg.Offline.MaxBytesPerUser}),
		roster.New(h("roster"), roster.Config{MaxItems: d.cfg.Roster.MaxItems}),
		presence.New(h("presence"), presence.Config{MaxDirected: d.cfg.Presence.MaxDirected}),
		&carbons.Module{}, // after the other message hooks: its copies carry what they add
		account.New(h("account")),
		broadcast.New(h("broadcast"), d.cfg.broadcastConfig()),
		pubsub.New(h("pubsub"), d.pubsubConfig()),
		adhoc.New(h("adhoc"), adhoc.Config{Admins: d.admins()}),
	}, extra...), append(d.services(), d.cfg.Extra...)...)
}

// pubsubConfig is the [pubsub] section as the module takes it.
func (d deps) pubsubConfig() pubsub.Config {
	p := d.cfg.Pubsub
	return pubsub.Config{Host: p.Host, Create: p.Create, MaxItems: p.MaxItems, MaxItemBytes: p.MaxItemBytes,
		MaxNodes: p.MaxNodes, MaxCaps: p.MaxCaps, Admins: d.admins(), Parents: d.cfg.serviceParents(svcPubsub)}
}

// admins is [admin] jids, checked when the configuration was loaded.
func (d deps) admins() []jid.JID {
	a, _ := d.cfg.AdminJIDs()
	return a
}

// services are the modules of the services that are on.
func (d deps) services() []mod.Module {
	var out []mod.Module
	if d.srv == nil {
		return out
	}
	if d.srv.svc.relay != nil {
		out = append(out, d.srv.proxyModule(d.rt.Handle("proxy65")))
	}
	if d.cfg.Upload.Enabled {
		out = append(out, d.srv.uploadModule(d.rt.Handle("upload")))
	}
	return out
}
