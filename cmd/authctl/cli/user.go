package cli

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/server"
)

// UserOptions are what user add, passwd and delete hold: the store and the NAME argument.
type UserOptions struct {
	StoreOptions
	Name string
}

func (o *UserOptions) fill(f *Factory, cmd *cobra.Command, args []string) error {
	o.Name = args[0]
	return o.StoreOptions.fill(f, cmd, args)
}

// UserAddOptions are `authctl user add`'s arguments and flags.
type UserAddOptions struct {
	UserOptions
	Role          string
	PasswordStdin bool
}

// userRow is one user in `user list --json` and what `user add --json` prints; a stable
// shape scripts may rely on (README "JSON output").
type userRow struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func userRowOf(u server.User) userRow {
	return userRow{Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt.UTC()}
}

// UserListOptions are `authctl user list`'s.
type UserListOptions struct{ StoreOptions }

// UserPasswdOptions are `authctl user passwd`'s.
type UserPasswdOptions struct {
	UserOptions
	PasswordStdin bool
}

// UserDeleteOptions are `authctl user delete`'s.
type UserDeleteOptions struct {
	UserOptions
	Yes bool // --yes: no confirmation asked
}

// NewCmdUser is the `authctl user` group: it manages the users kept in --db, the same
// store `authctl serve` uses, so it works while the server runs.
func NewCmdUser(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the server's users",
		Long: `Manage the users in the server's store (--db), also while ` + "`authctl serve`" + ` runs.
The store must exist: ` + "`authctl serve`" + ` creates it on its first start.`,
		Example: `  authctl user list --db /var/lib/authctl/authctl.db
  AUTHCTL_DB=postgres://authctl@db/authctl authctl user add alice --role ops`,
	}
	addDBFlag(cmd, f)
	cmd.AddCommand(NewCmdUserAdd(f, nil), NewCmdUserList(f, nil), NewCmdUserPasswd(f, nil), NewCmdUserDelete(f, nil),
		NewCmdUserSessions(f, nil), NewCmdUserRevoke(f, nil)) // sessions.go
	return cmd
}

// NewCmdUserAdd is `authctl user add NAME`.
func NewCmdUserAdd(f *Factory, runF func(context.Context, *UserAddOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user",
		Long: `Add a user. The password is asked for twice without echo on a terminal (again
when the two differ), or read from stdin with --password-stdin; it is never taken from
a flag.`,
		Example: `  authctl user add alice                  # asks for the password
  printf '%s' "$PASSWORD" | authctl user add ci --role deploy --password-stdin
  authctl user add bob --password-stdin --json < pw.txt`,
		Args: cobra.ExactArgs(1),
	}
	return newCmd(f, cmd, runF, userAddRun, func(cmd *cobra.Command, o *UserAddOptions) {
		cmd.Flags().StringVar(&o.Role, "role", "user", "the user's role claim")
		cmd.Flags().BoolVar(&o.PasswordStdin, "password-stdin", false, "read the password from stdin")
	})
}

func userAddRun(ctx context.Context, opts *UserAddOptions) error {
	ctx = server.WithActor(ctx, cliActor()) // audited (sessions.go)
	if err := canGetPassword(opts.IO, opts.PasswordStdin); err != nil {
		return err
	}
	var u server.User
	// The store first: a password typed for a store that is not there, or for a name
	// that is taken, is typed for nothing.
	err := opts.withStore(ctx, func(st server.Store) error {
		if _, err := st.UserByName(ctx, opts.Name); err == nil {
			return server.ErrUserExists
		}
		pw, err := newPassword(opts.IO, opts.PasswordStdin)
		if err != nil {
			return err
		}
		u, err = server.AddUser(ctx, st, server.NewPasswordHasher(server.DefaultArgon2, 0), opts.Name, opts.Role, pw, opts.Now())
		return err
	})
	switch {
	case errors.Is(err, server.ErrInvalidUsername), errors.Is(err, server.ErrWeakPassword):
		return &FlagError{Err: err}
	case errors.Is(err, server.ErrUserExists):
		return fmt.Errorf("user %s already exists", opts.Name)
	case err != nil:
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO, userRowOf(u))
	}
	fmt.Fprintf(opts.IO.ErrOut, "authctl: added user %s (role %s)\n", u.Name, u.Role)
	return nil
}

