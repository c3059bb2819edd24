package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/client"
	"github.com/authctl/authctl/keystore"
)

// This file holds the commands that manage the stored session (login, logout, refresh,
// status, switch) and what every command talking to a server shares: which server, the
// API client for it, and how its failures are worded.

// resolveServer is Factory.Server for the global flags g: --server (or AUTHCTL_SERVER),
// else the last server logged in to or switched to, else the default. A server typed
// without a scheme gets one (client.ServerURL), and the user is told once.
func (f *Factory) resolveServer(g GlobalOptions) (string, error) {
	raw := f.serverOrLast(g.Server)
	full, added := client.ServerURL(raw)
	u, err := keystore.NormalizeServer(full)
	if err != nil {
		return "", usageError("--server: %v", err)
	}
	if added {
		fmt.Fprintf(f.IO.ErrOut, "authctl: server %q has no scheme; using %s\n", raw, u)
	}
	return u, nil
}

// loginDefault is the server `authctl login` picks without --server: AUTHCTL_SERVER, else
// the last one, else the default. Hints name --server only when it differs.
func (f *Factory) loginDefault() string {
	full, _ := client.ServerURL(f.serverOrLast(f.Getenv("AUTHCTL_SERVER")))
	u, _ := keystore.NormalizeServer(full)
	return u
}

// serverOrLast is raw as typed, or when it is empty the last server logged in to or
// switched to, else the default.
func (f *Factory) serverOrLast(raw string) string {
	if raw == "" {
		if dir, err := f.ConfigDir(); err == nil {
			raw, _ = keystore.LastServer(dir)
		}
	}
	if raw == "" {
		raw = defaultServer
	}
	return raw
}

// connector builds API clients for the global flags g. The clients it builds share one
// HTTP transport (so one set of trusted CAs) and one --insecure warning.
type connector struct {
	f         *Factory
	g         GlobalOptions
	transport func() (*http.Transport, error)
	warned    sync.Once
}

func newConnector(f *Factory, g GlobalOptions) *connector {
	k := &connector{f: f, g: g}
	k.transport = sync.OnceValues(func() (*http.Transport, error) {
		tr, err := client.NewTransport(g.CAFile)
		if err != nil {
			return nil, usageError("%v", err)
		}
		return tr, nil
	})
	return k
}

// insecure is --insecure or AUTHCTL_INSECURE set to a true value.
func (k *connector) insecure() bool {
	if k.g.Insecure {
		return true
	}
	on, err := strconv.ParseBool(k.f.Getenv("AUTHCTL_INSECURE"))
	return err == nil && on
}

// client is Factory.Client: the client for Factory.Server.
func (k *connector) client() (*client.Client, error) {
	server, err := k.f.Server()
	if err != nil {
		return nil, err
	}
	return k.clientFor(server)
}

// clientFor builds the client for server: over AUTHCTL_TOKEN as is when that is set, else
// over the session in the keystore. A cleartext server is refused here, before any
// command asks for a password it could not send.
func (k *connector) clientFor(server string) (*client.Client, error) {
	f := k.f
	dir, err := f.ConfigDir()
	if err != nil {
		return nil, err
	}
	tr, err := k.transport()
	if err != nil {
		return nil, err
	}
	opts := []client.Option{
		client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second, Transport: tr}),
		client.WithLockDir(dir + "/locks"),
		client.WithUserAgent("authctl/" + f.Build.Version),
		client.WithNow(f.Now),
	}
	if k.g.Verbose {
		opts = append(opts, client.WithLog(func(s string) { fmt.Fprintf(f.IO.ErrOut, "* %s\n", s) }))
	}
	if k.insecure() {
		opts = append(opts, client.WithInsecureHTTP())
	}
	if tok := f.Getenv("AUTHCTL_TOKEN"); tok != "" {
		opts = append(opts, client.WithStaticToken(tok))
	} else {
		ks, err := f.Keystore()
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithSessions(ks))
	}
	c := client.New(server, opts...)
	if err := c.CheckTransport(); err != nil {
		return nil, describeErr(server, err, "")
	}
	if client.Cleartext(server) {
		k.warned.Do(func() {
			fmt.Fprintf(f.IO.ErrOut, "authctl: warning: --insecure: talking to %s over plain HTTP; passwords and tokens cross the network in clear\n", server)
		})
	}
	return c, nil
}

