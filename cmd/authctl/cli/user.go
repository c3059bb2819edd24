package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/server"
)

// NewCmdUser is `authctl user …`, managing users in --db.
func NewCmdUser(f *Factory) *cobra.Command {
	var db string
	cmd := &cobra.Command{Use: "user", Short: "Manage the server's users"}
	cmd.PersistentFlags().StringVar(&db, "db", f.Getenv("AUTHCTL_DB"), "SQLite file or postgres:// URL (env AUTHCTL_DB)")

	var role string
	var pwStdin bool
	add := &cobra.Command{
		Use: "add NAME", Short: "Add a user", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := newPassword(f, pwStdin)
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), f, db)
			if err != nil {
				return err
			}
			defer st.Close()
			h := server.NewPasswordHasher(server.DefaultArgon2, 0)
			u, err := server.AddUser(cmd.Context(), st, h, args[0], role, pw, f.Now())
			if errors.Is(err, server.ErrInvalidUsername) {
				return usageError("%v", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "authctl: added user %s (role %s)\n", u.Name, u.Role)
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "user", "the user's role claim")
	add.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from stdin")

	list := &cobra.Command{
		Use: "list", Short: "List users", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(cmd.Context(), f, db)
			if err != nil {
				return err
			}
			defer st.Close()
			users, err := st.ListUsers(cmd.Context())
			if err != nil {
				return fmt.Errorf("list users: %w", err)
			}
			if f.JSON {
				type row struct {
					Name      string    `json:"name"`
					Role      string    `json:"role"`
					CreatedAt time.Time `json:"created_at"`
				}
				rows := make([]row, 0, len(users))
				for _, u := range users {
					rows = append(rows, row{u.Name, u.Role, u.CreatedAt})
				}
				return json.NewEncoder(f.IO.Out).Encode(rows)
			}
			sty := f.styles()
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, sty.Render(styleTitle, "NAME\tROLE\tCREATED"))
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Role, u.CreatedAt.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}

	var passwdStdin bool
	passwd := &cobra.Command{
		Use: "passwd NAME", Short: "Set a user's password (ends the user's sessions)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := newPassword(f, passwdStdin)
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), f, db)
			if err != nil {
				return err
			}
			defer st.Close()
			h := server.NewPasswordHasher(server.DefaultArgon2, 0)
			if err := server.ChangePassword(cmd.Context(), st, h, args[0], pw, f.Now()); errors.Is(err, server.ErrNotFound) {
				return fmt.Errorf("no user %s", args[0])
			} else if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "authctl: changed the password of %s; their sessions are revoked\n", args[0])
			return nil
		},
	}
	passwd.Flags().BoolVar(&passwdStdin, "password-stdin", false, "read the password from stdin")

	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a user (ends the user's sessions)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(cmd.Context(), f, db)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := server.DeleteUser(cmd.Context(), st, args[0], f.Now()); errors.Is(err, server.ErrNotFound) {
				return fmt.Errorf("no user %s", args[0])
			} else if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "authctl: deleted user %s; their sessions are revoked\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(add, list, passwd, del)
	return cmd
}

// newPassword reads a new password from stdin, or prompts twice on a terminal.
func newPassword(f *Factory, fromStdin bool) (string, error) {
	if fromStdin {
		return readSecretStdin(f.IO.In)
	}
	if !f.IO.CanPrompt() || f.NoInput {
		return "", usageError("no terminal to ask for the password: use --password-stdin")
	}
	pw, err := f.IO.ReadPassword("New password: ")
	if err != nil {
		return "", err
	}
	again, err := f.IO.ReadPassword("Repeat password: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the passwords differ")
	}
	return pw, nil
}
