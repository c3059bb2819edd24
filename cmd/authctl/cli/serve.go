package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/jose"
	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/httpapi"
	"github.com/authctl/authctl/server/metrics"
)

// ServeOptions are `authctl serve`'s flags (README "Server").
type ServeOptions struct {
	OutputOptions
	Getenv func(string) string
	Build  BuildInfo // for the start-up line

	Addr, DB         string
	Issuer, Audience string
	AccessTTL        time.Duration
	RefreshTTL       time.Duration
	ReuseGrace       time.Duration
	SigningAlg       string
	SigningKey       string // path
	TLSCert, TLSKey  string
	CORSOrigins      []string
	Web              bool
	LogFormat        string
	MetricsAddr      string // "": no metrics listener
	Verbose          bool

	// The HTTP edge (publicurl.go, httpserver.go).
	PublicURL         string // "": derived from --addr and TLS
	AllowNonURLIssuer bool
	TrustedProxies    []string // CIDR prefixes or addresses, as given
	trusted           []netip.Prefix
	MaxConns          int // 0: automatic (autoMaxConns)
	ShutdownTimeout   time.Duration
}

// RunServe runs `authctl serve ARGS` in-process until ctx ends or SIGINT/SIGTERM arrives,
// then shuts down gracefully. Tests use it to start a real server on 127.0.0.1:0.
func RunServe(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	f := NewFactory(BuildInfo{}, &IOStreams{In: stdin, Out: stdout, ErrOut: stderr}, getenv)
	return Execute(ctx, f, append([]string{"serve"}, args...))
}

func (o *ServeOptions) fill(f *Factory, cmd *cobra.Command, _ []string) error {
	o.Getenv, o.Build = f.Getenv, f.Build
	o.Verbose, o.DB = globalsOf(cmd).Verbose, dbFlag(cmd)
	if v := f.Getenv("AUTHCTL_WEB"); v != "" && !cmd.Flags().Changed("web") {
		if err := cmd.Flags().Set("web", v); err != nil {
			return usageError("AUTHCTL_WEB=%q: want true or false", v)
		}
	}
	return o.validate()
}

// NewCmdServe is `authctl serve`. runF replaces the run function in flag-parsing tests.
func NewCmdServe(f *Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	def := server.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the token server",
		Long: `Run the token server: login, refresh with rotation and reuse detection, logout,
the weather forecast, JWKS and OAuth endpoints.

On first start with an empty store it creates the user admin with the password from
AUTHCTL_ADMIN_PASSWORD, or a random one printed once to stderr.`,
		Args: cobra.NoArgs,
	}
	return withConfigSources(f, newCmd(f, cmd, runF, serveRun, func(cmd *cobra.Command, o *ServeOptions) {
		addDBFlag(cmd, f)
		fl := cmd.Flags()
		fl.StringVar(&o.Addr, "addr", f.envOr("AUTHCTL_ADDR", "127.0.0.1:5000"), "listen address (env AUTHCTL_ADDR)")
		fl.StringVar(&o.Issuer, "issuer", "", "iss written and enforced, a URL (default: the public URL)")
		fl.StringVar(&o.Audience, "audience", def.Audience, "aud written and enforced")
		fl.DurationVar(&o.AccessTTL, "access-ttl", def.AccessTTL, "access token lifetime")
		fl.DurationVar(&o.RefreshTTL, "refresh-ttl", def.RefreshTTL, "absolute lifetime of a login session")
		fl.DurationVar(&o.ReuseGrace, "reuse-grace", def.ReuseGrace, "window in which re-presenting the just-rotated refresh token gets its successor again")
		fl.StringVar(&o.SigningAlg, "signing-alg", def.SigningAlg, algChoice())
		fl.StringVar(&o.SigningKey, "signing-key", f.Getenv("AUTHCTL_SIGNING_KEY"), "PEM private key file, or for HS256 a file of at least 32 random bytes (env AUTHCTL_SIGNING_KEY; default: generated and kept in the store)")
		fl.StringVar(&o.TLSCert, "tls-cert", "", "certificate chain (PEM) to serve HTTPS")
		fl.StringVar(&o.TLSKey, "tls-key", "", "private key (PEM) of --tls-cert")
		fl.StringArrayVar(&o.CORSOrigins, "cors-origin", nil, "allowed browser origin, repeatable (e.g. http://localhost:4200)")
		fl.BoolVar(&o.Web, "web", true, "serve the built-in browser client at / (env AUTHCTL_WEB)")
		fl.StringVar(&o.LogFormat, "log-format", f.envOr("AUTHCTL_LOG_FORMAT", "text"), "log format on stderr: text or json (env AUTHCTL_LOG_FORMAT)")
		fl.StringVar(&o.PublicURL, "public-url", "", "the URL clients reach the server at, base of the metadata's URLs (default: from --addr and TLS, e.g. http://127.0.0.1:5000)")
		fl.BoolVar(&o.AllowNonURLIssuer, "allow-non-url-issuer", false, "accept an --issuer that is not a URL, such as the old default authctl (README \"Upgrading\")")
		fl.StringArrayVar(&o.TrustedProxies, "trusted-proxy", nil, "CIDR or address of a reverse proxy whose X-Forwarded-For/Forwarded name the client, repeatable")
		fl.IntVar(&o.MaxConns, "max-conns", 0, fmt.Sprintf("connections served at once; more wait to be accepted (default %d, less when the open-file limit is low)", defaultMaxConns))
		fl.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "on SIGTERM/SIGINT, how long requests in flight may take to finish")
		fl.StringVar(&o.MetricsAddr, "metrics-addr", f.Getenv("AUTHCTL_METRICS_ADDR"), "serve Prometheus /metrics on this separate HOST:PORT (env AUTHCTL_METRICS_ADDR; default: off)")
	}))
}

