package cli

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/client"
	"github.com/authctl/authctl/keystore"
)

func addClientCommands(root *cobra.Command, f *Factory) {
	root.AddCommand(NewCmdLogin(f), NewCmdLogout(f), NewCmdRefresh(f), NewCmdStatus(f), NewCmdWeather(f), NewCmdToken(f))
}

const defaultServer = "http://localhost:5000"

// configDir is where the file keystore, the lock files and the last-server note live.
func (f *Factory) configDir() (string, error) {
	if d := f.Getenv("XDG_CONFIG_HOME"); d != "" {
		return d + "/authctl", nil
	}
	return keystore.DefaultDir()
}

// serverURL is --server, else the last server logged in to, else the default.
func (f *Factory) serverURL() (string, error) {
	raw := f.Server
	if raw == "" {
		if dir, err := f.configDir(); err == nil {
			raw, _ = keystore.LastServer(dir)
		}
	}
	if raw == "" {
		raw = defaultServer
	}
	u, err := keystore.NormalizeServer(raw)
	if err != nil {
		return "", usageError("--server: %v", err)
	}
	return u, nil
}

func (f *Factory) keystore() (keystore.Store, error) {
	dir, err := f.configDir()
	if err != nil {
		return nil, err
	}
	return keystore.Open(keystore.Options{Mode: f.Keystore, Dir: dir, Interactive: f.IO.CanPrompt(), Warn: f.IO.ErrOut, Getenv: f.Getenv})
}

// client builds the API client for the chosen server. AUTHCTL_TOKEN, when set, is used as
// the access token as is.
func (f *Factory) client() (*client.Client, keystore.Store, error) {
	server, err := f.serverURL()
	if err != nil {
		return nil, nil, err
	}
	dir, err := f.configDir()
	if err != nil {
		return nil, nil, err
	}
	opts := []client.Option{
		client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		client.WithLockDir(dir + "/locks"),
		client.WithUserAgent("authctl/" + f.Build.Version),
		client.WithNow(f.Now),
	}
	if f.Verbose {
		opts = append(opts, client.WithLog(func(s string) { fmt.Fprintf(f.IO.ErrOut, "* %s\n", s) }))
	}
	if tok := f.Getenv("AUTHCTL_TOKEN"); tok != "" {
		return client.New(server, append(opts, client.WithStaticToken(tok))...), nil, nil
	}
	ks, err := f.keystore()
	if err != nil {
		return nil, nil, err
	}
	return client.New(server, append(opts, client.WithSessions(ks))...), ks, nil
}

// clientErr turns client errors into the documented exit codes and one clear line.
func clientErr(c *client.Client, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, client.ErrSessionEnded):
		return authRequired(client.ErrSessionEnded)
	case errors.Is(err, client.ErrNotLoggedIn):
		return authRequired(fmt.Errorf("not logged in to %s — run `authctl login`", c.Server()))
	case errors.Is(err, client.ErrOffline):
		var oe *net.OpError
		if errors.As(err, &oe) {
			return fmt.Errorf("cannot reach %s: %v", c.Server(), oe.Err)
		}
		return fmt.Errorf("cannot reach %s: %s", c.Server(), strings.TrimPrefix(err.Error(), client.ErrOffline.Error()+": "))
	case errors.Is(err, client.ErrUnauthorized):
		return authRequired(fmt.Errorf("%v — run `authctl login`", err))
	}
	return err
}

// NewCmdLogin is `authctl login`.
func NewCmdLogin(f *Factory) *cobra.Command {
	var user string
	var pwStdin bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in and keep the session in the OS keyring",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			canPrompt := f.IO.CanPrompt() && !f.NoInput
			if user == "" {
				if !canPrompt {
					return usageError("no terminal to ask for the username: use -u USER")
				}
				fmt.Fprint(f.IO.ErrOut, "Username: ")
				if _, err := fmt.Fscanln(f.IO.In, &user); err != nil {
					return fmt.Errorf("read username: %w", err)
				}
			}
			var pw string
			var err error
			switch {
			case pwStdin:
				pw, err = readSecretStdin(f.IO.In)
			case canPrompt:
				pw, err = f.IO.ReadPassword("Password: ")
			default:
				err = usageError("no terminal to ask for the password: use --password-stdin")
			}
			if err != nil {
				return err
			}
			c, _, err := f.client()
			if err != nil {
				return err
			}
			if f.Getenv("AUTHCTL_TOKEN") != "" {
				return usageError("AUTHCTL_TOKEN is set: unset it to log in")
			}
			s, err := c.Login(cmd.Context(), user, pw)
			if err != nil {
				return clientErr(c, err)
			}
			if dir, err := f.configDir(); err == nil {
				if err := keystore.SetLastServer(dir, c.Server()); err != nil {
					fmt.Fprintf(f.IO.ErrOut, "authctl: warning: could not remember the server: %v\n", err)
				}
			}
			fmt.Fprintf(f.IO.ErrOut, "Logged in to %s as %s (session until %s)\n", c.Server(), s.Username, s.RefreshExpiry.Local().Format(time.DateTime))
			return nil
		},
	}
	cmd.Flags().StringVarP(&user, "user", "u", "", "username")
	cmd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from stdin")
	return cmd
}

