package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authctl/authctl/keystore"
	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/httpapi"
	"github.com/authctl/authctl/server/sqlite"
)

const password = "correct horse"

// testServer is the real token server on loopback, counting refresh calls, with an extra
// authenticated POST /echo endpoint that replays its body.
type testServer struct {
	URL       string
	svc       *server.Service
	refreshes atomic.Int64
	requests  atomic.Int64
	always401 atomic.Bool
}

func newTestServer(t *testing.T, dbPath string) *testServer {
	t.Helper()
	ctx := context.Background()
	if dbPath == "" {
		dbPath = filepath.Join(t.TempDir(), "authctl.db")
	}
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := server.DefaultConfig()
	cfg.Argon2 = server.Argon2Params{Memory: 64, Time: 1, Threads: 1}
	svc, err := server.NewService(ctx, cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.AddUser(ctx, st, svc.Hasher(), "alice", "user", password, time.Now()); err != nil && !errors.Is(err, server.ErrUserExists) {
		t.Fatal(err)
	}
	ts := &testServer{svc: svc}
	api := httpapi.New(svc, httpapi.Config{}, nil)
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if _, err := svc.Authenticate(r.Context(), tok); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.Copy(w, r.Body)
	})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/auth/refresh" {
			ts.refreshes.Add(1)
		} else {
			ts.requests.Add(1)
		}
		if ts.always401.Load() && r.URL.Path != "/api/auth/refresh" && r.URL.Path != "/api/auth/login" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	ts.URL = hs.URL
	return ts
}

func loggedIn(t *testing.T, ts *testServer, store keystore.Store, opts ...Option) *Client {
	t.Helper()
	c := New(ts.URL, append([]Option{WithSessions(store), WithLockDir(t.TempDir())}, opts...)...)
	if _, err := c.Login(context.Background(), "alice", password); err != nil {
		t.Fatal(err)
	}
	ts.refreshes.Store(0)
	ts.requests.Store(0)
	return c
}

// spoil replaces the stored access token with one the server refuses but the client
// believes is still good.
func spoil(t *testing.T, c *Client) {
	t.Helper()
	ctx := context.Background()
	s, err := c.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.AccessToken = "invalid.access.token"
	if err := c.sessions.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
}

