package cli

// What `authctl serve` tells its operator in its log (README "Logs"): the logger and the
// start-up line.

import (
	"io"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"time"

	"github.com/authctl/authctl/server"
)

// newServeLogger writes every line of serve in format ("text" or "json") to w. Durations
// become float milliseconds under the attribute's name plus "_ms" (duration_ms=0.042): JSON
// would otherwise carry integer nanoseconds, and one field name in both formats lets the same
// query read either.
func newServeLogger(w io.Writer, format string, verbose bool) *slog.Logger {
	ho := &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: durationsInMS}
	if verbose {
		ho.Level = slog.LevelDebug
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

func durationsInMS(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.Float64(a.Key+"_ms", float64(a.Value.Duration())/float64(time.Millisecond))
	}
	return a
}

// storeDescription names the store for the start-up line: its kind and where it is, with no
// password (a postgres:// URL may carry one in its user info or as a password parameter).
func storeDescription(getenv func(string) string, db string) (kind, where string) {
	if isPostgresURL(db) {
		return "postgres", redactPostgresURL(db)
	}
	if db == "" {
		db, _ = defaultDB(getenv, runtime.GOOS)
	}
	return "sqlite", db
}

func redactPostgresURL(db string) string {
	u, err := url.Parse(db)
	if err != nil {
		return "(unparsable URL)" // it may hold a password in a form we cannot cut out
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	if q := u.Query(); q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// startupAttrs are the facts of the start-up line an operator checks first.
func startupAttrs(opts *ServeOptions, svc *server.Service, addr net.Addr, metricsAddr net.Addr) []any {
	kind, where := storeDescription(opts.Getenv, opts.DB)
	version := opts.Build.Version
	if version == "" {
		version = "dev"
	}
	attrs := []any{"version", version, "store", kind, "db", where, "alg", svc.Config().SigningAlg,
		"kid", svc.SigningKeyID(), "issuer", svc.Config().Issuer, "addr", addr.String()}
	if metricsAddr != nil {
		attrs = append(attrs, "metrics_addr", metricsAddr.String())
	}
	return attrs
}
