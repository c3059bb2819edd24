package cli

import (
	"strings"
	"testing"
)

func TestColorRules(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name              string
		tty, noColorEnv   bool
		noColorFlag, want bool
	}{
		{"a terminal gets colour", true, false, false, true},
		{"a pipe gets none", false, false, false, false},
		{"NO_COLOR turns it off on a terminal", true, true, false, false},
		{"--no-color turns it off on a terminal", true, false, true, false},
		{"both off on a pipe stays off", false, true, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ios := System(func(k string) string {
				if k == "NO_COLOR" && c.noColorEnv {
					return "1"
				}
				return ""
			})
			ios.SetTTY(c.tty, c.tty)
			if c.noColorFlag {
				ios.DisableColor()
			}
			if got := ios.ColorEnabled(); got != c.want {
				t.Errorf("ColorEnabled() = %v, want %v", got, c.want)
			}
		})
	}
}

func TestNoColorFlagReachesTheStreams(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := Test()
	ios.SetTTY(true, true)
	f := NewFactory(BuildInfo{}, ios, func(string) string { return "" })
	if err := Execute(t.Context(), f, []string{"--no-color", "version"}); err != nil {
		t.Fatal(err)
	}
	if ios.ColorEnabled() {
		t.Error("colour still on after --no-color")
	}
}

func TestCanPrompt(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                   string
		stdin, stdout, noInput bool
		want                   bool
	}{
		{"both terminals can prompt", true, true, false, true},
		{"piped stdin cannot", false, true, false, false},
		{"piped stdout cannot", true, false, false, false},
		{"--no-input forbids it", true, true, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := Test()
			ios.SetTTY(c.stdin, c.stdout)
			ios.SetNeverPrompt(c.noInput)
			if got := ios.CanPrompt(); got != c.want {
				t.Errorf("CanPrompt() = %v, want %v", got, c.want)
			}
			if ios.IsStdinTTY() != c.stdin || ios.IsStdoutTTY() != c.stdout {
				t.Error("TTY state not reported")
			}
		})
	}
}

func TestReadPasswordNeedsATerminal(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := Test()
	ios.SetTTY(true, true) // claims a terminal, but stdin is a buffer
	if _, err := ios.ReadPassword("Password: "); err == nil {
		t.Error("read a password from a buffer")
	}
}

func TestStylesRender(t *testing.T) {
	t.Parallel()
	off, on := NewStyles(false), NewStyles(true)
	for name, pair := range map[string][2]Style{
		"Title": {off.Title, on.Title}, "Key": {off.Key, on.Key}, "Valid": {off.Valid, on.Valid},
		"Expired": {off.Expired, on.Expired}, "Warning": {off.Warning, on.Warning}, "Muted": {off.Muted, on.Muted},
	} {
		t.Run(name+" is plain without colour and styled with it", func(t *testing.T) {
			t.Parallel()
			if got := pair[0].Render("text"); got != "text" {
				t.Errorf("colour off: %q", got)
			}
			if got := pair[1].Render("text"); !strings.Contains(got, "\x1b[") || !strings.Contains(got, "text") {
				t.Errorf("colour on: %q", got)
			}
		})
	}
	if (Styles{}).Title.Render("x") != "x" {
		t.Error("the zero Styles must render plain text")
	}
}

func TestReadSecretStdin(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, in, want string
		usage          bool
	}{
		{"drops one trailing newline", "s3cret-pass\n", "s3cret-pass", false},
		{"drops a CRLF", "s3cret-pass\r\n", "s3cret-pass", false},
		{"keeps inner spaces", " a b \n", " a b ", false},
		{"keeps a second newline", "pw\n\n", "pw\n", false},
		{"empty is a usage error", "", "", true},
		{"too large is a usage error", strings.Repeat("x", maxSecret+1), "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := readSecretStdin(strings.NewReader(c.in))
			if c.usage {
				if ExitCode(err) != ExitUsage {
					t.Errorf("err %v, want a usage error", err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}
