package cli

// The metrics of `authctl serve` (README "Metrics"): the store instrumented, the
// live-sessions sampler, and the --metrics-addr listener.

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/metrics"
)

// liveSessionsEvery is how often the live-sessions gauge is counted in the store: a count
// walks an index, so it is sampled rather than kept per request.
const liveSessionsEvery = 15 * time.Second

// instrument wires m into the server: the store wrapped so every call is timed, the
// Service's observer, and the live-sessions sampler (when the store can count them), which
// runs until ctx ends.
func instrument(ctx context.Context, m *metrics.Metrics, raw server.Store) server.Store {
	if c, ok := raw.(server.LiveSessionCounter); ok {
		go m.SampleLiveSessions(ctx, c, liveSessionsEvery, time.Now)
	}
	return m.Store(raw)
}

// startMetrics serves m on ln (--metrics-addr) until ctx ends. Only /metrics is there: the
// listener is meant for a scraper on a private network, not for the API's clients. Its
// requests are logged at DEBUG, like the API's probes.
func startMetrics(ctx context.Context, ln net.Listener, m *metrics.Metrics, log *slog.Logger) (stop func()) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			mux.ServeHTTP(w, r)
			log.LogAttrs(r.Context(), slog.LevelDebug, "metrics request", slog.String("path", r.URL.Path),
				slog.Duration("duration", time.Since(start)), slog.String("addr", r.RemoteAddr))
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if srv.Shutdown(shutdownCtx) != nil {
			srv.Close()
		}
		<-done
	}
}
