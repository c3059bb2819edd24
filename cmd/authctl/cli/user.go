package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/server"
)

// UserOptions are what every `authctl user …` command shares.
type UserOptions struct {
	IO        *IOStreams
	Now       func() time.Time
	JSON      bool
	OpenStore func(context.Context) (server.Store, error) // opens --db
}

// UserAddOptions are `authctl user add`'s arguments and flags.
type UserAddOptions struct {
	UserOptions
	Name          string
	Role          string
	PasswordStdin bool
}

// UserPasswdOptions are `authctl user passwd`'s.
type UserPasswdOptions struct {
	UserOptions
	Name          string
	PasswordStdin bool
}

// UserDeleteOptions are `authctl user delete`'s.
type UserDeleteOptions struct {
	UserOptions
	Name string
}

// NewCmdUser is the `authctl user` group: it manages the users kept in --db, the same
// store `authctl serve` uses, so it works while the server runs.
func NewCmdUser(f *Factory) *cobra.Command {
	var db string
	common := func() UserOptions {
		return UserOptions{
			IO: f.IO, Now: f.Now, JSON: f.JSON,
			OpenStore: func(ctx context.Context) (server.Store, error) { return openStore(ctx, f.Getenv, db) },
		}
	}
	cmd := &cobra.Command{
		Use:   "user <command>",
		Short: "Manage the server's users",
		Long:  "Manage the users in the server's store (--db), also while `authctl serve` runs.",
	}
	cmd.PersistentFlags().StringVar(&db, "db", f.Getenv("AUTHCTL_DB"), "SQLite file or postgres:// URL (env AUTHCTL_DB; default $XDG_DATA_HOME/authctl/authctl.db)")
	cmd.AddCommand(
		NewCmdUserAdd(common, nil),
		NewCmdUserList(common, nil),
		NewCmdUserPasswd(common, nil),
		NewCmdUserDelete(common, nil),
	)
	return cmd
}

// NewCmdUserAdd is `authctl user add NAME`.
func NewCmdUserAdd(common func() UserOptions, runF func(context.Context, *UserAddOptions) error) *cobra.Command {
	opts := &UserAddOptions{}
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user",
		Long: `Add a user. The password is asked for without echo on a terminal, or read from
stdin with --password-stdin; it is never taken from a flag.`,
		Example: "  printf '%s' \"$PASSWORD\" | authctl user add alice --password-stdin",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.UserOptions, opts.Name = common(), args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return userAddRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Role, "role", "user", "the user's role claim")
	cmd.Flags().BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the password from stdin")
	return cmd
}

func userAddRun(ctx context.Context, opts *UserAddOptions) error {
	pw, err := newPassword(opts.IO, opts.PasswordStdin)
	if err != nil {
		return err
	}
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := server.AddUser(ctx, st, server.NewPasswordHasher(server.DefaultArgon2, 0), opts.Name, opts.Role, pw, opts.Now())
	switch {
	case errors.Is(err, server.ErrInvalidUsername), errors.Is(err, server.ErrWeakPassword):
		return &FlagError{Err: err}
	case errors.Is(err, server.ErrUserExists):
		return fmt.Errorf("user %s already exists", opts.Name)
	case err != nil:
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "authctl: added user %s (role %s)\n", u.Name, u.Role)
	return nil
}

// NewCmdUserList is `authctl user list`.
func NewCmdUserList(common func() UserOptions, runF func(context.Context, *UserOptions) error) *cobra.Command {
	opts := &UserOptions{}
	return &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			*opts = common()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return userListRun(cmd.Context(), opts)
		},
	}
}

// userRow is one user in `user list --json`; a stable shape scripts may rely on.
type userRow struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func userListRun(ctx context.Context, opts *UserOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	users, err := st.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	if opts.JSON {
		rows := make([]userRow, 0, len(users))
		for _, u := range users {
			rows = append(rows, userRow{Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt.UTC()})
		}
		return writeJSONTo(opts.IO, rows)
	}
	sty := NewStyles(opts.IO.ColorEnabled())
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, sty.Title.Render("NAME")+"\t"+sty.Title.Render("ROLE")+"\t"+sty.Title.Render("CREATED"))
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Role, u.CreatedAt.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

// NewCmdUserPasswd is `authctl user passwd NAME`.
func NewCmdUserPasswd(common func() UserOptions, runF func(context.Context, *UserPasswdOptions) error) *cobra.Command {
	opts := &UserPasswdOptions{}
	cmd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password (ends the user's sessions)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.UserOptions, opts.Name = common(), args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return userPasswdRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the password from stdin")
	return cmd
}

func userPasswdRun(ctx context.Context, opts *UserPasswdOptions) error {
	pw, err := newPassword(opts.IO, opts.PasswordStdin)
	if err != nil {
		return err
	}
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	err = server.ChangePassword(ctx, st, server.NewPasswordHasher(server.DefaultArgon2, 0), opts.Name, pw, opts.Now())
	switch {
	case errors.Is(err, server.ErrNotFound):
		return fmt.Errorf("no user %s", opts.Name)
	case errors.Is(err, server.ErrWeakPassword):
		return &FlagError{Err: err}
	case err != nil:
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "authctl: changed the password of %s; their sessions are revoked\n", opts.Name)
	return nil
}

// NewCmdUserDelete is `authctl user delete NAME`.
func NewCmdUserDelete(common func() UserOptions, runF func(context.Context, *UserDeleteOptions) error) *cobra.Command {
	opts := &UserDeleteOptions{}
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user (ends the user's sessions)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.UserOptions, opts.Name = common(), args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return userDeleteRun(cmd.Context(), opts)
		},
	}
}

func userDeleteRun(ctx context.Context, opts *UserDeleteOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	err = server.DeleteUser(ctx, st, opts.Name, opts.Now())
	if errors.Is(err, server.ErrNotFound) {
		return fmt.Errorf("no user %s", opts.Name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "authctl: deleted user %s; their sessions are revoked\n", opts.Name)
	return nil
}
