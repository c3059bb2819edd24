package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/authctl/authctl/cmd/authctl/cli"
)

// TestMain lets testscript run this test binary as the real `authctl` command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"authctl": func() {
			os.Exit(cli.Main(cli.BuildInfo{Version: "test", Commit: "abc1234", Date: "2026-11-28"}, os.Args[1:]))
		},
	})
}

// TestScripts runs the scenarios in testdata/script: the real binary against a real
// `authctl serve` on a free loopback port ($SERVER), with HOME and the XDG dirs in $WORK.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			port, err := freePort()
			if err != nil {
				return err
			}
			server := fmt.Sprintf("http://127.0.0.1:%d", port)
			env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, "config"))
			env.Setenv("XDG_DATA_HOME", filepath.Join(env.WorkDir, "data"))
			env.Setenv("DB", filepath.Join(env.WorkDir, "data", "authctl", "authctl.db"))
			env.Setenv("NO_COLOR", "1")
			env.Setenv("AUTHCTL_ADMIN_PASSWORD", "admin-password")
			env.Setenv("AUTHCTL_KEYSTORE", "file")
			env.Setenv("ADDR", fmt.Sprintf("127.0.0.1:%d", port))
			env.Setenv("SERVER", server)
			env.Setenv("AUTHCTL_SERVER", server)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitserver": waitServer,
		},
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitServer polls $SERVER/healthz until it answers 200 (10 s at most).
func waitServer(ts *testscript.TestScript, neg bool, args []string) {
	url := ts.Getenv("SERVER") + "/healthz"
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("server at %s did not come up", url)
}
