package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/authctl/authctl/internal/testkit"
	"github.com/authctl/authctl/keystore"
)

func TestTransportRefreshesBeforeSendingWhenTheTokenIsAboutToExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name          string
		advance       time.Duration
		wantRefreshes int64
	}{
		{"a token with minutes left is sent as is", 2 * time.Minute, 0},
		{"a token expiring within the skew is refreshed first", 295 * time.Second, 1},
		{"an expired token is refreshed first", 10 * time.Minute, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, clk := newFake(t), newClock()
			c := loggedIn(t, f, newMemStore(), WithNow(clk.Now))
			before := stored(t, c)
			clk.Advance(tc.advance)
			if _, err := c.Weather(ctx, 3); err != nil {
				t.Fatal(err)
			}
			if got := f.refreshes.Load(); got != tc.wantRefreshes {
				t.Errorf("refreshes = %d, want %d", got, tc.wantRefreshes)
			}
			if got := f.resources.Load(); got != 1 {
				t.Errorf("requests = %d, want 1 (no 401 round trip)", got)
			}
			after := stored(t, c)
			if tc.wantRefreshes == 1 {
				if after.RefreshToken == before.RefreshToken {
					t.Error("the rotated refresh token was not saved")
				}
				if want := clk.Now().Add(300 * time.Second); !after.AccessExpiry.Equal(want) {
					t.Errorf("access expiry = %v, want %v (expires_in from the client clock at the answer)", after.AccessExpiry, want)
				}
			}
		})
	}
}

func TestTransportRefreshesAndReplaysOnceAfter401(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a POST answered 401 is replayed once with its body after one refresh", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		c := loggedIn(t, f, newMemStore())
		f.forgetAccessTokens()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL+"/echo", strings.NewReader("the body"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "the body" {
			t.Errorf("replay answered %d %q, want 200 %q", resp.StatusCode, body, "the body")
		}
		if r, n := f.refreshes.Load(), f.resources.Load(); r != 1 || n != 2 {
			t.Errorf("refreshes %d, requests %d; want 1 and 2", r, n)
		}
		if h := req.Header.Get("Authorization"); h != "" {
			t.Errorf("the caller's request was modified: Authorization %q", h)
		}
	})

	t.Run("a body that cannot be read again is not replayed and the 401 is returned", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		c := loggedIn(t, f, newMemStore())
		f.forgetAccessTokens()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.URL+"/echo", io.NopCloser(strings.NewReader("once")))
		req.GetBody = nil
		resp, err := c.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", resp.StatusCode)
		}
		if r, n := f.refreshes.Load(), f.resources.Load(); r != 0 || n != 1 {
			t.Errorf("refreshes %d, requests %d; want 0 and 1", r, n)
		}
	})

	t.Run("a second 401 is returned as is, without a loop", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		c := loggedIn(t, f, newMemStore())
		f.always401.Store(true)
		if _, err := c.Weather(ctx, 1); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("Weather: %v, want ErrUnauthorized", err)
		}
		resp, err := c.HTTPClient().Get(f.URL + "/api/auth/me")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", resp.StatusCode)
		}
		if r, n := f.refreshes.Load(), f.resources.Load(); r != 2 || n != 4 {
			t.Errorf("refreshes %d, requests %d; want 2 and 4 (one refresh and one replay per call)", r, n)
		}
	})
}

func TestConcurrentRequestsShareOneRefresh(t *testing.T) {
	t.Parallel()
	const n = 16
	for _, tc := range []struct {
		name  string
		spoil func(f *fakeServer, clk *testkit.Clock)
	}{
		{"16 goroutines answered 401 together cause one refresh", func(f *fakeServer, _ *testkit.Clock) { f.forgetAccessTokens() }},
		{"16 goroutines holding an expiring token cause one refresh", func(_ *fakeServer, clk *testkit.Clock) { clk.Advance(10 * time.Minute) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, clk := newFake(t), newClock()
			c := loggedIn(t, f, newMemStore(), WithNow(clk.Now))
			// Hold every 401 until all n requests have one, so they really race.
			var arrived sync.WaitGroup
			arrived.Add(n)
			var once sync.Once
			all := make(chan struct{})
			var count atomic.Int64
			f.set(func(f *fakeServer) {
				f.delay = 20 * time.Millisecond
				f.on401 = func() {
					if count.Add(1) <= n {
						arrived.Done()
					}
					once.Do(func() { go func() { arrived.Wait(); close(all) }() })
					select {
					case <-all:
					case <-time.After(5 * time.Second):
					}
				}
			})
			tc.spoil(f, clk)
			errs := make(chan error, n)
			for range n {
				go func() {
					_, err := c.Weather(context.Background(), 1)
					errs <- err
				}()
			}
			for range n {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			if got := f.refreshes.Load(); got != 1 {
				t.Errorf("refreshes = %d, want exactly 1", got)
			}
		})
	}
}

func TestSessionEnds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a refresh answered invalid_grant deletes the session and says so", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		store := newMemStore()
		c := loggedIn(t, f, store)
		f.revokeSessions()
		_, err := c.Weather(ctx, 1)
		if !errors.Is(err, ErrSessionEnded) {
			t.Fatalf("Weather: %v, want ErrSessionEnded", err)
		}
		if _, err := store.Load(ctx, c.Server()); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("the session is still stored: %v", err)
		}
		if _, err := c.Weather(ctx, 1); !errors.Is(err, ErrNotLoggedIn) {
			t.Errorf("next Weather: %v, want ErrNotLoggedIn", err)
		}
	})

	t.Run("a refresh token expired by the client clock ends the session without asking the server", func(t *testing.T) {
		t.Parallel()
		f, clk := newFake(t), newClock()
		store := newMemStore()
		c := loggedIn(t, f, store, WithNow(clk.Now))
		clk.Advance(2 * time.Hour)
		if _, err := c.AccessToken(ctx); !errors.Is(err, ErrSessionEnded) {
			t.Fatalf("AccessToken: %v, want ErrSessionEnded", err)
		}
		if f.refreshes.Load() != 0 || f.resources.Load() != 0 {
			t.Errorf("%d refreshes, %d requests; want none", f.refreshes.Load(), f.resources.Load())
		}
		if _, err := store.Load(ctx, c.Server()); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("the session is still stored: %v", err)
		}
	})
}

