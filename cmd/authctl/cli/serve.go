package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/httpapi"
)

// ServeOptions are `authctl serve`'s flags.
type ServeOptions struct {
	Addr, DB         string
	Issuer, Audience string
	AccessTTL        time.Duration
	RefreshTTL       time.Duration
	ReuseGrace       time.Duration
	SigningAlg       string
	SigningKey       string // path
	TLSCert, TLSKey  string
	CORSOrigins      []string
}

// NewCmdServe is `authctl serve`. runF replaces the run function in flag-parsing tests.
func NewCmdServe(f *Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	def := server.DefaultConfig()
	opts := &ServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the token server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !server.ValidAlg(opts.SigningAlg) {
				return usageError("--signing-alg must be EdDSA, ES256, RS256 or HS256, not %q", opts.SigningAlg)
			}
			if opts.AccessTTL <= 0 || opts.RefreshTTL <= 0 || opts.ReuseGrace < 0 {
				return usageError("--access-ttl and --refresh-ttl must be positive, --reuse-grace not negative")
			}
			if (opts.TLSCert == "") != (opts.TLSKey == "") {
				return usageError("--tls-cert and --tls-key go together")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return serveRun(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Addr, "addr", f.envOr("AUTHCTL_ADDR", "127.0.0.1:5000"), "listen address (env AUTHCTL_ADDR)")
	fl.StringVar(&opts.DB, "db", f.Getenv("AUTHCTL_DB"), "SQLite file or postgres:// URL (env AUTHCTL_DB; default $XDG_DATA_HOME/authctl/authctl.db)")
	fl.StringVar(&opts.Issuer, "issuer", def.Issuer, "iss written and enforced")
	fl.StringVar(&opts.Audience, "audience", def.Audience, "aud written and enforced")
	fl.DurationVar(&opts.AccessTTL, "access-ttl", def.AccessTTL, "access token lifetime")
	fl.DurationVar(&opts.RefreshTTL, "refresh-ttl", def.RefreshTTL, "absolute lifetime of a login session")
	fl.DurationVar(&opts.ReuseGrace, "reuse-grace", def.ReuseGrace, "window in which the previous refresh token replays its successor")
	fl.StringVar(&opts.SigningAlg, "signing-alg", def.SigningAlg, "EdDSA, ES256, RS256 or HS256")
	fl.StringVar(&opts.SigningKey, "signing-key", f.Getenv("AUTHCTL_SIGNING_KEY"), "PEM private key file, or for HS256 a file of >= 32 random bytes (env AUTHCTL_SIGNING_KEY; default: generated and kept in the store)")
	fl.StringVar(&opts.TLSCert, "tls-cert", "", "TLS certificate (PEM) to serve HTTPS")
	fl.StringVar(&opts.TLSKey, "tls-key", "", "TLS private key (PEM)")
	fl.StringArrayVar(&opts.CORSOrigins, "cors-origin", nil, "allowed browser origin (repeatable), e.g. http://localhost:4200")
	return cmd
}

func serveRun(ctx context.Context, f *Factory, opts *ServeOptions) error {
	log := slog.New(slog.NewTextHandler(f.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
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

	st, err := openStore(ctx, f, opts.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, err := server.NewService(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	if err := server.EnsureAdmin(ctx, st, svc.Hasher(), f.Getenv, f.IO.ErrOut, time.Now()); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
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
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go svc.Run(runCtx)

	scheme := "http"
	if opts.TLSCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(f.IO.ErrOut, "authctl: listening on %s://%s\n", scheme, ln.Addr())
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
	log.Info("shutting down")
	shutdownCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
