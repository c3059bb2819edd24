package cli

import (
	"errors"
	"fmt"
)

// Exit codes, documented in `authctl help exit-codes` and the README.
const (
	ExitOK           = 0
	ExitFailed       = 1
	ExitUsage        = 2
	ExitAuthRequired = 4
)

// ExitError carries an exit code with its error.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// usageError marks bad flags or arguments (exit 2).
func usageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// authRequired marks "log in first" (exit 4).
func authRequired(err error) error { return &ExitError{Code: ExitAuthRequired, Err: err} }

var errNoTerminal = errors.New("stdin is not a terminal")

func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailed
}

const exitCodesHelp = `authctl exits with:

  0  ok
  1  the operation failed: invalid token, server unreachable, the server said no
  2  usage error: unknown command, bad flag or argument
  4  authentication required: not logged in, or the session expired or was revoked
     (run ` + "`authctl login`" + `)

Errors go to stderr as one line starting "authctl:"; data goes to stdout.
`