// NewCmdLogout is `authctl logout`.
func NewCmdLogout(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the session on the server and delete it locally",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := f.client()
			if err != nil {
				return err
			}
			err = c.Logout(cmd.Context())
			if errors.Is(err, client.ErrOffline) {
				fmt.Fprintf(f.IO.ErrOut, "authctl: warning: %s unreachable; deleted the local session only (it stays valid on the server until it expires)\n", c.Server())
				return nil
			}
			if err != nil {
				return clientErr(c, err)
			}
			fmt.Fprintf(f.IO.ErrOut, "Logged out of %s\n", c.Server())
			return nil
		},
	}
}

// NewCmdRefresh is `authctl refresh`.
func NewCmdRefresh(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "refresh",
		Short: "Rotate the session's tokens now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := f.client()
			if err != nil {
				return err
			}
			s, err := c.Refresh(cmd.Context())
			if err != nil {
				return clientErr(c, err)
			}
			if f.JSON {
				return writeJSON(f, map[string]any{"server": s.Server, "access_expiry": s.AccessExpiry, "refresh_expiry": s.RefreshExpiry})
			}
			fmt.Fprintf(f.IO.Out, "access token expires %s (in %s)\n", s.AccessExpiry.Local().Format(time.DateTime), client.Ago(s.AccessExpiry.Sub(f.Now())))
			return nil
		},
	}
}

// NewCmdStatus is `authctl status`.
func NewCmdStatus(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the server, user, expiries and keystore; exit 4 when not logged in",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ks, err := f.client()
			if err != nil {
				return err
			}
			now := f.Now()
			type status struct {
				Server        string     `json:"server"`
				User          string     `json:"user,omitempty"`
				Source        string     `json:"source"`
				AccessExpiry  *time.Time `json:"access_expiry,omitempty"`
				RefreshExpiry *time.Time `json:"refresh_expiry,omitempty"`
				LoggedIn      bool       `json:"logged_in"`
			}
			st := status{Server: c.Server()}
			if ks == nil {
				st.Source, st.LoggedIn = "AUTHCTL_TOKEN", true
				if claims, _, err := decodeUnverified(f.Getenv("AUTHCTL_TOKEN")); err == nil {
					st.User, _ = claims["name"].(string)
					if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
						st.AccessExpiry = &exp.Time
					}
				}
			} else {
				s, err := c.Session(cmd.Context())
				st.Source = ks.Name()
				if err != nil && !errors.Is(err, client.ErrNotLoggedIn) {
					return err
				}
				if err == nil && now.Before(s.RefreshExpiry) {
					st.LoggedIn, st.User, st.AccessExpiry, st.RefreshExpiry = true, s.Username, &s.AccessExpiry, &s.RefreshExpiry
				}
			}
			if f.JSON {
				if err := writeJSON(f, st); err != nil {
					return err
				}
			} else {
				sty := f.Styles()
				line := func(k, v string) {
					fmt.Fprintf(f.IO.Out, "%s %s\n", sty.Key.Render(fmt.Sprintf("%-9s", k+":")), v)
				}
				line("server", st.Server)
				line("keystore", st.Source)
				if st.LoggedIn {
					line("user", st.User)
					if st.AccessExpiry != nil {
						line("access", expiry(sty, *st.AccessExpiry, now))
					}
					if st.RefreshExpiry != nil {
						line("session", expiry(sty, *st.RefreshExpiry, now))
					}
				} else {
					line("user", sty.Warning.Render("not logged in"))
				}
			}
			if !st.LoggedIn {
				return &ExitError{Code: ExitAuthRequired, Err: fmt.Errorf("not logged in to %s — run `authctl login`", st.Server)}
			}
			return nil
		},
	}
}

func expiry(sty Styles, t, now time.Time) string {
	when := t.Local().Format(time.DateTime)
	if now.Before(t) {
		return when + " " + sty.Valid.Render("(expires in "+client.Ago(t.Sub(now))+")")
	}
	return when + " " + sty.Expired.Render("(expired "+client.Ago(now.Sub(t))+" ago)")
}
