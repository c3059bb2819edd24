// Package server is the token server's domain: users, login sessions (refresh-token
// families), signing keys, and the Service that issues, rotates, verifies and revokes tokens.
// Storage and HTTP are adapters in sub-packages (server/sqlite, server/postgres,
// server/httpapi); this package imports none of them.
package server

import (
	"context"
	"errors"
	"time"
)

// User is an account that can log in.
type User struct {
	ID           int64
	Name         string
	Role         string
	PasswordHash string // PHC-formatted argon2id hash; never the password
	CreatedAt    time.Time
}

// Session is one login: a refresh-token family. Its id is the `sid` claim of every access
// token issued for it.
type Session struct {
	ID           string // random, base64url, 128 bits
	UserID       int64
	CreatedAt    time.Time
	ExpiresAt    time.Time // absolute lifetime of the family (--refresh-ttl)
	RevokedAt    time.Time // zero while live
	RevokeReason string    // RevokeLogout, RevokeReuse, …; empty while live
}

// Revoke reasons stored with a session.
const (
	RevokeLogout          = "logout"
	RevokeReuse           = "reuse"
	RevokeUserDeleted     = "user-deleted"
	RevokePasswordChanged = "password-changed"
)

// Revoked reports whether the session has been revoked.
func (s Session) Revoked() bool { return !s.RevokedAt.IsZero() }

// RefreshToken is the stored form of one opaque refresh token: only its SHA-256 hash.
type RefreshToken struct {
	Hash       []byte // SHA-256 of the opaque token
	SessionID  string
	ParentHash []byte // nil for the first token of a family
	IssuedAt   time.Time
	UsedAt     time.Time // zero until the token has been rotated
}

// SigningKey is a private key (or HMAC secret) used to sign access tokens.
type SigningKey struct {
	KID       string
	Alg       string // "EdDSA", "ES256", "RS256" or "HS256"
	Private   []byte // PKCS#8 PEM for the asymmetric algorithms; the raw secret for HS256
	CreatedAt time.Time
	Active    bool      // the key new tokens are signed with (one per Alg)
	RetireAt  time.Time // zero: no retirement planned; after it the key is not used at all
}

// Revocation says that a session was revoked at a time.
type Revocation struct {
	SessionID string
	RevokedAt time.Time
}

// RotateRequest asks a Store to spend the refresh token whose hash is Presented.
type RotateRequest struct {
	Presented []byte        // SHA-256 of the presented refresh token
	Next      []byte        // SHA-256 of the successor, derived deterministically from the presented token
	Now       time.Time     //
	Grace     time.Duration // --reuse-grace
}

// RotateResult is the outcome of a successful Rotate.
type RotateResult struct {
	Session Session
	User    User
	// Replayed is true when the presented token had already been rotated within the grace
	// window and its successor (Next) is still unused: the caller answers with that same
	// successor instead of a new sibling.
	Replayed bool
}

// Store persists users, sessions, refresh tokens, secrets and signing keys. Every
// implementation passes the contract suite in server/storetest.
//
// Times are passed in by the caller so that tests control the clock; implementations store
// them with at least millisecond precision and return them in UTC.
type Store interface {
	// CreateUser adds a user; ErrUserExists when the name is taken.
	CreateUser(ctx context.Context, name, role, passwordHash string, now time.Time) (User, error)
	// UserByName returns ErrNotFound when there is no such user.
	UserByName(ctx context.Context, name string) (User, error)
	UserByID(ctx context.Context, id int64) (User, error)
	// ListUsers returns every user ordered by name.
	ListUsers(ctx context.Context) ([]User, error)
	CountUsers(ctx context.Context) (int, error)
	// SetPassword replaces a user's hash and, in the same transaction, revokes every live
	// session of the user with RevokePasswordChanged. ErrNotFound for an unknown user.
	SetPassword(ctx context.Context, name, passwordHash string, now time.Time) (User, error)
	// DeleteUser deletes a user and, in the same transaction, revokes every live session of
	// the user with RevokeUserDeleted (the session rows stay so that other processes see the
	// revocation). ErrNotFound for an unknown user.
	DeleteUser(ctx context.Context, name string, now time.Time) (User, error)

	// CreateSession stores a new family with its first refresh token.
	CreateSession(ctx context.Context, s Session, first RefreshToken) error
	// Session returns ErrNotFound for an unknown id.
	Session(ctx context.Context, id string) (Session, error)
	// SessionByToken finds the family that a refresh token (by hash; used or not) belongs to;
	// ErrNotFound when the hash is unknown.
	SessionByToken(ctx context.Context, hash []byte) (Session, error)
	// Rotate spends a refresh token atomically: of any number of concurrent calls presenting
	// the same token, exactly one inserts the successor, in the same transaction that marks
	// the presented token used. The rules, in order:
	//   - unknown hash: ErrNotFound;
	//   - family revoked: ErrSessionRevoked; family past ExpiresAt: ErrSessionExpired;
	//   - token unused: mark it used at Now, insert Next (parent = Presented) → RotateResult;
	//   - token used at most Grace ago and its child (the token whose parent it is) still
	//     unused: RotateResult with Replayed = true, nothing written;
	//   - otherwise (reuse): revoke the family with RevokeReuse, commit, and return the
	//     RotateResult (so the caller can log who) together with ErrReuseDetected.
	// Serialization failures and busy databases are retried inside the store.
	Rotate(ctx context.Context, req RotateRequest) (RotateResult, error)
	// RevokeSession revokes a live session (idempotent: a revoked one keeps its first time
	// and reason) and returns it. ErrNotFound for an unknown id.
	RevokeSession(ctx context.Context, id, reason string, now time.Time) (Session, error)
	// RevokedSince lists sessions revoked at or after since, for other processes' caches.
	RevokedSince(ctx context.Context, since time.Time) ([]Revocation, error)
	// DeleteExpired removes sessions (and their tokens) whose ExpiresAt is before the time;
	// it returns how many sessions went.
	DeleteExpired(ctx context.Context, before time.Time) (int64, error)

	// Secret returns the named server secret, creating it with generate when absent; when
	// several processes race, all get the first one stored.
	Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error)

	// EnsureSigningKey stores k as the active key for k.Alg unless an active key for that
	// algorithm exists already; it returns the active key either way (race-safe across
	// processes).
	EnsureSigningKey(ctx context.Context, k SigningKey) (SigningKey, error)
	// RotateSigningKey makes k the active key for k.Alg; the previously active keys of that
	// algorithm become inactive with RetireAt = retireOld.
	RotateSigningKey(ctx context.Context, k SigningKey, retireOld time.Time) error
	// SigningKeys returns every key whose RetireAt is zero or after now, newest first.
	SigningKeys(ctx context.Context, now time.Time) ([]SigningKey, error)

	Close() error
}

// Errors returned by stores and the Service. Adapters map them to status codes.
var (
	ErrNotFound       = errors.New("not found")
	ErrUserExists     = errors.New("user already exists")
	ErrSessionRevoked = errors.New("session revoked")
	ErrSessionExpired = errors.New("session expired")
	ErrReuseDetected  = errors.New("refresh token reuse detected")
	// ErrUnavailable wraps a store failure that is not the caller's fault (database down).
	ErrUnavailable = errors.New("store unavailable")
)
