package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/server/sqlite"
)

// userEnv is an environment whose default --db is a fresh SQLite store in a temp dir.
func userEnv(t *testing.T) (map[string]string, string) {
	t.Helper()
	dir := t.TempDir()
	return map[string]string{"XDG_DATA_HOME": dir, "HOME": dir}, newStore(t, filepath.Join(dir, "authctl", "authctl.db"))
}

// newStore creates an empty SQLite store at path, as a first `authctl serve` would: the
// administration commands refuse a --db that does not exist.
func newStore(t *testing.T, path string) string {
	t.Helper()
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUserCommandsAgainstSQLite(t *testing.T) {
	t.Parallel()
	env, db := userEnv(t)

	r := runCLIWith(t, env, "carol-password\n", false, "user", "add", "carol", "--role", "admin", "--password-stdin")
	if r.code != 0 || r.stderr != "authctl: added user carol (role admin)\n" || r.stdout != "" {
		t.Fatalf("add: %+v", r)
	}
	if r := runCLIWith(t, env, "bob-password", false, "user", "add", "bob", "--password-stdin", "--db", db); r.code != 0 {
		t.Fatalf("add with explicit --db: %+v", r)
	}

	t.Run("list prints a table sorted by name", func(t *testing.T) {
		r := runCLI(t, env, "user", "list")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
			!strings.HasPrefix(lines[1], "bob ") || !strings.HasPrefix(lines[2], "carol ") || !strings.Contains(lines[2], " admin ") {
			t.Errorf("%+v", r)
		}
		if strings.Contains(r.stdout, "\x1b[") {
			t.Error("colour on a pipe")
		}
	})
	t.Run("list --json prints name, role and created_at", func(t *testing.T) {
		r := runCLI(t, env, "user", "list", "--json")
		var rows []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
			t.Fatalf("%v: %q", err, r.stdout)
		}
		if len(rows) != 2 || rows[1]["name"] != "carol" || rows[1]["role"] != "admin" || rows[0]["role"] != "user" {
			t.Fatalf("%v", rows)
		}
		if _, err := time.Parse(time.RFC3339, rows[0]["created_at"].(string)); err != nil || len(rows[0]) != 3 {
			t.Errorf("row %v: %v", rows[0], err)
		}
	})
	t.Run("adding an existing user fails with exit 1", func(t *testing.T) {
		r := runCLIWith(t, env, "whatever-pass", false, "user", "add", "carol", "--password-stdin")
		if r.code != ExitFailed || r.stderr != "authctl: user carol already exists\n" {
			t.Errorf("%+v", r)
		}
	})
	t.Run("a short password is a usage error", func(t *testing.T) {
		r := runCLIWith(t, env, "short", false, "user", "add", "dave", "--password-stdin")
		if r.code != ExitUsage || !strings.Contains(r.stderr, "at least 8 characters") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("a bad name is a usage error", func(t *testing.T) {
		r := runCLIWith(t, env, "long-enough-pw", false, "user", "add", "no spaces", "--password-stdin")
		if r.code != ExitUsage || !strings.Contains(r.stderr, "invalid username") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("passwd changes the password", func(t *testing.T) {
		r := runCLIWith(t, env, "carol-new-password\n", false, "user", "passwd", "carol", "--password-stdin")
		if r.code != 0 || !strings.Contains(r.stderr, "changed the password of carol") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("passwd of a missing user exits 1", func(t *testing.T) {
		r := runCLIWith(t, env, "some-password", false, "user", "passwd", "ghost", "--password-stdin")
		if r.code != ExitFailed || r.stderr != "authctl: no user ghost\n" {
			t.Errorf("%+v", r)
		}
	})
	t.Run("passwd without a terminal or --password-stdin is a usage error", func(t *testing.T) {
		r := runCLI(t, env, "user", "passwd", "carol")
		if r.code != ExitUsage || !strings.Contains(r.stderr, "--password-stdin") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("delete of a missing user exits 1 naming it", func(t *testing.T) {
		r := runCLI(t, env, "user", "delete", "nobody", "--yes")
		if r.code != ExitFailed || r.stderr != "authctl: no user nobody\n" {
			t.Errorf("%+v", r)
		}
	})
	t.Run("delete removes the user", func(t *testing.T) {
		if r := runCLI(t, env, "user", "delete", "carol", "--yes"); r.code != 0 || !strings.Contains(r.stderr, "deleted user carol") {
			t.Fatalf("%+v", r)
		}
		r := runCLI(t, env, "user", "list", "--json")
		if strings.Contains(r.stdout, "carol") || !strings.Contains(r.stdout, "bob") {
			t.Errorf("after delete: %s", r.stdout)
		}
	})
}

func TestUserAddFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		args  []string
		check func(*UserAddOptions) bool
	}{
		{"the role defaults to user", []string{"alice"}, func(o *UserAddOptions) bool { return o.Name == "alice" && o.Role == "user" && !o.PasswordStdin }},
		{"--role and --password-stdin are read", []string{"--role", "ops", "alice", "--password-stdin"}, func(o *UserAddOptions) bool { return o.Role == "ops" && o.PasswordStdin }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var got *UserAddOptions
			ios, _, _, _ := Test()
			cmd := NewCmdUserAdd(NewFactory(BuildInfo{}, ios, func(string) string { return "" }), func(_ context.Context, o *UserAddOptions) error { got = o; return nil })
			cmd.SetArgs(c.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if got == nil || !c.check(got) {
				t.Errorf("%+v", got)
			}
		})
	}
	t.Run("there is no password flag", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, nil, "user", "add", "alice", "--password", "x")
		if r.code != ExitUsage {
			t.Errorf("%+v", r)
		}
	})
}
