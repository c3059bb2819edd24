package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

// NewCmdVersion prints the build's version, commit and date.
func NewCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := f.Build
			if f.JSON {
				return json.NewEncoder(f.IO.Out).Encode(map[string]string{"version": b.Version, "commit": b.Commit, "date": b.Date})
			}
			_, err := fmt.Fprintf(f.IO.Out, "authctl %s (commit %s, built %s)\n", b.Version, b.Commit, b.Date)
			return err
		},
	}
}
