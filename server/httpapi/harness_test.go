package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/internal/testkit"
	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
)

// Passwords of the users every harness has.
const (
	alicePassword = "correct horse battery"
	bobPassword   = "bob's long password"
)

// harness is a real Service over a real SQLite file, behind the real handler.
type harness struct {
	handler http.Handler
	svc     *server.Service
	store   *sqlite.Store
	clock   *testkit.Clock
	logs    *testkit.Buffer
	url     string // base URL of an httptest.Server, once started
}

type option func(*server.Config, *Config)

func withCORS(origins ...string) option {
	return func(_ *server.Config, c *Config) { c.CORSOrigins = origins }
}

func withLimits(l server.LimitConfig) option {
	return func(s *server.Config, _ *Config) { s.Limits = l }
}

func withIssuer(iss string) option {
	return func(_ *server.Config, c *Config) { c.Issuer = iss }
}

// newHarness builds the handler with users alice (role user) and bob (role admin). Argon2 is
// cheap and failed logins are practically unlimited unless an option says otherwise.
func newHarness(t testing.TB, opts ...option) *harness {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "authctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := testkit.NewClock(time.Now().Truncate(time.Second))
	logs := &testkit.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	cfg := server.DefaultConfig()
	cfg.Argon2 = server.Argon2Params{Memory: 64, Time: 1, Threads: 1}
	cfg.Limits = server.LimitConfig{UserBurst: 1 << 30, AddrBurst: 1 << 30, PerUser: 1e9, PerAddr: 1e9, MaxKeys: 10_000}
	cfg.Now = clk.Now
	var hcfg Config
	for _, o := range opts {
		o(&cfg, &hcfg)
	}
	svc, err := server.NewService(ctx, cfg, st, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct{ name, role, pw string }{{"alice", "user", alicePassword}, {"bob", "admin", bobPassword}} {
		if _, err := server.AddUser(ctx, st, svc.Hasher(), u.name, u.role, u.pw, clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return &harness{handler: New(svc, hcfg, log), svc: svc, store: st, clock: clk, logs: logs}
}

// serve starts an httptest.Server in front of the handler: real HTTP on loopback.
func (h *harness) serve(t testing.TB) *harness {
	t.Helper()
	srv := httptest.NewServer(h.handler)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// answer is a response read whole.
type answer struct {
	Status int
	Header http.Header
	Body   string
}

func (a answer) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.Body), &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %q", a.Status, err, a.Body)
	}
	return m
}

// errorCode returns the "error" of an RFC 6749 error body, "" if there is none.
func (a answer) errorCode() string {
	var m struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal([]byte(a.Body), &m)
	return m.Error
}

// call sends one request over HTTP; header holds name, value pairs.
func (h *harness) call(t testing.TB, method, path, ctype, body string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// record sends one request straight into the handler, without a network.
func (h *harness) record(method, path, ctype, body string, header ...string) answer {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return answer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
}

// tokens logs alice in through the native API.
func (h *harness) login(t testing.TB, user, password string) tokenResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	a := h.record("POST", "/api/auth/login", "application/json", string(body))
	if a.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, a.Status, a.Body)
	}
	var tr tokenResponse
	if err := json.Unmarshal([]byte(a.Body), &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

func bearer(access string) []string { return []string{"Authorization", "Bearer " + access} }

const (
	jsonType = "application/json"
	formType = "application/x-www-form-urlencoded"
)
