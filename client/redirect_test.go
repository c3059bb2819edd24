package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authctl/authctl/keystore"
)

// TestNoCredentialsAcrossOrigins answers a login, a refresh and an authenticated POST with
// a 307 to another host (another port of loopback is another origin). 307 tells a client to
// send the same body again, so following it would hand the password or the refresh token
// to that host: it must never be reached, and the error must name it.
func TestNoCredentialsAcrossOrigins(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var reached []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reached = append(reached, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
		io.WriteString(w, `{"access_token":"stolen","refresh_token":"stolen","expires_in":60}`)
	}))
	t.Cleanup(other.Close)
	own := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/login": // a same-origin redirect target: fine to follow
			b, _ := io.ReadAll(r.Body)
			if !strings.Contains(string(b), "pw-same-origin") {
				http.Error(w, "body lost on the same-origin redirect", 400)
				return
			}
			io.WriteString(w, `{"access_token":"a","refresh_token":"r","expires_in":60}`)
		case "/api/auth/login":
			if strings.Contains(r.Header.Get("X-Test"), "same") {
				http.Redirect(w, r, "/v2/login", http.StatusTemporaryRedirect)
				return
			}
			fallthrough
		default:
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
		}
	}))
	t.Cleanup(own.Close)

	ctx := context.Background()
	checkRefused := func(t *testing.T, err error) {
		t.Helper()
		var re *RedirectError
		if !errors.As(err, &re) || re.To != other.URL || !strings.Contains(err.Error(), other.URL) {
			t.Errorf("err %v; want a RedirectError naming %s", err, other.URL)
		}
		if errors.Is(err, ErrOffline) {
			t.Errorf("a refused redirect reported as offline: %v", err)
		}
	}

	t.Run("login", func(t *testing.T) {
		_, err := New(own.URL).Login(ctx, "alice", "pw-cross-origin")
		checkRefused(t, err)
	})
	t.Run("refresh", func(t *testing.T) {
		store := newMemStore()
		c := New(own.URL, WithSessions(store), WithLockDir(t.TempDir()))
		store.Save(ctx, sessionFor(c.Server(), "rt-secret"))
		_, err := c.Refresh(ctx)
		checkRefused(t, err)
	})
	t.Run("an authenticated POST with a body", func(t *testing.T) {
		store := newMemStore()
		c := New(own.URL, WithSessions(store), WithLockDir(t.TempDir()))
		store.Save(ctx, sessionFor(c.Server(), "rt-secret"))
		req, _ := http.NewRequest("POST", own.URL+"/api/anything", strings.NewReader("data=secret"))
		_, err := c.Do(req)
		checkRefused(t, err)
	})
	t.Run("a same-origin redirect is followed, body and all", func(t *testing.T) {
		c := New(own.URL, WithHTTPClient(&http.Client{Transport: headerTransport{"X-Test", "same"}}))
		if _, err := c.Login(ctx, "alice", "pw-same-origin"); err != nil {
			t.Error(err)
		}
	})

	mu.Lock()
	defer mu.Unlock()
	if len(reached) != 0 {
		t.Errorf("the other origin received %q", reached)
	}
}

// headerTransport adds one header to every request, to steer the test server.
type headerTransport [2]string

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h[0], h[1])
	return http.DefaultTransport.RoundTrip(r)
}

// sessionFor is a stored session for server whose access token is still fresh.
func sessionFor(server, refreshToken string) keystore.Session {
	return keystore.Session{Server: server, Username: "alice", AccessToken: "access", RefreshToken: refreshToken,
		AccessExpiry: time.Now().Add(time.Hour), RefreshExpiry: time.Now().Add(24 * time.Hour)}
}