// ClientOptions are what every command that talks to a server holds.
type ClientOptions struct {
	OutputOptions
	Client func() (*client.Client, error)
	// ConfigDir is where the servers logged in to, and the last of them, are listed.
	ConfigDir func() (string, error)
	// Keystore is where Client keeps the session; commands that name or move the session
	// open it too.
	Keystore func() (keystore.Store, error)
	// EnvToken is AUTHCTL_TOKEN: when set, Client uses it as the access token as is.
	EnvToken string
	// LoginDefault is the server `authctl login` would pick without --server ("" when
	// unknown): hints to log in name --server for any other.
	LoginDefault string
}

// fill runs after the root's pre-run has pointed f.Client at the global flags.
func (o *ClientOptions) fill(f *Factory, cmd *cobra.Command, _ []string) error {
	o.Client, o.ConfigDir, o.Keystore = f.Client, f.ConfigDir, f.Keystore
	o.EnvToken, o.LoginDefault = f.Getenv("AUTHCTL_TOKEN"), f.loginDefault()
	return nil
}

// loginCmd is the command that logs in to server.
func (o *ClientOptions) loginCmd(server string) string {
	if o.LoginDefault == "" || server == o.LoginDefault {
		return "authctl login"
	}
	return "authctl login --server " + server
}

// clientErr words a failure of c for people, with the documented exit code.
func (o *ClientOptions) clientErr(c *client.Client, err error) error {
	return describeErr(c.Server(), err, o.loginCmd(c.Server()))
}

// call builds the client and makes one call with it; a failure comes back worded by
// clientErr. The client is returned for its Server.
func call[T any](o *ClientOptions, fn func(*client.Client) (T, error)) (T, *client.Client, error) {
	var zero T
	c, err := o.Client()
	if err != nil {
		return zero, nil, err
	}
	v, err := fn(c)
	if err != nil {
		return zero, c, o.clientErr(c, err)
	}
	return v, c, nil
}

// clientErr words a failure of c, with the hint to run a plain `authctl login`.
func clientErr(c *client.Client, err error) error {
	return describeErr(c.Server(), err, "authctl login")
}

// describeErr turns client errors into the documented exit codes and one line that names
// the server once and says what to try; login is the command that logs in to it.
func describeErr(server string, err error, login string) error {
	if login == "" {
		login = "authctl login"
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, client.ErrInsecureHTTP):
		return usageError("refusing plain http:// to %s: it is not loopback, so passwords and tokens would cross the network in clear; use https://, or --insecure (AUTHCTL_INSECURE=1) to accept that", server)
	case errors.Is(err, client.ErrSessionEnded):
		return authRequired(fmt.Errorf("session expired or revoked — run `%s`", login))
	case errors.Is(err, client.ErrNotLoggedIn):
		return authRequired(fmt.Errorf("not logged in to %s — run `%s`", server, login))
	case errors.Is(err, client.ErrTLS):
		return fmt.Errorf("TLS with %s failed: %s", server, client.NetworkReason(err))
	case errors.Is(err, client.ErrOffline):
		return fmt.Errorf("cannot reach %s: %s", server, client.NetworkReason(err))
	case errors.Is(err, client.ErrUnauthorized):
		return authRequired(fmt.Errorf("%v — run `%s`", err, login))
	}
	return err
}

// expiresIn is the styled "(expires in 3m12s)" or "(expired 2h ago)" shown after a time.
func expiresIn(sty Styles, t, now time.Time) string {
	if now.Before(t) {
		return sty.Valid.Render("(expires in " + client.Ago(t.Sub(now)) + ")")
	}
	return sty.Expired.Render("(expired " + client.Ago(now.Sub(t)) + " ago)")
}

