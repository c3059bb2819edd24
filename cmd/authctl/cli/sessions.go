package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/client"
	"github.com/authctl/authctl/server"
)

// Sessions: `authctl sessions [revoke ID|--others]` lists and ends the logged-in user's own
// sessions over the API; `authctl user sessions NAME` and `authctl user revoke NAME
// [--session ID]` are the administrator's, on the store (--db) like the rest of `user`:
// they work with the server down and need no admin login, whoever may open the store is
// the administrator already, and running servers learn of the revocations within a poll.
// An admin elsewhere uses the admin API: `authctl api -X DELETE /api/admin/users/NAME/sessions`.

// sessionRow is one session in `sessions --json` and `user sessions --json`: the API's
// shape (server/httpapi/sessions.go), stable for scripts (README "JSON output").
type sessionRow struct {
	ID              string     `json:"id"`
	Current         bool       `json:"current"`
	CreatedAt       time.Time  `json:"created_at"`
	LastRefreshedAt *time.Time `json:"last_refreshed_at"`
	ExpiresAt       time.Time  `json:"expires_at"`
	ClientAddr      string     `json:"client_addr"`
	UserAgent       string     `json:"user_agent"`
	RevokedAt       *time.Time `json:"revoked_at"`
	RevokeReason    string     `json:"revoke_reason,omitempty"`
}

func (r sessionRow) live() bool { return r.RevokedAt == nil }

func sessionRowOf(s server.Session) sessionRow {
	r := sessionRow{ID: s.ID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, ClientAddr: s.ClientAddr,
		UserAgent: s.UserAgent, RevokeReason: s.RevokeReason}
	if !s.RefreshedAt.IsZero() {
		t := s.RefreshedAt
		r.LastRefreshedAt = &t
	}
	if s.Revoked() {
		t := s.RevokedAt
		r.RevokedAt = &t
	}
	return r
}

// SessionsOptions are `authctl sessions`'.
type SessionsOptions struct{ ClientOptions }

// NewCmdSessions is `authctl sessions`, with `revoke` under it.
func NewCmdSessions(f *Factory, runF func(context.Context, *SessionsOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "List your sessions on the server, or end some of them",
		Long: `List the sessions (logins) of the logged-in user on the server: when each was opened
and last refreshed, from which address and client, when it expires, and whether it was
revoked. The session this machine uses is marked current. End one with
` + "`authctl sessions revoke ID`" + `, or every other one with --others.`,
		Example: `  authctl sessions
  authctl sessions revoke Wq0tQ8v2                # an id, or a unique start of one
  authctl sessions revoke --others                # log out everywhere else
  authctl sessions --json | jq -r '.[] | select(.revoked_at == null) | .id'`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdSessionsRevoke(f, nil))
	return newCmd(f, cmd, runF, sessionsRun, nil)
}

func sessionsRun(ctx context.Context, opts *SessionsOptions) error {
	rows, _, err := call(&opts.ClientOptions, func(c *client.Client) ([]sessionRow, error) { return mySessions(ctx, c) })
	if err != nil {
		return err
	}
	return printList(&opts.OutputOptions, rows, sessionsTable)
}

// SessionsRevokeOptions are `authctl sessions revoke`'s.
type SessionsRevokeOptions struct {
	ClientOptions
	ID     string // the argument: a session id or a unique start of one
	Others bool   // --others: every live session but the current one
}

func (o *SessionsRevokeOptions) fill(f *Factory, cmd *cobra.Command, args []string) error {
	switch {
	case o.Others && len(args) > 0:
		return usageError("give a session ID or --others, not both")
	case !o.Others && len(args) == 0:
		return usageError("which session? give its ID (see `authctl sessions`), or --others")
	case len(args) > 0:
		o.ID = args[0]
	}
	return o.ClientOptions.fill(f, cmd, args)
}

// NewCmdSessionsRevoke is `authctl sessions revoke ID|--others`.
func NewCmdSessionsRevoke(f *Factory, runF func(context.Context, *SessionsRevokeOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke {ID | --others}",
		Short: "End one of your sessions, or all but the current one",
		Long: `End one of your sessions on the server by its id (or a unique start of it, as
` + "`authctl sessions`" + ` lists them), or with --others every live session but the one this
machine uses. Ending the current session is a logout: it is also deleted here.`,
		Example: `  authctl sessions revoke Wq0tQ8v2
  authctl sessions revoke -- -s7FMbzE     # an id from before 2026-11-29 may start with '-'
  authctl sessions revoke --others`,
		Args: cobra.MaximumNArgs(1),
	}
	return newCmd(f, cmd, runF, sessionsRevokeRun, func(cmd *cobra.Command, o *SessionsRevokeOptions) {
		cmd.Flags().BoolVar(&o.Others, "others", false, "end every session but the current one")
	})
}

