package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestEditDistance(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"days", "days", 0}, {"day", "days", 1}, {"dyas", "days", 2},
		{"sever", "server", 1}, {"", "json", 4}, {"kitten", "sitting", 3},
	} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestUsageErrorsSuggest(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
		want string // the whole of stderr
	}{
		{"a mistyped subcommand of a group", []string{"token", "decod"}, "authctl: unknown command \"decod\" for \"authctl token\"\nDid you mean this? decode\n"},
		{"rm for delete", []string{"user", "rm", "alice"}, "authctl: unknown command \"rm\" for \"authctl user\"\nDid you mean this? delete\n"},
		{"a mistyped top-level command", []string{"weahter"}, "authctl: unknown command \"weahter\" for \"authctl\"\nDid you mean this? weather\n"},
		{"a mistyped flag", []string{"weather", "--day", "3"}, "authctl: unknown flag: --day\nDid you mean this? --days\n"},
		{"a mistyped global flag", []string{"--jsno", "version"}, "authctl: unknown flag: --jsno\nDid you mean this? --json\n"},
		{"nothing close", []string{"token", "frobnicate"}, "authctl: unknown command \"frobnicate\" for \"authctl token\"\n"},
		{"a word for a number", []string{"weather", "--days", "abc"}, "authctl: invalid argument \"abc\" for \"--days\": want a whole number\n"},
		{"a missing argument", []string{"user", "passwd"}, "authctl: missing NAME; usage: authctl user passwd NAME\n"},
		{"one argument too many", []string{"user", "add", "a", "b"}, "authctl: unexpected argument \"b\"; usage: authctl user add NAME\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, nil, c.args...)
			if r.code != ExitUsage || r.stderr != c.want || r.stdout != "" {
				t.Errorf("exit %d\nstderr %q\nwant   %q\nstdout %q", r.code, r.stderr, c.want, r.stdout)
			}
		})
	}
}

func TestGroupsWithoutASubcommandShowHelp(t *testing.T) {
	t.Parallel()
	for _, group := range []string{"user", "keys", "token"} {
		r := runCLI(t, nil, group)
		if r.code != 0 || !strings.Contains(r.stdout, "Available Commands:") || r.stderr != "" {
			t.Errorf("%s: %+v", group, r)
		}
	}
}

func TestHelpGroupsAndExamples(t *testing.T) {
	t.Parallel()
	root := NewCmdRoot(NewFactory(BuildInfo{}, &IOStreams{}, func(string) string { return "" }))
	groups := map[string]string{}
	for _, c := range root.Commands() {
		groups[c.Name()] = c.GroupID
	}
	for name, want := range map[string]string{
		"login": groupClient, "weather": groupClient, "token": groupClient, "status": groupClient,
		"serve": groupAdmin, "user": groupAdmin, "keys": groupAdmin, "version": "",
	} {
		if groups[name] != want {
			t.Errorf("%s is in group %q, want %q", name, groups[name], want)
		}
	}
	for _, args := range [][]string{{"user", "--help"}, {"user", "add", "--help"}, {"keys", "rotate", "--help"}} {
		r := runCLI(t, nil, args...)
		if strings.Contains(r.stdout, "--server") || strings.Contains(r.stdout, "--keystore") || !strings.Contains(r.stdout, "--json") {
			t.Errorf("%v shows the wrong global flags:\n%s", args, r.stdout)
		}
	}
	// They are hidden only while that help prints: the root shares them.
	var user *cobra.Command
	for _, c := range root.Commands() {
		if c.Name() == "user" {
			user = c
		}
	}
	root.SetOut(io.Discard)
	root.HelpFunc()(user, nil)
	if fl := root.PersistentFlags().Lookup("server"); fl.Hidden {
		t.Error("--server stays hidden after the user help")
	}
}