// LoginOptions are `authctl login`'s.
type LoginOptions struct {
	ClientOptions
	Username      string
	PasswordStdin bool
}

// NewCmdLogin is `authctl login`.
func NewCmdLogin(f *Factory, runF func(context.Context, *LoginOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in and keep the session in the OS keyring",
		Long: `Log in with a username and password and keep the session in the keystore.

The password is asked for without echo on a terminal, or read from stdin with
--password-stdin. A session stored before for the same server is revoked on the
server (best effort). Plain http:// is refused for a server that is not loopback
unless --insecure is given.`,
		Example: `  authctl login -u admin
  echo "$PASSWORD" | authctl login -u ci --password-stdin
  authctl login --server https://id.example.com --ca-file ca.pem`,
		Args: cobra.NoArgs,
	}
	return newCmd(f, cmd, runF, loginRun, func(cmd *cobra.Command, o *LoginOptions) {
		cmd.Flags().StringVarP(&o.Username, "user", "u", "", "username")
		cmd.Flags().BoolVar(&o.PasswordStdin, "password-stdin", false, "read the password from stdin")
	})
}

// loginJSON is `authctl login --json`.
type loginJSON struct {
	Server        string    `json:"server"`
	User          string    `json:"user"`
	AccessExpiry  time.Time `json:"access_expiry"`
	RefreshExpiry time.Time `json:"refresh_expiry"`
	// ReplacedRevoked is set when a session stored before was replaced: whether the
	// server confirmed that it is over.
	ReplacedRevoked *bool `json:"replaced_session_revoked,omitempty"`
}

func loginRun(ctx context.Context, opts *LoginOptions) error {
	// Before asking anything: a password typed for a login that cannot happen is wasted,
	// and one read from stdin is gone.
	if opts.EnvToken != "" {
		return usageError("AUTHCTL_TOKEN is set: unset it to log in")
	}
	c, err := opts.Client() // refuses a cleartext server before the password is asked for
	if err != nil {
		return err
	}
	ios := opts.IO
	user := opts.Username
	if user == "" {
		if !ios.CanPrompt() {
			return usageError("no terminal to ask for the username: use -u USER")
		}
		fmt.Fprint(ios.ErrOut, "Username: ")
		if _, err := fmt.Fscanln(ios.In, &user); err != nil {
			return fmt.Errorf("read username: %w", err)
		}
	}
	var pw string
	switch {
	case opts.PasswordStdin:
		pw, err = readSecretStdin(ios.In)
	case ios.CanPrompt():
		pw, err = ios.ReadPassword("Password: ")
	default:
		err = usageError("no terminal to ask for the password: use --password-stdin")
	}
	if err != nil {
		return err
	}
	r, err := c.LoginReplacing(ctx, user, pw)
	if errors.Is(err, client.ErrInvalidGrant) || errors.Is(err, client.ErrUnauthorized) {
		// The command just run is the one to run again: no "run `authctl login`" here.
		return authRequired(fmt.Errorf("log in to %s: wrong username or password", c.Server()))
	}
	if err != nil {
		return opts.clientErr(c, err)
	}
	if dir, err := opts.ConfigDir(); err == nil {
		if err := keystore.SetLastServer(dir, c.Server()); err != nil {
			fmt.Fprintf(ios.ErrOut, "authctl: warning: could not remember the server: %v\n", err)
		}
	}
	s := r.Session
	if r.Replaced != nil && r.RevokeErr != nil {
		fmt.Fprintf(ios.ErrOut, "authctl: warning: the previous session (%s) could not be revoked on the server: %v\n", r.Replaced.Username, describeErr(c.Server(), r.RevokeErr, ""))
	}
	if opts.JSON {
		out := loginJSON{Server: c.Server(), User: s.Username, AccessExpiry: s.AccessExpiry, RefreshExpiry: s.RefreshExpiry}
		if r.Replaced != nil {
			ok := r.RevokeErr == nil
			out.ReplacedRevoked = &ok
		}
		return writeJSON(ios, out)
	}
	msg := fmt.Sprintf("Logged in to %s as %s (session until %s)", c.Server(), s.Username, timeText(s.RefreshExpiry))
	if r.Replaced != nil && r.RevokeErr == nil {
		msg += "; the previous session (" + r.Replaced.Username + ") is revoked"
	}
	fmt.Fprintln(ios.ErrOut, msg)
	return nil
}

