package cli

// What `authctl serve` tells its operator (README "Logs", "Metrics"): the logger, the
// start-up line, the generated admin password, listen errors, and the metrics listener.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/term"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/metrics"
)

// liveSessionsEvery is how often the live-sessions gauge is counted in the store: a count
// walks an index, so it is sampled rather than kept per request.
const liveSessionsEvery = 15 * time.Second

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

// checkListenAddr refuses a listen address that cannot work (no port, a port out of range)
// while the flags are read, before serve opens the store or creates the admin user.
func checkListenAddr(flag, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usageError("%s %q: want HOST:PORT", flag, addr)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return usageError("%s %q: port must be a number from 0 to 65535", flag, addr)
	}
	return nil
}

// listen binds addr and reports a failure in one clean line: "listen on 127.0.0.1:5300:
// address already in use", not the net package's "listen tcp 127.0.0.1:5300: bind: …" after
// our own prefix, which said the address twice.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	cause := err
	var op *net.OpError
	if errors.As(err, &op) {
		cause = op.Err
	}
	var sys *os.SyscallError
	if errors.As(cause, &sys) {
		cause = sys.Err
	}
	return nil, fmt.Errorf("listen on %s: %w", addr, cause)
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

// adminPasswordFile is where a generated admin password goes when no terminal can show it:
// beside the SQLite file, or in the default data directory for PostgreSQL.
func adminPasswordFile(getenv func(string) string, db string) (string, error) {
	if db == "" || isPostgresURL(db) {
		def, err := defaultDB(getenv, runtime.GOOS)
		if err != nil {
			return "", err
		}
		if db == "" {
			return def + ".admin-password", nil
		}
		return filepath.Join(filepath.Dir(def), "admin-password"), nil
	}
	return db + ".admin-password", nil
}

// stderrIsTerminal reports whether w is a terminal, where a person (not a log collector)
// reads what is written.
func stderrIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ensureAdmin creates the user admin on an empty store. A password from
// AUTHCTL_ADMIN_PASSWORD is only acknowledged. A generated one is shown once on the terminal
// when stderr is one and the log is text; otherwise — a log collector, a JSON stream — it is
// written to a 0600 file whose path is logged, and never into the log itself. The file is
// written before the user is created, so a failure to write it leaves no admin whose
// password nobody knows.
func ensureAdmin(ctx context.Context, opts *ServeOptions, st server.Store, log *slog.Logger) error {
	n, err := st.CountUsers(ctx)
	if err != nil {
		return fmt.Errorf("first start: count users: %w", err)
	}
	if n > 0 {
		return nil
	}
	password := opts.Getenv("AUTHCTL_ADMIN_PASSWORD")
	generated := password == ""
	toTerminal := opts.LogFormat == "text" && stderrIsTerminal(opts.IO.ErrOut)
	var file string
	if generated {
		password = randomText(18)
		if !toTerminal {
			if file, err = adminPasswordFile(opts.Getenv, opts.DB); err != nil {
				return fmt.Errorf("first start: %w", err)
			}
			if err := replacePrivateFile(file, password+"\n"); err != nil {
				return fmt.Errorf("first start: write the generated admin password: %w", err)
			}
		}
	}
	// EnsureAdmin says on its writer whether it created the user; what it says is not passed
	// on, since serve speaks in log lines.
	var said bytes.Buffer
	hasher := server.NewPasswordHasher(server.DefaultArgon2, 0)
	err = server.EnsureAdmin(ctx, st, hasher, password, &said, time.Now())
	created := err == nil && said.Len() > 0
	if !created && file != "" {
		os.Remove(file) // nobody has that password: no admin was made, or another process made it
	}
	switch {
	case err != nil:
		return fmt.Errorf("first start: %w", err)
	case !created: // another process created the first user meanwhile: nothing to say
	case !generated:
		log.Info("created user admin with the password from AUTHCTL_ADMIN_PASSWORD", "event", "admin_created")
	case toTerminal:
		fmt.Fprintf(opts.IO.ErrOut, "authctl: created user admin with password %s (shown once; change it with `authctl user passwd admin`)\n", password)
	default:
		log.Warn("created user admin with a generated password, written to a file only this user can read; change it with `authctl user passwd admin`, then delete the file",
			"event", "admin_created", "password_file", file)
	}
	return nil
}

// replacePrivateFile replaces path with content, readable only by this user; the file never
// exists with other permissions or half written.
func replacePrivateFile(path, content string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".admin-password-*") // 0600
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // a no-op after the rename
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
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

// instrument wires m into the server: the store wrapped so every call is timed, the
// Service's observer, and the live-sessions sampler (when the store can count them), which
// runs until ctx ends.
func instrument(ctx context.Context, m *metrics.Metrics, raw server.Store) server.Store {
	if c, ok := raw.(server.LiveSessionCounter); ok {
		go m.SampleLiveSessions(ctx, c, liveSessionsEvery, time.Now)
	}
	return m.Store(raw)
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
