package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/authctl/authctl/keystore"
)

// TestServerChoice: commands and the login hints pick the server by the same rule — the one
// given (--server, or AUTHCTL_SERVER for the hints), else the last one logged in to or
// switched to, else the default.
func TestServerChoice(t *testing.T) {
	t.Parallel()
	newFactory := func(t *testing.T, env map[string]string, last string) (*Factory, fmt.Stringer) {
		t.Helper()
		config := t.TempDir()
		env["XDG_CONFIG_HOME"] = config
		if last != "" {
			if err := keystore.SetLastServer(config+"/authctl", last); err != nil {
				t.Fatal(err)
			}
		}
		ios, _, _, errOut := Test()
		return NewFactory(BuildInfo{}, ios, func(k string) string { return env[k] }), errOut
	}
	cases := []struct {
		name       string
		flag, env  string // --server, AUTHCTL_SERVER
		last       string // remembered in the config dir
		want, hint string // resolveServer, loginDefault
	}{
		{"nothing given or remembered: the default", "", "", "", defaultServer, defaultServer},
		{"nothing given: the last server", "", "", "https://last.example", "https://last.example", "https://last.example"},
		{"--server beats the last server", "https://flag.example", "", "https://last.example", "https://flag.example", "https://last.example"},
		{"AUTHCTL_SERVER beats the last server in hints", "", "https://env.example", "https://last.example", "https://last.example", "https://env.example"},
		{"a server without a scheme gets one", "127.0.0.1:5310", "id.example", "", "http://127.0.0.1:5310", "https://id.example"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, said := newFactory(t, map[string]string{"AUTHCTL_SERVER": c.env}, c.last)
			got, err := f.resolveServer(GlobalOptions{Server: c.flag})
			if err != nil || got != c.want {
				t.Errorf("resolveServer = %q, %v; want %q", got, err, c.want)
			}
			if noted := strings.Contains(said.String(), "has no scheme"); noted != (c.flag != "" && !strings.Contains(c.flag, "://")) {
				t.Errorf("note about the scheme: %q", said)
			}
			if hint := f.loginDefault(); hint != c.hint {
				t.Errorf("loginDefault = %q, want %q", hint, c.hint)
			}
		})
	}
}