// revokedSessions is what `sessions revoke --json` and `user revoke --json` print.
type revokedSessions struct {
	User      string   `json:"user,omitempty"`
	Revoked   []string `json:"revoked"`
	LoggedOut bool     `json:"logged_out,omitempty"` // the current session was among them
}

func sessionsRevokeRun(ctx context.Context, opts *SessionsRevokeOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	rows, err := mySessions(ctx, c)
	if err != nil {
		return opts.clientErr(c, err)
	}
	var targets []sessionRow
	if opts.Others {
		for _, r := range rows {
			if r.live() && !r.Current {
				targets = append(targets, r)
			}
		}
	} else {
		r, err := pickSession(rows, opts.ID)
		if err != nil {
			return err
		}
		targets = []sessionRow{r}
	}
	out := revokedSessions{Revoked: []string{}}
	for _, r := range targets {
		if r.Current && opts.EnvToken == "" {
			// The session this machine holds: a logout, so that it is deleted here too.
			if err := c.Logout(ctx); err != nil {
				return opts.clientErr(c, err)
			}
			out.LoggedOut = true
		} else if err := revokeMine(ctx, c, r.ID); err != nil {
			if isNotFound(err) {
				return fmt.Errorf("no session %s", r.ID)
			}
			return opts.clientErr(c, err)
		}
		out.Revoked = append(out.Revoked, r.ID)
	}
	if opts.JSON {
		return writeJSON(opts.IO, out)
	}
	ios := opts.IO
	switch {
	case len(out.Revoked) == 0:
		fmt.Fprintln(ios.ErrOut, "authctl: no other live sessions")
	case out.LoggedOut:
		fmt.Fprintf(ios.ErrOut, "authctl: ended session %s, the current one: logged out of %s\n", out.Revoked[0], c.Server())
	case len(out.Revoked) == 1:
		fmt.Fprintf(ios.ErrOut, "authctl: ended session %s\n", out.Revoked[0])
	default:
		fmt.Fprintf(ios.ErrOut, "authctl: ended %d sessions\n", len(out.Revoked))
	}
	return nil
}

// minIDPrefix is the shortest start of a session id taken for the whole.
const minIDPrefix = 4

// pickSession finds the session id names: the id itself, or a unique start of one. An id
// not in the list is passed on as it is, for the server to judge (the list holds the
// newest sessions only).
func pickSession(rows []sessionRow, id string) (sessionRow, error) {
	var found []sessionRow
	for _, r := range rows {
		if r.ID == id {
			return r, nil
		}
		if len(id) >= minIDPrefix && strings.HasPrefix(r.ID, id) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return sessionRow{ID: id}, nil
	case 1:
		return found[0], nil
	}
	return sessionRow{}, usageError("%q starts %d session ids; give more of it", id, len(found))
}

// mySessions is GET /api/auth/sessions.
func mySessions(ctx context.Context, c *client.Client) ([]sessionRow, error) {
	var body struct {
		Sessions []sessionRow `json:"sessions"`
	}
	if err := c.Call(ctx, http.MethodGet, "/api/auth/sessions", &body); err != nil {
		return nil, err
	}
	if body.Sessions == nil {
		body.Sessions = []sessionRow{}
	}
	return body.Sessions, nil
}

// revokeMine is DELETE /api/auth/sessions/{id}.
func revokeMine(ctx context.Context, c *client.Client, id string) error {
	return c.Call(ctx, http.MethodDelete, "/api/auth/sessions/"+url.PathEscape(id), nil)
}

func isNotFound(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Status == http.StatusNotFound
}

// maxUserAgentShown cuts a User-Agent in the table; --json has it whole.
const maxUserAgentShown = 32

