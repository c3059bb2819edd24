package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/authctl/authctl/keystore"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a login stores the session with expiry times from the client clock", func(t *testing.T) {
		t.Parallel()
		f, clk := newFake(t), newClock()
		store := newMemStore()
		c := New(strings.Replace(f.URL, "http://", "HTTP://", 1)+"/", WithSessions(store), WithNow(clk.Now))
		if c.Server() != f.URL {
			t.Errorf("Server() = %q, want the normalised %q", c.Server(), f.URL)
		}
		s, err := c.Login(ctx, "alice", password)
		if err != nil {
			t.Fatal(err)
		}
		want := keystore.Session{Server: f.URL, Username: "alice", AccessToken: s.AccessToken, RefreshToken: s.RefreshToken,
			AccessExpiry: clk.Now().Add(300 * time.Second), RefreshExpiry: clk.Now().Add(time.Hour)}
		if got := stored(t, c); got != want || s != want {
			t.Errorf("stored %+v\nreturned %+v\nwant %+v", got, s, want)
		}
	})

	t.Run("a refresh lock held elsewhere for too long fails the login before it reaches the server", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		dir := t.TempDir()
		c := New(f.URL, WithSessions(newMemStore()), WithLockDir(dir), WithLockWait(100*time.Millisecond))
		other := flock.New(LockPath(dir, c.Server()))
		if err := other.Lock(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { other.Unlock() })
		if _, err := c.Login(ctx, "alice", password); err == nil || !strings.Contains(err.Error(), "lock") {
			t.Errorf("Login: %v, want a lock timeout", err)
		}
		if f.logins.Load() != 0 {
			t.Error("logged in without the lock")
		}
	})

	t.Run("a wrong password is an invalid_grant error and stores nothing", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		store := newMemStore()
		_, err := New(f.URL, WithSessions(store)).Login(ctx, "alice", "wrong")
		var e *Error
		if !errors.As(err, &e) || e.Status != 400 || e.Code != "invalid_grant" || !errors.Is(err, ErrInvalidGrant) {
			t.Errorf("Login: %#v", err)
		}
		if len(store.m) != 0 {
			t.Error("stored a session after a failed login")
		}
	})
}

func TestRefreshRotatesTheStoredSession(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	c := loggedIn(t, f, newMemStore())
	old := stored(t, c)
	s, err := c.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.RefreshToken == old.RefreshToken || s.AccessToken == old.AccessToken {
		t.Error("Refresh did not rotate the tokens")
	}
	if got := stored(t, c); got != s {
		t.Errorf("stored %+v, want %+v", got, s)
	}
	if f.validRefresh(old.RefreshToken) || !f.validRefresh(s.RefreshToken) || f.refreshes.Load() != 1 {
		t.Error("the server did not see exactly one rotation")
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("logout revokes on the server and deletes locally", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		store := newMemStore()
		c := loggedIn(t, f, store)
		s := stored(t, c)
		if err := c.Logout(ctx); err != nil {
			t.Fatal(err)
		}
		if f.logouts.Load() != 1 || f.validRefresh(s.RefreshToken) {
			t.Error("the session was not revoked on the server")
		}
		if _, err := c.Session(ctx); !errors.Is(err, ErrNotLoggedIn) {
			t.Errorf("after logout: %v, want ErrNotLoggedIn", err)
		}
	})

	t.Run("logout with the server unreachable still deletes locally and says offline", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		store := newMemStore()
		lockDir := t.TempDir()
		c := loggedIn(t, f, store, WithLockDir(lockDir))
		// Same session, but the server's address no longer answers.
		gone := New("http://127.0.0.1:1", WithSessions(store), WithLockDir(lockDir))
		s := stored(t, c)
		s.Server = gone.Server()
		store.Save(ctx, s)
		if err := gone.Logout(ctx); !errors.Is(err, ErrOffline) {
			t.Errorf("Logout: %v, want ErrOffline", err)
		}
		if _, err := gone.Session(ctx); !errors.Is(err, ErrNotLoggedIn) {
			t.Errorf("after logout: %v, want ErrNotLoggedIn", err)
		}
	})

	t.Run("logout without a session says not logged in", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		if err := New(f.URL, WithSessions(newMemStore())).Logout(ctx); !errors.Is(err, ErrNotLoggedIn) {
			t.Errorf("Logout: %v, want ErrNotLoggedIn", err)
		}
		if f.logouts.Load() != 0 {
			t.Error("called the server without a session")
		}
	})
}

func TestProtectedCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFake(t)
	c := loggedIn(t, f, newMemStore())

	t.Run("Me decodes who the token belongs to", func(t *testing.T) {
		me, err := c.Me(ctx)
		if want := (Me{Sub: "u-1", Name: "alice", Role: "user", SID: "s-1", Exp: 42}); err != nil || me != want {
			t.Errorf("Me = %+v, %v; want %+v", me, err, want)
		}
	})
	t.Run("Weather asks for the number of days", func(t *testing.T) {
		days, err := c.Weather(ctx, 7)
		if err != nil || len(days) != 7 || days[0].Summary != "Mild" {
			t.Errorf("Weather = %+v, %v", days, err)
		}
	})
	t.Run("an unreachable server is ErrOffline", func(t *testing.T) {
		store := newMemStore()
		gone := New("http://127.0.0.1:1", WithSessions(store), WithLockDir(t.TempDir()))
		s := stored(t, c)
		s.Server = gone.Server()
		store.Save(ctx, s)
		if _, err := gone.Weather(ctx, 1); !errors.Is(err, ErrOffline) {
			t.Errorf("Weather: %v, want ErrOffline", err)
		}
	})
	t.Run("without a session nothing is sent", func(t *testing.T) {
		before := f.resources.Load()
		if _, err := New(f.URL, WithSessions(newMemStore())).Me(ctx); !errors.Is(err, ErrNotLoggedIn) {
			t.Errorf("Me: %v, want ErrNotLoggedIn", err)
		}
		if f.resources.Load() != before {
			t.Error("a request was sent without a session")
		}
	})
}

func TestVerboseLogNeverHoldsSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, clk := newFake(t), newClock()
	var mu sync.Mutex
	var lines []string
	logf := func(s string) { mu.Lock(); lines = append(lines, s); mu.Unlock() }
	c := loggedIn(t, f, newMemStore(), WithNow(clk.Now), WithLog(logf))
	first := stored(t, c)
	clk.Advance(10 * time.Minute)
	if _, err := c.Weather(ctx, 2); err != nil {
		t.Fatal(err)
	}
	f.forgetAccessTokens()
	if _, err := c.Me(ctx); err != nil {
		t.Fatal(err)
	}
	last := stored(t, c)
	all := strings.Join(lines, "\n")
	for _, secret := range []string{password, first.AccessToken, first.RefreshToken, last.AccessToken, last.RefreshToken} {
		if strings.Contains(all, secret) {
			t.Errorf("the log holds a secret:\n%s", all)
		}
	}
	for _, want := range []string{"POST /api/auth/login → 200", "token refreshed", "GET /api/weather → 200", "GET /api/auth/me → 401", "replaying GET /api/auth/me"} {
		if !strings.Contains(all, want) {
			t.Errorf("the log lacks %q:\n%s", want, all)
		}
	}
}

func TestCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/things", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"things":["a","b"]}`)
	})
	var deleted atomic.Bool
	mux.HandleFunc("DELETE /api/things/a", func(w http.ResponseWriter, r *http.Request) {
		deleted.Store(true)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /api/things/z", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":"not_found","error_description":"no such thing"}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := New(srv.URL, WithStaticToken("tok"))

	t.Run("a 2xx JSON answer is decoded into out, with the token sent", func(t *testing.T) {
		var got struct{ Things []string }
		if err := c.Call(ctx, http.MethodGet, "/api/things", &got); err != nil || strings.Join(got.Things, ",") != "a,b" {
			t.Errorf("Call = %+v, %v", got, err)
		}
	})
	t.Run("the method is the one given, and a nil out takes no answer", func(t *testing.T) {
		if err := c.Call(ctx, http.MethodDelete, "/api/things/a", nil); err != nil || !deleted.Load() {
			t.Errorf("Call = %v, deleted %v", err, deleted.Load())
		}
	})
	t.Run("any other status is an *Error with the server's words", func(t *testing.T) {
		err := c.Call(ctx, http.MethodDelete, "/api/things/z", nil)
		var ce *Error
		if !errors.As(err, &ce) || ce.Status != http.StatusNotFound || ce.Code != "not_found" || ce.Description != "no such thing" {
			t.Errorf("Call = %#v, want a 404 *Error", err)
		}
	})
}
