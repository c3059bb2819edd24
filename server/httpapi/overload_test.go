package httpapi

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/internal/testkit"
	"github.com/authctl/authctl/server"
)

// A login shed because too many wait for a password hash is the server's load, not the
// client's fault: 503 with Retry-After, and no ERROR line per shed login (the Service sums
// them up in its own log).
func TestFailOverloadIs503WithRetryAfter(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err   error
		retry string
	}{
		{&server.OverloadError{RetryAfter: 2500 * time.Millisecond}, "3"},
		{fmt.Errorf("login: %w", &server.OverloadError{RetryAfter: time.Millisecond}), "1"},
	} {
		t.Run(c.err.Error(), func(t *testing.T) {
			t.Parallel()
			logs := &testkit.Buffer{}
			rec := httptest.NewRecorder()
			fail(rec, httptest.NewRequest("POST", "/api/auth/login", nil), slog.New(slog.NewTextHandler(logs, nil)), c.err)
			a := answer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
			if a.Status != 503 || a.errorCode() != "temporarily_unavailable" || a.Header.Get("Retry-After") != c.retry {
				t.Errorf("%d Retry-After %q %s", a.Status, a.Header.Get("Retry-After"), a.Body)
			}
			if logs.String() != "" {
				t.Errorf("logged: %s", logs)
			}
		})
	}
}

// A login refused because the client already has too many waiting for a hash says so: it is
// not "too many failed logins", which would send a user looking for a wrong password.
func TestFailRateLimitSaysWhy(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		says string
	}{
		{&server.RateLimitError{RetryAfter: time.Second}, "too many failed logins"},
		{&server.RateLimitError{RetryAfter: time.Second, Queued: true}, "too many logins from this client at once"},
	} {
		rec := httptest.NewRecorder()
		fail(rec, httptest.NewRequest("POST", "/api/auth/login", nil), slog.New(slog.DiscardHandler), c.err)
		a := answer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
		if a.Status != 429 || a.errorCode() != "slow_down" || !strings.Contains(a.Body, c.says) {
			t.Errorf("%v: %d %s", c.err, a.Status, a.Body)
		}
	}
}
