package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes, documented in `authctl help exit-codes` and the README. Scripts depend on
// them: keep them stable.
const (
	ExitOK           = 0
	ExitFailed       = 1
	ExitUsage        = 2
	ExitAuthRequired = 4
)

// ExitError carries the exit code for its error.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// FlagError is a usage error: a bad flag, argument or combination of them (exit 2).
// Hint, when set, is what the user may have meant ("Did you mean this? decode"); it is
// printed on a line of its own, so the error itself stays one line a script can match.
type FlagError struct {
	Err  error
	Hint string
}

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// usageError builds a FlagError from a message.
func usageError(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// authRequired marks "log in first" (exit 4).
func authRequired(err error) error { return &ExitError{Code: ExitAuthRequired, Err: err} }

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var fe *FlagError
	if errors.As(err, &fe) {
		return ExitUsage
	}
	return ExitFailed
}

const exitCodesHelp = `authctl exits with:

  0  ok
  1  the operation failed: invalid token, server unreachable, the server said no
  2  usage error: unknown command, bad flag or argument, a prompt needed where
     none is possible (use --password-stdin, or --yes for user delete); a
     suggestion, when there is one, follows on the next line
  4  authentication required: not logged in, or the session expired or was
     revoked (run ` + "`authctl login`" + `)

Errors go to stderr as one line starting "authctl:"; data goes to stdout.
`

// newHelpTopicExitCodes is the `authctl help exit-codes` topic: a command without a run
// function, which cobra lists under "Additional help topics".
func newHelpTopicExitCodes() *cobra.Command {
	return &cobra.Command{
		Use:   "exit-codes",
		Short: "Exit codes of authctl",
		Long:  exitCodesHelp,
	}
}

// printError writes err as exactly one `authctl: …` line, because scripts and log
// collectors read stderr line by line; a usage error's suggestion, if any, follows on a
// line of its own.
func printError(w io.Writer, err error) {
	if err == nil {
		return
	}
	fmt.Fprintf(w, "authctl: %s\n", oneLine(err.Error()))
	var fe *FlagError
	if errors.As(err, &fe) && fe.Hint != "" {
		fmt.Fprintln(w, oneLine(fe.Hint))
	}
}

// oneLine joins msg into one line without control characters: a message may echo what a
// server or the command line sent, and escape sequences from there must not reach the
// terminal.
func oneLine(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, msg)
}

// cobraSuggestions is how cobra appends suggestions to an "unknown command" error.
const cobraSuggestions = "\n\nDid you mean this?\n"

// usageFromCobra makes a FlagError of what cobra refused before any command ran, moving
// the suggestions cobra appends to the message into the Hint.
func usageFromCobra(err error) *FlagError {
	msg, names, ok := strings.Cut(err.Error(), cobraSuggestions)
	if !ok {
		return &FlagError{Err: err}
	}
	return &FlagError{Err: errors.New(msg), Hint: "Did you mean this? " + strings.Join(strings.Fields(names), ", ")}
}

// flagError is the root's flag error function, inherited by every command: pflag's
// messages made plain (no strconv in them) and a suggestion for a mistyped flag name.
func flagError(cmd *cobra.Command, err error) error {
	var unknown *pflag.NotExistError
	if errors.As(err, &unknown) && unknown.GetSpecifiedShortnames() == "" {
		return &FlagError{Err: err, Hint: suggestFlag(cmd, unknown.GetSpecifiedName())}
	}
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) {
		return &FlagError{Err: fmt.Errorf("invalid argument %q for %q: %s", invalid.GetValue(), "--"+invalid.GetFlag().Name, wantValue(invalid))}
	}
	return &FlagError{Err: err}
}

// wantValue says what a flag of that type takes. For the built-in types the parser's own
// error (strconv.ParseInt: parsing "abc": invalid syntax) only says what the user already
// knows, in the words of Go.
func wantValue(e *pflag.InvalidValueError) string {
	switch e.GetFlag().Value.Type() {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "want a whole number"
	case "float32", "float64":
		return "want a number"
	case "bool":
		return "want true or false"
	case "duration":
		return "want a duration such as 90s, 5m or 12h"
	}
	return e.Unwrap().Error()
}

// suggestFlag names the flags of cmd close to the mistyped name: one or two edits away,
// or starting with it.
func suggestFlag(cmd *cobra.Command, name string) string {
	var close []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == name {
			return
		}
		if editDistance(name, f.Name) <= 2 || (len(name) >= 2 && strings.HasPrefix(f.Name, name)) {
			close = append(close, "--"+f.Name)
		}
	})
	if len(close) == 0 {
		return ""
	}
	return "Did you mean this? " + strings.Join(close, ", ")
}

// editDistance is the Levenshtein distance between a and b, in bytes: flag names are ASCII.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// clearArgs wraps a command's argument check so that cobra's "accepts 1 arg(s), received 0"
// becomes what is missing or extra, with the command's usage line.
func clearArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		err := check(cmd, args)
		if err == nil {
			return nil
		}
		msg := err.Error()
		if !strings.Contains(msg, "arg(s)") {
			return err // cobra's other complaints (unknown command, invalid argument) are clear
		}
		usage := strings.TrimSpace(cmd.CommandPath() + " " + strings.TrimSpace(strings.TrimPrefix(cmd.Use, cmd.Name())))
		if tooMany(msg, len(args)) {
			return usageError("unexpected argument %q; usage: %s", args[len(args)-1], usage)
		}
		want := strings.TrimSpace(strings.TrimPrefix(cmd.Use, cmd.Name()))
		if want == "" {
			want = "an argument"
		}
		return usageError("missing %s; usage: %s", want, usage)
	}
}

// tooMany tells, from cobra's count message, whether got arguments were too many rather
// than too few: "accepts at most N", or more than the N of "accepts N" or the upper bound
// of "accepts between M and N".
func tooMany(msg string, got int) bool {
	var nums []int
	for _, w := range strings.Fields(msg) {
		if n, err := strconv.Atoi(w); err == nil {
			nums = append(nums, n)
		}
	}
	switch {
	case strings.HasPrefix(msg, "requires at least"):
		return false
	case strings.HasPrefix(msg, "accepts at most"):
		return true
	case len(nums) > 0:
		return got > nums[0] && (!strings.HasPrefix(msg, "accepts between") || (len(nums) > 1 && got > nums[1]))
	}
	return false
}

// unknownSubcommand is the argument check of a group: any argument is a subcommand that
// does not exist. Cobra's own check for commands without arguments (NoArgs) gives no
// suggestion; this one gives cobra's, on the hint line.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default for the root
	}
	err := &FlagError{Err: fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
	if names := cmd.SuggestionsFor(args[0]); len(names) > 0 {
		err.Hint = "Did you mean this? " + strings.Join(names, ", ")
	}
	return err
}