// maxPasswordTries is how often a terminal user may get the repeat wrong before user add
// or passwd gives up.
const maxPasswordTries = 3

// canGetPassword refuses, before any work, to need a prompt where there is no terminal.
func canGetPassword(ios *IOStreams, fromStdin bool) error {
	if !fromStdin && !ios.CanPrompt() {
		return usageError("no terminal to ask for the password: use --password-stdin")
	}
	return nil
}

// newPassword gets a new password from stdin, or asks for it twice on a terminal, again
// when the two differ. It never takes one from a flag: flags end up in shell history and
// ps output.
func newPassword(ios *IOStreams, fromStdin bool) (string, error) {
	if fromStdin {
		return readSecretStdin(ios.In)
	}
	if err := canGetPassword(ios, false); err != nil {
		return "", err
	}
	for try := 1; ; try++ {
		pw, err := ios.ReadPassword("New password: ")
		if err != nil {
			return "", err
		}
		again, err := ios.ReadPassword("Repeat password: ")
		if err != nil {
			return "", err
		}
		if subtle.ConstantTimeCompare([]byte(pw), []byte(again)) == 1 {
			return pw, nil
		}
		if try == maxPasswordTries {
			return "", errors.New("the passwords differ")
		}
		fmt.Fprintln(ios.ErrOut, "The passwords differ; try again.")
	}
}

// NewCmdUserList is `authctl user list`.
func NewCmdUserList(f *Factory, runF func(context.Context, *UserListOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Long: `List the users in the store (--db): name, role and when each was added, by name.
Password hashes are never shown. --json prints them as an array of
{"name","role","created_at"}.`,
		Example: `  authctl user list
  authctl user list --json | jq -r '.[] | select(.role == "admin") | .name'`,
		Args: cobra.NoArgs,
	}
	return newCmd(f, cmd, runF, userListRun, nil)
}

func userListRun(ctx context.Context, opts *UserListOptions) error {
	return listFromStore(ctx, &opts.StoreOptions, func(st server.Store) ([]userRow, error) {
		users, err := st.ListUsers(ctx)
		return rowsOf(users, userRowOf), err
	}, usersTable)
}

// usersTable is `user list` for people.
func usersTable(o *OutputOptions, rows []userRow) error {
	sty := o.IO.Styles()
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, sty.Title.Render("NAME")+"\t"+sty.Title.Render("ROLE")+"\t"+sty.Title.Render("CREATED"))
	for _, u := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Role, timeText(u.CreatedAt))
	}
	return tw.Flush()
}

// NewCmdUserPasswd is `authctl user passwd NAME`.
func NewCmdUserPasswd(f *Factory, runF func(context.Context, *UserPasswdOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password (ends the user's sessions)",
		Example: `  authctl user passwd alice               # asks for the new password twice
  printf '%s' "$NEW_PASSWORD" | authctl user passwd ci --password-stdin`,
		Args: cobra.ExactArgs(1),
	}
	return newCmd(f, cmd, runF, userPasswdRun, func(cmd *cobra.Command, o *UserPasswdOptions) {
		cmd.Flags().BoolVar(&o.PasswordStdin, "password-stdin", false, "read the password from stdin")
	})
}

func userPasswdRun(ctx context.Context, opts *UserPasswdOptions) error {
	ctx = server.WithActor(ctx, cliActor()) // audited (sessions.go)
	if err := canGetPassword(opts.IO, opts.PasswordStdin); err != nil {
		return err
	}
	err := opts.withStore(ctx, func(st server.Store) error {
		if _, err := st.UserByName(ctx, opts.Name); err != nil {
			return err // ErrNotFound: no password asked for a user who is not there
		}
		pw, err := newPassword(opts.IO, opts.PasswordStdin)
		if err != nil {
			return err
		}
		return server.ChangePassword(ctx, st, server.NewPasswordHasher(server.DefaultArgon2, 0), opts.Name, pw, opts.Now())
	})
	switch {
	case errors.Is(err, server.ErrNotFound):
		return fmt.Errorf("no user %s", opts.Name)
	case errors.Is(err, server.ErrWeakPassword):
		return &FlagError{Err: err}
	case err != nil:
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO, userChanged{Name: opts.Name, PasswordChanged: true, SessionsRevoked: true})
	}
	fmt.Fprintf(opts.IO.ErrOut, "authctl: changed the password of %s; their sessions are revoked\n", opts.Name)
	return nil
}