func TestKeystoreFailureNeverSendsAnUnauthenticatedRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	locked := errors.New("keyring is locked")
	for _, tc := range []struct {
		name           string
		load, save     error
		expire         bool
		wantRefreshes  int64
		wantNoRequests bool
	}{
		{name: "a session that cannot be read", load: locked, wantNoRequests: true},
		{name: "a refreshed session that cannot be saved", save: locked, expire: true, wantRefreshes: 1, wantNoRequests: true},
	} {
		t.Run(tc.name+" is an error, not a request without a token", func(t *testing.T) {
			t.Parallel()
			f, clk := newFake(t), newClock()
			store := newMemStore()
			c := loggedIn(t, f, store, WithNow(clk.Now))
			store.fail(tc.load, tc.save)
			if tc.expire {
				clk.Advance(10 * time.Minute)
			}
			_, err := c.Weather(ctx, 1)
			if !errors.Is(err, locked) {
				t.Errorf("Weather: %v, want the keystore error", err)
			}
			if errors.Is(err, ErrOffline) || errors.Is(err, ErrUnauthorized) {
				t.Errorf("a keystore error reads as %v", err)
			}
			if n := f.resources.Load(); tc.wantNoRequests && n != 0 {
				t.Errorf("%d requests reached the server", n)
			}
			if n := f.refreshes.Load(); n != tc.wantRefreshes {
				t.Errorf("refreshes = %d, want %d", n, tc.wantRefreshes)
			}
		})
	}
}

func TestStaticToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFake(t)
	f.mu.Lock()
	good := f.issue("alice").AccessToken
	f.mu.Unlock()

	t.Run("a valid static token is sent as is", func(t *testing.T) {
		store := newMemStore()
		c := New(f.URL, WithStaticToken(good), WithSessions(store), WithLockDir(t.TempDir()))
		if _, err := c.Me(ctx); err != nil {
			t.Fatal(err)
		}
		if tok, err := c.AccessToken(ctx); err != nil || tok != good {
			t.Errorf("AccessToken = %q, %v", tok, err)
		}
		if len(store.m) != 0 || store.loads != 0 {
			t.Errorf("the keystore was used: %d sessions, %d loads", len(store.m), store.loads)
		}
	})
	t.Run("a refused static token gives the 401 back, without a refresh", func(t *testing.T) {
		c := New(f.URL, WithStaticToken("not-a-token"))
		if _, err := c.Weather(ctx, 1); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("Weather: %v, want ErrUnauthorized", err)
		}
		if _, err := c.Refresh(ctx); !errors.Is(err, ErrStaticToken) {
			t.Errorf("Refresh: %v, want ErrStaticToken", err)
		}
		if f.refreshes.Load() != 0 {
			t.Error("a static token was refreshed")
		}
	})
}

