// Package server assembles a whole Ignis server from its layers: the store,
// the feature modules, the router, the stream configuration and the reactor.
// cmd/ignis runs it; end-to-end tests start it in-process on loopback.
package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"ignis/component"
	"ignis/jid"
	"ignis/mod"
	"ignis/mod/broadcast"
	"ignis/session"
	"ignis/xmlscan"
)

// Config is the server's configuration: the TOML file's layout. Zero values
// take the defaults of DefaultConfig.
type Config struct {
	Domain   string `toml:"domain"`    // default "localhost"
	Data     string `toml:"data"`      // data folder (Pebble, certificate); default "./data"
	LogLevel string `toml:"log_level"` // debug, info, warn, error; default info
	// LogFormat is "text" (logfmt-like key=value, the default) or "json"
	// (one object a line, for log shippers).
	LogFormat string `toml:"log_format"`
	Loops     int    `toml:"loops"` // event loops; default one per core
	// GCPercent is the Go garbage collector's target (GOGC) for `ignis
	// serve`: heap growth allowed over live data between collections. Idle
	// sessions allocate nothing, so a lower target costs little CPU and keeps
	// resident memory near live memory. Default 50; the GOGC environment
	// variable, when set, wins.
	GCPercent int `toml:"gc_percent"`
	// Extra modules run after the built-in ones (tests register services).
	Extra []mod.Module `toml:"-"`

	// VHosts are further local domains ([[vhost]] tables), each with its
	// own accounts and certificate; none by default.
	VHosts []VHost `toml:"vhost"`

	Listen struct {
		C2S    string `toml:"c2s"`     // STARTTLS listener, host:port; default ":5222"; "off" disables
		C2STLS string `toml:"c2s_tls"` // direct TLS listener (XEP-0368); default ":5223"; "off" disables
	} `toml:"listen"`

	TLS struct {
		Cert     string `toml:"cert"`     // PEM files; both empty = self-signed in the data folder
		Key      string `toml:"key"`      //
		Required bool   `toml:"required"` // refuse to authenticate before STARTTLS
	} `toml:"tls"`

	SASL struct {
		PlainWithoutTLS bool `toml:"plain_without_tls"` // offer PLAIN on unencrypted streams
		Anonymous       bool `toml:"anonymous"`         // offer ANONYMOUS
	} `toml:"sasl"`

	Compression struct {
		Enabled bool `toml:"enabled"` // offer XEP-0138 zlib
		OnTLS   bool `toml:"on_tls"`  // also on TLS streams (leaks, XEP-0138 §9)
	} `toml:"compression"`

	Session struct {
		Conflict string `toml:"conflict"` // "replace" (default) or "refuse" a bind of a bound resource
		// MaxPerUser caps the resources bound at once per account (ejabberd's
		// max_user_sessions); default 10, 0 = no limit; past it the bind gets <resource-constraint/>
		MaxPerUser int `toml:"max_per_user"`
	} `toml:"session"`

	Roster struct {
		MaxItems int `toml:"max_items"` // items per roster; default 1000; past it a roster set gets <not-allowed/> (RFC 6121 §2.3.3)
	} `toml:"roster"`

	Presence struct {
		// MaxDirected caps the entities one session has directed presence out
		// to at once (each gets its unavailable, RFC 6121 §4.6.3); default
		// 1000; past it a directed presence gets <resource-constraint/>
		MaxDirected int `toml:"max_directed"`
	} `toml:"presence"`

	Offline struct {
		MaxPerUser      int   `toml:"max_per_user"`       // stored messages per account; default 1000; past it <resource-constraint/>
		MaxBytesPerUser int64 `toml:"max_bytes_per_user"` // their total size per account; default 16 MiB; past it <resource-constraint/>
	} `toml:"offline"`

	Archive struct {
		Enabled   bool     `toml:"enabled"`   // XEP-0313 message archive; default off: it writes every chat message to disk
		Retention Duration `toml:"retention"` // delete archived messages older than this ("720h"); default 0 = keep forever
	} `toml:"archive"`

	Register struct {
		Enabled bool `toml:"enabled"` // XEP-0077 in-band registration (account creation by clients); default off
		// Loopback allows it to clients connecting from this machine even
		// when Enabled is off (as ejabberd's default, trusted_network);
		// default on, so that local tools and load generators can provision
		Loopback bool `toml:"loopback"`
		// AllowPlain lets clients register without TLS, the password then
		// crossing the network in clear; default off (policy-violation)
		AllowPlain bool `toml:"allow_plain"`
	} `toml:"register"`

	// Admin names the accounts that may run admin commands (XEP-0133, the
	// console, broadcast): bare JIDs; default none.
	Admin struct {
		JIDs []string `toml:"jids"`
	} `toml:"admin"`

	// Component is the port for external components (XEP-0114), open only
	// when at least one component has a secret (README "Components").
	Component struct {
		Listen string `toml:"listen"` // host:port; default "127.0.0.1:5275"; "off" disables
		// Secrets maps each component's domain ("gw.example.org", or a label
		// such as "gw" put in front of the server's domain) to its shared secret.
		Secrets          map[string]string `toml:"secrets"`
		HandshakeTimeout Duration          `toml:"handshake_timeout"` // from accept to the handshake; default 30s, then <connection-timeout/>
	} `toml:"component"`

	// Broadcast is Openfire's broadcast service (README "Broadcast service").
	Broadcast struct {
		Enabled   bool   `toml:"enabled"`    // default on
		Host      string `toml:"host"`       // default "broadcast" (broadcast.DOMAIN)
		Senders   string `toml:"senders"`    // "admins" (default, [admin] jids), "members" (also a group's members to it), "all"
		MaxBytes  int    `toml:"max_bytes"`  // one broadcast message; default 16384; over it <policy-violation/>
		PerMinute int    `toml:"per_minute"` // broadcasts per sender a minute; default 10; past it <resource-constraint/>
	} `toml:"broadcast"`
	// Console is the admin HTTP server: web console, REST API, /metrics
	// (README "Admin console").
	Console struct {
		Enabled bool `toml:"enabled"` // default off
		// Address serves plain HTTP to clients on this machine only (others
		// get 403); default "127.0.0.1:9090"; "off" disables
		Address string `toml:"address"`
		// TLSAddress serves HTTPS with the server's certificate; default
		// "127.0.0.1:9091"; "off" disables
		TLSAddress string `toml:"tls_address"`
		// MetricsOpen lets clients on this machine scrape /metrics without
		// a token; default on
		MetricsOpen bool `toml:"metrics_open"`
		// Tokens are REST API bearer tokens as "name:sha256-hex" (what
		// `ignis token create` prints); tokens made by the CLI are also
		// accepted from the data folder
		Tokens []string `toml:"tokens"`
		// SessionTTL: a console sign-in expires this long after its last
		// use; default 30m, 1m..24h
		SessionTTL Duration `toml:"session_ttl"`
		// BenchReports is a folder of `ignis bench` reports (.json, .html)
		// the console lists; default none
		BenchReports string `toml:"bench_reports"`
	} `toml:"console"`

	// MUC is group chat (XEP-0045), a service at Host.
	MUC struct {
		Enabled bool   `toml:"enabled"` // default on
		Host    string `toml:"host"`    // "conference" (put in front of the domain) or a whole domain

		// VoiceInterval: a visitor's voice requests (XEP-0045 §7.13) at most one each; default 1m, 1s..24h; sooner resource-constraint
		VoiceInterval    Duration `toml:"voice_interval"`
		MaxRegistrations int      `toml:"max_registrations"` // nicks registered with one room (§7.10); default 1000; past it resource-constraint

		// Create: who may create rooms: "local" accounts (default), "admins" ([admin] jids) or "anyone"
		Create          string  `toml:"create"`
		MaxRoomsPerUser int     `toml:"max_rooms_per_user"` // rooms one user owns; default 10, 0 = no limit; past it resource-constraint
		MaxOccupants    int     `toml:"max_occupants"`      // default and ceiling of a room's max occupants; default 200; past it service-unavailable
		MaxHistory      int     `toml:"max_history"`        // messages a room keeps for history on join; default 50
		MessageRate     float64 `toml:"message_rate"`       // groupchat messages a second per occupant; default 5
		MessageBurst    int     `toml:"message_burst"`      // messages allowed at once above the rate; default 20; past it resource-constraint
		// BusyOutput and BusyShare: a room refuses groupchat messages
		// (resource-constraint, wait) while more than BusyShare of its
		// sessions, and more than one, each hold over BusyOutput bytes of
		// output; defaults 64 KiB and 0.1; busy_share = 1 turns it off
		BusyOutput int     `toml:"busy_output"`
		BusyShare  float64 `toml:"busy_share"`
		// JoinWindow: bytes of a newcomer's occupant list on its connection
		// at once, the rest as it drains; default 128 KiB, so that rooms
		// of the default size keep XEP-0045's order (list, own presence,
		// history, subject, then live traffic)
		JoinWindow int `toml:"join_window"`
		// PresenceBacklog: while a session holds more than this many bytes
		// for its client, the room's presence updates to it are coalesced
		// (each occupant's latest, sent as it drains); default 16 KiB
		PresenceBacklog int `toml:"presence_backlog"`
		// ReleaseAfterJoins: after a wave of at least this many joins (none
		// a second apart), quiet for a second, the freed heap is returned
		// to the OS once (a GC and a scavenge, at most once a minute);
		// default 500, 0 = never
		ReleaseAfterJoins int `toml:"release_after_joins"`
	} `toml:"muc"`

	// Pubsub is publish-subscribe (XEP-0060) and PEP (XEP-0163).
	Pubsub struct {
		// Host is the service's domain (one label goes before the server's
		// domain); "off" keeps PEP and runs no pubsub.DOMAIN service.
		Host         string `toml:"host"`
		Create       string `toml:"create"`         // who may create service nodes: "local" accounts, "admins" (admin.jids), "anyone"
		MaxItems     int    `toml:"max_items"`      // items a node keeps at most (max_items=max); 1..100000
		MaxItemBytes int    `toml:"max_item_bytes"` // largest item payload; over it <not-acceptable/> + <payload-too-big/>
		MaxNodes     int    `toml:"max_nodes"`      // nodes per account (PEP) and per owner on the service; past it <not-allowed/>
		MaxCaps      int    `toml:"max_caps"`       // client capabilities (XEP-0115) cached, shared by verification string
	} `toml:"pubsub"`

	LegacyAuth struct {
		Enabled bool `toml:"enabled"` // XEP-0078 non-SASL authentication; default off
	} `toml:"legacy_auth"`

	StreamManagement struct {
		ResumeTimeout Duration `toml:"resume_timeout"` // XEP-0198: how long a broken session waits for a resume; default 300s, 1s..24h
		MaxUnacked    int      `toml:"max_unacked"`    // unacknowledged stanzas per session; default 1000, 10..100000; past it <resource-constraint/>
	} `toml:"stream_management"`

	// Web is the client-facing web listener (package web): RFC 7395
	// WebSocket and XEP-0206 BOSH, with XEP-0156 discovery.
	Web struct {
		Enabled        bool     `toml:"enabled"`          // default off
		HTTP           string   `toml:"http"`             // plain HTTP, host:port; default "127.0.0.1:5280" (behind a TLS proxy); "off" disables
		HTTPS          string   `toml:"https"`            // HTTPS with the server certificate; default ":5443"; "off" disables
		WebSocketPath  string   `toml:"websocket_path"`   // default "/xmpp-websocket"
		BOSHPath       string   `toml:"bosh_path"`        // default "/http-bind"
		Origins        []string `toml:"origins"`          // allowed Origins (CORS, WebSocket); default ["*"]
		MaxHeaderBytes int      `toml:"max_header_bytes"` // request line and header fields; default 8192; past it 431
		MaxHeaders     int      `toml:"max_headers"`      // header fields; default 64; past it 431
		MaxBodyBytes   int      `toml:"max_body_bytes"`   // a BOSH request body; default 262144; past it 413
		MaxFrameBytes  int      `toml:"max_frame_bytes"`  // a WebSocket frame; default 262144; past it close 1009
		IdleTimeout    Duration `toml:"idle_timeout"`     // an HTTP connection with no request; default 60s
		BOSHMaxWait    Duration `toml:"bosh_max_wait"`    // the longest a BOSH request is held; default 60s
		BOSHInactivity Duration `toml:"bosh_inactivity"`  // a BOSH session with no request for this long ends; default 60s
		BOSHMaxHold    int      `toml:"bosh_max_hold"`    // BOSH requests held at once; default 1
	} `toml:"web"`

	// S2S is federation: server-to-server links (README "Federation").
	S2S struct {
		Enabled    bool   `toml:"enabled"`     // default off: messages to other domains get remote-server-not-found
		Listen     string `toml:"listen"`      // incoming links, host:port; default ":5269"
		RequireTLS bool   `toml:"require_tls"` // refuse links without STARTTLS, both ways; default on
		DirectTLS  bool   `toml:"direct_tls"`  // try _xmpps-server._tcp (XEP-0368) before _xmpp-server; default off
		CAFile     string `toml:"ca_file"`     // PEM roots that verify peers for SASL EXTERNAL; default the system's
		// Hosts maps a domain to host:port, overriding DNS (SRV, A/AAAA)
		Hosts             map[string]string `toml:"hosts"`
		IdleTimeout       Duration          `toml:"idle_timeout"`         // close a link idle this long; default 10m
		AuthTimeout       Duration          `toml:"auth_timeout"`         // dial to authenticated, and a dialback check; default 30s
		MaxQueue          int               `toml:"max_queue"`            // stanzas waiting per domain while its link comes up; default 1000
		MaxStanzaBytes    int               `toml:"max_stanza_bytes"`     // one incoming element; default 256 KiB
		MaxLinksPerDomain int               `toml:"max_links_per_domain"` // incoming streams per remote domain; default 4
		Bidi              bool              `toml:"bidi"`                 // XEP-0288: one link carries both directions with a peer that supports it; default on
		// MaxDomainsPerLink: domain pairs one link carries by dialback
		// piggybacking (XEP-0220 §4), both ways; default 32, 1 turns it off
		MaxDomainsPerLink int `toml:"max_domains_per_link"`
	} `toml:"s2s"`

	Limits struct {
		MaxStanzaBytes int `toml:"max_stanza_bytes"`
		MaxDepth       int `toml:"max_depth"`
		MaxAttrs       int `toml:"max_attrs"`
		MaxPendingOut  int `toml:"max_pending_output"`
		// CloseTimeout: how long a closing connection waits for its pending
		// output to reach the peer before it is dropped (undelivered offline
		// messages stay stored); default 10s, at least 100ms.
		CloseTimeout Duration `toml:"close_timeout"`
		AuthAttempts int      `toml:"auth_attempts"`
		PreAuthIdle  Duration `toml:"pre_auth_idle"`
		// Strangers: limits before authentication (README "Security").
		PreAuthStanzaBytes int      `toml:"pre_auth_stanza_bytes"`
		MaxPreAuthBytes    int64    `toml:"max_pre_auth_bytes"`
		MaxConnsPerIP      int      `toml:"max_conns_per_ip"`
		ConnRatePerIP      float64  `toml:"conn_rate_per_ip"`
		ConnBurstPerIP     int      `toml:"conn_burst_per_ip"`
		AuthFailuresPerIP  int      `toml:"auth_failures_per_ip"`
		AuthBanTime        Duration `toml:"auth_ban_time"`
		RefusalLogInterval Duration `toml:"refusal_log_interval"`
		ExemptLoopback     bool     `toml:"exempt_loopback"`
	} `toml:"limits"`

	// Proxy65 is the SOCKS5 bytestreams proxy (XEP-0065) at proxy.DOMAIN.
	Proxy65 struct {
		Enabled   bool     `toml:"enabled"`    // default off: it opens a port of its own
		Listen    string   `toml:"listen"`     // the relay's listener, host:port; default ":7777"
		Host      string   `toml:"host"`       // host (name or address) advertised to clients; default the domain
		Port      int      `toml:"port"`       // port advertised; default 0 = the listener's
		MaxBytes  int64    `toml:"max_bytes"`  // bytes relayed per stream; default 512 MiB
		Rate      int64    `toml:"rate"`       // bytes per second per stream; default 0 = no pacing
		MaxBuffer int      `toml:"max_buffer"` // bytes waiting for a slow receiver; past it the stream closes; default 1 MiB
		Timeout   Duration `toml:"timeout"`    // pairing and idle timeout; default 60s
	} `toml:"proxy65"`

	// Upload is HTTP File Upload (XEP-0363) at upload.DOMAIN.
	Upload struct {
		Enabled     bool     `toml:"enabled"`       // default off: it opens a port of its own
		Listen      string   `toml:"listen"`        // the HTTPS listener, host:port; default ":5444"
		URL         string   `toml:"url"`           // base URL of PUT/GET links; default https://DOMAIN:PORT
		MaxFileSize int64    `toml:"max_file_size"` // bytes per file; default 100 MiB; bigger requests get <file-too-large/>
		Quota       int64    `toml:"quota"`         // bytes stored per user; default 1 GiB; 0 = no quota
		Expiry      Duration `toml:"expiry"`        // files older than this are deleted; default 720h; 0 keeps them
	} `toml:"upload"`
}

