// Package cli holds authctl's cobra commands, all in one shape taken from gh's pkg/cmd:
//
//   - an XOptions struct holds everything a command uses: streams, clock, the constructors
//     it needs and the values of its flags and arguments;
//   - NewCmdX(f, runF) builds the cobra command; its flags are bound to the Options, and
//     its run function (made by newCmd) only fills the rest of the Options from the
//     Factory and the arguments (XOptions.fill, which also refuses bad flags with exit 2)
//     and hands them to runF when a test passed one, else to xRun;
//   - xRun(ctx, opts) does the work through the Options alone.
//
// The Factory hands out the outside world, lazily: streams, environment, clock, and the
// keystore and API client for the chosen server. Global flag values are not in it: the
// root's pre-run points its constructors at them (GlobalOptions), and newCmd copies the
// ones every command shares (streams, clock, --json) into the OutputOptions each Options
// embeds; a command copies any other it shows (-v) itself. So tests build Options by
// hand, or parse a command line with runF swapped in, and never touch global state.
//
// Command groups (token, user, keys) and the exit-codes help topic have no run function
// and so no Options; the server-side commands (serve, and the user and keys groups)
// declare --db once each with addDBFlag, for their subcommands to inherit.
package cli

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/client"
	"github.com/authctl/authctl/keystore"
)

// Factory is what commands get from the outside world. The constructors are lazy: nothing
// is opened until a command asks.
type Factory struct {
	IO     *IOStreams
	Getenv func(string) string
	Now    func() time.Time
	Build  BuildInfo

	// ConfigDir is where the file keystore, the lock files and the last server live.
	ConfigDir func() (string, error)
	// Server is --server, else the last server logged in to, else the default.
	Server func() (string, error)
	// Keystore opens --keystore, once per command run.
	Keystore func() (keystore.Store, error)
	// Client is the API client for Server: over AUTHCTL_TOKEN as is when that is set,
	// else over the session in Keystore.
	Client func() (*client.Client, error)
}

// NewFactory returns a Factory over the given streams and environment, its constructors
// set for the global flags' defaults until the root's pre-run sets them for the flags given.
func NewFactory(build BuildInfo, ios *IOStreams, getenv func(string) string) *Factory {
	f := &Factory{IO: ios, Getenv: getenv, Now: time.Now, Build: build}
	f.ConfigDir = func() (string, error) {
		if d := f.Getenv("XDG_CONFIG_HOME"); d != "" {
			return d + "/authctl", nil
		}
		return keystore.DefaultDir()
	}
	f.connect(GlobalOptions{})
	return f
}

// envOr returns the environment variable, or def when it is unset or empty.
func (f *Factory) envOr(name, def string) string {
	if v := f.Getenv(name); v != "" {
		return v
	}
	return def
}

// GlobalOptions are the root's persistent flags, shared by every command (README "Client").
type GlobalOptions struct {
	Server   string // --server
	Keystore string // --keystore: auto, keyring or file
	JSON     bool   // --json
	NoColor  bool   // --no-color
	Verbose  bool   // -v, --verbose
	NoInput  bool   // --no-input
	Insecure bool   // --insecure: plain http:// to a host that is not loopback
	CAFile   string // --ca-file: a PEM file of CA certificates to trust too
}

// addGlobalFlags declares the global flags on the root; globalsOf reads them back.
func addGlobalFlags(root *cobra.Command, f *Factory) {
	pf := root.PersistentFlags()
	pf.String("server", f.Getenv("AUTHCTL_SERVER"), "server URL (default: the last server logged in to, else http://localhost:5000) (env AUTHCTL_SERVER)")
	pf.String("keystore", f.envOr("AUTHCTL_KEYSTORE", "auto"), "where sessions are kept: auto, keyring or file (env AUTHCTL_KEYSTORE)")
	pf.Bool("json", false, "print JSON")
	pf.Bool("no-color", false, "no colour (also NO_COLOR, and whenever stdout is not a terminal)")
	pf.BoolP("verbose", "v", false, "more detail on stderr (never secrets)")
	pf.Bool("no-input", false, "never prompt; fail instead")
	pf.Bool("insecure", false, "allow plain http:// to a server that is not loopback (env AUTHCTL_INSECURE=1)")
	pf.String("ca-file", f.Getenv("AUTHCTL_CA_FILE"), "also trust the CA certificates in this PEM file (env AUTHCTL_CA_FILE; SSL_CERT_FILE replaces the system's)")
}

