package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authctl/authctl/internal/testkit"
)

func TestRecoverPanics(t *testing.T) {
	t.Parallel()
	t.Run("a panic becomes a logged 500 JSON answer without the body", func(t *testing.T) {
		t.Parallel()
		logs := &testkit.Buffer{}
		h := recoverPanics(slog.New(slog.NewTextHandler(logs, nil)))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/auth/login", strings.NewReader(`{"password":"hunter2-secret"}`)))
		if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"error":"server_error"`) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
		if l := logs.String(); !strings.Contains(l, "panic=boom") || !strings.Contains(l, "path=/api/auth/login") || strings.Contains(l, "hunter2") {
			t.Errorf("log: %s", l)
		}
	})
	t.Run("a panic after the answer started does not write a second status", func(t *testing.T) {
		t.Parallel()
		h := recoverPanics(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			panic("late")
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusAccepted || rec.Body.Len() != 0 {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("http.ErrAbortHandler is passed on to the server", func(t *testing.T) {
		t.Parallel()
		h := recoverPanics(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	})
}

// TestAccessLog checks that each request is logged once with its facts and that no secret
// reaches the log: not the password, not either token, not the query string.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.login(t, "alice", alicePassword)
	h.record("GET", "/api/weather?days=2&access_token="+tok.AccessToken, "", "", bearer(tok.AccessToken)...)
	h.record("POST", "/api/auth/refresh", jsonType, `{"refresh_token":"`+tok.RefreshToken+`"}`)
	h.record("POST", "/oauth/revoke", formType, "token="+tok.RefreshToken)
	logs := h.logs.String()
	for _, want := range []string{
		`msg=request method=POST path=/api/auth/login status=200 duration=`,
		`msg=request method=GET path=/api/weather status=200 duration=`,
		`addr=192.0.2.1`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	for name, secret := range map[string]string{"password": alicePassword, "access token": tok.AccessToken, "refresh token": tok.RefreshToken, "query": "days=2"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s is in the log:\n%s", name, logs)
		}
	}
	if n := strings.Count(logs, "msg=request "); n != 4 {
		t.Errorf("%d request lines, want 4:\n%s", n, logs)
	}
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	for remote, want := range map[string]string{"192.0.2.7:5555": "192.0.2.7", "[2001:db8::1]:443": "2001:db8::1", "@": "@"} {
		t.Run(fmt.Sprintf("%s is keyed as %s", remote, want), func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = remote
			r.Header.Set("X-Forwarded-For", "203.0.113.9")
			if got := clientAddr(r); got != want {
				t.Errorf("%q", got)
			}
		})
	}
}
