// Package metrics is the Prometheus adapter of the token server: it counts what the Service
// reports through server.Observer, what the HTTP layer reports per request, and every store
// call (Store wraps a server.Store), and serves it all with the Go runtime and process
// collectors on a handler of its own, meant for a separate listener (--metrics-addr).
//
// The domain and the HTTP adapter know nothing of Prometheus: they talk to the small
// interfaces server.Observer and httpapi.RequestObserver, which Metrics implements. Every
// label takes its values from a fixed set (route patterns, status codes, outcome names,
// store method names), so the number of series is bounded whatever clients send.
// README "Metrics" lists the series and sample queries.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authctl/authctl/server"
)

// Metrics holds authctl's collectors in a registry of its own (not the global default one,
// so that two servers in one test process do not collide).
type Metrics struct {
	reg *prometheus.Registry

	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	logins       *prometheus.CounterVec
	refreshes    *prometheus.CounterVec
	revocations  *prometheus.CounterVec
	cacheHit     prometheus.Counter
	cacheMiss    prometheus.Counter
	storeLatency *prometheus.HistogramVec
	storeErrors  *prometheus.CounterVec
	liveSessions prometheus.Gauge
}

// Request latencies on this server range from tens of microseconds (a cached bearer check)
// to tens of milliseconds (argon2id at login); the default buckets start at 5 ms and would
// put every protected request in the first one.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// New returns Metrics with every authctl series registered, together with the Go runtime and
// process collectors and authctl_build_info{version} = 1.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	// One series a line: name, help, labels.
	m.requests = counter("authctl_http_requests_total", "HTTP requests answered, by route pattern (method and path as routed; \"none\" when no route was reached) and status code.", "route", "code")
	m.latency = histogram("authctl_http_request_duration_seconds", "Time from the request's arrival at the handler chain to the end of its answer, by route pattern and status code.", "route", "code")
	m.logins = counter("authctl_logins_total", "Login attempts by outcome: ok, bad_credentials, limited (rate limit or overload) or error.", "outcome")
	m.refreshes = counter("authctl_refreshes_total", "Refresh tokens presented, by outcome: rotated, replayed (within --reuse-grace), reuse_detected (family revoked), invalid or error.", "outcome")
	m.revocations = counter("authctl_revocations_total", "Sessions revoked by this process, by reason.", "reason")
	cache := counter("authctl_token_cache_lookups_total", "Lookups of bearer access tokens in the verified-token cache, by result (hit or miss: a miss costs a signature check).", "result")
	m.cacheHit, m.cacheMiss = cache.WithLabelValues("hit"), cache.WithLabelValues("miss")
	m.storeLatency = histogram("authctl_store_call_duration_seconds", "Duration of store (database) calls, by store method.", "op")
	m.storeErrors = counter("authctl_store_errors_total", "Store calls that failed, by store method; answers such as \"not found\" or \"reuse detected\" are not failures.", "op")
	m.liveSessions = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "authctl_live_sessions",
		Help: "Sessions neither revoked nor expired, as last counted in the store (sampled, shared by all replicas of one database).",
	})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "authctl_build_info",
		Help:        "Always 1; the version label says which build runs.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)

	// Outcomes start at zero, so that rate() and increase() see a series before its first
	// event (a counter born at 1 hides that first event from them).
	for _, o := range []string{server.LoginOK, server.LoginBadCredentials, server.LoginLimited, server.LoginError} {
		m.logins.WithLabelValues(o)
	}
	for _, o := range []string{server.RefreshRotated, server.RefreshReplayed, server.RefreshReuseDetected, server.RefreshInvalid, server.RefreshError} {
		m.refreshes.WithLabelValues(o)
	}
	for _, r := range []string{server.RevokeLogout, server.RevokeReuse} {
		m.revocations.WithLabelValues(r)
	}

	m.reg.MustRegister(m.requests, m.latency, m.logins, m.refreshes, m.revocations, cache,
		m.storeLatency, m.storeErrors, m.liveSessions, build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// counter is a counter vector labelled by labels.
func counter(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// histogram is a histogram vector of durations in seconds, in latencyBuckets, labelled by
// labels.
func histogram(name, help string, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBuckets}, labels)
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Login implements server.Observer.
func (m *Metrics) Login(outcome string) { m.logins.WithLabelValues(outcome).Inc() }

// Refresh implements server.Observer.
func (m *Metrics) Refresh(outcome string) { m.refreshes.WithLabelValues(outcome).Inc() }

// Revoked implements server.Observer.
func (m *Metrics) Revoked(reason string) { m.revocations.WithLabelValues(reason).Inc() }

// TokenCache implements server.Observer.
func (m *Metrics) TokenCache(hit bool) {
	if hit {
		m.cacheHit.Inc()
	} else {
		m.cacheMiss.Inc()
	}
}

// ObserveRequest implements httpapi.RequestObserver. route is the ServeMux pattern that
// handled the request, or "" when none did (CORS preflight, 413 before routing).
func (m *Metrics) ObserveRequest(route string, status int, d time.Duration) {
	if route == "" {
		route = "none"
	}
	code := statusText(status)
	m.requests.WithLabelValues(route, code).Inc()
	m.latency.WithLabelValues(route, code).Observe(d.Seconds())
}

// statusText is strconv.Itoa for status codes without an allocation for the common ones.
func statusText(status int) string {
	switch status {
	case 200:
		return "200"
	case 204:
		return "204"
	case 400:
		return "400"
	case 401:
		return "401"
	case 404:
		return "404"
	case 429:
		return "429"
	case 503:
		return "503"
	}
	return strconv.Itoa(status)
}

// SampleLiveSessions sets authctl_live_sessions from c every interval (and at once) until
// ctx ends. A failed count keeps the last value; the failure shows in the store error series.
func (m *Metrics) SampleLiveSessions(ctx context.Context, c server.LiveSessionCounter, every time.Duration, now func() time.Time) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := timed(m, "CountLiveSessions", func() (int64, error) { return c.CountLiveSessions(ctx, now()) })
		if err == nil {
			m.liveSessions.Set(float64(n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