// Duration is a time.Duration written as "30s" in TOML.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration like \"30s\": %q", b)
	}
	d.Duration = v
	return nil
}

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	var c Config
	c.Domain = "localhost"
	c.Data = "./data"
	c.Admin.JIDs = []string{}
	c.LogLevel = "info"
	c.LogFormat = "text"
	c.Session.MaxPerUser = 10
	c.Limits.ExemptLoopback = true
	c.Limits.CloseTimeout.Duration = 10 * time.Second
	c.Listen.C2S = ":5222"
	c.Listen.C2STLS = ":5223"
	c.Session.Conflict = "replace"
	c.GCPercent = 50
	c.Roster.MaxItems = 1000
	c.Presence.MaxDirected = 1000
	c.Offline.MaxPerUser = 1000
	c.Offline.MaxBytesPerUser = 16 << 20
	c.StreamManagement.ResumeTimeout.Duration = 300 * time.Second
	c.StreamManagement.MaxUnacked = 1000
	c.Register.Loopback = true
	c.Broadcast.Enabled = true
	c.Broadcast.Host = "broadcast"
	c.Broadcast.Senders = "admins"
	c.Broadcast.MaxBytes = 16 << 10
	c.Broadcast.PerMinute = 10
	c.Component.Listen = "127.0.0.1:5275"
	c.Component.HandshakeTimeout.Duration = 30 * time.Second
	c.Console.Address = "127.0.0.1:9090"
	c.Console.TLSAddress = "127.0.0.1:9091"
	c.Console.MetricsOpen = true
	c.Console.Tokens = []string{}
	c.Console.SessionTTL.Duration = 30 * time.Minute
	c.MUC.Enabled = true
	c.MUC.Host = "conference"
	c.MUC.Create = "local"
	c.MUC.MaxRoomsPerUser = 10
	c.MUC.MaxOccupants = 200
	c.MUC.MaxHistory = 50
	c.MUC.VoiceInterval = Duration{time.Minute}
	c.MUC.MaxRegistrations = 1000
	c.MUC.MessageRate = 5
	c.MUC.MessageBurst = 20
	c.MUC.BusyOutput = 64 << 10
	c.MUC.BusyShare = 0.1
	c.MUC.JoinWindow = 128 << 10
	c.MUC.PresenceBacklog = 16 << 10
	c.MUC.ReleaseAfterJoins = 500
	c.Pubsub.Host = "pubsub"
	c.Pubsub.Create = "local"
	c.Pubsub.MaxItems = 256
	c.Pubsub.MaxItemBytes = 128 << 10
	c.Pubsub.MaxNodes = 256
	c.Pubsub.MaxCaps = 4096
	c.Proxy65.Listen = ":7777"
	c.Proxy65.MaxBytes = 512 << 20
	c.Proxy65.MaxBuffer = 1 << 20
	c.Proxy65.Timeout.Duration = 60 * time.Second
	c.Upload.Listen = ":5444"
	c.Upload.MaxFileSize = 100 << 20
	c.Upload.Quota = 1 << 30
	c.Upload.Expiry.Duration = 720 * time.Hour
	c.Web.HTTP = "127.0.0.1:5280"
	c.Web.HTTPS = ":5443"
	c.Web.WebSocketPath = "/xmpp-websocket"
	c.Web.BOSHPath = "/http-bind"
	c.Web.Origins = []string{"*"}
	c.Web.MaxHeaderBytes = 8192
	c.Web.MaxHeaders = 64
	c.Web.MaxBodyBytes = 256 << 10
	c.Web.MaxFrameBytes = 256 << 10
	c.Web.IdleTimeout.Duration = 60 * time.Second
	c.Web.BOSHMaxWait.Duration = 60 * time.Second
	c.Web.BOSHInactivity.Duration = 60 * time.Second
	c.Web.BOSHMaxHold = 1
	c.S2S.Listen = ":5269"
	c.S2S.RequireTLS = true
	c.S2S.Hosts = map[string]string{}
	c.S2S.IdleTimeout.Duration = 10 * time.Minute
	c.S2S.AuthTimeout.Duration = 30 * time.Second
	c.S2S.MaxQueue = 1000
	c.S2S.MaxStanzaBytes = 256 << 10
	c.S2S.MaxLinksPerDomain = 4
	c.S2S.MaxDomainsPerLink = 32
	c.S2S.Bidi = true
	return c
}

