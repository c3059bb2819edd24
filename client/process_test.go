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

// helperProcess is one authctl process, this test binary re-executed as TestHelperProcess,
// doing action ("weather", "refresh" or "login") against server with the file keystore
// and lock dir in dir.
type helperProcess struct {
	cmd  *exec.Cmd
	out  strings.Builder
	done chan struct{}
	err  error
}

func startHelper(t *testing.T, server, dir, action string, env ...string) *helperProcess {
	t.Helper()
	p := &helperProcess{done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	p.cmd.Env = append(append(os.Environ(), "AUTHCTL_CLIENT_HELPER=1", "HELPER_SERVER="+server, "HELPER_DIR="+dir, "HELPER_ACTION="+action), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait waits for the process to end and returns its output and exit error.
func (p *helperProcess) wait() (string, error) {
	<-p.done
	return p.out.String(), p.err
}

// TestTwoProcessesRefreshOnce starts two real processes sharing one file keystore and one
// lock dir, both holding an expired access token. The server counts refreshes and treats
// a second spend of a refresh token as theft, so only the lock plus the re-read lets both
// succeed.
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
	procs := []*helperProcess{
		startHelper(t, f.URL, dir, "weather", "HELPER_START="+start),
		startHelper(t, f.URL, dir, "weather", "HELPER_START="+start),
	}
	// Both are running; let them go at once.
	if err := os.WriteFile(start, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for i, p := range procs {
		if out, err := p.wait(); err != nil || !strings.Contains(out, "status 200") {
			t.Errorf("process %d: %v\n%s", i, err, out)
		}
	}
	if n := f.refreshes.Load(); n != 1 {
		t.Errorf("%d refreshes; want exactly 1", n)
	}
	if got := stored(t, c); !f.validRefresh(got.RefreshToken) {
		t.Error("the stored refresh token is not the server's current one")
	}
}

// TestLoginWhileAnotherProcessRefreshes: one process is refreshing alice's session (its
// answer held back by the server) when another process logs in as bob. The refresh must
// not overwrite bob's new session when its answer finally arrives.
func TestLoginWhileAnotherProcessRefreshes(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	dir := t.TempDir()
	store := fileStore{path: filepath.Join(dir, "sessions.json")}
	c := loggedIn(t, f, store, WithLockDir(filepath.Join(dir, "locks")))

	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	letGo := sync.OnceFunc(func() { close(release) })
	t.Cleanup(letGo) // before the server's Close, which waits for the held refresh
	f.set(func(f *fakeServer) {
		f.hold = func() {
			once.Do(func() { close(entered) })
			<-release
		}
	})
	refresher := startHelper(t, f.URL, dir, "refresh")
	select {
	case <-entered:
	case <-refresher.done:
		out, _ := refresher.wait()
		t.Fatalf("the refreshing process ended early:\n%s", out)
	case <-time.After(20 * time.Second):
		t.Fatal("the refresh never reached the server")
	}

	// An unlocked login reaches the server and saves at once; give it every chance to,
	// then let the refresh answer. A locked one waits for the refresh (until the timer).
	loginer := startHelper(t, f.URL, dir, "login")
	select {
	case <-loginer.done:
	case <-time.After(3 * time.Second):
	}
	letGo()

	for name, p := range map[string]*helperProcess{"refresh": refresher, "login": loginer} {
		if out, err := p.wait(); err != nil {
			t.Errorf("%s process: %v\n%s", name, err, out)
		}
	}
	got := stored(t, c)
	if got.Username != "bob" || !f.validRefresh(got.RefreshToken) {
		t.Errorf("stored session of %q (refresh token valid: %v); want bob's, from the login that came last", got.Username, f.validRefresh(got.RefreshToken))
	}
}

// TestHelperProcess is one authctl process of the tests above.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("AUTHCTL_CLIENT_HELPER") != "1" {
		t.Skip("run by the multi-process tests")
	}
	if start := os.Getenv("HELPER_START"); start != "" {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(start); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no start signal")
			}
		}
	}
	dir := os.Getenv("HELPER_DIR")
	c := New(os.Getenv("HELPER_SERVER"),
		WithSessions(fileStore{path: filepath.Join(dir, "sessions.json")}),
		WithLockDir(filepath.Join(dir, "locks")),
		WithLog(func(s string) { fmt.Println(s) }))
	ctx := context.Background()
	switch action := os.Getenv("HELPER_ACTION"); action {
	case "weather":
		resp, err := c.HTTPClient().Get(c.Server() + "/api/weather?days=1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		fmt.Printf("status %d\n", resp.StatusCode)
		if resp.StatusCode != http.StatusOK {
			t.Fail()
		}
	case "refresh":
		if _, err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	case "login":
		if _, err := c.Login(ctx, "bob", password); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown action %q", action)
	}
}
