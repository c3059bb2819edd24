package cli

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// serveWith parses a serve command line with env and, when file is not empty, a TOML
// config file holding it (passed by --config).
func serveWith(t *testing.T, env map[string]string, file string, args ...string) (*ServeOptions, error) {
	t.Helper()
	if file != "" {
		args = append(args, "--config", writeConfig(t, file))
	}
	got, err := parse(t, env, func(f *Factory, got *any) *cobra.Command {
		return NewCmdServe(f, capture[ServeOptions](got))
	}, append([]string{"serve"}, args...)...)
	if err != nil {
		return nil, err
	}
	return got.(*ServeOptions), nil
}

func TestServeConfigPrecedence(t *testing.T) {
	t.Parallel()
	const file = `
addr = "127.0.0.1:7003"
access-ttl = "3m"
web = false
cors-origin = ["http://file.example", "http://file2.example"]
`
	for _, c := range []struct {
		name  string
		env   map[string]string
		file  string
		args  []string
		check func(o *ServeOptions) bool
	}{
		{"the default applies when nothing is set", nil, "", nil,
			func(o *ServeOptions) bool {
				return o.Addr == "127.0.0.1:5000" && o.AccessTTL == 5*time.Minute && o.Web && o.CORSOrigins == nil
			}},
		{"the file overrides the default", nil, file, nil,
			func(o *ServeOptions) bool {
				return o.Addr == "127.0.0.1:7003" && o.AccessTTL == 3*time.Minute && !o.Web &&
					slices.Equal(o.CORSOrigins, []string{"http://file.example", "http://file2.example"})
			}},
		{"the environment overrides the file",
			map[string]string{"AUTHCTL_ADDR": "127.0.0.1:7002", "AUTHCTL_ACCESS_TTL": "2m", "AUTHCTL_WEB": "true", "AUTHCTL_CORS_ORIGIN": "http://env.example, http://env2.example"},
			file, nil,
			func(o *ServeOptions) bool {
				return o.Addr == "127.0.0.1:7002" && o.AccessTTL == 2*time.Minute && o.Web &&
					slices.Equal(o.CORSOrigins, []string{"http://env.example", "http://env2.example"})
			}},
		{"a flag overrides the environment and the file",
			map[string]string{"AUTHCTL_ADDR": "127.0.0.1:7002", "AUTHCTL_ACCESS_TTL": "2m", "AUTHCTL_CORS_ORIGIN": "http://env.example"},
			file, []string{"--addr", "127.0.0.1:7001", "--access-ttl", "1m", "--web=true", "--cors-origin", "http://flag.example"},
			func(o *ServeOptions) bool {
				return o.Addr == "127.0.0.1:7001" && o.AccessTTL == time.Minute && o.Web &&
					slices.Equal(o.CORSOrigins, []string{"http://flag.example"})
			}},
		{"each setting takes its own highest source",
			map[string]string{"AUTHCTL_ACCESS_TTL": "2m"}, file, []string{"--web=true"},
			func(o *ServeOptions) bool {
				return o.Addr == "127.0.0.1:7003" && o.AccessTTL == 2*time.Minute && o.Web && len(o.CORSOrigins) == 2
			}},
		{"AUTHCTL_CONFIG names the file", map[string]string{"AUTHCTL_CONFIG": writeConfig(t, `refresh-ttl = "1h"`)}, "", nil,
			func(o *ServeOptions) bool { return o.RefreshTTL == time.Hour }},
		{"--config wins over AUTHCTL_CONFIG", map[string]string{"AUTHCTL_CONFIG": "/nonexistent.toml"}, `refresh-ttl = "2h"`, nil,
			func(o *ServeOptions) bool { return o.RefreshTTL == 2*time.Hour }},
		{"--db has AUTHCTL_DB and a db key", nil, `db = "/srv/authctl.db"`, nil,
			func(o *ServeOptions) bool { return o.DB == "/srv/authctl.db" }},
		{"AUTHCTL_DB wins over the db key", map[string]string{"AUTHCTL_DB": "/env.db"}, `db = "/srv/authctl.db"`, nil,
			func(o *ServeOptions) bool { return o.DB == "/env.db" }},
		{"a string in the file sets a repeatable flag to one value", nil, `cors-origin = "http://one.example"`, nil,
			func(o *ServeOptions) bool { return slices.Equal(o.CORSOrigins, []string{"http://one.example"}) }},
		{"TOML booleans and strings both set a boolean", nil, `web = "false"`, nil,
			func(o *ServeOptions) bool { return !o.Web }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o, err := serveWith(t, c.env, c.file, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(o) {
				t.Errorf("unexpected options: %+v", *o)
			}
		})
	}
}

func TestServeConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{"an unknown key is refused", "addr = \"127.0.0.1:1\"\naccess_ttl = \"1m\"\n", nil, `unknown key "access_ttl"`},
		{"a table is refused", "[server]\naddr = \"x\"\n", nil, `unknown key "server"`},
		{"the file cannot name another file", `config = "/etc/other.toml"`, nil, `unknown key "config"`},
		{"a bad value names the key", `access-ttl = 300`, nil, `access-ttl: invalid argument "300"`},
		{"a list for a single flag is refused", `addr = ["a:1", "b:2"]`, nil, "addr: want a single value, not a list"},
		{"broken TOML is refused", `addr = `, nil, "config file"},
		{"a bad variable names the variable", "", map[string]string{"AUTHCTL_REFRESH_TTL": "forever"}, `AUTHCTL_REFRESH_TTL="forever"`},
		{"a missing file is refused", "", map[string]string{"AUTHCTL_CONFIG": "/nonexistent/authctl.toml"}, "does not exist"},
		// Values from the file go through the same checks as flags.
		{"a file value is validated like a flag", `log-format = "xml"`, nil, "--log-format must be text or json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := serveWith(t, c.env, c.file)
			var fe *FlagError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a usage error containing %q", err, c.want)
			}
		})
	}
}

func TestServeHelpListsEveryVariable(t *testing.T) {
	t.Parallel()
	f := NewFactory(BuildInfo{}, nil, func(string) string { return "" })
	cmd := NewCmdServe(f, nil)
	var missing []string
	for _, name := range []string{"addr", "db", "issuer", "access-ttl", "cors-origin", "web", "log-format", "config"} {
		fl := cmd.LocalFlags().Lookup(name)
		if fl == nil || !strings.Contains(fl.Usage, envName(name)) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Errorf("help names no variable for %v", missing)
	}
	if envName("access-ttl") != "AUTHCTL_ACCESS_TTL" {
		t.Errorf("envName(access-ttl) = %s", envName("access-ttl"))
	}
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "authctl.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPackagedConfigNamesServeFlags keeps the sample the packages install
// (packaging/authctl.toml, every setting commented out) in step with serve's flags:
// uncommented, it must load without an unknown key.
func TestPackagedConfigNamesServeFlags(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "packaging", "authctl.toml"))
	if err != nil {
		t.Fatal(err)
	}
	setting := regexp.MustCompile(`^# ([a-z-]+ = .*)$`)
	var uncommented []string
	for line := range strings.Lines(string(b)) {
		if m := setting.FindStringSubmatch(strings.TrimRight(line, "\n")); m != nil {
			uncommented = append(uncommented, m[1])
		}
	}
	if len(uncommented) < 10 {
		t.Fatalf("found only %d settings in the sample", len(uncommented))
	}
	f := NewFactory(BuildInfo{}, nil, func(string) string { return "" })
	if _, err := readConfigFile(writeConfig(t, strings.Join(uncommented, "\n")), NewCmdServe(f, nil).LocalFlags()); err != nil {
		t.Error(err)
	}
}
