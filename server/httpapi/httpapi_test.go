package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
)

func newHandler(t testing.TB, origins ...string) (http.Handler, *server.Service) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "authctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := server.DefaultConfig()
	cfg.Argon2 = server.Argon2Params{Memory: 64, Time: 1, Threads: 1}
	cfg.Limits = server.LimitConfig{UserBurst: 1 << 30, AddrBurst: 1 << 30, PerUser: 1e9, PerAddr: 1e9}
	svc, err := server.NewService(ctx, cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.AddUser(ctx, st, svc.Hasher(), "alice", "user", "correct horse", time.Now()); err != nil {
		t.Fatal(err)
	}
	return New(svc, Config{CORSOrigins: origins}, nil), svc
}

func serve(h http.Handler, method, path, ctype, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

var endpoints = []struct{ method, path, ctype string }{
	{"POST", "/api/auth/login", "application/json"},
	{"POST", "/api/auth/refresh", "application/json"},
	{"POST", "/api/auth/logout", "application/json"},
	{"GET", "/api/auth/me", ""},
	{"GET", "/api/weather?days=3", ""},
	{"POST", "/api/JWT/jwtauth", "application/json"},
	{"POST", "/api/JWT/refreshjwt", "application/json"},
	{"GET", "/api/WeatherForecast", ""},
	{"POST", "/oauth/token", "application/x-www-form-urlencoded"},
	{"POST", "/oauth/revoke", "application/x-www-form-urlencoded"},
	{"GET", "/.well-known/jwks.json", ""},
	{"GET", "/.well-known/oauth-authorization-server", ""},
	{"GET", "/healthz", ""},
}

var badBodies = []string{
	"", "{", "}", "null", "[]", "[1,2]", `"string"`, "123", `{"username":1}`, `{"username":"alice","password":"x","extra":1}`,
	`{"username":"alice","password":"correct horse"} trailing`, `{"refresh_token":null}`, `{"refresh_token":["a"]}`,
	`{"refresh_token":"` + strings.Repeat("A", 10000) + `"}`, `{"userName":"alice","password":{}}`, `{"jwtToken":"a.b.c","refreshToken":"x"}`,
	"grant_type=refresh_token", "grant_type=refresh_token&refresh_token=a&refresh_token=b", "token=", "%zz=%%", "\x00\xff\xfe",
	`{"username":"` + strings.Repeat("é", 3000) + `","password":"x"}`,
}

// TestNoInputReachesServerError feeds bad input to every endpoint: 4xx JSON, never a 5xx.
func TestNoInputReachesServerError(t *testing.T) {
	t.Parallel()
	h, _ := newHandler(t)
	for _, e := range endpoints {
		for _, ctype := range []string{e.ctype, "text/plain", "application/json; charset=utf-8", "multipart/form-data; boundary=x", ""} {
			for _, body := range badBodies {
				for _, auth := range []string{"", "Bearer", "Bearer a.b.c", "Basic YTpi", "bearer " + strings.Repeat("x", 9000)} {
					rec := serve(h, e.method, e.path, ctype, body, "Authorization", auth)
					if rec.Code >= 500 {
						t.Fatalf("%s %s (%s) %q auth %q: %d %s", e.method, e.path, ctype, body, auth, rec.Code, rec.Body)
					}
					if rec.Code >= 400 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
						t.Fatalf("%s %s: %d without a JSON error", e.method, e.path, rec.Code)
					}
				}
			}
		}
	}
}

func TestAPI(t *testing.T) {
	t.Parallel()
	h, _ := newHandler(t, "http://localhost:4200")

	login := serve(h, "POST", "/api/auth/login", "application/json", `{"username":"alice","password":"correct horse"}`)
	if login.Code != 200 || login.Header().Get("Cache-Control") != "no-store" || login.Header().Get("Pragma") != "no-cache" {
		t.Fatalf("login: %d %v", login.Code, login.Header())
	}
	body := login.Body.String()
	for _, field := range []string{`"access_token"`, `"token_type":"Bearer"`, `"expires_in":300`, `"refresh_token"`, `"refresh_expires_in"`} {
		if !strings.Contains(body, field) {
			t.Errorf("token response lacks %s: %s", field, body)
		}
	}
	cases := []struct {
		name, method, path, ctype, body string
		status                          int
		want                            string
	}{
		{"a wrong password is invalid_grant", "POST", "/api/auth/login", "application/json", `{"username":"alice","password":"nope"}`, 401, `"error":"invalid_grant"`},
		{"a missing field is invalid_request", "POST", "/api/auth/login", "application/json", `{"username":"alice"}`, 400, `missing password`},
		{"JSON field names match case-insensitively", "POST", "/api/JWT/jwtauth", "application/json", `{"USERNAME":"alice","PassWord":"correct horse"}`, 200, `"refreshToken"`},
		{"the token is checked before the query", "GET", "/api/weather?days=0", "", "", 401, `invalid_token`},
		{"unknown paths are JSON 404s", "GET", "/nope", "", "", 404, `"error":"not_found"`},
		{"a missing token gets a Bearer challenge", "GET", "/api/auth/me", "", "", 401, `bearer access token required`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := serve(h, c.method, c.path, c.ctype, c.body)
			if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.want) {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
		})
	}
	t.Run("a preflight from an allowed origin is answered", func(t *testing.T) {
		rec := serve(h, "OPTIONS", "/api/JWT/jwtauth", "", "", "Origin", "http://localhost:4200", "Access-Control-Request-Method", "POST")
		if rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "http://localhost:4200" {
			t.Errorf("%d %v", rec.Code, rec.Header())
		}
	})
	t.Run("other origins get no CORS headers", func(t *testing.T) {
		rec := serve(h, "POST", "/api/auth/login", "application/json", `{}`, "Origin", "http://evil.example")
		if rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%v", rec.Header())
		}
	})
	t.Run("weather days are validated", func(t *testing.T) {
		access := between(body, `"access_token":"`, `"`)
		for days, want := range map[string]int{"1": 200, "14": 200, "15": 400, "x": 400, "-1": 400} {
			rec := serve(h, "GET", "/api/weather?days="+days, "", "", "Authorization", "Bearer "+access)
			if rec.Code != want {
				t.Errorf("days=%s: %d", days, rec.Code)
			}
		}
		rec := serve(h, "GET", "/api/weather", "", "", "Authorization", "Bearer "+access)
		if n := strings.Count(rec.Body.String(), `"summary"`); n != 5 {
			t.Errorf("default days: %d", n)
		}
	})
}

func between(s, from, to string) string {
	_, after, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(after, to)
	return v
}

func TestRecoveryAnswersJSON(t *testing.T) {
	t.Parallel()
	h := recoverPanics(nilLogger())(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := serve(h, "GET", "/", "", "")
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"server_error"`) {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}

// FuzzAPI sends arbitrary requests through the whole handler: never a 5xx, never a panic.
func FuzzAPI(f *testing.F) {
	h, _ := newHandler(f)
	for i, e := range endpoints {
		f.Add(uint8(i), e.ctype, badBodies[i%len(badBodies)], "")
	}
	f.Add(uint8(0), "application/json", `{"username":"alice","password":"correct horse"}`, "")
	f.Add(uint8(8), "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&client_id=authctl", "")
	f.Add(uint8(4), "", "", "Bearer eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, which uint8, ctype, body, auth string) {
		e := endpoints[int(which)%len(endpoints)]
		req := httptest.NewRequest(e.method, e.path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s: %d %s", e.method, e.path, rec.Code, rec.Body)
		}
		io.Copy(io.Discard, rec.Body)
	})
}

func nilLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
