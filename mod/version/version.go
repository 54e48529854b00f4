// Package version answers software version queries to the server (XEP-0092).
//
// The operating system is not disclosed: XEP-0092 §4 asks that an
// administrator be able to hide it, and hiding it always needs no setting.
package version

import (
	"runtime/debug"
	"strings"

	"ignis/mod"
	"ignis/stanza"
)

// NS is the software version namespace.
const NS = "jabber:iq:version"

// NSSoftwareInfo is the FORM_TYPE of XEP-0232's software information form.
const NSSoftwareInfo = "urn:xmpp:dataforms:softwareinfo"

// Name is the software name the server reports.
const Name = "Ignis"

// Version is this build's version, the same in `ignis version` and in the
// answer to a version query. A release sets it at link time
// (-ldflags "-X ignis/mod/version.Version=1.2.0"); otherwise it comes from
// the build info: the module version, or base plus the commit.
var Version = buildVersion("0.1.0")

// commit is the source revision, set by `make build` through -ldflags where
// the Go toolchain stamps none (a git worktree).
var commit string

func buildVersion(base string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return base + "-dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return strings.TrimPrefix(v, "v")
	}
	rev, dirty := commit, ""
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			rev = s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = ".dirty"
		}
	}
	if rev == "" {
		return base + "-dev"
	}
	return base + "-dev+" + rev + dirty
}

// Module is the software version feature.
type Module struct{}

func (Module) Name() string { return "version" }

func (Module) Register(r *mod.Registry) {
	r.IQ(mod.ToServer, stanza.Get, NS, "query", handle)
	r.Feature(mod.ToServer, NS)
	// the same name and version in the server's disco#info (XEP-0232), so a
	// client learns them without a second query; os is left out as above
	r.Form(mod.ToServer, mod.InfoForm{Type: NSSoftwareInfo, Fields: []mod.InfoField{
		{Var: "software", Value: Name},
		{Var: "software_version", Value: Version},
	}})
}

func handle(_ *mod.Ctx, iq *stanza.Stanza) (*stanza.Stanza, error) {
	var b stanza.Builder
	b.Start("query", "xmlns", NS)
	b.Element("name", Name)
	b.Element("version", Version)
	return iq.Result(b.Bytes()), nil
}
