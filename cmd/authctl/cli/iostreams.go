package cli

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the command's standard streams and what they are connected to.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY bool
	noColor             bool
}

// System returns the process's streams.
func System(getenv func(string) string) *IOStreams {
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		stdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		noColor:   getenv("NO_COLOR") != "",
	}
}

// Test returns streams backed by buffers, as if nothing were a terminal.
func Test() (ios *IOStreams, stdin, stdout, stderr *bytes.Buffer) {
	stdin, stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: stdin, Out: stdout, ErrOut: stderr}, stdin, stdout, stderr
}

// SetTTY pretends stdin and stdout are (or are not) terminals, for tests.
func (s *IOStreams) SetTTY(stdin, stdout bool) { s.stdinTTY, s.stdoutTTY = stdin, stdout }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// CanPrompt reports whether the user can be asked something: stdin and stdout are terminals.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stdoutTTY }

// DisableColor turns colour off (--no-color).
func (s *IOStreams) DisableColor() { s.noColor = true }

// ColorEnabled: only on a terminal, and not when NO_COLOR or --no-color says otherwise.
func (s *IOStreams) ColorEnabled() bool { return s.stdoutTTY && !s.noColor }

// ReadPassword reads a line from the terminal without echo.
func (s *IOStreams) ReadPassword(prompt string) (string, error) {
	io.WriteString(s.ErrOut, prompt)
	f, ok := s.In.(*os.File)
	if !ok {
		return "", errNoTerminal
	}
	b, err := term.ReadPassword(int(f.Fd()))
	io.WriteString(s.ErrOut, "\n")
	return string(b), err
}
