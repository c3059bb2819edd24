package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/authctl/authctl/cmd/authctl/cli"
)

// TestMain lets this test binary act as the real `authctl` command: testscript.Main puts
// it on $PATH under that name, for the scripts and for the end-to-end tests alike.
func TestMain(m *testing.M) {
	// Under -race every process sleeps a second at exit to collect reports; the scripts
	// and end-to-end tests start dozens of authctl processes, so skip that wait.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	testscript.Main(m, map[string]func(){
		"authctl": func() {
			os.Exit(cli.Main(cli.BuildInfo{Version: "test", Commit: "abc1234", Date: "2026-11-28"}))
		},
	})
}

// TestScripts runs the scenarios in testdata/script: the real binary, with HOME and the
// XDG dirs inside $WORK, and a free loopback port in $ADDR for `authctl serve`.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			port, err := freePort()
			if err != nil {
				return err
			}
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			home := filepath.Join(env.WorkDir, "home")
			for k, v := range map[string]string{
				"HOME":                   home,
				"XDG_CONFIG_HOME":        filepath.Join(home, ".config"),
				"XDG_DATA_HOME":          filepath.Join(home, ".local", "share"),
				"XDG_STATE_HOME":         filepath.Join(home, ".local", "state"),
				"XDG_CACHE_HOME":         filepath.Join(home, ".cache"),
				"DB":                     filepath.Join(home, ".local", "share", "authctl", "authctl.db"),
				"NO_COLOR":               "1",
				"AUTHCTL_ADMIN_PASSWORD": "admin-password",
				"AUTHCTL_KEYSTORE":       "file",
				"ADDR":                   addr,
				"SERVER":                 "http://" + addr,
				"AUTHCTL_SERVER":         "http://" + addr,
			} {
				env.Setenv(k, v)
			}
			env.Setenv("GORACE", os.Getenv("GORACE"))
			// Without a session bus the keyring is skipped at once instead of timing out.
			env.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitserver": waitServer,
		},
	})
}

// freePort finds a loopback port nobody listens on. Another process may take it before
// serve does; that race is rare on a test machine and shows as a clear listen error.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitServer polls http://$ADDR/healthz until it answers 200, for at most 10 s.
func waitServer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: waitserver")
	}
	url := "http://" + ts.Getenv("ADDR") + "/healthz"
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("server at %s did not come up within 10s", url)
}
