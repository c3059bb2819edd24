package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is an error answer from the server: an RFC 6749 body {"error","error_description"}
// (either may be empty when the body was not JSON) with the HTTP status.
type Error struct {
	Status      int
	Code        string        // "invalid_grant", "invalid_request", …
	Description string        // the server's error_description
	RetryAfter  time.Duration // from Retry-After on 429/503; 0 when absent
}

func (e *Error) Error() string {
	msg := e.Description
	if msg == "" {
		msg = e.Code
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("server said %d: %s", e.Status, msg)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Sentinels an *Error matches (see Error.Is): what the server said, by kind.
var (
	// ErrInvalidGrant matches an *Error with code invalid_grant (wrong password, or a
	// refresh token that is expired, revoked or already used).
	ErrInvalidGrant = errors.New("invalid grant")
	// ErrUnauthorized matches an *Error with status 401.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRateLimited matches an *Error with status 429; see Error.RetryAfter.
	ErrRateLimited = errors.New("rate limited")
)

// Is lets errors.Is match the sentinels: ErrInvalidGrant by code, ErrUnauthorized and
// ErrRateLimited by status.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrInvalidGrant:
		return e.Code == "invalid_grant"
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	}
	return false
}

// Errors of the client's own state, not answers of the server.
var (
	// ErrSessionEnded means the stored session can no longer be refreshed; it has been
	// deleted locally.
	ErrSessionEnded = errors.New("session expired or revoked — run `authctl login`")
	// ErrNotLoggedIn means there is no stored session for the server.
	ErrNotLoggedIn = errors.New("not logged in — run `authctl login`")
	// ErrOffline wraps failures to reach the server (refused, DNS, TLS, timeout).
	ErrOffline = errors.New("server unreachable")
	// ErrStaticToken is returned by operations that need a stored session while the client
	// uses a static token (AUTHCTL_TOKEN).
	ErrStaticToken = errors.New("AUTHCTL_TOKEN is set: it is used as is and never refreshed or stored")
)

// RedirectError is a redirect the client refused to follow: from one origin to another with
// a request body or credentials. A login's 307 would otherwise carry the password to
// wherever the server (or whoever answers in its place) points. To names the target's origin
// so that the user can tell a misconfigured server from an attack.
type RedirectError struct {
	From, To string // origins: scheme://host[:port]
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("%s redirected to another origin, %s; authctl does not send a request body or credentials there", e.From, e.To)
}

// OriginError is Client.URL's refusal of an absolute URL of another origin than the
// server's: the session's token is sent to the server's own origin only.
type OriginError struct {
	URL    string // redacted
	Server string
}

func (e *OriginError) Error() string {
	return fmt.Sprintf("%s is not on the server's own origin (%s)", e.URL, e.Server)
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// responseError reads an error answer. The body is untrusted: anything that is not the
// RFC 6749 shape leaves Code and Description empty rather than failing.
func responseError(resp *http.Response, now time.Time) *Error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return ErrorFrom(resp.StatusCode, resp.Header, data, now)
}

// ErrorFrom reads an error answer already read: status, headers and (the start of) the
// body, judged at the client time now for Retry-After. `authctl api` uses it on the body
// it has also printed.
func ErrorFrom(status int, header http.Header, data []byte, now time.Time) *Error {
	e := &Error{Status: status}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if len(data) > maxErrorBody {
		data = data[:maxErrorBody]
	}
	if json.Unmarshal(data, &body) == nil {
		e.Code, e.Description = printable(body.Error, 64), printable(body.Description, 512)
	} else if status == http.StatusBadRequest && bytes.Contains(data, []byte("HTTP request to an HTTPS server")) {
		// Go's TLS listener answers a plain request so; "Bad Request" alone would not
		// tell the user that only the scheme is wrong.
		e.Description = "the server speaks HTTPS; use https:// instead of http://"
	}
	e.RetryAfter = retryAfter(header.Get("Retry-After"), now)
	return e
}

// retryAfter reads Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 32); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// printable keeps a server's text from smuggling terminal escapes into our messages.
func printable(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}