// globalsOf reads the global flags as cmd inherited them from the root. Reading them from
// the command being run, rather than from variables the root shares, is what lets a
// command built on its own in a test see the zero GlobalOptions.
func globalsOf(cmd *cobra.Command) GlobalOptions {
	fs := cmd.Flags()
	var g GlobalOptions
	g.Server, _ = fs.GetString("server")
	g.Keystore, _ = fs.GetString("keystore")
	g.JSON, _ = fs.GetBool("json")
	g.NoColor, _ = fs.GetBool("no-color")
	g.Verbose, _ = fs.GetBool("verbose")
	g.NoInput, _ = fs.GetBool("no-input")
	g.Insecure, _ = fs.GetBool("insecure")
	g.CAFile, _ = fs.GetString("ca-file")
	return g
}

const defaultServer = "http://localhost:5000"

// connect points the Factory's constructors at the global flags g.
func (f *Factory) connect(g GlobalOptions) {
	// Once per run: a server typed without a scheme is completed with a note, said once.
	f.Server = sync.OnceValues(func() (string, error) { return f.resolveServer(g) })
	// Once per run: auto mode decides between keyring and file on first use, and warns
	// about the fallback once.
	f.Keystore = sync.OnceValues(func() (keystore.Store, error) {
		dir, err := f.ConfigDir()
		if err != nil {
			return nil, err
		}
		return keystore.Open(keystore.Options{Mode: g.Keystore, Dir: dir, Interactive: f.IO.CanPrompt(), Warn: f.IO.ErrOut, Getenv: f.Getenv})
	})
	f.Client = newConnector(f, g).client // session.go
}

// Main runs authctl with the process's arguments and streams and returns the exit code.
func Main(build BuildInfo) int {
	f := NewFactory(build.resolve(), System(os.Getenv), os.Getenv)
	err := Execute(context.Background(), f, os.Args[1:])
	printError(f.IO.ErrOut, err)
	return ExitCode(err)
}

// Execute runs one command line. Whatever cobra rejects before a command's own code
// starts (unknown command, bad flag, wrong number of arguments) comes back as a FlagError.
func Execute(ctx context.Context, f *Factory, args []string) error {
	root := NewCmdRoot(f)
	started := prepare(root)
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
		err = usageFromCobra(err)
	}
	return err
}

// prepare readies the tree for Execute and returns the flag that tells cobra's own
// rejections (which happen before any run function) from a command's failures:
//
//   - every run function sets that flag first;
//   - a group (a command with subcommands and nothing to run, like `user`) gets a run
//     function that shows its help: cobra would otherwise answer `authctl user rm alice`
//     with the help and exit 0, and a script would believe it; and a command with
//     subcommands that says nothing about its arguments takes none, since any argument
//     there is a mistyped subcommand;
//   - argument counts are checked with clearArgs' messages.
func prepare(c *cobra.Command) *bool {
	started := new(bool)
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasParent() && c.HasSubCommands() {
			if c.RunE == nil && c.Run == nil {
				c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
			}
			if c.Args == nil {
				c.Args = unknownSubcommand
			}
		}
		if run := c.RunE; run != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				*started = true
				return run(cmd, args)
			}
		}
		if check := c.Args; check != nil {
			c.Args = clearArgs(check)
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
	cmd := newCmdRootOnly(f)
	cmd.AddCommand(
		NewCmdServe(f, nil),
		NewCmdUser(f),
		NewCmdKeys(f),
		NewCmdBackup(f, nil),
		NewCmdLogin(f, nil),
		NewCmdLogout(f, nil),
		NewCmdRefresh(f, nil),
		NewCmdStatus(f, nil),
		NewCmdSwitch(f, nil),
		NewCmdAPI(f, nil),
		NewCmdWeather(f, nil),
		NewCmdSessions(f, nil),
		NewCmdToken(f),
		NewCmdVersion(f, nil),
		NewCmdCompletion(f, nil),
		newHelpTopicExitCodes(),
	)
	organizeHelp(cmd)
	return cmd
}