// TestTokenIsOnlySentToItsServer follows a redirect from the client's own server to
// another host. The test holds only if the other host was really reached (a plain 200
// from the first server would otherwise pass it) and the token went to the first hop.
func TestTokenIsOnlySentToItsServer(t *testing.T) {
	t.Parallel()
	type hit struct{ path, auth string }
	var mu sync.Mutex
	var hits []hit
	record := func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		hits = append(hits, hit{r.URL.Path, r.Header.Get("Authorization")})
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(r)
		io.WriteString(w, "elsewhere")
	}))
	t.Cleanup(other.Close)
	own := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(r)
		http.Redirect(w, r, other.URL+"/x", http.StatusFound)
	}))
	t.Cleanup(own.Close)

	// A client of the redirecting server, holding a session from the fake under its name.
	f := newFake(t)
	store := newMemStore()
	s := stored(t, loggedIn(t, f, store))
	c := New(own.URL, WithSessions(store), WithLockDir(t.TempDir()))
	s.Server = c.Server()
	store.Save(context.Background(), s)

	resp, err := c.HTTPClient().Get(own.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	mu.Lock()
	defer mu.Unlock()
	want := []hit{{"/start", "Bearer " + s.AccessToken}, {"/x", ""}}
	if len(hits) != len(want) || hits[0] != want[0] || hits[1] != want[1] || string(body) != "elsewhere" {
		t.Errorf("requests %q, body %q; want the token on %s only, then %s reached without it", hits, body, want[0].path, want[1].path)
	}
}

func TestRefreshLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("the lock file is named by the server's sha256 and is private", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		dir := filepath.Join(t.TempDir(), "locks")
		c := loggedIn(t, f, newMemStore(), WithLockDir(dir))
		if _, err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(LockPath(dir, c.Server()))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("lock file mode %v, want no access for group or others", fi.Mode().Perm())
		}
		if len(strings.TrimSuffix(filepath.Base(fi.Name()), ".lock")) != 64 {
			t.Errorf("lock file %s is not named by a sha256", fi.Name())
		}
		di, _ := os.Stat(dir)
		if di.Mode().Perm() != 0o700 {
			t.Errorf("lock dir mode %v, want 0700", di.Mode().Perm())
		}
	})

	t.Run("a lock held elsewhere for too long fails the refresh without spending the token", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		dir := t.TempDir()
		c := loggedIn(t, f, newMemStore(), WithLockDir(dir), WithLockWait(100*time.Millisecond))
		other := flock.New(LockPath(dir, c.Server()))
		if err := other.Lock(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { other.Unlock() })
		_, err := c.Refresh(ctx)
		if err == nil || !strings.Contains(err.Error(), "lock") {
			t.Errorf("Refresh: %v, want a lock timeout", err)
		}
		if f.refreshes.Load() != 0 {
			t.Error("refreshed without the lock")
		}
	})

	t.Run("a process that finds the session rotated under the lock uses it", func(t *testing.T) {
		t.Parallel()
		f, clk := newFake(t), newClock()
		store := newMemStore()
		dir := t.TempDir()
		a := loggedIn(t, f, store, WithNow(clk.Now), WithLockDir(dir))
		b := New(f.URL, WithSessions(store), WithNow(clk.Now), WithLockDir(dir))
		held := stored(t, a)
		clk.Advance(time.Hour - 10*time.Minute) // access expired, refresh still good
		if _, err := a.Weather(ctx, 1); err != nil {
			t.Fatal(err)
		}
		s, err := b.refresh(ctx, held, false) // b still holds the old session
		if err != nil {
			t.Fatal(err)
		}
		if f.refreshes.Load() != 1 || s.AccessToken != stored(t, a).AccessToken {
			t.Errorf("%d refreshes; want the rotated session reused", f.refreshes.Load())
		}
	})
}

// TestURL: a request target is resolved by the rule the transport uses to decide where the
// token goes, so a URL accepted here always carries the token and a refused one never would.
func TestURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ server, ref, want string }{
		{"http://127.0.0.1:5000", "/api/weather?days=2", "http://127.0.0.1:5000/api/weather?days=2"},
		{"http://127.0.0.1:5000", "api/auth/me", "http://127.0.0.1:5000/api/auth/me"},
		{"https://id.example/auth", "/api/auth/me", "https://id.example/auth/api/auth/me"},
		{"https://id.example", "https://ID.example/api/auth/me", "https://ID.example/api/auth/me"},
		{"https://id.example", "https://id.example:443/x", "https://id.example:443/x"},                                     // the default port is the same origin
		{"https://id.example", "/login?next=https://evil.example/", "https://id.example/login?next=https://evil.example/"}, // a URL in the query is not the target
	} {
		c := New(tc.server)
		u, err := c.URL(tc.ref)
		if err != nil || u.String() != tc.want || !c.ownServer(u) {
			t.Errorf("New(%q).URL(%q) = %v, %v; want %s on the server", tc.server, tc.ref, u, err, tc.want)
		}
	}
	c := New("https://id.example")
	for _, ref := range []string{"https://evil.example/api/auth/me", "http://id.example/api/auth/me", "https://id.example:8443/x", "https://id.example.evil.example/x"} {
		u, err := c.URL(ref)
		var oe *OriginError
		if !errors.As(err, &oe) || oe.Server != "https://id.example" {
			t.Errorf("URL(%q) = %v, %v: want an OriginError naming the server", ref, u, err)
		}
	}
}
