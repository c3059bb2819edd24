// Package sqlite is the embedded server.Store: one SQLite file in WAL mode, written through a
// single connection so that transactions serialise in-process instead of failing busy.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/authctl/authctl/server"
)

// Store is a server.Store on one SQLite file.
type Store struct {
	w *sql.DB // the one writer connection; BEGIN takes the write lock at once (IMMEDIATE)
	r *sql.DB // readers; WAL lets them run beside the writer
}

var _ server.Store = (*Store)(nil)

const schemaVersion = 1

var migrations = []string{
	// version 1
	`CREATE TABLE users (
		id            INTEGER PRIMARY KEY AUTOINCREMENT,
		name          TEXT NOT NULL UNIQUE,
		role          TEXT NOT NULL,
		password_hash TEXT NOT NULL,
		created_at    INTEGER NOT NULL
	);
	CREATE TABLE sessions (
		id            TEXT PRIMARY KEY,
		user_id       INTEGER NOT NULL,
		created_at    INTEGER NOT NULL,
		expires_at    INTEGER NOT NULL,
		revoked_at    INTEGER,
		revoke_reason TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX sessions_user ON sessions(user_id);
	CREATE INDEX sessions_revoked ON sessions(revoked_at) WHERE revoked_at IS NOT NULL;
	CREATE INDEX sessions_expires ON sessions(expires_at);
	CREATE TABLE refresh_tokens (
		hash        BLOB PRIMARY KEY,
		session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
		parent_hash BLOB,
		issued_at   INTEGER NOT NULL,
		used_at     INTEGER
	) WITHOUT ROWID;
	CREATE INDEX refresh_tokens_parent ON refresh_tokens(parent_hash);
	CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
	CREATE TABLE secrets (
		name  TEXT PRIMARY KEY,
		value BLOB NOT NULL
	);
	CREATE TABLE signing_keys (
		kid        TEXT PRIMARY KEY,
		alg        TEXT NOT NULL,
		private    BLOB NOT NULL,
		created_at INTEGER NOT NULL,
		active     INTEGER NOT NULL,
		retire_at  INTEGER
	);`,
}

// Open opens (creating when missing) the database at path and brings its schema up to date.
// The directory is created 0700 and the files are kept 0600: they hold signing keys.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	s := &Store{w: w, r: r}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Chmod(path+suffix, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.Close()
			return nil, fmt.Errorf("chmod %s: %w", path+suffix, err)
		}
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return err
		}
		if v > schemaVersion {
			return fmt.Errorf("database schema version %d is newer than this authctl (%d)", v, schemaVersion)
		}
		for ; v < schemaVersion; v++ {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("schema version %d: %w", v+1, err)
			}
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
		return err
	})
}

// SchemaVersion reports the schema version recorded in the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// tx runs fn in a write transaction, retrying when another process holds the lock too long.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.tryTx(ctx, fn)
		if !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		}
	}
	return err
}

func (s *Store) tryTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

func isUnique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: ms(t), Valid: true}
}

const userCols = "id, name, role, password_hash, created_at"

type scanner interface{ Scan(...any) error }

func scanUser(row scanner) (server.User, error) {
	var u server.User
	var created int64
	if err := row.Scan(&u.ID, &u.Name, &u.Role, &u.PasswordHash, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return server.User{}, server.ErrNotFound
		}
		return server.User{}, err
	}
	u.CreatedAt = fromMS(created)
	return u, nil
}

// CreateUser implements server.Store.
func (s *Store) CreateUser(ctx context.Context, name, role, hash string, now time.Time) (server.User, error) {
	var u server.User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx,
			"INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING "+userCols,
			name, role, hash, ms(now)))
		return err
	})
	if isUnique(err) {
		return server.User{}, server.ErrUserExists
	}
	return u, err
}

// UserByName implements server.Store.
func (s *Store) UserByName(ctx context.Context, name string) (server.User, error) {
	return scanUser(s.r.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE name = ?", name))
}

// UserByID implements server.Store.
func (s *Store) UserByID(ctx context.Context, id int64) (server.User, error) {
	return scanUser(s.r.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", id))
}

// ListUsers implements server.Store.
func (s *Store) ListUsers(ctx context.Context) ([]server.User, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+userCols+" FROM users ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var users []server.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// CountUsers implements server.Store.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n)
	return n, err
}

// SetPassword implements server.Store.
func (s *Store) SetPassword(ctx context.Context, name, hash string, now time.Time) (server.User, error) {
	var u server.User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx,
			"UPDATE users SET password_hash = ? WHERE name = ? RETURNING "+userCols, hash, name))
		if err != nil {
			return err
		}
		return revokeUser(ctx, tx, u.ID, server.RevokePasswordChanged, now)
	})
	return u, err
}

