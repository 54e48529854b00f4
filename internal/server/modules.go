package server

import (
	"ignis/jid"
	"ignis/mod"
	"ignis/mod/disco"
	"ignis/mod/ping"
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
	return []mod.Module{
		&disco.Module{ServerName: "Ignis"},
		ping.Module{},
	}
}
