package cli

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxSecret bounds what is read from stdin: a password or token, never a file dump.
const maxSecret = 64 << 10

// readSecretStdin reads a secret from stdin (--password-stdin), dropping one trailing
// newline as `echo` and here-strings add it.
func readSecretStdin(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSecret+1))
	if err != nil {
		return "", fmt.Errorf("read stdin: %w", err)
	}
	if len(b) > maxSecret {
		return "", usageError("stdin holds more than %d bytes", maxSecret)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", usageError("nothing on stdin")
	}
	return s, nil
}

// newPassword gets a new password from stdin, or asks twice on a terminal. It never
// takes one from a flag: flags end up in shell history and ps output.
func newPassword(ios *IOStreams, fromStdin bool) (string, error) {
	if fromStdin {
		return readSecretStdin(ios.In)
	}
	if !ios.CanPrompt() {
		return "", usageError("no terminal to ask for the password: use --password-stdin")
	}
	pw, err := ios.ReadPassword("New password: ")
	if err != nil {
		return "", err
	}
	again, err := ios.ReadPassword("Repeat password: ")
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(pw), []byte(again)) != 1 {
		return "", errors.New("the passwords differ")
	}
	return pw, nil
}
