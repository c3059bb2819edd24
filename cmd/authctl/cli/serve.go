package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/httpapi"
)

// ServeOptions are `authctl serve`'s flags (SPEC §2).
type ServeOptions struct {
	IO     *IOStreams
	Getenv func(string) string

	Addr, DB         string
	Issuer, Audience string
	AccessTTL        time.Duration
	RefreshTTL       time.Duration
	ReuseGrace       time.Duration
	SigningAlg       string
	SigningKey       string // path
	TLSCert, TLSKey  string
	CORSOrigins      []string
	LogFormat        string
	Verbose          bool
}

// signingAlgs are the algorithms the server signs with; anything else (notably "none")
// is refused at the command line rather than deep inside key loading.
var signingAlgs = []string{"EdDSA", "ES256", "RS256", "HS256"}

// RunServe runs `authctl serve ARGS` in-process until ctx ends or SIGINT/SIGTERM arrives,
// then shuts down gracefully. Tests use it to start a real server on 127.0.0.1:0.
func RunServe(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	f := NewFactory(BuildInfo{}, &IOStreams{In: stdin, Out: stdout, ErrOut: stderr}, getenv)
	return Execute(ctx, f, append([]string{"serve"}, args...))
}

// NewCmdServe is `authctl serve`. runF replaces the run function in flag-parsing tests.
func NewCmdServe(f *Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	def := server.DefaultConfig()
	opts := &ServeOptions{IO: f.IO, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the token server",
		Long: `Run the token server: login, refresh with rotation and reuse detection, logout,
the weather forecast, JWKS and OAuth endpoints.

On first start with an empty store it creates the user admin with the password from
AUTHCTL_ADMIN_PASSWORD, or a random one printed once to stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Verbose = f.Verbose
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Addr, "addr", f.envOr("AUTHCTL_ADDR", "127.0.0.1:5000"), "listen address (env AUTHCTL_ADDR)")
	fl.StringVar(&opts.DB, "db", f.Getenv("AUTHCTL_DB"), "SQLite file or postgres:// URL (env AUTHCTL_DB; default $XDG_DATA_HOME/authctl/authctl.db)")
	fl.StringVar(&opts.Issuer, "issuer", def.Issuer, "iss written and enforced")
	fl.StringVar(&opts.Audience, "audience", def.Audience, "aud written and enforced")
	fl.DurationVar(&opts.AccessTTL, "access-ttl", def.AccessTTL, "access token lifetime")
	fl.DurationVar(&opts.RefreshTTL, "refresh-ttl", def.RefreshTTL, "absolute lifetime of a login session")
	fl.DurationVar(&opts.ReuseGrace, "reuse-grace", def.ReuseGrace, "window in which re-presenting the just-rotated refresh token gets its successor again")
	fl.StringVar(&opts.SigningAlg, "signing-alg", def.SigningAlg, "EdDSA, ES256, RS256 or HS256")
	fl.StringVar(&opts.SigningKey, "signing-key", f.Getenv("AUTHCTL_SIGNING_KEY"), "PEM private key file, or for HS256 a file of at least 32 random bytes (env AUTHCTL_SIGNING_KEY; default: generated and kept in the store)")
	fl.StringVar(&opts.TLSCert, "tls-cert", "", "certificate chain (PEM) to serve HTTPS")
	fl.StringVar(&opts.TLSKey, "tls-key", "", "private key (PEM) of --tls-cert")
	fl.StringArrayVar(&opts.CORSOrigins, "cors-origin", nil, "allowed browser origin, repeatable (e.g. http://localhost:4200)")
	fl.StringVar(&opts.LogFormat, "log-format", f.envOr("AUTHCTL_LOG_FORMAT", "text"), "log format on stderr: text or json (env AUTHCTL_LOG_FORMAT)")
	return cmd
}

// validate rejects what would otherwise fail later or, worse, run insecurely.
func (o *ServeOptions) validate() error {
	if !validAlg(o.SigningAlg) {
		return usageError("--signing-alg must be EdDSA, ES256, RS256 or HS256, not %q", o.SigningAlg)
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return usageError("--addr %q: want HOST:PORT", o.Addr)
	}
	switch {
	case o.AccessTTL <= 0:
		return usageError("--access-ttl must be positive, not %s", o.AccessTTL)
	case o.RefreshTTL <= 0:
		return usageError("--refresh-ttl must be positive, not %s", o.RefreshTTL)
	case o.ReuseGrace < 0:
		return usageError("--reuse-grace must not be negative, not %s", o.ReuseGrace)
	case o.Issuer == "" || o.Audience == "":
		return usageError("--issuer and --audience must not be empty")
	case (o.TLSCert == "") != (o.TLSKey == ""):
		return usageError("--tls-cert and --tls-key go together")
	}
	for _, origin := range o.CORSOrigins {
		if origin == "*" {
			return usageError("--cors-origin must name an origin, not %q: tokens are credentials", origin)
		}
	}
	switch o.LogFormat {
	case "text", "json":
	default:
		return usageError("--log-format must be text or json, not %q", o.LogFormat)
	}
	return nil
}

func validAlg(alg string) bool {
	for _, a := range signingAlgs {
		if a == alg {
			return true
		}
	}
	return false
}

func (o *ServeOptions) logger() *slog.Logger {
	ho := &slog.HandlerOptions{Level: slog.LevelInfo}
	if o.Verbose {
		ho.Level = slog.LevelDebug
	}
	if o.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(o.IO.ErrOut, ho))
	}
	return slog.New(slog.NewTextHandler(o.IO.ErrOut, ho))
}

func serveRun(ctx context.Context, opts *ServeOptions) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := opts.logger()

	cfg := server.DefaultConfig()
	cfg.Issuer, cfg.Audience = opts.Issuer, opts.Audience
	cfg.AccessTTL, cfg.RefreshTTL, cfg.ReuseGrace = opts.AccessTTL, opts.RefreshTTL, opts.ReuseGrace
	cfg.SigningAlg = opts.SigningAlg
	if opts.SigningKey != "" {
		key, err := os.ReadFile(opts.SigningKey)
		if err != nil {
			return fmt.Errorf("read signing key: %w", err)
		}
		cfg.SigningKey = key
	}

	st, err := openStore(ctx, opts.Getenv, opts.DB)
	if err != nil {
		return err
	}
	// Closed last, after the HTTP server and the service's loops have stopped using it.
	defer st.Close()

	hasher := server.NewPasswordHasher(server.DefaultArgon2, 0)
	if err := server.EnsureAdmin(ctx, st, hasher, opts.Getenv, opts.IO.ErrOut, time.Now()); err != nil {
		return fmt.Errorf("first start: %w", err)
	}
	svc, err := server.NewService(ctx, cfg, st, log)
	if err != nil {
		return fmt.Errorf("start service: %w", err)
	}

	// Listen before announcing, so the printed address is real even for port 0.
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	srv := &http.Server{
		Handler:           httpapi.New(svc, httpapi.Config{CORSOrigins: opts.CORSOrigins, Issuer: opts.Issuer}, log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	// The service's loops (revocation poll, key reload, GC) outlive ctx until the HTTP
	// server has drained, since in-flight requests still need them.
	svcCtx, stopSvc := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := svc.Run(svcCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("service loops stopped", "err", err)
		}
	}()
	defer func() {
		stopSvc()
		wg.Wait()
	}()

	scheme := "http"
	if opts.TLSCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(opts.IO.ErrOut, "authctl: listening on %s://%s\n", scheme, ln.Addr())

	errc := make(chan error, 1)
	go func() {
		if opts.TLSCert != "" {
			errc <- srv.ServeTLS(ln, opts.TLSCert, opts.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// A second Ctrl-C now kills the process at once instead of waiting for the drain.
	stop()
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