// validate rejects what would otherwise fail later or, worse, run insecurely.
func (o *ServeOptions) validate() error {
	if err := checkSigningAlg(o.SigningAlg); err != nil {
		return err
	}
	if err := checkListenAddr("--addr", o.Addr); err != nil {
		return err
	}
	if o.MetricsAddr != "" {
		if err := checkListenAddr("--metrics-addr", o.MetricsAddr); err != nil {
			return err
		}
	}
	switch {
	case o.AccessTTL <= 0:
		return usageError("--access-ttl must be positive, not %s", o.AccessTTL)
	case o.RefreshTTL <= 0:
		return usageError("--refresh-ttl must be positive, not %s", o.RefreshTTL)
	case o.ReuseGrace < 0:
		return usageError("--reuse-grace must not be negative, not %s", o.ReuseGrace)
	case o.Audience == "":
		return usageError("--audience must not be empty")
	case o.MaxConns < 0:
		return usageError("--max-conns must not be negative, not %d", o.MaxConns)
	case o.ShutdownTimeout <= 0:
		return usageError("--shutdown-timeout must be positive, not %s", o.ShutdownTimeout)
	case (o.TLSCert == "") != (o.TLSKey == ""):
		return usageError("--tls-cert and --tls-key go together")
	}
	if err := o.checkIssuerFlags(); err != nil {
		return err
	}
	o.trusted = o.trusted[:0]
	for _, v := range o.TrustedProxies {
		for _, item := range strings.Split(v, ",") {
			p, err := httpapi.ParseTrustedProxy(item)
			if err != nil {
				return usageError("--trusted-proxy %v", err)
			}
			o.trusted = append(o.trusted, p)
		}
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

// algChoice is jose.Algorithms as a sentence, for help and errors: "EdDSA, ES256, RS256
// or HS256".
func algChoice() string {
	a := jose.Algorithms
	return strings.Join(a[:len(a)-1], ", ") + " or " + a[len(a)-1]
}

// checkSigningAlg refuses, at the command line rather than deep inside key loading, any
// algorithm the server does not sign with (notably "none").
func checkSigningAlg(alg string) error {
	if !jose.ValidAlg(alg) {
		return usageError("--signing-alg must be %s, not %q", algChoice(), alg)
	}
	return nil
}

func (o *ServeOptions) logger() *slog.Logger {
	return newServeLogger(o.IO.ErrOut, o.LogFormat, o.Verbose)
}

func serveRun(ctx context.Context, opts *ServeOptions) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := opts.logger()

	cfg := server.DefaultConfig()
	cfg.Audience = opts.Audience
	cfg.AccessTTL, cfg.RefreshTTL, cfg.ReuseGrace = opts.AccessTTL, opts.RefreshTTL, opts.ReuseGrace
	cfg.SigningAlg = opts.SigningAlg
	if opts.SigningKey != "" {
		key, err := os.ReadFile(opts.SigningKey)
		if err != nil {
			return fmt.Errorf("read signing key: %w", err)
		}
		cfg.SigningKey = key
	}

	// Bind before any side effect (creating the database, the admin user): a bad or busy
	// address then leaves nothing behind. Port 0 is resolved here, so the start-up line
	// names the real port.
	ln, err := listen(opts.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	urls := opts.resolveURLs(ln.Addr())
	cfg.Issuer = urls.Issuer
	if urls.Wildcard {
		log.Warn("--addr listens on every interface but --public-url is not set: the issuer and the metadata name the loopback URL, which other machines cannot use; set --public-url",
			"public_url", urls.PublicURL)
	}
	if !isServerURL(urls.Issuer) && !urls.Explicit {
		log.Warn("the issuer is not a URL and --public-url is not set: /.well-known/oauth-authorization-server answers 404 until it is",
			"issuer", urls.Issuer)
	}
	ln = limitListener(ln, connBudget(opts.MaxConns, log))
	var mx *metrics.Metrics
	var mln net.Listener
	var requests httpapi.RequestObserver // a nil *metrics.Metrics in it would not be nil
	if opts.MetricsAddr != "" {
		if mln, err = listen(opts.MetricsAddr); err != nil {
			return err
		}
		defer mln.Close()
		mx = metrics.New(opts.Build.Version)
		requests = mx
	}

	st, err := openStore(ctx, opts.Getenv, opts.DB)
	if err != nil {
		return err
	}
	// The PostgreSQL store's LISTEN connection reports losing its database in the server log.
	if l, ok := st.(interface{ SetLogger(*slog.Logger) }); ok {
		l.SetLogger(log)
	}
	if mx != nil {
		st = instrument(ctx, mx, st)
	}
	// Closed last, after the HTTP server and the service's loops have stopped using it.
	defer st.Close()

	if err := ensureAdmin(ctx, opts, st, log); err != nil {
		return err
	}
	svc, err := server.NewService(ctx, cfg, st, log)
	if err != nil {
		return fmt.Errorf("start service: %w", err)
	}
	if mx != nil {
		svc.SetObserver(mx)
	}
	// The browser mode's same-origin check takes its origin from PublicURL only when the
	// operator set one: a derived 127.0.0.1 would refuse a page opened as localhost.
	hcfg := httpapi.Config{CORSOrigins: opts.CORSOrigins, Issuer: urls.Issuer, Web: opts.Web, Requests: requests}
	if urls.Explicit {
		hcfg.PublicURL = urls.PublicURL
	}
	drainer := &drainer{}
	srv := newHTTPServer(httpapi.TrustProxies(opts.trusted)(httpapi.New(svc, hcfg, log)), drainer, log)

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
	var metricsAddr net.Addr
	if mln != nil {
		metricsAddr = mln.Addr()
		defer startMetrics(ctx, mln, mx, log)()
	}
	// Tests and scripts find the URL in this line's message: keep "listening on URL".
	log.Info("listening on "+scheme+"://"+ln.Addr().String(), startupAttrs(opts, svc, ln.Addr(), metricsAddr)...)

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
	if err := drain(srv, drainer, opts.ShutdownTimeout, log); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