// LogoutOptions are `authctl logout`'s.
type LogoutOptions struct{ ClientOptions }

// NewCmdLogout is `authctl logout`.
func NewCmdLogout(f *Factory, runF func(context.Context, *LogoutOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Revoke the session on the server and delete it locally",
		Long: `Revoke the session on the server, then delete it locally. When the server
cannot be reached the local session is deleted all the same, with a warning.`,
		Example: `  authctl logout
  authctl logout --server https://id.example.com`,
		Args: cobra.NoArgs,
	}
	return newCmd(f, cmd, runF, logoutRun, nil)
}

func logoutRun(ctx context.Context, opts *LogoutOptions) error {
	revoked := true
	c, err := opts.Client()
	if err != nil {
		return err
	}
	err = c.Logout(ctx)
	switch {
	case errors.Is(err, client.ErrOffline):
		// A warning, not a failure: the local session is gone all the same.
		revoked = false
		fmt.Fprintf(opts.IO.ErrOut, "authctl: warning: %s unreachable; deleted the local session only (it stays valid on the server until it expires)\n", c.Server())
	case err != nil:
		return opts.clientErr(c, err)
	}
	if dir, err := opts.ConfigDir(); err == nil {
		if err := keystore.ForgetServer(dir, c.Server()); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "authctl: warning: could not update the list of servers: %v\n", err)
		}
	}
	if opts.JSON {
		return writeJSON(opts.IO, map[string]any{"server": c.Server(), "revoked": revoked})
	}
	if revoked {
		fmt.Fprintln(opts.IO.ErrOut, "Logged out of "+c.Server())
	}
	return nil
}

// RefreshOptions are `authctl refresh`'s.
type RefreshOptions struct {
	ClientOptions
	Migrate bool // --migrate
}

// NewCmdRefresh is `authctl refresh`.
func NewCmdRefresh(f *Factory, runF func(context.Context, *RefreshOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "refresh",
		Short: "Rotate the session's tokens now",
		Long: `Rotate the session's tokens now and print the new expiry.

With --migrate (and --keystore auto), a session kept in the file because the
keyring could not be used when it was stored moves into the keyring.`,
		Example: `  authctl refresh
  authctl refresh --migrate`,
		Args: cobra.NoArgs,
	}
	return newCmd(f, cmd, runF, refreshRun, func(cmd *cobra.Command, o *RefreshOptions) {
		cmd.Flags().BoolVar(&o.Migrate, "migrate", false, "move the session from the file into the OS keyring (--keystore auto)")
	})
}

func refreshRun(ctx context.Context, opts *RefreshOptions) error {
	if opts.Migrate {
		if opts.EnvToken != "" {
			return usageError("AUTHCTL_TOKEN is set: there is no stored session to move")
		}
		ks, err := opts.Keystore()
		if err != nil {
			return err
		}
		mig, ok := ks.(keystore.Migrator)
		if !ok {
			return usageError("--migrate moves a session between the file and the keyring: it needs --keystore auto")
		}
		_, _, err = call(&opts.ClientOptions, func(c *client.Client) (bool, error) {
			var moved bool
			err := c.Locked(ctx, func(ctx context.Context) error {
				var err error
				moved, err = mig.Migrate(ctx, c.Server())
				if errors.Is(err, keystore.ErrNotFound) {
					return client.ErrNotLoggedIn
				}
				return err
			})
			if err == nil && moved && !opts.JSON {
				fmt.Fprintf(opts.IO.ErrOut, "Moved the session for %s into the %s\n", c.Server(), ks.Name())
			}
			return moved, err
		})
		if err != nil {
			return err
		}
	}
	s, _, err := call(&opts.ClientOptions, func(c *client.Client) (keystore.Session, error) { return c.Refresh(ctx) })
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO, map[string]any{"server": s.Server, "access_expiry": s.AccessExpiry, "refresh_expiry": s.RefreshExpiry})
	}
	fmt.Fprintf(opts.IO.Out, "access token expires %s (in %s)\n", timeText(s.AccessExpiry), client.Ago(s.AccessExpiry.Sub(opts.Now())))
	return nil
}