// LoadConfig reads a TOML file over the defaults. Unknown keys are errors,
// so a misspelt setting is not silently ignored.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return c, fmt.Errorf("config %s: %s", path, pe.ErrorWithPosition())
		}
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		keys := make([]string, len(u))
		for i, k := range u {
			keys[i] = k.String()
		}
		return c, fmt.Errorf("config %s: unknown key %s", path, strings.Join(keys, ", "))
	}
	return c, nil
}

// Validate names the first key whose value is wrong.
func (c *Config) Validate() error {
	if c.Domain == "" {
		return errors.New("config: domain: must not be empty")
	}
	d, err := jid.Parse(c.Domain)
	if err != nil || !d.IsBare() || d.Local() != "" {
		return fmt.Errorf("config: domain: %q is not a valid domain name", c.Domain)
	}
	if c.Data == "" {
		return errors.New("config: data: must not be empty")
	}
	if _, err := c.vhostDomains(); err != nil {
		return err
	}
	if err := c.validateVHostServices(); err != nil {
		return err
	}
	if _, err := c.slogLevel(); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("config: log_format: %q is not \"text\" or \"json\"", c.LogFormat)
	}
	if _, err := c.AdminJIDs(); err != nil {
		return err
	}
	if err := c.validateServices(); err != nil {
		return err
	}
	if c.Session.MaxPerUser < 0 {
		return fmt.Errorf("config: session.max_per_user: %d is negative (0 is no limit)", c.Session.MaxPerUser)
	}
	if d := c.Console.SessionTTL.Duration; d < time.Minute || d > 24*time.Hour {
		return fmt.Errorf("config: console.session_ttl: %v is outside 1m..24h", d)
	}
	if _, err := parseTokens(c.Console.Tokens); err != nil {
		return err
	}
	if err := c.validateWeb(); err != nil {
		return err
	}
	for key, addr := range map[string]string{"listen.c2s": c.Listen.C2S, "listen.c2s_tls": c.Listen.C2STLS,
		"console.address": c.Console.Address, "console.tls_address": c.Console.TLSAddress,
		"web.http": c.Web.HTTP, "web.https": c.Web.HTTPS} {
		if addr == "off" || addr == "" {
			continue
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("config: %s: %q is not host:port", key, addr)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("config: %s: %q: the port is not a number in 0..65535", key, addr)
		}
	}
	if err := c.validateComponents(); err != nil {
		return err
	}
	if err := c.validateBroadcast(); err != nil {
		return err
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return errors.New("config: tls.cert and tls.key: give both or neither")
	}
	switch c.Session.Conflict {
	case "", "replace", "refuse":
	default:
		return fmt.Errorf("config: session.conflict: %q is not \"replace\" or \"refuse\"", c.Session.Conflict)
	}
	if c.Roster.MaxItems < 0 || c.Offline.MaxPerUser < 0 || c.Offline.MaxBytesPerUser < 0 {
		return errors.New("config: roster.max_items, offline.max_per_user and offline.max_bytes_per_user must not be negative")
	}
	if c.Presence.MaxDirected < 0 {
		return errors.New("config: presence.max_directed must not be negative")
	}
	if r := c.Archive.Retention.Duration; r != 0 && r < time.Hour {
		return fmt.Errorf("config: archive.retention: %v is below 1h (0 keeps messages forever)", r)
	}
	if d := c.MUC.VoiceInterval.Duration; d < time.Second || d > 24*time.Hour {
		return fmt.Errorf("config: muc.voice_interval: %v is outside 1s..24h", d)
	}
	if c.MUC.MaxRegistrations < 1 {
		return errors.New("config: muc.max_registrations must be positive")
	}
	switch c.MUC.Create {
	case "local", "admins", "anyone":
	default:
		return fmt.Errorf("config: muc.create: %q is not \"local\", \"admins\" or \"anyone\"", c.MUC.Create)
	}
	if c.MUC.MaxRoomsPerUser < 0 || c.MUC.MaxOccupants < 1 || c.MUC.MaxHistory < 0 || c.MUC.MessageRate <= 0 || c.MUC.MessageBurst < 1 {
		return errors.New("config: muc: max_rooms_per_user and max_history must not be negative; max_occupants, message_rate and message_burst must be positive")
	}
	if c.MUC.ReleaseAfterJoins < 0 {
		return errors.New("config: muc: release_after_joins must be 0 (never) or more")
	}
	if c.MUC.BusyOutput < 1024 || c.MUC.BusyShare <= 0 || c.MUC.BusyShare > 1 || c.MUC.JoinWindow < 1024 || c.MUC.PresenceBacklog < 1024 {
		return errors.New("config: muc: busy_output, join_window and presence_backlog must be at least 1024 bytes, busy_share above 0 and at most 1")
	}
	if d := c.StreamManagement.ResumeTimeout.Duration; d < time.Second || d > 24*time.Hour {
		return fmt.Errorf("config: stream_management.resume_timeout: %v is outside 1s..24h", d)
	}
	if n := c.StreamManagement.MaxUnacked; n < 10 || n > 100000 {
		return fmt.Errorf("config: stream_management.max_unacked: %d is outside 10..100000", n)
	}
	if c.GCPercent < 10 || c.GCPercent > 1000 {
		return fmt.Errorf("config: gc_percent: %d is outside 10..1000", c.GCPercent)
	}
	if c.Loops < 0 || c.Loops > 256 {
		return fmt.Errorf("config: loops: %d is outside 0..256", c.Loops)
	}
	if err := c.validatePubsub(); err != nil {
		return err
	}
	if err := c.validateS2S(); err != nil {
		return err
	}
	l := c.sessionLimits()
	if err := l.Validate(); err != nil {
		return fmt.Errorf("config: limits.%w", err)
	}
	g := c.guardConfig()
	if err := g.Validate(); err != nil {
		return fmt.Errorf("config: limits.%w", err)
	}
	return nil
}

