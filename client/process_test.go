package client

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTwoProcessesRefreshOnce starts two real processes (this test binary, re-executed as
// TestHelperProcess) sharing one file keystore and one lock dir, both holding an expired
// access token. The server counts refreshes and treats a second spend of a refresh token
// as theft, so only the lock plus the re-read lets both succeed.
func TestTwoProcessesRefreshOnce(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.set(func(f *fakeServer) { f.delay = 300 * time.Millisecond }) // a wide window for a double spend
	dir := t.TempDir()
	store := fileStore{path: filepath.Join(dir, "sessions.json")}
	c := loggedIn(t, f, store, WithLockDir(filepath.Join(dir, "locks")))
	s := stored(t, c)
	s.AccessExpiry = time.Now().Add(-time.Minute)
	if err := store.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}

	start := filepath.Join(dir, "start")
	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	cmds := make([]*exec.Cmd, 2)
	var bufs [2]strings.Builder
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), "AUTHCTL_CLIENT_HELPER=1", "HELPER_SERVER="+f.URL, "HELPER_DIR="+dir, "HELPER_START="+start)
		cmd.Stdout, cmd.Stderr = &bufs[i], &bufs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	// Both are running; let them go at once.
	if err := os.WriteFile(start, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = cmd.Wait()
		}()
	}
	wg.Wait()
	for i := range cmds {
		outs[i] = bufs[i].String()
		if errs[i] != nil || !strings.Contains(outs[i], "status 200") {
			t.Errorf("process %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	if n := f.refreshes.Load(); n != 1 {
		t.Errorf("%d refreshes; want exactly 1", n)
	}
	if got := stored(t, c); !f.validRefresh(got.RefreshToken) {
		t.Error("the stored refresh token is not the server's current one")
	}
}

// TestHelperProcess is one authctl process of TestTwoProcessesRefreshOnce.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("AUTHCTL_CLIENT_HELPER") != "1" {
		t.Skip("run by TestTwoProcessesRefreshOnce")
	}
	dir := os.Getenv("HELPER_DIR")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(os.Getenv("HELPER_START")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no start signal")
		}
	}
	c := New(os.Getenv("HELPER_SERVER"),
		WithSessions(fileStore{path: filepath.Join(dir, "sessions.json")}),
		WithLockDir(filepath.Join(dir, "locks")),
		WithLog(func(s string) { fmt.Println(s) }))
	resp, err := c.HTTPClient().Get(c.Server() + "/api/weather?days=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	fmt.Printf("status %d\n", resp.StatusCode)
	if resp.StatusCode != http.StatusOK {
		t.Fail()
	}
}
