package client

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestErrorAnswersMapToError(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		status     int
		body       string
		retryAfter string
		want       Error
		is         []error
		isNot      []error
	}{
		{
			name: "invalid_grant matches ErrInvalidGrant", status: 400,
			body: `{"error":"invalid_grant","error_description":"refresh token reused"}`,
			want: Error{Status: 400, Code: "invalid_grant", Description: "refresh token reused"},
			is:   []error{ErrInvalidGrant}, isNot: []error{ErrUnauthorized, ErrRateLimited},
		},
		{
			name: "a 401 matches ErrUnauthorized", status: 401,
			body: `{"error":"invalid_token"}`,
			want: Error{Status: 401, Code: "invalid_token"},
			is:   []error{ErrUnauthorized}, isNot: []error{ErrInvalidGrant},
		},
		{
			name: "a 429 carries Retry-After in seconds", status: 429, retryAfter: "30",
			body: `{"error":"slow_down","error_description":"too many attempts"}`,
			want: Error{Status: 429, Code: "slow_down", Description: "too many attempts", RetryAfter: 30 * time.Second},
			is:   []error{ErrRateLimited},
		},
		{
			name: "Retry-After as an HTTP date counts from now", status: 429,
			retryAfter: now.Add(2 * time.Minute).Format(http.TimeFormat), body: `{}`,
			want: Error{Status: 429, RetryAfter: 2 * time.Minute},
			is:   []error{ErrRateLimited},
		},
		{
			name: "a body that is not JSON leaves the code empty", status: 502,
			body: `<html>Bad Gateway</html>`, retryAfter: "-5",
			want:  Error{Status: 502},
			isNot: []error{ErrInvalidGrant, ErrUnauthorized, ErrRateLimited},
		},
		{
			name: "control characters from the server are dropped", status: 400,
			body: `{"error":"invalid_request","error_description":"bad\u001b[31m input"}`,
			want: Error{Status: 400, Code: "invalid_request", Description: "bad[31m input"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tc.body))}
			if tc.retryAfter != "" {
				resp.Header.Set("Retry-After", tc.retryAfter)
			}
			got := responseError(resp, now)
			if *got != tc.want {
				t.Errorf("got %+v, want %+v", *got, tc.want)
			}
			var err error = got
			for _, s := range tc.is {
				if !errors.Is(err, s) {
					t.Errorf("errors.Is(%v, %v) = false", err, s)
				}
			}
			for _, s := range tc.isNot {
				if errors.Is(err, s) {
					t.Errorf("errors.Is(%v, %v) = true", err, s)
				}
			}
			if err.Error() == "" {
				t.Error("empty message")
			}
		})
	}
}

// FuzzResponseError: an error answer comes from the network; it never panics and never
// lets a control character into the message.
func FuzzResponseError(f *testing.F) {
	f.Add(400, `{"error":"invalid_grant","error_description":"x"}`, "")
	f.Add(429, `{"error":1}`, "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(500, "\x00\xff", "99999999999")
	f.Fuzz(func(t *testing.T, status int, body, retry string) {
		resp := &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {retry}}, Body: io.NopCloser(strings.NewReader(body))}
		e := responseError(resp, time.Now())
		if e.RetryAfter < 0 {
			t.Errorf("negative Retry-After %v", e.RetryAfter)
		}
		if strings.ContainsFunc(e.Error(), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("control character in %q", e.Error())
		}
	})
}