// Online states of a session in `authctl status`.
const (
	onlineActive    = "active"    // the server accepted the access token (GET /api/auth/me)
	onlineEnded     = "ended"     // the server says the session is over
	onlineUnchecked = "unchecked" // --offline, or not logged in
)

// status is one server in `authctl status --json` (an array of them with --all); a stable
// shape scripts may rely on.
type status struct {
	Server        string     `json:"server"`
	Default       bool       `json:"default"` // the server commands use without --server
	User          string     `json:"user,omitempty"`
	Role          string     `json:"role,omitempty"`
	Source        string     `json:"source"`
	AccessExpiry  *time.Time `json:"access_expiry,omitempty"`
	RefreshExpiry *time.Time `json:"refresh_expiry,omitempty"`
	LoggedIn      bool       `json:"logged_in"`
	Online        string     `json:"online"` // active, ended or unchecked
}

// StatusOptions are `authctl status`'s.
type StatusOptions struct {
	ClientOptions
	ClientFor func(server string) (*client.Client, error) // a client for another stored server
	Offline   bool                                        // --offline
	All       bool                                        // --all
}

func (o *StatusOptions) fill(f *Factory, cmd *cobra.Command, args []string) error {
	o.ClientFor = newConnector(f, globalsOf(cmd)).clientFor
	if err := o.ClientOptions.fill(f, cmd, args); err != nil {
		return err
	}
	if o.All && o.EnvToken != "" {
		return usageError("AUTHCTL_TOKEN is set: it stands for one server; unset it to list the stored sessions")
	}
	return nil
}

// NewCmdStatus is `authctl status`.
func NewCmdStatus(f *Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the session and check it with the server; exit 4 when not logged in",
		Long: `Show the server, user, expiries and keystore of the session, and check with the
server (GET /api/auth/me) that it is still active. Exits 4 when not logged in or
when the server says the session is over (revoked or expired), 1 when the server
cannot be reached (--offline skips the check).`,
		Example: `  authctl status
  authctl status --offline --json
  authctl status --all`,
		Args: cobra.NoArgs,
	}
	return newCmd(f, cmd, runF, statusRun, func(cmd *cobra.Command, o *StatusOptions) {
		cmd.Flags().BoolVar(&o.Offline, "offline", false, "show the stored session without asking the server")
		cmd.Flags().BoolVar(&o.All, "all", false, "every server with a stored session")
	})
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	if opts.All {
		return statusAllRun(ctx, opts)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	st, err := opts.check(ctx, c)
	st.Default = true
	// The block is shown when there is something to show: a session, or the answer that
	// there is none. A keystore or network failure is only its error line.
	if err == nil || st.User != "" || ExitCode(err) == ExitAuthRequired {
		if perr := opts.print([]status{st}); perr != nil {
			return perr
		}
	}
	return err
}

