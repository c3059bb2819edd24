// Package cli holds authctl's cobra commands. Commands only parse flags into Options; the
// work is done by the server, client and keystore packages.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// BuildInfo is set by the release build.
type BuildInfo struct{ Version, Commit, Date string }

// Factory is what commands get from the outside world.
type Factory struct {
	IO     *IOStreams
	Getenv func(string) string
	Now    func() time.Time
	Build  BuildInfo

	// Global flags.
	Server   string
	Keystore string
	JSON     bool
	NoColor  bool
	Verbose  bool
	NoInput  bool
}

func (f *Factory) styles() styles { return styles{color: f.IO.ColorEnabled()} }

// envOr returns the environment variable, or def when it is unset.
func (f *Factory) envOr(name, def string) string {
	if v := f.Getenv(name); v != "" {
		return v
	}
	return def
}

// Main runs authctl with the process's streams and signals and returns the exit code.
func Main(build BuildInfo, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f := &Factory{IO: System(os.Getenv), Getenv: os.Getenv, Now: time.Now, Build: build}
	return Run(ctx, f, args)
}

// Run executes one command line and returns the exit code, printing an error as one
// `authctl: …` line.
func Run(ctx context.Context, f *Factory, args []string) int {
	root, started := NewCmdRoot(f)
	root.SetArgs(args)
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if !*started && !errors.As(err, &ee) {
		// Cobra failed before any command ran: unknown command, bad flag or arguments.
		err = &ExitError{Code: ExitUsage, Err: err}
	}
	msg := strings.TrimSpace(err.Error())
	msg = strings.ReplaceAll(msg, "\n", " ")
	fmt.Fprintf(f.IO.ErrOut, "authctl: %s\n", msg)
	return exitCode(err)
}

// NewCmdRoot builds the command tree; *started turns true once a command's own code runs.
func NewCmdRoot(f *Factory) (*cobra.Command, *bool) {
	started := new(bool)
	cmd := &cobra.Command{
		Use:           "authctl",
		Short:         "JWT token server and client",
		Long:          "authctl is a JWT token server (authctl serve) and its client: login, weather, refresh, logout, status and token tools.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       f.Build.Version,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			*started = true
			if f.NoColor {
				f.IO.DisableColor()
			}
			switch f.Keystore {
			case "auto", "keyring", "file":
			default:
				return usageError("--keystore must be auto, keyring or file, not %q", f.Keystore)
			}
			return nil
		},
	}
	cmd.SetVersionTemplate("authctl {{.Version}}\n")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ExitError{Code: ExitUsage, Err: err} })
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.Server, "server", f.Getenv("AUTHCTL_SERVER"), "server URL (default: the last server logged in to, else http://localhost:5000) (env AUTHCTL_SERVER)")
	pf.StringVar(&f.Keystore, "keystore", f.envOr("AUTHCTL_KEYSTORE", "auto"), "where sessions are kept: auto, keyring or file (env AUTHCTL_KEYSTORE)")
	pf.BoolVar(&f.JSON, "json", false, "print JSON")
	pf.BoolVar(&f.NoColor, "no-color", false, "no colour (also NO_COLOR, and whenever stdout is not a terminal)")
	pf.BoolVarP(&f.Verbose, "verbose", "v", false, "log each HTTP exchange to stderr (never secrets)")
	pf.BoolVar(&f.NoInput, "no-input", false, "never prompt")

	cmd.AddCommand(
		NewCmdServe(f, nil),
		NewCmdUser(f),
		NewCmdVersion(f),
		NewCmdKeys(f),
		&cobra.Command{Use: "exit-codes", Short: "Exit codes of authctl", Long: exitCodesHelp},
	)
	addClientCommands(cmd, f)
	return cmd, started
}

// readSecretStdin reads a secret from stdin, dropping one trailing newline.
func readSecretStdin(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return "", fmt.Errorf("read stdin: %w", err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", usageError("nothing on stdin")
	}
	return s, nil
}
