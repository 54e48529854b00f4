package server

import (
	"ignis/jid"
	"ignis/mod"
	"ignis/mod/blocking"
	"ignis/mod/carbons"
	"ignis/mod/disco"
	"ignis/mod/entitytime"
	"ignis/mod/last"
	"ignis/mod/mam"
	"ignis/mod/offline"
	"ignis/mod/ping"
	"ignis/mod/presence"
	"ignis/mod/privacy"
	"ignis/mod/private"
	"ignis/mod/register"
	"ignis/mod/roster"
	"ignis/mod/sharedgroup"
	"ignis/mod/vcard"
	"ignis/mod/version"
	"ignis/store"
)

// deps is what feature modules are built from.
type deps struct {
	db     *store.DB
	cfg    *Config
	domain jid.JID
}

// modules returns the feature modules the server runs, one line each, in
// the order their hooks run.
func modules(d deps) []mod.Module {
	return append([]mod.Module{
		&disco.Module{ServerName: "Ignis", DB: d.db},
		ping.Module{},
		&vcard.Module{DB: d.db},
		&private.Module{DB: d.db},
		version.Module{},
		&entitytime.Module{},
		last.New(d.db),
		register.New(d.db, register.Policy{Anyone: d.cfg.Register.Enabled, Loopback: d.cfg.Register.Loopback, AllowPlain: d.cfg.Register.AllowPlain}, d.domain),
		blocking.New(d.db, nil),
		privacy.New(d.db, d.domain, nil),
		&sharedgroup.Module{DB: d.db},
		mam.New(d.db, d.cfg.Archive.Enabled, d.cfg.Archive.Retention.Duration),
		offline.New(d.db, d.cfg.Offline.MaxPerUser, d.cfg.Offline.MaxBytesPerUser),
		roster.New(d.db, d.cfg.Roster.MaxItems),
		presence.New(d.db),
		&carbons.Module{}, // after the other message hooks: its copies carry what they add
	}, d.cfg.Extra...)
}