// check builds the status of c's server, asking the server unless --offline. The error is
// what the exit code follows: not logged in or ended (4), unreachable (1).
func (opts *StatusOptions) check(ctx context.Context, c *client.Client) (status, error) {
	now := opts.Now()
	st := status{Server: c.Server(), Online: onlineUnchecked}
	if opts.EnvToken != "" {
		st.Source = "AUTHCTL_TOKEN"
		claims, _, err := decodeUnverified(opts.EnvToken)
		if err != nil {
			return st, authRequired(fmt.Errorf("AUTHCTL_TOKEN is not a usable access token: %v", err))
		}
		st.User, _ = claims["name"].(string)
		st.Role, _ = claims["role"].(string)
		if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
			st.AccessExpiry = &exp.Time
		}
		st.LoggedIn = st.AccessExpiry == nil || now.Before(*st.AccessExpiry)
		if !st.LoggedIn {
			return st, authRequired(fmt.Errorf("AUTHCTL_TOKEN expired %s ago", client.Ago(now.Sub(*st.AccessExpiry))))
		}
	} else {
		ks, err := opts.Keystore()
		if err != nil {
			return st, err
		}
		s, err := c.Session(ctx)
		st.Source = keystore.Where(ks, c.Server())
		if err != nil {
			return st, opts.clientErr(c, err)
		}
		st.User, st.AccessExpiry, st.RefreshExpiry = s.Username, &s.AccessExpiry, &s.RefreshExpiry
		if !s.RefreshExpiry.IsZero() && !now.Before(s.RefreshExpiry) {
			return st, opts.clientErr(c, client.ErrSessionEnded)
		}
		st.LoggedIn = true
	}
	if opts.Offline {
		return st, nil
	}
	me, err := c.Me(ctx)
	switch {
	case opts.EnvToken != "" && errors.Is(err, client.ErrUnauthorized):
		st.LoggedIn, st.Online = false, onlineEnded
		return st, authRequired(fmt.Errorf("%s does not accept AUTHCTL_TOKEN: %v", c.Server(), err))
	case errors.Is(err, client.ErrSessionEnded), errors.Is(err, client.ErrUnauthorized):
		st.LoggedIn, st.Online = false, onlineEnded
		return st, opts.clientErr(c, client.ErrSessionEnded)
	case err != nil:
		err = opts.clientErr(c, err)
		return st, fmt.Errorf("%w (--offline shows the stored session without asking)", err)
	}
	st.Online = onlineActive
	if me.Role != "" {
		st.Role = me.Role
	}
	if opts.EnvToken == "" {
		// The check may have refreshed the session: show the expiries it has now.
		if s, err := c.Session(ctx); err == nil {
			st.AccessExpiry, st.RefreshExpiry = &s.AccessExpiry, &s.RefreshExpiry
		}
	}
	return st, nil
}

// statusAllRun is `authctl status --all`: every server with a stored session. The exit
// code is the worst of them: 4 when one is over, else 1 when one could not be checked.
func statusAllRun(ctx context.Context, opts *StatusOptions) error {
	dir, err := opts.ConfigDir()
	if err != nil {
		return err
	}
	servers, err := keystore.KnownServers(dir)
	if err != nil {
		return err
	}
	ks, err := opts.Keystore()
	if err != nil {
		return err
	}
	if l, ok := ks.(keystore.Lister); ok {
		more, err := l.Servers(ctx)
		if err != nil {
			return err
		}
		servers = append(servers, more...)
		slices.Sort(servers)
		servers = slices.Compact(servers)
	}
	def, _ := keystore.LastServer(dir)
	if c, err := opts.Client(); err == nil {
		def = c.Server()
	}
	var list []status
	var worst error
	for _, server := range servers {
		c, err := opts.ClientFor(server)
		if err != nil {
			return err
		}
		st, err := opts.check(ctx, c)
		switch {
		case err != nil && st.User == "" && ExitCode(err) == ExitAuthRequired:
			continue // listed in the config, but nothing stored: logged out
		case err != nil && st.User == "":
			return err // the keystore cannot be read: no listing would be true
		}
		st.Default = server == def
		list = append(list, st)
		if err != nil && (worst == nil || ExitCode(err) == ExitAuthRequired && ExitCode(worst) != ExitAuthRequired) {
			worst = err
		}
	}
	if len(list) == 0 {
		return authRequired(errors.New("not logged in to any server — run `authctl login`"))
	}
	if err := opts.print(list); err != nil {
		return err
	}
	return worst
}

