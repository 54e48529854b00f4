package server

import (
	"runtime/metrics"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"ignis/session"
	"ignis/stat"
)

// The Prometheus figures are read at scrape time from the counters the
// layers already keep (atomics): nothing is added to the hot paths but those
// few adds.
var (
	descConns = prometheus.NewDesc("ignis_connections",
		"Client connections by transport and state (negotiating: not bound yet; bound: a resource is bound).",
		[]string{"transport", "state"}, nil)
	descLogins = prometheus.NewDesc("ignis_logins_total",
		"Client authentications by mechanism and result (failed: bad credentials).",
		[]string{"mechanism", "result"}, nil)
	descStanzas = prometheus.NewDesc("ignis_stanzas_total",
		"Stanzas from (in) and to (out) bound clients, by kind.",
		[]string{"direction", "kind"}, nil)
	descRoute = prometheus.NewDesc("ignis_route_duration_seconds",
		"Time the router takes with one client stanza (one stanza in 64 per stream is timed).", nil, nil)
	descCommit = prometheus.NewDesc("ignis_store_commit_duration_seconds",
		"Time of one synced store commit (a group of writes).", nil, nil)
	descStoreBytes = prometheus.NewDesc("ignis_store_disk_bytes",
		"Bytes the store takes on disk.", nil, nil)
	descOffline = prometheus.NewDesc("ignis_offline_messages",
		"Messages waiting in offline storage (accounts with offline activity since the start).", nil, nil)
	descOfflineBytes = prometheus.NewDesc("ignis_offline_bytes",
		"Bytes of the messages waiting in offline storage.", nil, nil)
	descOfflineUsers = prometheus.NewDesc("ignis_offline_queues",
		"Accounts with messages waiting in offline storage.", nil, nil)
	descMemPerSession = prometheus.NewDesc("ignis_memory_per_session_bytes",
		"Live heap divided by bound sessions (0 without sessions).", nil, nil)
	descSM = prometheus.NewDesc("ignis_stream_management_total",
		"XEP-0198 events: detached, resumed, expired.", []string{"event"}, nil)
	descCSI = prometheus.NewDesc("ignis_csi_stanzas_total",
		"XEP-0352 stanzas held back for inactive clients, and those a newer one replaced.", []string{"event"}, nil)
	descPreAuth = prometheus.NewDesc("ignis_preauth_buffered_bytes",
		"Input buffered by unauthenticated streams.", nil, nil)
)

// collector is the server's prometheus.Collector.
type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	f := s.Figures()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	st := &s.stream.Stats
	for i, tr := range session.Transports {
		gauge(descConns, float64(st.Conns[i][session.ConnNegotiating].Load()), tr, "negotiating")
		gauge(descConns, float64(st.Conns[i][session.ConnBound].Load()), tr, "bound")
	}
	for i, m := range session.LoginMechs {
		counter(descLogins, st.LoginOK[i].Load(), m, "ok")
		counter(descLogins, st.LoginFailed[i].Load(), m, "failed")
	}
	for i, k := range session.StanzaKinds {
		counter(descStanzas, st.StanzasIn[i].Load(), "in", k)
		counter(descStanzas, st.StanzasOut[i].Load(), "out", k)
	}
	ch <- histogram(descRoute, &st.RouteLatency)
	ch <- histogram(descCommit, s.db.CommitLatency())
	gauge(descStoreBytes, float64(f.StoreBytes))
	users, msgs, bytes := s.db.Offline().Totals()
	gauge(descOffline, float64(msgs))
	gauge(descOfflineBytes, float64(bytes))
	gauge(descOfflineUsers, float64(users))
	gauge(descMemPerSession, float64(f.MemPerSession))
	counter(descSM, st.SMDetached.Load(), "detached")
	counter(descSM, st.SMResumed.Load(), "resumed")
	counter(descSM, st.SMExpired.Load(), "expired")
	counter(descCSI, st.CSIHeld.Load(), "held")
	counter(descCSI, st.CSIReplaced.Load(), "replaced")
	gauge(descPreAuth, float64(s.stream.Guard.PreAuthBytes()))
}

// histogram converts a stat.Histogram for Prometheus.
func histogram(d *prometheus.Desc, h *stat.Histogram) prometheus.Metric {
	cum, n, sum := h.Snapshot()
	buckets := make(map[float64]uint64, len(cum))
	for i, b := range stat.Bounds {
		buckets[b.Seconds()] = cum[i]
	}
	return prometheus.MustNewConstHistogram(d, n, sum.Seconds(), buckets)
}

// Figures are the server's headline numbers (the console's live figures,
// `ignis stats`, the REST API's stats).
type Figures struct {
	Time          time.Time `json:"time"`
	Connections   int       `json:"connections"` // client connections, bound or not
	Sessions      int       `json:"sessions"`    // bound resources
	StanzasIn     int64     `json:"stanzas_in"`  // since the start
	StanzasOut    int64     `json:"stanzas_out"`
	Logins        int64     `json:"logins"`
	LoginFailures int64     `json:"login_failures"`
	HeapBytes     uint64    `json:"heap_bytes"` // live heap objects
	MemPerSession uint64    `json:"memory_per_session"`
	StoreBytes    uint64    `json:"store_bytes"`
	Uptime        string    `json:"uptime"`
}

// heapObjects is read with runtime/metrics, which does not stop the world.
const heapObjects = "/memory/classes/heap/objects:bytes"

// Figures reads the headline numbers now.
func (s *Server) Figures() Figures {
	f := Figures{Time: time.Now(), Sessions: s.router.Table().Count(), StoreBytes: s.db.DiskUsage()}
	if s.reactor != nil {
		f.Connections = s.reactor.Conns()
	}
	f.Connections = max(f.Connections, f.Sessions)
	st := &s.stream.Stats
	for i := range session.StanzaKinds {
		f.StanzasIn += st.StanzasIn[i].Load()
		f.StanzasOut += st.StanzasOut[i].Load()
	}
	for i := range session.LoginMechs {
		f.Logins += st.LoginOK[i].Load()
		f.LoginFailures += st.LoginFailed[i].Load()
	}
	sample := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 {
		f.HeapBytes = sample[0].Value.Uint64()
	}
	if f.Sessions > 0 {
		f.MemPerSession = f.HeapBytes / uint64(f.Sessions)
	}
	if t := s.started.Load(); t != 0 {
		f.Uptime = time.Since(time.Unix(0, t)).Truncate(time.Second).String()
	}
	return f
}

// Registry is a Prometheus registry with the server's figures and the Go
// runtime's and process's collectors.
func (s *Server) Registry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collector{s}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}
