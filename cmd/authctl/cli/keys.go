package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/server"
)

// NewCmdKeys is `authctl keys rotate|list`, managing the signing keys kept in --db.
func NewCmdKeys(f *Factory) *cobra.Command {
	var db string
	cmd := &cobra.Command{Use: "keys", Short: "Manage the server's signing keys"}
	cmd.PersistentFlags().StringVar(&db, "db", f.Getenv("AUTHCTL_DB"), "SQLite file or postgres:// URL (env AUTHCTL_DB)")

	var alg string
	var accessTTL time.Duration
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Add a new active signing key; old keys stay in JWKS until their tokens expire",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !validAlg(alg) {
				return usageError("--signing-alg must be EdDSA, ES256, RS256 or HS256, not %q", alg)
			}
			st, err := openStore(cmd.Context(), f.Getenv, db)
			if err != nil {
				return err
			}
			defer st.Close()
			now := f.Now()
			k, err := server.GenerateSigningKey(alg, now)
			if err != nil {
				return err
			}
			retire := now.Add(accessTTL + time.Minute)
			if err := st.RotateSigningKey(cmd.Context(), k, retire); err != nil {
				return fmt.Errorf("rotate signing key: %w", err)
			}
			fmt.Fprintf(f.IO.ErrOut, "authctl: new %s key %s is active; previous keys retire at %s\n", alg, k.KID, retire.Local().Format(time.DateTime))
			return nil
		},
	}
	rotate.Flags().StringVar(&alg, "signing-alg", "EdDSA", "algorithm of the new key")
	rotate.Flags().DurationVar(&accessTTL, "access-ttl", 5*time.Minute, "the servers' access token lifetime: old keys stay this long (plus a minute)")

	list := &cobra.Command{
		Use: "list", Short: "List signing keys (never the private parts)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(cmd.Context(), f.Getenv, db)
			if err != nil {
				return err
			}
			defer st.Close()
			keys, err := st.SigningKeys(cmd.Context(), f.Now())
			if err != nil {
				return err
			}
			type row struct {
				KID       string     `json:"kid"`
				Alg       string     `json:"alg"`
				Active    bool       `json:"active"`
				CreatedAt time.Time  `json:"created_at"`
				RetireAt  *time.Time `json:"retire_at,omitempty"`
			}
			rows := make([]row, 0, len(keys))
			for _, k := range keys {
				r := row{KID: k.KID, Alg: k.Alg, Active: k.Active, CreatedAt: k.CreatedAt}
				if !k.RetireAt.IsZero() {
					r.RetireAt = &k.RetireAt
				}
				rows = append(rows, r)
			}
			if f.JSON {
				return writeJSON(f, rows)
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KID\tALG\tACTIVE\tCREATED\tRETIRES")
			for _, r := range rows {
				retire := "-"
				if r.RetireAt != nil {
					retire = r.RetireAt.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", r.KID, r.Alg, r.Active, r.CreatedAt.Local().Format(time.DateTime), retire)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(rotate, list)
	return cmd
}
