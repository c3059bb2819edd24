package server

import (
	"errors"
	"fmt"
	"time"
)

// Every error package server exports lives here, so that an adapter can see in one place
// what it has to map. The HTTP adapter maps them to status codes and RFC 6749 / RFC 6750
// bodies in one function (httpapi's fail); the CLI maps the user-management ones to
// messages and exit codes.

// Store outcomes. Stores return them; the Service passes them on wrapped.
var (
	// ErrNotFound: no such user, session, refresh token or key.
	ErrNotFound = errors.New("not found")
	// ErrUserExists: CreateUser with a name that is taken.
	ErrUserExists = errors.New("user already exists")
	// ErrSessionRevoked: the refresh token's family was revoked.
	ErrSessionRevoked = errors.New("session revoked")
	// ErrSessionExpired: the refresh token's family is past its absolute lifetime.
	ErrSessionExpired = errors.New("session expired")
	// ErrReuseDetected: a rotated refresh token was presented again outside the grace
	// window; the store has revoked the family.
	ErrReuseDetected = errors.New("refresh token reuse detected")
	// ErrUnavailable wraps a store failure that is not the caller's fault (database down).
	ErrUnavailable = errors.New("store unavailable")
)

// Flow outcomes: what a client did wrong.
var (
	// ErrInvalidCredentials is the one answer to a failed login, whether the user exists or not.
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrInvalidGrant covers every refresh token that cannot be spent: unknown, reused,
	// revoked, expired or malformed. The cause is wrapped for logs, never shown to clients.
	ErrInvalidGrant = errors.New("invalid grant")
)

// Access-token verification. ErrTokenExpired is kept apart because clients react to it by
// refreshing, while every other failure means "log in again". ErrInvalidToken is wrapped
// with a short fixed reason ("invalid token: wrong audience") that never quotes the token.
var (
	ErrInvalidToken = errors.New("invalid token")
	ErrTokenExpired = errors.New("token expired")
)

// User management.
var (
	ErrInvalidUsername = errors.New("invalid username: use 1–64 characters from A–Z a–z 0–9 . _ @ -")
	ErrWeakPassword    = errors.New("password too short: use at least 8 characters")
)

// ErrInvalidConfig is what Config.Validate (and so NewService) wraps its complaints in.
var ErrInvalidConfig = errors.New("invalid configuration")

// RateLimitError says that login attempts are refused for RetryAfter: the client's failures
// used up its limit, or it already has as many logins waiting for a password hash as one
// client may.
type RateLimitError struct {
	RetryAfter time.Duration
	// Queued: refused because the client already has as many logins waiting for a hash as
	// one client may, not because of failures.
	Queued bool
}

func (e *RateLimitError) Error() string {
	if e.Queued {
		return fmt.Sprintf("too many logins from this client at once; retry after %s", e.RetryAfter)
	}
	return fmt.Sprintf("too many failed logins; retry after %s", e.RetryAfter)
}

// OverloadError says that a login was shed because too many logins from all clients wait for
// a password hash; the server is busy, not the client at fault (503 with Retry-After).
type OverloadError struct{ RetryAfter time.Duration }

func (e *OverloadError) Error() string {
	return fmt.Sprintf("too many logins waiting; retry after %s", e.RetryAfter)
}

// unavailable marks a store failure as the server's problem (503), keeping the cause. Only
// for failures: an outcome such as ErrNotFound must be handled before it gets here, or a
// client's mistake turns into an outage alarm.
func unavailable(what string, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
}