// newCmdRootOnly is the root without its subcommands: the global flags and the pre-run
// that applies them. Flag-parsing tests hang the command under test from it.
func newCmdRootOnly(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "authctl <command>",
		Short: "JWT token server and client",
		Long: `authctl is a JWT token server (authctl serve) and its client: login, weather,
refresh, logout, status and token tools. See 'authctl help exit-codes'.`,
		Example: `  authctl serve &                          # a server on http://localhost:5000
  authctl login -u admin                   # asks for the password
  authctl weather
  curl -H "Authorization: Bearer $(authctl token print)" http://localhost:5000/api/weather`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       f.Build.Version,
		// cmd is the command being run; it has inherited the global flags.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			g := globalsOf(cmd)
			switch g.Keystore {
			case "auto", "keyring", "file":
			default:
				return usageError("--keystore must be auto, keyring or file, not %q", g.Keystore)
			}
			if g.NoColor {
				f.IO.DisableColor()
			}
			f.IO.SetNeverPrompt(g.NoInput)
			f.connect(g)
			return nil
		},
	}
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.SetVersionTemplate("authctl {{.Version}}\n")
	cmd.SetFlagErrorFunc(flagError)
	addGlobalFlags(cmd, f)
	return cmd
}

// OutputOptions are where and how every command writes: stdout and stderr, the clock its
// times are shown against, and --json. Each Options embeds them and newCmd fills them, so
// no command copies the global --json by hand.
type OutputOptions struct {
	IO   *IOStreams
	Now  func() time.Time
	JSON bool // --json: a stable shape for scripts instead of text for people
}

func (o *OutputOptions) output() *OutputOptions { return o }

// printList prints a list command's rows: as JSON for scripts (README "JSON output"),
// else as table draws them for people.
func printList[T any](o *OutputOptions, rows []T, table func(*OutputOptions, []T) error) error {
	if o.JSON {
		return writeJSON(o.IO, rows)
	}
	return table(o, rows)
}

// rowsOf turns what a list command read into its rows, one row (of the JSON shape scripts
// rely on) a value.
func rowsOf[V, R any](vs []V, row func(V) R) []R {
	rows := make([]R, 0, len(vs))
	for _, v := range vs {
		rows = append(rows, row(v))
	}
	return rows
}

// options is what every command's Options type does: fill itself from the Factory and the
// parsed command line, refusing bad flags and arguments (usage errors) before any work;
// its OutputOptions are filled before that.
type options interface {
	output() *OutputOptions
	fill(f *Factory, cmd *cobra.Command, args []string) error
}

// newCmd gives cmd its run function, in the one shape every command has: fill a fresh
// Options (the shared OutputOptions, then the command's own fill), then hand them to runF
// when a test passed one, else to run. flags, when not nil, declares the command's own
// flags, bound to the Options.
func newCmd[O any, P interface {
	*O
	options
}](f *Factory, cmd *cobra.Command, runF, run func(context.Context, P) error, flags func(*cobra.Command, P)) *cobra.Command {
	opts := P(new(O))
	if flags != nil {
		flags(cmd, opts)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		*opts.output() = OutputOptions{IO: f.IO, Now: f.Now, JSON: globalsOf(cmd).JSON}
		if err := opts.fill(f, cmd, args); err != nil {
			return err
		}
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return run(cmd.Context(), opts)
	}
	return cmd
}
