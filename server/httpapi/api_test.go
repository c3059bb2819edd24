package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/internal/testkit"
	"github.com/authctl/authctl/server"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	type creds struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	cases := []struct {
		name, ctype, body string
		want              creds
		status            int    // 0: success
		description       string // part of error_description
	}{
		{"a plain object decodes", jsonType, `{"username":"alice","password":"pw"}`, creds{"alice", "pw"}, 0, ""},
		{"names match case-insensitively", jsonType, `{"UserName":"alice","PASSWORD":"pw"}`, creds{"alice", "pw"}, 0, ""},
		{"a charset parameter is fine", "application/json; charset=utf-8", `{"username":"alice"}`, creds{Username: "alice"}, 0, ""},
		{"surrounding whitespace is fine", jsonType, " \n{\"username\":\"alice\"}\n ", creds{Username: "alice"}, 0, ""},
		{"null decodes to the zero value", jsonType, `null`, creds{}, 0, ""},
		{"text/plain is 415", "text/plain", `{}`, creds{}, 415, "Content-Type must be application/json"},
		{"no content type is 415", "", `{}`, creds{}, 415, "Content-Type"},
		{"a lookalike content type is 415", "application/jsonx", `{}`, creds{}, 415, "Content-Type"},
		{"an empty body is 400", jsonType, ``, creds{}, 400, "empty request body"},
		{"a blank body is 400", jsonType, "  \n", creds{}, 400, "empty request body"},
		{"malformed JSON is 400", jsonType, `{"username":`, creds{}, 400, "malformed JSON"},
		{"a syntax error is 400", jsonType, `{username:"alice"}`, creds{}, 400, "malformed JSON"},
		{"an unknown field is 400", jsonType, `{"username":"alice","admin":true}`, creds{}, 400, `unknown field "admin"`},
		{"a wrong type is 400", jsonType, `{"username":42}`, creds{}, 400, `field "username" has the wrong type`},
		{"an array is 400", jsonType, `[]`, creds{}, 400, "must be a JSON object"},
		{"a string is 400", jsonType, `"alice"`, creds{}, 400, "must be a JSON object"},
		{"trailing data is 400", jsonType, `{"username":"alice"} x`, creds{}, 400, "unexpected data after"},
		{"a second object is 400", jsonType, `{"username":"alice"}{"username":"bob"}`, creds{}, 400, "unexpected data after"},
		{"a duplicate field is 400", jsonType, `{"username":"alice","username":"bob"}`, creds{}, 400, `field "username" given more than once`},
		{"a duplicate in another case is 400", jsonType, `{"username":"alice","USERNAME":"bob"}`, creds{}, 400, `given more than once`},
		{"a duplicate by Unicode folding is 400", jsonType, `{"password":"a","paſsword":"b"}`, creds{}, 400, `given more than once`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
			if c.ctype != "" {
				r.Header.Set("Content-Type", c.ctype)
			}
			got, err := decode[creds](r)
			if c.status == 0 {
				if err != nil || got != c.want {
					t.Errorf("got %+v, %v; want %+v", got, err, c.want)
				}
				return
			}
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status != c.status || ae.Code != "invalid_request" || !strings.Contains(ae.Description, c.description) {
				t.Errorf("got %+v, %v; want %d %q", got, err, c.status, c.description)
			}
		})
	}
	t.Run("a body past the limit is 413", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/", strings.NewReader(`{"username":"`+strings.Repeat("a", MaxBody)+`"}`))
		r.Header.Set("Content-Type", jsonType)
		r.Body = http.MaxBytesReader(rec, r.Body, MaxBody)
		_, err := decode[creds](r)
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != 413 {
			t.Errorf("%v", err)
		}
	})
}

