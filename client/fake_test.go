package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authctl/authctl/internal/testkit"
	"github.com/authctl/authctl/keystore"
)

const password = "correct horse battery"

// fakeServer is a small token server on loopback, enough to exercise the client: opaque
// access tokens, rotating refresh tokens that can be spent once (a second spend revokes
// everything, like reuse detection), and protected endpoints that count their calls.
type fakeServer struct {
	URL        string
	accessTTL  int
	refreshTTL int

	mu      sync.Mutex
	access  map[string]bool
	refresh map[string]string // refresh token → username
	spent   map[string]bool
	on401   func()        // runs before a protected endpoint answers 401
	delay   time.Duration // before a refresh is answered, to widen races
	hold    func()        // runs after the delay, before a refresh is answered

	logins    atomic.Int64 // successful calls to /api/auth/login
	refreshes atomic.Int64 // calls to /api/auth/refresh
	resources atomic.Int64 // calls to protected endpoints
	logouts   atomic.Int64
	always401 atomic.Bool
}

func newFake(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{
		accessTTL: 300, refreshTTL: 3600,
		access: map[string]bool{}, refresh: map[string]string{}, spent: map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/auth/login", f.login)
	mux.HandleFunc("POST /api/auth/refresh", f.refreshHandler)
	mux.HandleFunc("POST /api/auth/logout", f.logout)
	mux.Handle("GET /api/auth/me", f.protect(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, Me{Sub: "u-1", Name: "alice", Role: "user", SID: "s-1", Exp: 42})
	}))
	mux.Handle("GET /api/weather", f.protect(func(w http.ResponseWriter, r *http.Request) {
		days, err := strconv.Atoi(r.URL.Query().Get("days"))
		if err != nil {
			days = 5
		}
		out := make([]Forecast, days)
		for i := range out {
			out[i] = Forecast{Date: fmt.Sprintf("2030-01-%02d", i+1), TemperatureC: i, TemperatureF: 32 + i*9/5, Summary: "Mild"}
		}
		writeJSON(w, 200, out)
	}))
	mux.Handle("POST /echo", f.protect(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// issue mints a token pair for user; f.mu must be held.
func (f *fakeServer) issue(user string) Tokens {
	t := Tokens{AccessToken: "at-" + randomToken(), TokenType: "Bearer", ExpiresIn: f.accessTTL,
		RefreshToken: "rt-" + randomToken(), RefreshExpiresIn: f.refreshTTL}
	f.access[t.AccessToken] = true
	f.refresh[t.RefreshToken] = user
	return t
}

func (f *fakeServer) login(w http.ResponseWriter, r *http.Request) {
	var in struct{ Username, Password string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		oauthError(w, 400, "invalid_request", "bad JSON")
		return
	}
	if in.Password != password {
		oauthError(w, 400, "invalid_grant", "wrong username or password")
		return
	}
	f.mu.Lock()
	t := f.issue(in.Username)
	f.mu.Unlock()
	f.logins.Add(1)
	writeJSON(w, 200, t)
}

func (f *fakeServer) refreshHandler(w http.ResponseWriter, r *http.Request) {
	f.refreshes.Add(1)
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		oauthError(w, 400, "invalid_request", "bad JSON")
		return
	}
	f.mu.Lock()
	delay, hold := f.delay, f.hold
	f.mu.Unlock()
	time.Sleep(delay)
	if hold != nil {
		hold()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	user, ok := f.refresh[in.RefreshToken]
	if !ok {
		if f.spent[in.RefreshToken] { // reuse: revoke every session, as the real server does
			clear(f.refresh)
			clear(f.access)
		}
		oauthError(w, 400, "invalid_grant", "refresh token expired, revoked or already used")
		return
	}
	delete(f.refresh, in.RefreshToken)
	f.spent[in.RefreshToken] = true
	writeJSON(w, 200, f.issue(user))
}

func (f *fakeServer) logout(w http.ResponseWriter, r *http.Request) {
	f.logouts.Add(1)
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	delete(f.refresh, in.RefreshToken)
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeServer) protect(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.resources.Add(1)
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		f.mu.Lock()
		ok := strings.EqualFold(scheme, "bearer") && f.access[tok] && !f.always401.Load()
		hook := f.on401
		f.mu.Unlock()
		if !ok {
			if hook != nil {
				hook()
			}
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			oauthError(w, 401, "invalid_token", "token invalid or expired")
			return
		}
		h(w, r)
	})
}

// forgetAccessTokens makes the server refuse every access token issued so far, while the
// client still believes them good: the next request meets a 401.
func (f *fakeServer) forgetAccessTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.access)
}

// revokeSessions makes every refresh token issued so far invalid.
func (f *fakeServer) revokeSessions() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.refresh)
	clear(f.access)
}

func (f *fakeServer) set(fn func(f *fakeServer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeServer) validRefresh(tok string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.refresh[tok]
	return ok
}

// newClock is the clients' clock in these tests, at a fixed start.
func newClock() *testkit.Clock { return testkit.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)) }

// memStore is an in-memory keystore.Store whose failures can be switched on.
type memStore struct {
	mu      sync.Mutex
	m       map[string]keystore.Session
	loadErr error
	saveErr error
	loads   int
}

func newMemStore() *memStore { return &memStore{m: map[string]keystore.Session{}} }

func (s *memStore) Name() string { return "memory" }

func (s *memStore) Load(_ context.Context, server string) (keystore.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	if s.loadErr != nil {
		return keystore.Session{}, s.loadErr
	}
	v, ok := s.m[server]
	if !ok {
		return keystore.Session{}, keystore.ErrNotFound
	}
	return v, nil
}

func (s *memStore) Save(_ context.Context, v keystore.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.saveErr != nil {
		return s.saveErr
	}
	s.m[v.Server] = v
	return nil
}

func (s *memStore) Delete(_ context.Context, server string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, server)
	return nil
}

func (s *memStore) fail(load, save error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadErr, s.saveErr = load, save
}

// fileStore is a JSON file keystore that several processes can share, replaced by rename.
type fileStore struct{ path string }

func (s fileStore) Name() string { return "file" }

func (s fileStore) read() (map[string]keystore.Session, error) {
	m := map[string]keystore.Session{}
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	return m, json.Unmarshal(data, &m)
}

func (s fileStore) write(m map[string]keystore.Session) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), "sessions-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

func (s fileStore) Load(_ context.Context, server string) (keystore.Session, error) {
	m, err := s.read()
	if err != nil {
		return keystore.Session{}, err
	}
	v, ok := m[server]
	if !ok {
		return keystore.Session{}, keystore.ErrNotFound
	}
	return v, nil
}

func (s fileStore) Save(_ context.Context, v keystore.Session) error {
	m, err := s.read()
	if err != nil {
		return err
	}
	m[v.Server] = v
	return s.write(m)
}

func (s fileStore) Delete(_ context.Context, server string) error {
	m, err := s.read()
	if err != nil {
		return err
	}
	delete(m, server)
	return s.write(m)
}

// loggedIn returns a client of f with a stored session for alice.
func loggedIn(t *testing.T, f *fakeServer, store keystore.Store, opts ...Option) *Client {
	t.Helper()
	c := New(f.URL, append([]Option{WithSessions(store), WithLockDir(t.TempDir())}, opts...)...)
	if _, err := c.Login(context.Background(), "alice", password); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

func stored(t *testing.T, c *Client) keystore.Session {
	t.Helper()
	s, err := c.Session(context.Background())
	if err != nil {
		t.Fatalf("stored session: %v", err)
	}
	return s
}
