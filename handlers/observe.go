package handlers

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// metrics are the server's Prometheus metrics, on a registry of its own (not the global
// one), served only by MetricsHandler — on a separate listen address, never on the public app.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// ReplicaStats reports the syncs of embedded replicas, one report per backend: the tenant
// registry (sqld, turso; nothing for local files) and, passed as Deps.Replicas, the catalog's
// replica (tenantdb.SyncStats).
type ReplicaStats interface {
	ReplicaSyncStats() []tenantdb.SyncReport
}

// replicaCollector exports the ReplicaStats sources' reports, labelled by backend, as
// tenantdesk_replica_frames_pulled_total, tenantdesk_replica_sync_errors_total,
// tenantdesk_replica_open and tenantdesk_replica_seconds_since_last_sync.
type replicaCollector struct {
	sources                   []ReplicaStats
	frames, errors, open, lag *prometheus.Desc
}

func newReplicaCollector(sources []ReplicaStats) *replicaCollector {
	label := []string{"backend"}
	return &replicaCollector{sources: sources,
		frames: prometheus.NewDesc("tenantdesk_replica_frames_pulled_total",
			"WAL frames embedded replicas pulled from their primary since start.", label, nil),
		errors: prometheus.NewDesc("tenantdesk_replica_sync_errors_total",
			"Embedded replica syncs that failed since start.", label, nil),
		open: prometheus.NewDesc("tenantdesk_replica_open",
			"Embedded replicas open now.", label, nil),
		lag: prometheus.NewDesc("tenantdesk_replica_seconds_since_last_sync",
			"The longest time an open replica has gone without a successful sync (0 with none open).", label, nil),
	}
}

func (c *replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.frames
	ch <- c.errors
	ch <- c.open
	ch <- c.lag
}

func (c *replicaCollector) Collect(ch chan<- prometheus.Metric) {
	for _, src := range c.sources {
		for _, r := range src.ReplicaSyncStats() {
			ch <- prometheus.MustNewConstMetric(c.frames, prometheus.CounterValue, float64(r.FramesPulled), r.Backend)
			ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(r.Errors), r.Backend)
			ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(r.OpenReplicas), r.Backend)
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, r.SinceLastSync.Seconds(), r.Backend)
		}
	}
}

func newMetrics(tenants *tenantdb.Registry, replicas ReplicaStats) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantdesk_http_requests_total",
		Help: "HTTP requests by method, route pattern (never the raw path) and status.",
	}, []string{"method", "route", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tenantdesk_http_request_duration_seconds",
		Help:    "HTTP request latency by method and route pattern.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route"})
	m.reg.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if tenants != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "tenantdesk_tenant_databases_open",
				Help: "Tenant databases open now (bounded by MAX_OPEN_TENANTS).",
			}, func() float64 { open, _, _ := tenants.Stats(); return float64(open) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "tenantdesk_tenant_database_opens_total",
				Help: "Tenant databases opened since start.",
			}, func() float64 { _, opens, _ := tenants.Stats(); return float64(opens) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "tenantdesk_tenant_database_evictions_total",
				Help: "Tenant databases closed to stay within MAX_OPEN_TENANTS since start.",
			}, func() float64 { _, _, ev := tenants.Stats(); return float64(ev) }),
		)
	}
	var sources []ReplicaStats
	if tenants != nil {
		sources = append(sources, tenants)
	}
	if replicas != nil {
		sources = append(sources, replicas)
	}
	m.reg.MustRegister(newReplicaCollector(sources))
	return m
}

// MetricsHandler serves the Prometheus metrics. main serves it on METRICS_ADDR, a listen
// address of its own, so the public port never exposes it.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)})
}

// observe counts and times every request by route pattern and writes one structured log line
// per request with its request id and tenant. The path is redacted (customer tokens are
// credentials); bodies, forms, cookies and query strings are never logged.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		// Only a panic recovered by the outer middleware gets here (handleError ran
		// inside); Fiber's ErrorHandler will answer it.
		status = fiber.StatusInternalServerError
		if fe, ok := err.(*fiber.Error); ok {
			status = fe.Code
		}
	}
	route := s.routeLabel(c)
	elapsed := time.Since(start)
	method := strings.Clone(c.Method())
	s.metrics.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	s.metrics.duration.WithLabelValues(method, route).Observe(elapsed.Seconds())

	level := slog.LevelInfo
	if routeKind(c).poll || route == "/healthz" || route == "/readyz" || strings.HasPrefix(route, "/assets") {
		level = slog.LevelDebug // every 2 s per open conversation: keep them out of the info log
	}
	if !s.log.Enabled(c.UserContext(), level) {
		return err
	}
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("route", route),
		slog.String("path", redactPath(c.Path())),
		slog.Int("status", status),
		slog.Duration("duration", elapsed),
		slog.String("request_id", requestID(c)),
	}
	if org := currentOrg(c); org != nil {
		attrs = append(attrs, slog.String("tenant", org.Username))
	}
	s.log.LogAttrs(c.UserContext(), level, "request", attrs...)
	return err
}

// routeLabel is the route pattern that answered, or "unmatched" when no route did (a 404
// outside every route, where Fiber reports a middleware's path or the raw path): the raw path
// would give every id and token a time series of its own.
func (s *Server) routeLabel(c *fiber.Ctx) string {
	r := c.Route()
	// Middleware mounted on "/" reports GET "/" like the home page route does.
	if r == nil || !s.routeSet()[r.Method+" "+r.Path] || (r.Path == "/" && c.Path() != "/") {
		return "unmatched"
	}
	return strings.Clone(r.Path)
}

// routeSet is every registered "METHOD pattern" (middleware excluded), built on first use,
// after routes() ran.
func (s *Server) routeSet() map[string]bool {
	s.routesOnce.Do(func() {
		s.routeKeys = map[string]bool{}
		for _, r := range s.app.GetRoutes(true) {
			s.routeKeys[r.Method+" "+r.Path] = true
		}
	})
	return s.routeKeys
}

// redactedToken replaces a customer token in logged paths.
const redactedToken = "[token]"

// redactPath removes customer tokens from a request path before it is logged: the segment
// after /customer/{org}/t/ (matched case-insensitively, as Fiber routes), and any segment
// shaped like a token wherever it is.
func redactPath(path string) string {
	segs := strings.Split(path, "/")
	changed := false
	for i, seg := range segs {
		tokenSlot := i == 4 && strings.EqualFold(segs[1], "customer") && strings.EqualFold(segs[3], "t")
		if seg != "" && (tokenSlot || validToken(seg)) {
			segs[i] = redactedToken
			changed = true
		}
	}
	if !changed {
		return path
	}
	return strings.Join(segs, "/")
}
