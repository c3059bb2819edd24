// Package cli holds authctl's cobra commands, gh-style: each command parses flags into an
// Options struct and hands it to a run function that works through the Factory (streams,
// environment, clock), so tests can build Options directly or swap the run function.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"
)

// Factory is what commands get from the outside world, plus the global flags.
type Factory struct {
	IO     *IOStreams
	Getenv func(string) string
	Now    func() time.Time
	Build  BuildInfo

	// Global flags (SPEC §3).
	Server   string
	Keystore string
	JSON     bool
	NoColor  bool
	Verbose  bool
	NoInput  bool
}

// NewFactory returns a Factory over the given streams and environment.
func NewFactory(build BuildInfo, ios *IOStreams, getenv func(string) string) *Factory {
	return &Factory{IO: ios, Getenv: getenv, Now: time.Now, Build: build}
}

// Styles returns the palette, coloured only when the streams allow it.
func (f *Factory) Styles() Styles { return NewStyles(f.IO.ColorEnabled()) }

// envOr returns the environment variable, or def when it is unset or empty.
func (f *Factory) envOr(name, def string) string {
	if v := f.Getenv(name); v != "" {
		return v
	}
	return def
}

// Main runs authctl with the process's arguments and streams and returns the exit code.
func Main(build BuildInfo) int {
	f := NewFactory(build, System(os.Getenv), os.Getenv)
	err := Execute(context.Background(), f, os.Args[1:])
	printError(f.IO.ErrOut, err)
	return ExitCode(err)
}

// Execute runs one command line. Whatever cobra rejects before a command's own code
// starts (unknown command, bad flag, wrong number of arguments) comes back as a FlagError.
func Execute(ctx context.Context, f *Factory, args []string) error {
	root := NewCmdRoot(f)
	started := trackStart(root)
	root.SetArgs(args)
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return nil
	}
	var ee *ExitError
	var fe *FlagError
	if !*started && !errors.As(err, &ee) && !errors.As(err, &fe) {
		err = &FlagError{Err: err}
	}
	return err
}

// printError writes err as exactly one `authctl: …` line, because scripts and log
// collectors read stderr line by line. Control characters are dropped: a message may echo
// what a server sent, and escape sequences from there must not reach the terminal.
func printError(w io.Writer, err error) {
	if err == nil {
		return
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, msg)
	fmt.Fprintf(w, "authctl: %s\n", msg)
}

// trackStart wraps every command's run function so Execute can tell cobra's own
// rejections (which happen before any run function) from a command's failures.
func trackStart(c *cobra.Command) *bool {
	started := new(bool)
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if run := c.RunE; run != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				*started = true
				return run(cmd, args)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(c)
	return started
}

// NewCmdRoot builds the command tree.
func NewCmdRoot(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "authctl <command>",
		Short: "JWT token server and client",
		Long: `authctl is a JWT token server (authctl serve) and its client: login, weather,
refresh, logout, status and token tools. See 'authctl help exit-codes'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       f.Build.Version,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if f.NoColor {
				f.IO.DisableColor()
			}
			f.IO.SetNeverPrompt(f.NoInput)
			switch f.Keystore {
			case "auto", "keyring", "file":
			default:
				return usageError("--keystore must be auto, keyring or file, not %q", f.Keystore)
			}
			return nil
		},
	}
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.SetVersionTemplate("authctl {{.Version}}\n")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &FlagError{Err: err} })

	pf := cmd.PersistentFlags()
	pf.StringVar(&f.Server, "server", f.Getenv("AUTHCTL_SERVER"), "server URL (default: the last server logged in to, else http://localhost:5000) (env AUTHCTL_SERVER)")
	pf.StringVar(&f.Keystore, "keystore", f.envOr("AUTHCTL_KEYSTORE", "auto"), "where sessions are kept: auto, keyring or file (env AUTHCTL_KEYSTORE)")
	pf.BoolVar(&f.JSON, "json", false, "print JSON")
	pf.BoolVar(&f.NoColor, "no-color", false, "no colour (also NO_COLOR, and whenever stdout is not a terminal)")
	pf.BoolVarP(&f.Verbose, "verbose", "v", false, "more detail on stderr (never secrets)")
	pf.BoolVar(&f.NoInput, "no-input", false, "never prompt; fail instead")

	cmd.AddCommand(
		NewCmdServe(f, nil),
		NewCmdUser(f),
		NewCmdKeys(f),
		NewCmdVersion(f),
		NewCmdCompletion(f),
		newHelpTopicExitCodes(),
	)
	// The client commands (login, weather, refresh, logout, status, token) live in their
	// own files and register themselves here.
	addClientCommands(cmd, f)
	return cmd
}

// writeJSON prints v as indented JSON on stdout: --json output is for scripts, stable
// and never coloured.
func writeJSON(f *Factory, v any) error { return writeJSONTo(f.IO, v) }

func writeJSONTo(ios *IOStreams, v any) error {
	enc := json.NewEncoder(ios.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
