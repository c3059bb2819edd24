// Package server is the token server's domain: users, login sessions (refresh-token
// families), signing keys, and the Service that issues, rotates, verifies and revokes tokens.
// Storage and HTTP are adapters in sub-packages (server/sqlite, server/postgres,
// server/httpapi); this package imports none of them.
package server

import (
	"context"
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

	// What the sessions list shows (server/sessions.go): when the family last rotated (zero
	// before its first refresh), and the client's address and User-Agent at login. A store
	// may write RefreshedAt up to a second after the rotation, but its own Session and
	// UserSessions show it at once.
	RefreshedAt time.Time
	ClientAddr  string
	UserAgent   string
}

// Revoke reasons stored with a session.
const (
	RevokeLogout          = "logout"
	RevokeReuse           = "reuse"
	RevokeUserDeleted     = "user-deleted"
	RevokePasswordChanged = "password-changed"
	RevokeByUser          = "revoked-by-user"  // the owner ended it from another session
	RevokeByAdmin         = "revoked-by-admin" // an admin ended it (API or `authctl user revoke`)
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

// ServerSetting is a fact the serving processes record in the store for the commands that
// work on it (`authctl keys rotate` reads how the servers sign).
type ServerSetting struct {
	Name, Value string
	UpdatedAt   time.Time
}

// SpentTokensKept is how many of a family's newest spent refresh tokens a Store keeps for
// reuse detection: Rotate trims the older ones, so that a family holds at most
// 2 × SpentTokensKept spent tokens and its live one however often it is refreshed. Presenting
// any kept spent token outside the grace window is detected as reuse; an older one is only
// unknown (README "Security notes"). At the default access TTL a client refreshes every five
// minutes, so 32 covers more than two and a half hours of its use.
const SpentTokensKept = 32

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
//
// Admin changes are audited in the transaction that makes them: when ctx carries an Actor
// (WithActor, server/audit.go), CreateUser, SetPassword, DeleteUser, RevokeSession,
// RevokeUserSessions and RotateSigningKey each also store one AuditEvent saying what they
// did, and commit both or neither.
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
	// the presented token used. Under its lock the store reads the RotationFacts and applies
	// RotationRules (server/rotation.go), which hold the rules and their order — in Go
	// (DecideRotation) or rendered into SQL and checked against DecideRotation:
	//   - RotationFresh: mark the token used at Now, insert Next (parent = Presented) → RotateResult;
	//     and keep the family's spent tokens to the newest SpentTokensKept (at least) and
	//     2 × SpentTokensKept (at most), deleting older ones in the same transaction or in
	//     one right after it;
	//   - RotationReplay: RotateResult with Replayed = true, nothing written;
	//   - RotationReuse: revoke the family with RevokeReuse, commit, and return the
	//     RotateResult (so the caller can log who) together with ErrReuseDetected;
	//   - otherwise the outcome's error (ErrNotFound, ErrSessionRevoked, ErrSessionExpired).
	// Serialization failures and busy databases are retried inside the store.
	Rotate(ctx context.Context, req RotateRequest) (RotateResult, error)
	// RevokeSession revokes a live session (idempotent: a revoked one keeps its first time
	// and reason) and returns it. ErrNotFound for an unknown id.
	RevokeSession(ctx context.Context, id, reason string, now time.Time) (Session, error)
	// RevokedSince lists sessions revoked at or after since, for other processes' caches.
	RevokedSince(ctx context.Context, since time.Time) ([]Revocation, error)
	// UserSessions lists the user's sessions that have not expired at now, revoked ones
	// included, newest first, at most limit of them.
	UserSessions(ctx context.Context, userID int64, now time.Time, limit int) ([]Session, error)
	// RevokeUserSessions revokes every live session of the user with reason, in one
	// transaction, and returns the ids of the sessions it revoked (none: an empty list).
	RevokeUserSessions(ctx context.Context, userID int64, reason string, now time.Time) ([]string, error)
	// AuditSince lists the audit events stored at or after since, in the order (time, id),
	// at most limit of them; of those at exactly since only the ones with an id above
	// afterID (0: all), so that a reader pages on from the last event it got.
	AuditSince(ctx context.Context, since time.Time, afterID int64, limit int) ([]AuditEvent, error)
	// DeleteExpired removes sessions (and their tokens) whose ExpiresAt is before the time;
	// it returns how many sessions went.
	DeleteExpired(ctx context.Context, before time.Time) (int64, error)
	// PruneSessions deletes, with their tokens, at most limit sessions that ended before
	// endedBefore: expired (ExpiresAt) or revoked (RevokedAt) before it. It returns how many
	// went; fewer than limit means none is left. Rows another transaction holds may be
	// skipped until the next call. Rotate, for its part, keeps a family's spent tokens down
	// to the newest SpentTokensKept (see SpentTokensKept).
	PruneSessions(ctx context.Context, endedBefore time.Time, limit int) (int64, error)

	// Probe proves that the store takes writes: it commits a small write, and checks what
	// else the store knows can make writes go astray (the SQLite store: that its file is
	// still the one it opened). /readyz answers from it.
	Probe(ctx context.Context, now time.Time) error
	// SetServerSetting records a fact about the serving processes (ServerSettingSigning),
	// replacing what was recorded under the name.
	SetServerSetting(ctx context.Context, name, value string, now time.Time) error
	// ServerSetting returns what was last recorded under name; ErrNotFound when nothing was.
	ServerSetting(ctx context.Context, name string) (ServerSetting, error)

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