// DeleteUser implements server.Store.
func (s *Store) DeleteUser(ctx context.Context, name string, now time.Time) (server.User, error) {
	var u server.User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, "DELETE FROM users WHERE name = ? RETURNING "+userCols, name))
		if err != nil {
			return err
		}
		return revokeUser(ctx, tx, u.ID, server.RevokeUserDeleted, now)
	})
	return u, err
}

func revokeUser(ctx context.Context, tx *sql.Tx, userID int64, reason string, now time.Time) error {
	_, err := tx.ExecContext(ctx,
		"UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND revoked_at IS NULL",
		ms(now), reason, userID)
	return err
}

const sessionCols = "id, user_id, created_at, expires_at, revoked_at, revoke_reason"

func scanSession(row scanner) (server.Session, error) {
	var ss server.Session
	var created, expires int64
	var revoked sql.NullInt64
	if err := row.Scan(&ss.ID, &ss.UserID, &created, &expires, &revoked, &ss.RevokeReason); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return server.Session{}, server.ErrNotFound
		}
		return server.Session{}, err
	}
	ss.CreatedAt, ss.ExpiresAt, ss.RevokedAt = fromMS(created), fromMS(expires), fromNullMS(revoked)
	return ss, nil
}

// CreateSession implements server.Store.
func (s *Store) CreateSession(ctx context.Context, ss server.Session, first server.RefreshToken) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
			ss.ID, ss.UserID, ms(ss.CreatedAt), ms(ss.ExpiresAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			"INSERT INTO refresh_tokens (hash, session_id, parent_hash, issued_at, used_at) VALUES (?, ?, ?, ?, ?)",
			first.Hash, ss.ID, nullBytes(first.ParentHash), ms(first.IssuedAt), nullMS(first.UsedAt))
		return err
	})
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// Session implements server.Store.
func (s *Store) Session(ctx context.Context, id string) (server.Session, error) {
	return scanSession(s.r.QueryRowContext(ctx, "SELECT "+sessionCols+" FROM sessions WHERE id = ?", id))
}

// SessionByToken implements server.Store.
func (s *Store) SessionByToken(ctx context.Context, hash []byte) (server.Session, error) {
	return scanSession(s.r.QueryRowContext(ctx,
		"SELECT "+sessionCols+" FROM sessions WHERE id = (SELECT session_id FROM refresh_tokens WHERE hash = ?)", hash))
}

// Rotate implements server.Store. The write lock is taken at BEGIN, so the read of the token
// and the marking of it as used cannot interleave with another rotation.
func (s *Store) Rotate(ctx context.Context, req server.RotateRequest) (server.RotateResult, error) {
	var res server.RotateResult
	var outcome error
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, outcome = server.RotateResult{}, nil
		var used sql.NullInt64
		var sessCreated, sessExpires int64
		var sessRevoked sql.NullInt64
		var userID sql.NullInt64
		var userName, userRole, userHash sql.NullString
		var userCreated sql.NullInt64
		err := tx.QueryRowContext(ctx, `
			SELECT t.used_at, s.id, s.user_id, s.created_at, s.expires_at, s.revoked_at, s.revoke_reason,
			       u.id, u.name, u.role, u.password_hash, u.created_at
			FROM refresh_tokens t
			JOIN sessions s ON s.id = t.session_id
			LEFT JOIN users u ON u.id = s.user_id
			WHERE t.hash = ?`, req.Presented).Scan(
			&used, &res.Session.ID, &res.Session.UserID, &sessCreated, &sessExpires, &sessRevoked, &res.Session.RevokeReason,
			&userID, &userName, &userRole, &userHash, &userCreated)
		if errors.Is(err, sql.ErrNoRows) {
			outcome = server.ErrNotFound
			return nil
		}
		if err != nil {
			return err
		}
		res.Session.CreatedAt, res.Session.ExpiresAt, res.Session.RevokedAt = fromMS(sessCreated), fromMS(sessExpires), fromNullMS(sessRevoked)
		res.User = server.User{ID: userID.Int64, Name: userName.String, Role: userRole.String, PasswordHash: userHash.String, CreatedAt: fromNullMS(userCreated)}
		switch {
		case res.Session.Revoked():
			outcome = server.ErrSessionRevoked
			return nil
		case !req.Now.Before(res.Session.ExpiresAt):
			outcome = server.ErrSessionExpired
			return nil
		case !userID.Valid: // the user is gone; DeleteUser revokes, so this is only a safety net
			outcome = server.ErrSessionRevoked
			return nil
		}
		if !used.Valid {
			if _, err := tx.ExecContext(ctx, "UPDATE refresh_tokens SET used_at = ? WHERE hash = ?", ms(req.Now), req.Presented); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx,
				"INSERT INTO refresh_tokens (hash, session_id, parent_hash, issued_at) VALUES (?, ?, ?, ?)",
				req.Next, res.Session.ID, req.Presented, ms(req.Now))
			return err
		}
		if req.Now.Sub(fromMS(used.Int64)) <= req.Grace {
			var childUsed sql.NullInt64
			err := tx.QueryRowContext(ctx,
				"SELECT used_at FROM refresh_tokens WHERE parent_hash = ? LIMIT 1", req.Presented).Scan(&childUsed)
			if err == nil && !childUsed.Valid {
				res.Replayed = true
				return nil
			}
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx,
			"UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL",
			ms(req.Now), server.RevokeReuse, res.Session.ID); err != nil {
			return err
		}
		res.Session.RevokedAt, res.Session.RevokeReason = req.Now.UTC(), server.RevokeReuse
		outcome = server.ErrReuseDetected
		return nil
	})
	if err != nil {
		return server.RotateResult{}, err
	}
	if outcome != nil && !errors.Is(outcome, server.ErrReuseDetected) {
		return server.RotateResult{}, outcome
	}
	return res, outcome
}