// print writes the statuses: JSON (an object, or an array with --all), or one block each.
func (opts *StatusOptions) print(list []status) error {
	if opts.JSON {
		if opts.All {
			return writeJSON(opts.IO, list)
		}
		return writeJSON(opts.IO, list[0])
	}
	for i, st := range list {
		if i > 0 {
			fmt.Fprintln(opts.IO.Out)
		}
		printStatus(opts.IO, st, opts.Now(), opts.All)
	}
	return nil
}

func printStatus(ios *IOStreams, st status, now time.Time, all bool) {
	sty := ios.Styles()
	line := func(k, v string) {
		fmt.Fprintf(ios.Out, "%s %s\n", sty.Key.Render(fmt.Sprintf("%-9s", k+":")), v)
	}
	server := st.Server
	if all && st.Default {
		server += " (default)"
	}
	line("server", server)
	line("keystore", st.Source)
	if st.User == "" && !st.LoggedIn {
		line("user", sty.Warning.Render("not logged in"))
		return
	}
	user := st.User
	if st.Role != "" {
		user += " (role " + st.Role + ")"
	}
	line("user", user)
	if st.AccessExpiry != nil && !st.AccessExpiry.IsZero() {
		line("access", timeText(*st.AccessExpiry)+" "+expiresIn(sty, *st.AccessExpiry, now))
	}
	if st.RefreshExpiry != nil && !st.RefreshExpiry.IsZero() {
		line("session", timeText(*st.RefreshExpiry)+" "+expiresIn(sty, *st.RefreshExpiry, now))
	}
	switch st.Online {
	case onlineActive:
		line("online", sty.Valid.Render("active (checked with the server)"))
	case onlineEnded:
		line("online", sty.Expired.Render("ended (the server no longer accepts this session)"))
	default:
		if st.LoggedIn {
			line("online", "not checked")
		}
	}
}

// SwitchOptions are `authctl switch`'s.
type SwitchOptions struct {
	OutputOptions
	ConfigDir func() (string, error)
	Keystore  func() (keystore.Store, error)
	Server    string // the argument, as typed
}

func (o *SwitchOptions) fill(f *Factory, cmd *cobra.Command, args []string) error {
	o.ConfigDir, o.Keystore, o.Server = f.ConfigDir, f.Keystore, args[0]
	return nil
}

// NewCmdSwitch is `authctl switch SERVER`.
func NewCmdSwitch(f *Factory, runF func(context.Context, *SwitchOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "switch SERVER",
		Short: "Make a server with a stored session the default",
		Long: `Make SERVER, which must have a stored session (see 'authctl status --all'), the
server commands use when --server is not given.`,
		Example: `  authctl switch https://id.example.com
  authctl switch 127.0.0.1:5000`,
		Args: cobra.ExactArgs(1),
	}
	return newCmd(f, cmd, runF, switchRun, nil)
}

func switchRun(ctx context.Context, opts *SwitchOptions) error {
	full, _ := client.ServerURL(opts.Server)
	server, err := keystore.NormalizeServer(full)
	if err != nil {
		return usageError("%v", err)
	}
	ks, err := opts.Keystore()
	if err != nil {
		return err
	}
	s, err := ks.Load(ctx, server)
	if errors.Is(err, keystore.ErrNotFound) {
		return authRequired(fmt.Errorf("no session stored for %s — run `authctl login --server %s` first", server, server))
	}
	if err != nil {
		return fmt.Errorf("read the session for %s: %w", server, err)
	}
	dir, err := opts.ConfigDir()
	if err != nil {
		return err
	}
	if err := keystore.SetLastServer(dir, server); err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO, map[string]string{"server": server, "user": s.Username})
	}
	fmt.Fprintf(opts.IO.ErrOut, "Default server is now %s (logged in as %s)\n", server, s.Username)
	return nil
}