func TestTransport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a token about to expire is refreshed before the request is sent", func(t *testing.T) {
		ts := newTestServer(t, "")
		now := time.Now()
		c := loggedIn(t, ts, keystore.NewMemory(), WithNow(func() time.Time { return now }))
		now = now.Add(295 * time.Second) // 5 s left, under the 10 s skew
		if _, err := c.Weather(ctx, 3); err != nil {
			t.Fatal(err)
		}
		if ts.refreshes.Load() != 1 || ts.requests.Load() != 1 {
			t.Errorf("refreshes %d, requests %d; want 1 and 1 (no 401 round trip)", ts.refreshes.Load(), ts.requests.Load())
		}
	})
	t.Run("a 401 refreshes once and replays the request with its body", func(t *testing.T) {
		ts := newTestServer(t, "")
		c := loggedIn(t, ts, keystore.NewMemory())
		spoil(t, c)
		req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/echo", strings.NewReader("the body"))
		resp, err := c.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "the body" {
			t.Errorf("replay: %d %q", resp.StatusCode, body)
		}
		if ts.refreshes.Load() != 1 || ts.requests.Load() != 2 {
			t.Errorf("refreshes %d, requests %d", ts.refreshes.Load(), ts.requests.Load())
		}
	})
	t.Run("a second 401 is returned as is, without a loop", func(t *testing.T) {
		ts := newTestServer(t, "")
		c := loggedIn(t, ts, keystore.NewMemory())
		ts.always401.Store(true)
		_, err := c.Weather(ctx, 1)
		if !errors.Is(err, ErrUnauthorized) {
			t.Errorf("got %v", err)
		}
		if ts.refreshes.Load() != 1 || ts.requests.Load() != 2 {
			t.Errorf("refreshes %d, requests %d; want 1 and 2", ts.refreshes.Load(), ts.requests.Load())
		}
	})
	t.Run("16 goroutines hitting 401 together share one refresh", func(t *testing.T) {
		ts := newTestServer(t, "")
		c := loggedIn(t, ts, keystore.NewMemory())
		spoil(t, c)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.Weather(ctx, 1)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := ts.refreshes.Load(); n != 1 {
			t.Errorf("%d refreshes", n)
		}
	})
	t.Run("invalid_grant ends the local session", func(t *testing.T) {
		ts := newTestServer(t, "")
		store := keystore.NewMemory()
		c := loggedIn(t, ts, store)
		s, _ := c.Session(ctx)
		if err := ts.svc.Logout(ctx, s.RefreshToken); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Weather(ctx, 1); !errors.Is(err, ErrSessionEnded) {
			t.Fatalf("got %v", err)
		}
		if _, err := store.Load(ctx, ts.URL); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("session still stored: %v", err)
		}
	})
	t.Run("a keystore failure sends no request", func(t *testing.T) {
		ts := newTestServer(t, "")
		c := New(ts.URL, WithSessions(brokenStore{}), WithLockDir(t.TempDir()))
		if _, err := c.Weather(ctx, 1); err == nil || errors.Is(err, ErrUnauthorized) {
			t.Errorf("got %v", err)
		}
		if ts.requests.Load() != 0 {
			t.Errorf("%d requests sent without a token", ts.requests.Load())
		}
	})
	t.Run("a static token is used as is and never refreshed", func(t *testing.T) {
		ts := newTestServer(t, "")
		c := New(ts.URL, WithStaticToken("not.a.token"))
		if _, err := c.Weather(ctx, 1); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("got %v", err)
		}
		if ts.refreshes.Load() != 0 {
			t.Error("refreshed a static token")
		}
	})
	t.Run("logout with the server gone still deletes locally", func(t *testing.T) {
		ts := newTestServer(t, "")
		store := keystore.NewMemory()
		loggedIn(t, ts, store)
		c := New("http://127.0.0.1:1", WithSessions(store))
		s, _ := store.Load(ctx, ts.URL)
		s.Server = c.Server()
		store.Save(ctx, s)
		if err := c.Logout(ctx); !errors.Is(err, ErrOffline) {
			t.Errorf("got %v", err)
		}
		if _, err := store.Load(ctx, c.Server()); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("still stored: %v", err)
		}
	})
	t.Run("error answers map to typed errors", func(t *testing.T) {
		ts := newTestServer(t, "")
		_, err := New(ts.URL).Login(ctx, "alice", "wrong password")
		var e *Error
		if !errors.As(err, &e) || e.Code != "invalid_grant" || !errors.Is(err, ErrInvalidGrant) {
			t.Errorf("got %#v", err)
		}
	})
}

type brokenStore struct{}

func (brokenStore) Load(context.Context, string) (keystore.Session, error) {
	return keystore.Session{}, errors.New("keyring locked")
}
func (brokenStore) Save(context.Context, keystore.Session) error { return errors.New("keyring locked") }
func (brokenStore) Delete(context.Context, string) error         { return errors.New("keyring locked") }
func (brokenStore) Name() string                                 { return "broken" }

// TestTwoProcessesRefreshOnce starts two real processes sharing one file keystore and lock
// dir, both holding an expired access token; exactly one refresh reaches the server.
func TestTwoProcessesRefreshOnce(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "")
	dir := t.TempDir()
	store := keystore.NewFile(filepath.Join(dir, "config"))
	c := loggedIn(t, ts, store)
	s, _ := c.Session(context.Background())
	s.AccessExpiry = time.Now().Add(-time.Minute)
	store.Save(context.Background(), s)

	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
			cmd.Env = append(os.Environ(), "AUTHCTL_HELPER=1", "HELPER_SERVER="+ts.URL, "HELPER_DIR="+dir)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil || !strings.Contains(outs[i], "weather ok") {
			t.Fatalf("process %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	if n := ts.refreshes.Load(); n != 1 {
		t.Errorf("%d refreshes; want exactly 1", n)
	}
}

func TestHelperProcess(t *testing.T) {
	if os.Getenv("AUTHCTL_HELPER") != "1" {
		t.Skip("helper for TestTwoProcessesRefreshOnce")
	}
	dir := os.Getenv("HELPER_DIR")
	c := New(os.Getenv("HELPER_SERVER"),
		WithSessions(keystore.NewFile(filepath.Join(dir, "config"))), WithLockDir(filepath.Join(dir, "locks")))
	if _, err := c.Weather(context.Background(), 1); err != nil {
		t.Fatalf("weather: %v", err)
	}
	os.Stdout.WriteString("weather ok\n")
}

func nilStore(t *testing.T) keystore.Store { return keystore.NewMemory() }