// RevokeSession implements server.Store.
func (s *Store) RevokeSession(ctx context.Context, id, reason string, now time.Time) (server.Session, error) {
	var ss server.Session
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			"UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL",
			ms(now), reason, id); err != nil {
			return err
		}
		var err error
		ss, err = scanSession(tx.QueryRowContext(ctx, "SELECT "+sessionCols+" FROM sessions WHERE id = ?", id))
		return err
	})
	return ss, err
}

// RevokedSince implements server.Store.
func (s *Store) RevokedSince(ctx context.Context, since time.Time) ([]server.Revocation, error) {
	rows, err := s.r.QueryContext(ctx,
		"SELECT id, revoked_at FROM sessions WHERE revoked_at IS NOT NULL AND revoked_at >= ? ORDER BY revoked_at", ms(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var revs []server.Revocation
	for rows.Next() {
		var r server.Revocation
		var at int64
		if err := rows.Scan(&r.SessionID, &at); err != nil {
			return nil, err
		}
		r.RevokedAt = fromMS(at)
		revs = append(revs, r)
	}
	return revs, rows.Err()
}

// DeleteExpired implements server.Store.
func (s *Store) DeleteExpired(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at < ?", ms(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// Secret implements server.Store.
func (s *Store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	fresh, err := generate()
	if err != nil {
		return nil, err
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", name, fresh); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&v)
	})
	return v, err
}

const keyCols = "kid, alg, private, created_at, active, retire_at"

func scanKey(row scanner) (server.SigningKey, error) {
	var k server.SigningKey
	var created int64
	var retire sql.NullInt64
	if err := row.Scan(&k.KID, &k.Alg, &k.Private, &created, &k.Active, &retire); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return server.SigningKey{}, server.ErrNotFound
		}
		return server.SigningKey{}, err
	}
	k.CreatedAt, k.RetireAt = fromMS(created), fromNullMS(retire)
	return k, nil
}

func insertKey(ctx context.Context, tx *sql.Tx, k server.SigningKey, active bool) error {
	_, err := tx.ExecContext(ctx,
		"INSERT INTO signing_keys (kid, alg, private, created_at, active, retire_at) VALUES (?, ?, ?, ?, ?, ?)",
		k.KID, k.Alg, k.Private, ms(k.CreatedAt), active, nullMS(k.RetireAt))
	return err
}

// EnsureSigningKey implements server.Store.
func (s *Store) EnsureSigningKey(ctx context.Context, k server.SigningKey) (server.SigningKey, error) {
	var active server.SigningKey
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		active, err = scanKey(tx.QueryRowContext(ctx,
			"SELECT "+keyCols+" FROM signing_keys WHERE alg = ? AND active = 1 ORDER BY created_at DESC LIMIT 1", k.Alg))
		if !errors.Is(err, server.ErrNotFound) {
			return err
		}
		k.Active = true
		active = k
		return insertKey(ctx, tx, k, true)
	})
	return active, err
}

// RotateSigningKey implements server.Store.
func (s *Store) RotateSigningKey(ctx context.Context, k server.SigningKey, retireOld time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			"UPDATE signing_keys SET active = 0, retire_at = ? WHERE alg = ? AND active = 1", ms(retireOld), k.Alg); err != nil {
			return err
		}
		return insertKey(ctx, tx, k, true)
	})
}

// SigningKeys implements server.Store.
func (s *Store) SigningKeys(ctx context.Context, now time.Time) ([]server.SigningKey, error) {
	rows, err := s.r.QueryContext(ctx,
		"SELECT "+keyCols+" FROM signing_keys WHERE retire_at IS NULL OR retire_at > ? ORDER BY created_at DESC, kid", ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []server.SigningKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}
