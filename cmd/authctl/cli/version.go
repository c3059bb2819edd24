package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// BuildInfo is set by the release build through main's ldflags.
type BuildInfo struct{ Version, Commit, Date string }

// NewCmdVersion prints the build's version, commit and date.
func NewCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := f.Build
			if f.JSON {
				return writeJSON(f, map[string]string{"version": b.Version, "commit": b.Commit, "date": b.Date})
			}
			_, err := fmt.Fprintf(f.IO.Out, "authctl %s (commit %s, built %s)\n", b.Version, b.Commit, b.Date)
			return err
		},
	}
}