func TestDuplicateName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body, dup string
	}{
		{`{"a":1,"b":2}`, ""},
		{`{"a":{"a":1},"b":[{"a":1},{"a":2}]}`, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"a":{"x":1,"X":2}}`, "X"},
		{`[{"a":1},{"b":1,"b":2}]`, "b"},
		{`{"a":"b","b":"a"}`, ""},
		{`{"a":[1,2],"c":{},"a":3}`, "a"},
		{`{"a":`, ""},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s has duplicate %q", c.body, c.dup), func(t *testing.T) {
			t.Parallel()
			got, ok := duplicateName([]byte(c.body))
			if got != c.dup || ok != (c.dup != "") {
				t.Errorf("got %q %v", got, ok)
			}
		})
	}
}

// TestFail checks the one mapping from errors to answers.
func TestFail(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		err     error
		status  int
		code    string
		headers map[string]string
		logged  bool
	}{
		{"invalid credentials are 401 invalid_grant", server.ErrInvalidCredentials, 401, "invalid_grant", nil, false},
		{"an invalid grant is 400 invalid_grant", fmt.Errorf("%w: reuse", server.ErrInvalidGrant), 400, "invalid_grant", nil, false},
		{"a rate limit is 429 with Retry-After rounded up", &server.RateLimitError{RetryAfter: 1500 * time.Millisecond}, 429, "slow_down",
			map[string]string{"Retry-After": "2"}, false},
		{"a sub-second rate limit still says one second", &server.RateLimitError{RetryAfter: time.Millisecond}, 429, "slow_down",
			map[string]string{"Retry-After": "1"}, false},
		{"an unavailable store is 503 and logged", fmt.Errorf("look up user: %w: disk I/O", server.ErrUnavailable), 503, "temporarily_unavailable",
			map[string]string{"Retry-After": "1"}, true},
		{"an expired token is 401 with IS-TOKEN-EXPIRED", server.ErrTokenExpired, 401, "invalid_token",
			map[string]string{"IS-TOKEN-EXPIRED": "true", "WWW-Authenticate": `Bearer error="invalid_token", error_description="the access token expired"`}, false},
		{"an invalid token is 401 with its reason", fmt.Errorf("%w: wrong audience", server.ErrInvalidToken), 401, "invalid_token",
			map[string]string{"IS-TOKEN-EXPIRED": "", "WWW-Authenticate": `Bearer error="invalid_token", error_description="the access token is invalid: wrong audience"`}, false},
		{"a reason cannot break out of the header", fmt.Errorf("%w: a\"b\\c\r\nX: y", server.ErrInvalidToken), 401, "invalid_token",
			map[string]string{"WWW-Authenticate": `Bearer error="invalid_token", error_description="the access token is invalid: abcX: y"`}, false},
		{"an API error passes through", badRequest("missing %s", "x"), 400, "invalid_request", nil, false},
		{"anything else is a logged 500", errors.New("boom: secret detail"), 500, "server_error", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			logs := &testkit.Buffer{}
			rec := httptest.NewRecorder()
			fail(rec, httptest.NewRequest("GET", "/x", nil), slog.New(slog.NewTextHandler(logs, nil)), c.err)
			a := answer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
			if a.Status != c.status || a.errorCode() != c.code {
				t.Errorf("%d %s", a.Status, a.Body)
			}
			for k, v := range c.headers {
				if got := a.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if logged := logs.String() != ""; logged != c.logged {
				t.Errorf("logged %v: %s", logged, logs)
			}
			if c.status == 500 && strings.Contains(a.Body, "secret detail") {
				t.Errorf("internal detail leaked: %s", a.Body)
			}
		})
	}
	t.Run("a cancelled request is 503, not 500", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rec := httptest.NewRecorder()
		fail(rec, httptest.NewRequestWithContext(ctx, "GET", "/", nil), slog.New(slog.DiscardHandler), context.Canceled)
		if rec.Code != 503 {
			t.Errorf("%d", rec.Code)
		}
	})
}

func TestFahrenheit(t *testing.T) {
	t.Parallel()
	// The ASP.NET template's 32 + (int)(C / 0.5556), truncating toward zero.
	for c, f := range map[int]int{0: 32, 25: 76, 54: 129, -20: -3, -1: 31, 37: 98} {
		if got := fahrenheit(c); got != f {
			t.Errorf("%d °C: %d °F, want %d", c, got, f)
		}
	}
}