func (c *Config) validateS2S() error {
	s := &c.S2S
	if !s.Enabled {
		return nil
	}
	if _, _, err := net.SplitHostPort(s.Listen); err != nil && s.Listen != "off" {
		return fmt.Errorf("config: s2s.listen: %q is not host:port", s.Listen)
	}
	for d, a := range s.Hosts {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("config: s2s.hosts: %q = %q is not host:port", d, a)
		}
	}
	if s.IdleTimeout.Duration < time.Second || s.AuthTimeout.Duration < 100*time.Millisecond {
		return errors.New("config: s2s.idle_timeout must be at least 1s and s2s.auth_timeout at least 100ms")
	}
	if s.MaxQueue < 1 || s.MaxStanzaBytes < 4096 || s.MaxLinksPerDomain < 1 {
		return errors.New("config: s2s.max_queue and s2s.max_links_per_domain must be at least 1, s2s.max_stanza_bytes at least 4096")
	}
	if s.MaxDomainsPerLink < 1 {
		return errors.New("config: s2s.max_domains_per_link must be at least 1")
	}
	return nil
}

func (c *Config) slogLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("config: log_level: %q is not debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// sessionLimits is the limits table with defaults filled in.
func (c *Config) sessionLimits() session.Limits {
	l := session.Limits{
		MaxStanzaBytes: c.Limits.MaxStanzaBytes,
		MaxDepth:       c.Limits.MaxDepth,
		MaxAttrs:       c.Limits.MaxAttrs,
		MaxPendingOut:  c.Limits.MaxPendingOut,
		AuthAttempts:   c.Limits.AuthAttempts,
		PreAuthIdle:    c.Limits.PreAuthIdle.Duration,

		PreAuthStanzaBytes: c.Limits.PreAuthStanzaBytes,
	}
	l.EnsureDefaults()
	return l
}

// guardConfig is the limits on strangers with defaults filled in.
func (c *Config) guardConfig() session.GuardConfig {
	g := session.GuardConfig{
		MaxConnsPerIP:      c.Limits.MaxConnsPerIP,
		ConnRatePerIP:      c.Limits.ConnRatePerIP,
		ConnBurstPerIP:     c.Limits.ConnBurstPerIP,
		AuthFailures:       c.Limits.AuthFailuresPerIP,
		AuthBanTime:        c.Limits.AuthBanTime.Duration,
		RefusalLogInterval: c.Limits.RefusalLogInterval.Duration,
		MaxPreAuthBytes:    c.Limits.MaxPreAuthBytes,
		ExemptLoopback:     c.Limits.ExemptLoopback,
	}
	g.EnsureDefaults()
	return g
}

func (c *Config) validatePubsub() error {
	p := c.Pubsub
	switch p.Create {
	case "local", "admins", "anyone":
	default:
		return fmt.Errorf("config: pubsub.create: %q is not \"local\", \"admins\" or \"anyone\"", p.Create)
	}
	if p.Host != "off" {
		host := p.Host
		if !strings.Contains(host, ".") {
			host += "." + c.Domain
		}
		if d, err := jid.Parse(host); err != nil || d.Local() != "" || !d.IsBare() {
			return fmt.Errorf("config: pubsub.host: %q is not a domain", p.Host)
		}
	}
	if p.MaxItems < 1 || p.MaxItems > 100000 {
		return fmt.Errorf("config: pubsub.max_items: %d is outside 1..100000", p.MaxItems)
	}
	if p.MaxItemBytes < 1024 { // above limits.max_stanza_bytes it is the stanza limit that applies
		return fmt.Errorf("config: pubsub.max_item_bytes: %d is below 1024", p.MaxItemBytes)
	}
	if p.MaxNodes < 1 || p.MaxCaps < 1 {
		return errors.New("config: pubsub.max_nodes and pubsub.max_caps must be at least 1")
	}
	return nil
}

// NewLogHandler makes the slog handler log_level and log_format ask for.
func (c *Config) NewLogHandler(w io.Writer) slog.Handler {
	lvl, _ := c.slogLevel()
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// AdminJIDs parses admin.jids: bare JIDs (a user of this or another domain).
func (c *Config) AdminJIDs() ([]jid.JID, error) {
	out := make([]jid.JID, 0, len(c.Admin.JIDs))
	for _, s := range c.Admin.JIDs {
		j, err := jid.Parse(s)
		if err != nil || j.Local() == "" || !j.IsBare() {
			return nil, fmt.Errorf("config: admin.jids: %q is not a bare JID (user@domain)", s)
		}
		out = append(out, j)
	}
	return out, nil
}

// validateComponents checks the [component] section.
func (c *Config) validateComponents() error {
	if a := c.Component.Listen; a != "off" {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			return fmt.Errorf("config: component.listen: %q is not host:port", a)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("config: component.listen: %q: the port is not a number in 0..65535", a)
		}
	}
	if d := c.Component.HandshakeTimeout.Duration; d < time.Second || d > 10*time.Minute {
		return fmt.Errorf("config: component.handshake_timeout: %v is outside 1s..10m", d)
	}
	domain, _ := jid.Parse(c.Domain)
	for name, secret := range c.Component.Secrets {
		if _, err := component.Domain(name, domain); err != nil {
			return fmt.Errorf("config: component.secrets: %w", err)
		}
		if secret == "" {
			return fmt.Errorf("config: component.secrets: %q: the secret is empty", name)
		}
	}
	return nil
}

// componentConfig is the component service's configuration.
func (c *Config) componentConfig(domain jid.JID, log *slog.Logger) component.Config {
	l := c.sessionLimits()
	return component.Config{Domain: domain, Secrets: c.Component.Secrets, Logger: log, Limits: component.Limits{
		Scan:             xmlscan.Limits{MaxElementBytes: l.MaxStanzaBytes, MaxDepth: l.MaxDepth, MaxAttrs: l.MaxAttrs},
		MaxPendingOut:    l.MaxPendingOut,
		HandshakeTimeout: c.Component.HandshakeTimeout.Duration,
	}}
}

// validateBroadcast checks the [broadcast] section.
func (c *Config) validateBroadcast() error {
	b := &c.Broadcast
	switch broadcast.Senders(b.Senders) {
	case broadcast.Admins, broadcast.Members, broadcast.Anyone:
	default:
		return fmt.Errorf("config: broadcast.senders: %q is not \"admins\", \"members\" or \"all\"", b.Senders)
	}
	if b.MaxBytes < 1<<10 || b.MaxBytes > 1<<20 {
		return fmt.Errorf("config: broadcast.max_bytes: %d is outside 1024..1048576", b.MaxBytes)
	}
	if b.PerMinute < 1 || b.PerMinute > 6000 {
		return fmt.Errorf("config: broadcast.per_minute: %d is outside 1..6000", b.PerMinute)
	}
	if _, err := (&mod.Service{Host: b.Host}).Domain(jid.MustParse(c.Domain)); b.Host == "" || err != nil {
		return fmt.Errorf("config: broadcast.host: %q is not a domain name or label", b.Host)
	}
	return nil
}

// broadcastConfig is the broadcast service's configuration.
func (c *Config) broadcastConfig() broadcast.Config {
	admins, _ := c.AdminJIDs() // checked by Validate
	b := &c.Broadcast
	return broadcast.Config{Enabled: b.Enabled, Host: b.Host, Senders: broadcast.Senders(b.Senders),
		Admins: admins, MaxBytes: b.MaxBytes, PerMinute: b.PerMinute}
}

// validateServices checks [proxy65] and [upload].
func (c *Config) validateServices() error {
	p := &c.Proxy65
	if p.Enabled {
		if _, _, err := net.SplitHostPort(p.Listen); err != nil {
			return fmt.Errorf("config: proxy65.listen: %q is not host:port", p.Listen)
		}
		if p.Port < 0 || p.Port > 65535 {
			return fmt.Errorf("config: proxy65.port: %d is not a port", p.Port)
		}
	}
	if p.MaxBytes <= 0 || p.Rate < 0 || p.MaxBuffer < 4096 || p.Timeout.Duration < time.Second {
		return errors.New("config: proxy65: max_bytes must be positive, rate at least 0, max_buffer at least 4096, timeout at least 1s")
	}
	u := &c.Upload
	if u.Enabled {
		if _, _, err := net.SplitHostPort(u.Listen); err != nil {
			return fmt.Errorf("config: upload.listen: %q is not host:port", u.Listen)
		}
		if u.URL != "" && !strings.HasPrefix(u.URL, "https://") && !strings.HasPrefix(u.URL, "http://") {
			return fmt.Errorf("config: upload.url: %q is not an http(s) URL", u.URL)
		}
	}
	if u.MaxFileSize <= 0 || u.Quota < 0 || u.Expiry.Duration < 0 {
		return errors.New("config: upload: max_file_size must be positive, quota and expiry at least 0")
	}
	return nil
}

// validateWeb checks the [web] section.
func (c *Config) validateWeb() error {
	w := &c.Web
	for key, p := range map[string]string{"web.websocket_path": w.WebSocketPath, "web.bosh_path": w.BOSHPath} {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("config: %s: %q does not start with /", key, p)
		}
	}
	if w.WebSocketPath == w.BOSHPath {
		return errors.New("config: web.websocket_path and web.bosh_path are the same path")
	}
	switch {
	case w.MaxHeaderBytes < 1024 || w.MaxHeaderBytes > 1<<20:
		return fmt.Errorf("config: web.max_header_bytes: %d is outside 1024..1048576", w.MaxHeaderBytes)
	case w.MaxHeaders < 8 || w.MaxHeaders > 1000:
		return fmt.Errorf("config: web.max_headers: %d is outside 8..1000", w.MaxHeaders)
	case w.MaxBodyBytes < 1024 || w.MaxBodyBytes > 64<<20:
		return fmt.Errorf("config: web.max_body_bytes: %d is outside 1024..67108864", w.MaxBodyBytes)
	case w.MaxFrameBytes < 1024 || w.MaxFrameBytes > 64<<20:
		return fmt.Errorf("config: web.max_frame_bytes: %d is outside 1024..67108864", w.MaxFrameBytes)
	case w.IdleTimeout.Duration < time.Second:
		return fmt.Errorf("config: web.idle_timeout: %v is below 1s", w.IdleTimeout.Duration)
	case w.BOSHMaxWait.Duration < time.Second || w.BOSHMaxWait.Duration > 10*time.Minute:
		return fmt.Errorf("config: web.bosh_max_wait: %v is outside 1s..10m", w.BOSHMaxWait.Duration)
	case w.BOSHInactivity.Duration < time.Second:
		return fmt.Errorf("config: web.bosh_inactivity: %v is below 1s", w.BOSHInactivity.Duration)
	case w.BOSHMaxHold < 1 || w.BOSHMaxHold > 4:
		return fmt.Errorf("config: web.bosh_max_hold: %d is outside 1..4", w.BOSHMaxHold)
	}
	if w.Enabled && (w.HTTP == "" || w.HTTP == "off") && (w.HTTPS == "" || w.HTTPS == "off") {
		return errors.New("config: web: enabled with both web.http and web.https off")
	}
	return nil
}

