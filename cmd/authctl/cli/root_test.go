package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// result is one command line's outcome, as a script would see it.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs authctl in-process with the given environment (nothing else leaks in from
// the test process) and an empty stdin that is not a terminal.
func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return runCLIWith(t, env, "", false, args...)
}

func runCLIWith(t *testing.T, env map[string]string, stdin string, tty bool, args ...string) result {
	t.Helper()
	ios, in, out, errOut := Test()
	in.WriteString(stdin)
	ios.SetTTY(tty, tty)
	f := NewFactory(BuildInfo{Version: "v1.2.3", Commit: "abc1234", Date: "2026-11-28"}, ios, func(k string) string { return env[k] })
	err := Execute(context.Background(), f, args)
	printError(errOut, err)
	return result{code: ExitCode(err), stdout: out.String(), stderr: errOut.String()}
}

func TestExitCodeMapping(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		err  error
		want int
	}{
		{"no error is 0", nil, ExitOK},
		{"a plain error is 1", errors.New("boom"), ExitFailed},
		{"a FlagError is 2", &FlagError{Err: errors.New("bad flag")}, ExitUsage},
		{"a wrapped FlagError is still 2", fmt.Errorf("ctx: %w", usageError("x")), ExitUsage},
		{"an ExitError carries its code", &ExitError{Code: ExitAuthRequired, Err: errors.New("log in")}, ExitAuthRequired},
		{"a wrapped ExitError keeps its code", fmt.Errorf("ctx: %w", authRequired(errors.New("x"))), ExitAuthRequired},
		{"the outer typed error wins", &ExitError{Code: ExitFailed, Err: usageError("x")}, ExitFailed},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := ExitCode(c.err); got != c.want {
				t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
			}
		})
	}
}

func TestUsageErrorsExit2WithOneLine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
		want string // in the one stderr line
	}{
		{"an unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"an unknown global flag", []string{"--bogus"}, "unknown flag: --bogus"},
		{"an unknown command flag", []string{"version", "--bogus"}, "unknown flag: --bogus"},
		{"extra arguments to version", []string{"version", "extra"}, `unknown command "extra"`},
		{"user add without a name", []string{"user", "add"}, "missing NAME; usage: authctl user add NAME"},
		{"a bad --keystore", []string{"--keystore", "vault", "version"}, "--keystore must be auto, keyring or file"},
		{"an unsupported shell", []string{"completion", "tcsh"}, `invalid argument "tcsh"`},
		{"serve with alg none", []string{"serve", "--signing-alg", "none"}, "--signing-alg must be EdDSA, ES256, RS256 or HS256"},
		{"serve with a bad duration", []string{"serve", "--access-ttl", "soon"}, `invalid argument "soon" for "--access-ttl"`},
		{"serve with a zero access TTL", []string{"serve", "--access-ttl", "0s"}, "--access-ttl must be positive"},
		{"serve with a negative grace", []string{"serve", "--reuse-grace", "-1s"}, "--reuse-grace must not be negative"},
		{"serve with an address without port", []string{"serve", "--addr", "localhost"}, "want HOST:PORT"},
		{"serve with half a TLS pair", []string{"serve", "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{"serve with a wildcard CORS origin", []string{"serve", "--cors-origin", "*"}, "must name an origin"},
		{"serve with a bad log format", []string{"serve", "--log-format", "xml"}, "--log-format must be text or json"},
		{"user add with no terminal and no --password-stdin", []string{"user", "add", "bob", "--db", "unused.db"}, "use --password-stdin"},
	} {
		t.Run(c.name+" exits 2", func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, nil, c.args...)
			if r.code != ExitUsage {
				t.Errorf("exit %d, want 2; stderr %q", r.code, r.stderr)
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "authctl: ") {
				t.Errorf("stderr is not one authctl: line: %q", r.stderr)
			}
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr %q lacks %q", r.stderr, c.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
}

func TestNoInputForbidsPromptingOnATerminal(t *testing.T) {
	t.Parallel()
	r := runCLIWith(t, nil, "", true, "--no-input", "user", "add", "bob", "--db", "unused.db")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "use --password-stdin") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestPrintErrorWritesOneLine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, msg, want string }{
		{"a simple message", "boom", "authctl: boom\n"},
		{"escape sequences are dropped", "bad \x1b[31mred\x1b[0m", "authctl: bad [31mred[0m\n"},
		{"a multi-line message is joined", "unknown command \"x\"\n\nDid you mean this?\n\tversion\n", "authctl: unknown command \"x\" Did you mean this? version\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			printError(&b, errors.New(c.msg))
			if b.String() != c.want {
				t.Errorf("got %q, want %q", b.String(), c.want)
			}
		})
	}
	t.Run("no error prints nothing", func(t *testing.T) {
		var b strings.Builder
		printError(&b, nil)
		if b.Len() != 0 {
			t.Errorf("printed %q", b.String())
		}
	})
}

func TestHelpTopicExitCodes(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "help", "exit-codes")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"0  ok", "1  the operation failed", "2  usage error", "4  authentication required"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, r.stdout)
		}
	}
	if root := runCLI(t, nil, "--help"); !strings.Contains(root.stdout, "exit-codes") {
		t.Errorf("root help does not list the topic:\n%s", root.stdout)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	t.Run("prints version, commit and date", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, nil, "version")
		if r.code != 0 || r.stdout != "authctl v1.2.3 (commit abc1234, built 2026-11-28)\n" {
			t.Errorf("exit %d, stdout %q", r.code, r.stdout)
		}
	})
	t.Run("--json prints an object", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, nil, "version", "--json")
		var got map[string]string
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("%v: %q", err, r.stdout)
		}
		if got["version"] != "v1.2.3" || got["commit"] != "abc1234" || got["date"] != "2026-11-28" {
			t.Errorf("%v", got)
		}
	})
	t.Run("--version works too", func(t *testing.T) {
		t.Parallel()
		if r := runCLI(t, nil, "--version"); r.stdout != "authctl v1.2.3\n" {
			t.Errorf("stdout %q", r.stdout)
		}
	})
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	for shell, marker := range map[string]string{
		"bash":       "bash completion V2 for authctl",
		"zsh":        "#compdef authctl",
		"fish":       "fish completion for authctl",
		"powershell": "powershell completion for authctl",
	} {
		t.Run(shell+" prints a script", func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, nil, "completion", shell)
			if r.code != 0 || !strings.Contains(r.stdout, marker) {
				t.Errorf("exit %d, stdout lacks %q (%d bytes)", r.code, marker, len(r.stdout))
			}
		})
	}
	t.Run("the default completion command is not added twice", func(t *testing.T) {
		t.Parallel()
		n := 0
		for _, c := range NewCmdRoot(NewFactory(BuildInfo{}, &IOStreams{}, func(string) string { return "" })).Commands() {
			if c.Name() == "completion" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d completion commands", n)
		}
	})
}

// FuzzPrintError checks the one-line promise for any message, including ones that echo
// untrusted input (a server's error_description, a bad flag value).
func FuzzPrintError(f *testing.F) {
	for _, seed := range []string{"boom", "a\nb", "\r\n\t", "", "unknown command \"x\"\n\nDid you mean this?\n\tversion\n", "\u2028line sep"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		var b strings.Builder
		printError(&b, errors.New(msg))
		out := b.String()
		if !strings.HasPrefix(out, "authctl: ") || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") || strings.ContainsFunc(strings.TrimSuffix(out, "\n"), unicode.IsControl) {
			t.Errorf("not one line: %q", out)
		}
	})
}
