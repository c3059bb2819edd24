package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/authctl/authctl/client"
)

func TestClientErrorsMapToExitCodes(t *testing.T) {
	t.Parallel()
	c := client.New("http://x")
	if ExitCode(clientErr(c, client.ErrSessionEnded)) != 4 || ExitCode(clientErr(c, client.ErrNotLoggedIn)) != 4 ||
		ExitCode(clientErr(c, client.ErrOffline)) != 1 || ExitCode(errors.New("x")) != 1 {
		t.Error("mapping")
	}
	if got := clientErr(c, client.ErrSessionEnded).Error(); got != "session expired or revoked — run `authctl login`" {
		t.Errorf("message %q", got)
	}
}

func TestRenderWeather(t *testing.T) {
	t.Parallel()
	fc := []client.Forecast{{Date: "2026-11-29", TemperatureC: 21, TemperatureF: 69, Summary: "Mild"}}
	plain := renderWeather(fc, NewStyles(false), 0)
	if strings.Contains(plain, "\x1b[") || !strings.Contains(plain, "2026-11-29  21 °C") || !strings.HasPrefix(plain, "DATE") {
		t.Errorf("plain table:\n%s", plain)
	}
	tty := renderWeather(fc, NewStyles(true), 0)
	if !strings.Contains(tty, "╭") || !strings.Contains(tty, "Mild") {
		t.Errorf("terminal table:\n%s", tty)
	}
}

func TestStatusNamesAUTHCTLTOKEN(t *testing.T) {
	t.Parallel()
	tok := "eyJhbGciOiJub25lIn0.eyJuYW1lIjoiYm90IiwiZXhwIjo0MTAyNDQ0ODAwfQ.x"
	r := runCLI(t, map[string]string{"AUTHCTL_TOKEN": tok}, "--server", "http://127.0.0.1:1", "status", "--offline")
	if r.code != 0 || !strings.Contains(r.stdout, "AUTHCTL_TOKEN") || !strings.Contains(r.stdout, "bot") {
		t.Errorf("%d %s", r.code, r.stdout)
	}
}
