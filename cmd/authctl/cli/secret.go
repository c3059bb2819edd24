package cli

import (
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
