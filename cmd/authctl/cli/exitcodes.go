package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
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
type FlagError struct{ Err error }

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
     none is possible (use --password-stdin)
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