// userChanged is what `user passwd --json` and `user delete --json` print.
type userChanged struct {
	Name            string `json:"name"`
	PasswordChanged bool   `json:"password_changed,omitempty"`
	Deleted         bool   `json:"deleted,omitempty"`
	SessionsRevoked bool   `json:"sessions_revoked"`
}

// NewCmdUserDelete is `authctl user delete NAME`.
func NewCmdUserDelete(f *Factory, runF func(context.Context, *UserDeleteOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user (ends the user's sessions)",
		Long: `Delete a user and end the user's sessions. On a terminal it asks first; without
one, --yes is required, so that a script never deletes by accident.`,
		Example: `  authctl user delete alice               # asks for confirmation
  authctl user delete ci-old --yes --db /var/lib/authctl/authctl.db`,
		SuggestFor: []string{"rm", "remove"},
		Args:       cobra.ExactArgs(1),
	}
	return newCmd(f, cmd, runF, userDeleteRun, func(cmd *cobra.Command, o *UserDeleteOptions) {
		cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation")
	})
}

// errKept is the answer "no" to user delete's question.
var errKept = errors.New("kept")

func userDeleteRun(ctx context.Context, opts *UserDeleteOptions) error {
	ctx = server.WithActor(ctx, cliActor()) // audited (sessions.go)
	ios := opts.IO
	if !opts.Yes && !ios.CanPrompt() {
		return usageError("no terminal to confirm deleting user %s: use --yes", opts.Name)
	}
	err := opts.withStore(ctx, func(st server.Store) error {
		if !opts.Yes {
			// Ask only about a user who is there: a question about a typo is no safeguard.
			if _, err := st.UserByName(ctx, opts.Name); err != nil {
				return err
			}
			yes, err := confirm(ios, fmt.Sprintf("Delete user %s and end their sessions?", opts.Name))
			if err != nil {
				return err
			}
			if !yes {
				return errKept
			}
		}
		return server.DeleteUser(ctx, st, opts.Name, opts.Now())
	})
	switch {
	case errors.Is(err, server.ErrNotFound):
		return fmt.Errorf("no user %s", opts.Name)
	case errors.Is(err, errKept):
		return fmt.Errorf("user %s not deleted", opts.Name)
	case err != nil:
		return err
	}
	if opts.JSON {
		return writeJSON(ios, userChanged{Name: opts.Name, Deleted: true, SessionsRevoked: true})
	}
	fmt.Fprintf(ios.ErrOut, "authctl: deleted user %s; their sessions are revoked\n", opts.Name)
	return nil
}

// confirm asks question on the terminal and reports whether the answer was yes. Only "y"
// or "yes" is: Enter alone, end of input or anything else leaves things as they are.
func confirm(ios *IOStreams, question string) (bool, error) {
	fmt.Fprintf(ios.ErrOut, "%s [y/N] ", question)
	line, err := readLine(ios.In)
	if err != nil {
		return false, fmt.Errorf("read answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// readLine reads one line, a byte at a time: a buffered reader would swallow whatever
// follows on stdin.
func readLine(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for len(line) < 1024 {
		n, err := r.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			line = append(line, b[0])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return string(line), nil
}