// sessionsTable is `sessions` and `user sessions` for people: times relative to now,
// newest first as listed.
func sessionsTable(o *OutputOptions, rows []sessionRow) error {
	ios, now := o.IO, o.Now()
	sty := ios.Styles()
	if len(rows) == 0 {
		fmt.Fprintln(ios.ErrOut, "authctl: no sessions")
		return nil
	}
	tw := tabwriter.NewWriter(ios.Out, 0, 4, 2, ' ', 0)
	head := []string{"ID", "CREATED", "REFRESHED", "EXPIRES", "ADDRESS", "CLIENT", "STATUS"}
	for i, h := range head {
		head[i] = sty.Title.Render(h)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		refreshed := "never"
		if r.LastRefreshedAt != nil {
			refreshed = client.Ago(now.Sub(*r.LastRefreshedAt)) + " ago"
		}
		var status string
		switch {
		case !r.live():
			status = sty.Expired.Render("revoked (" + r.RevokeReason + ")")
		case r.Current:
			status = sty.Valid.Render("current")
		default:
			status = "active"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, client.Ago(now.Sub(r.CreatedAt))+" ago", refreshed,
			"in "+client.Ago(r.ExpiresAt.Sub(now)), orDash(r.ClientAddr), orDash(cut(r.UserAgent, maxUserAgentShown)), status)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cut shortens s to n bytes with an ellipsis; the server keeps User-Agents printable ASCII.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// UserSessionsOptions are `authctl user sessions`'.
type UserSessionsOptions struct{ UserOptions }

// NewCmdUserSessions is `authctl user sessions NAME`.
func NewCmdUserSessions(f *Factory, runF func(context.Context, *UserSessionsOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sessions NAME",
		Short: "List a user's sessions",
		Long: `List a user's sessions from the store (--db): when each was opened and last refreshed,
from which address and client, when it expires, and whether it was revoked. Refreshes
reach the store within a second.`,
		Example: `  authctl user sessions alice
  authctl user sessions alice --json | jq -r '.[] | select(.revoked_at == null) | .client_addr'`,
		Args: cobra.ExactArgs(1),
	}
	return newCmd(f, cmd, runF, userSessionsRun, nil)
}

func userSessionsRun(ctx context.Context, opts *UserSessionsOptions) error {
	return listFromStore(ctx, &opts.StoreOptions, func(st server.Store) ([]sessionRow, error) {
		_, list, err := server.UserSessions(ctx, st, opts.Name, opts.Now())
		if errors.Is(err, server.ErrNotFound) {
			return nil, fmt.Errorf("no user %s", opts.Name)
		}
		return rowsOf(list, sessionRowOf), err
	}, sessionsTable)
}

// UserRevokeOptions are `authctl user revoke`'s.
type UserRevokeOptions struct {
	UserOptions
	Session string // --session: one session (an id, or a unique start of one) instead of all
}

// NewCmdUserRevoke is `authctl user revoke NAME [--session ID]`.
func NewCmdUserRevoke(f *Factory, runF func(context.Context, *UserRevokeOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke NAME",
		Short: "End a user's sessions (all, or one with --session)",
		Long: `End every live session of a user in the store (--db), or only the one given with
--session. Running servers refuse the sessions' access tokens within a poll (a second
by default); the user can log in again. The change is audited: running servers log it.`,
		Example: `  authctl user revoke alice
  authctl user revoke alice --session Wq0tQ8v2`,
		Args: cobra.ExactArgs(1),
	}
	return newCmd(f, cmd, runF, userRevokeRun, func(cmd *cobra.Command, o *UserRevokeOptions) {
		cmd.Flags().StringVar(&o.Session, "session", "", "end only this session (see `authctl user sessions NAME`)")
	})
}

func userRevokeRun(ctx context.Context, opts *UserRevokeOptions) error {
	ctx = server.WithActor(ctx, cliActor())
	now := opts.Now()
	out := revokedSessions{User: opts.Name, Revoked: []string{}}
	err := opts.withStore(ctx, func(st server.Store) error {
		if opts.Session == "" {
			_, ids, err := server.RevokeUserSessions(ctx, st, opts.Name, now)
			out.Revoked = append(out.Revoked, ids...)
			return err
		}
		_, list, err := server.UserSessions(ctx, st, opts.Name, now)
		if err != nil {
			return err
		}
		r, err := pickSession(rowsOf(list, sessionRowOf), opts.Session)
		if err != nil {
			return err
		}
		if _, _, err := server.RevokeUserSession(ctx, st, opts.Name, r.ID, now); err != nil {
			if errors.Is(err, server.ErrNotFound) {
				return fmt.Errorf("user %s has no session %s", opts.Name, r.ID)
			}
			return err
		}
		out.Revoked = append(out.Revoked, r.ID)
		return nil
	})
	if errors.Is(err, server.ErrNotFound) {
		return fmt.Errorf("no user %s", opts.Name)
	} else if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO, out)
	}
	switch n := len(out.Revoked); {
	case opts.Session != "":
		fmt.Fprintf(opts.IO.ErrOut, "authctl: ended session %s of %s\n", out.Revoked[0], opts.Name)
	case n == 1:
		fmt.Fprintf(opts.IO.ErrOut, "authctl: ended 1 session of %s\n", opts.Name)
	default:
		fmt.Fprintf(opts.IO.ErrOut, "authctl: ended %d sessions of %s\n", n, opts.Name)
	}
	return nil
}

// cliActor is who runs an administration command, for the audit trail: the operating-system
// account and the host.
func cliActor() server.Actor {
	a := server.Actor{Name: "unknown", Via: server.ViaCLI}
	if u, err := user.Current(); err == nil && u.Username != "" {
		a.Name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		a.Addr = h
	}
	return a
}
