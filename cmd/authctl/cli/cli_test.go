package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/client"
)

func newTestFactory(env map[string]string) (*Factory, *IOStreams) {
	ios, _, _, _ := Test()
	return &Factory{IO: ios, Getenv: func(k string) string { return env[k] }, Now: time.Now, Build: BuildInfo{Version: "v1.2.3", Commit: "c", Date: "d"}}, ios
}

func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ios, _, out, errOut := Test()
	f := &Factory{IO: ios, Getenv: func(k string) string { return env[k] }, Now: time.Now, Build: BuildInfo{Version: "v1.2.3", Commit: "c", Date: "d"}}
	code = Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"version succeeds", []string{"version"}, 0},
		{"an unknown command is a usage error", []string{"nope"}, 2},
		{"an unknown flag is a usage error", []string{"weather", "--nope"}, 2},
		{"extra arguments are a usage error", []string{"status", "extra"}, 2},
		{"a bad --keystore is a usage error", []string{"--keystore", "x", "status"}, 2},
		{"a bad --server is a usage error", []string{"--server", "ftp://x", "status"}, 2},
		{"days out of range is a usage error", []string{"weather", "--days", "0"}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := run(t, nil, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (%s)", code, c.code, stderr)
			}
			if code != 0 && (strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "authctl: ")) {
				t.Errorf("stderr is not one authctl: line: %q", stderr)
			}
		})
	}
	t.Run("typed errors map to their codes", func(t *testing.T) {
		c := client.New("http://x")
		if exitCode(clientErr(c, client.ErrSessionEnded)) != 4 || exitCode(clientErr(c, client.ErrNotLoggedIn)) != 4 ||
			exitCode(clientErr(c, client.ErrOffline)) != 1 || exitCode(errors.New("x")) != 1 || exitCode(nil) != 0 {
			t.Error("mapping")
		}
		if got := clientErr(c, client.ErrSessionEnded).Error(); got != "session expired or revoked — run `authctl login`" {
			t.Errorf("message %q", got)
		}
	})
}

func TestServeFlags(t *testing.T) {
	t.Parallel()
	f, _ := newTestFactory(map[string]string{"AUTHCTL_ADDR": "127.0.0.1:7000", "AUTHCTL_DB": "/tmp/x.db"})
	var got *ServeOptions
	cmd := NewCmdServe(f, func(_ context.Context, o *ServeOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--access-ttl", "1m", "--cors-origin", "http://a", "--cors-origin", "http://b", "--signing-alg", "ES256"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Addr != "127.0.0.1:7000" || got.DB != "/tmp/x.db" || got.AccessTTL != time.Minute || len(got.CORSOrigins) != 2 ||
		got.SigningAlg != "ES256" || got.RefreshTTL != 720*time.Hour || got.ReuseGrace != 10*time.Second {
		t.Errorf("%+v", got)
	}
}

func TestColourRules(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := Test()
	if ios.ColorEnabled() {
		t.Error("colour on a pipe")
	}
	ios.SetTTY(true, true)
	if !ios.ColorEnabled() || !ios.CanPrompt() {
		t.Error("no colour or prompt on a terminal")
	}
	ios.DisableColor()
	if ios.ColorEnabled() {
		t.Error("--no-color ignored")
	}
	nc := System(func(k string) string {
		if k == "NO_COLOR" {
			return "1"
		}
		return ""
	})
	nc.SetTTY(true, true)
	if nc.ColorEnabled() {
		t.Error("NO_COLOR ignored")
	}
}

func TestRenderWeather(t *testing.T) {
	t.Parallel()
	fc := []client.Forecast{{Date: "2026-11-29", TemperatureC: 21, TemperatureF: 69, Summary: "Mild"}}
	plain := renderWeather(fc, styles{color: false})
	if strings.Contains(plain, "\x1b[") || !strings.Contains(plain, "2026-11-29  21 °C") || !strings.HasPrefix(plain, "DATE") {
		t.Errorf("plain table:\n%s", plain)
	}
	tty := renderWeather(fc, styles{color: true})
	if !strings.Contains(tty, "╭") || !strings.Contains(tty, "Mild") {
		t.Errorf("terminal table:\n%s", tty)
	}
}

func TestStatusNamesAUTHCTLTOKEN(t *testing.T) {
	t.Parallel()
	tok := "eyJhbGciOiJub25lIn0.eyJuYW1lIjoiYm90IiwiZXhwIjo0MTAyNDQ0ODAwfQ.x"
	code, out, _ := run(t, map[string]string{"AUTHCTL_TOKEN": tok}, "--server", "http://127.0.0.1:1", "status")
	if code != 0 || !strings.Contains(out, "AUTHCTL_TOKEN") || !strings.Contains(out, "bot") {
		t.Errorf("%d %s", code, out)
	}
}
