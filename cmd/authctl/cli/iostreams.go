package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are a command's standard streams and what they are connected to. Commands
// decide about prompts, colour and tables from here, never from os.Stdout directly, so
// tests can pretend to be a terminal or a pipe.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY bool
	colorOff            bool // NO_COLOR or --no-color
	neverPrompt         bool // --no-input
}

// System returns the process's own streams. NO_COLOR (any non-empty value, as
// https://no-color.org says) turns colour off.
func System(getenv func(string) string) *IOStreams {
	return &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		colorOff:  getenv("NO_COLOR") != "",
	}
}

// Test returns streams backed by buffers, as if nothing were a terminal.
func Test() (ios *IOStreams, stdin, stdout, stderr *bytes.Buffer) {
	stdin, stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: stdin, Out: stdout, ErrOut: stderr}, stdin, stdout, stderr
}

// SetTTY pretends stdin and stdout are (or are not) terminals, for tests.
func (s *IOStreams) SetTTY(stdin, stdout bool) { s.stdinTTY, s.stdoutTTY = stdin, stdout }

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// SetNeverPrompt forbids prompts (--no-input), even on a terminal.
func (s *IOStreams) SetNeverPrompt(never bool) { s.neverPrompt = never }

// CanPrompt reports whether the user can be asked something: stdin and stdout are
// terminals (a prompt on a pipe would hang a script) and --no-input was not given.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stdoutTTY && !s.neverPrompt }

// DisableColor turns colour off (--no-color).
func (s *IOStreams) DisableColor() { s.colorOff = true }

// ColorEnabled reports whether output may be coloured: only on a terminal, and not when
// NO_COLOR or --no-color says otherwise.
func (s *IOStreams) ColorEnabled() bool { return s.stdoutTTY && !s.colorOff }

var errNoTerminal = errors.New("stdin is not a terminal")

// ReadPassword prompts on stderr and reads a line from the terminal without echo.
func (s *IOStreams) ReadPassword(prompt string) (string, error) {
	f, ok := s.In.(*os.File)
	if !ok || !s.CanPrompt() {
		return "", errNoTerminal
	}
	fmt.Fprint(s.ErrOut, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(s.ErrOut)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// Styles returns the palette, coloured only when these streams allow it.
func (s *IOStreams) Styles() Styles { return NewStyles(s.ColorEnabled()) }

// writeJSON prints v as indented JSON on stdout: --json output is for scripts, stable
// and never coloured.
func writeJSON(ios *IOStreams, v any) error {
	enc := json.NewEncoder(ios.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