// VHost is a [[vhost]] table: a further local domain (virtual host).
type VHost struct {
	Domain string `toml:"domain"` // required; not the primary domain nor another vhost's
	// Cert and Key are PEM files; both empty = a self-signed certificate
	// made on first start in the data folder (vhosts/<domain>/)
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
	// Services lists the services the vhost runs at label.vhost ("muc",
	// "pubsub", "broadcast", "proxy65", "upload"); absent = every one that
	// is on with a label host (vhostsvc.go).
	Services *[]string `toml:"services"`
}

// vhostDomains parses the [[vhost]] domains, checked: valid domain names,
// each served once, and a certificate with its key.
func (c *Config) vhostDomains() ([]jid.JID, error) {
	var out []jid.JID
	seen := map[string]bool{strings.ToLower(c.Domain): true}
	for i, v := range c.VHosts {
		d, err := jid.Parse(v.Domain)
		if err != nil || !d.IsBare() || d.Local() != "" || v.Domain == "" {
			return nil, fmt.Errorf("config: vhost[%d].domain: %q is not a valid domain name", i, v.Domain)
		}
		if seen[d.Domain()] {
			return nil, fmt.Errorf("config: vhost[%d].domain: %s is served twice", i, d.Domain())
		}
		seen[d.Domain()] = true
		if (v.Cert == "") != (v.Key == "") {
			return nil, fmt.Errorf("config: vhost[%d]: cert and key go together (both empty: self-signed)", i)
		}
		out = append(out, d)
	}
	return out, nil
}
