package cli

import (
	"context"
	"fmt"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
)

// BuildInfo is set by the release build through main's ldflags.
type BuildInfo struct{ Version, Commit, Date string }

// VersionOptions are `authctl version`'s.
type VersionOptions struct {
	OutputOptions
	Build BuildInfo
}

func (o *VersionOptions) fill(f *Factory, cmd *cobra.Command, _ []string) error {
	o.Build = f.Build
	return nil
}

// NewCmdVersion prints the build's version, commit and date.
func NewCmdVersion(f *Factory, runF func(context.Context, *VersionOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print version, commit and build date",
		Example: "  authctl version\n  authctl version --json | jq -r .version",
		Args:    cobra.NoArgs,
	}
	return newCmd(f, cmd, runF, versionRun, nil)
}

func versionRun(_ context.Context, opts *VersionOptions) error {
	b := opts.Build
	if opts.JSON {
		return writeJSON(opts.IO, map[string]string{"version": b.Version, "commit": b.Commit, "date": b.Date})
	}
	_, err := fmt.Fprintf(opts.IO.Out, "authctl %s (commit %s, built %s)\n", b.Version, b.Commit, b.Date)
	return err
}

// resolve fills in what the release build did not stamp — a binary from `go install` or
// `go build` — from the module version and VCS details the Go toolchain records in every
// binary, so that such a build still says which code it is.
func (b BuildInfo) resolve() BuildInfo {
	if info, ok := debug.ReadBuildInfo(); ok {
		return b.fromModule(info)
	}
	return b
}

// fromModule fills each field of b still at main's default ("dev", "none", "unknown")
// or empty from info: the module version (`go install …@v1.2.3`), else none; the
// vcs.revision and vcs.time of a build in a checkout, else the ones a pseudo-version
// carries (`go install …@main`).
func (b BuildInfo) fromModule(info *debug.BuildInfo) BuildInfo {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	rev, when := settings["vcs.revision"], settings["vcs.time"]
	if rev != "" && settings["vcs.modified"] == "true" {
		rev += "-dirty"
	}
	if rev == "" {
		rev, when = pseudoVersionCommit(info.Main.Version)
	}
	if v := info.Main.Version; (b.Version == "" || b.Version == "dev") && v != "" && v != "(devel)" {
		b.Version = v
	}
	if (b.Commit == "" || b.Commit == "none") && rev != "" {
		b.Commit = rev
	}
	if (b.Date == "" || b.Date == "unknown") && when != "" {
		b.Date = when
	}
	return b
}

// pseudoVersion matches the tail of a Go pseudo-version, v0.0.0-20260102150405-abcdef123456
// (or …-pre.0.20260102150405-…, …-0.20260102150405-…), with an optional +dirty.
var pseudoVersion = regexp.MustCompile(`[-.](\d{14})-([0-9a-f]{12})(\+[0-9A-Za-z.-]+)?$`)

// pseudoVersionCommit returns the commit prefix and the commit time (RFC 3339, UTC) that a
// pseudo-version names, or two empty strings for a release version.
func pseudoVersionCommit(v string) (commit, date string) {
	m := pseudoVersion.FindStringSubmatch(v)
	if m == nil {
		return "", ""
	}
	t, err := time.Parse("20060102150405", m[1])
	if err != nil {
		return "", ""
	}
	return m[2], t.UTC().Format(time.RFC3339)
}
