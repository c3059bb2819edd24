// Package postgres is the server.Store for several `authctl serve` replicas sharing one
// PostgreSQL database: rotations serialise on a row lock, revocations are pushed to every
// replica with LISTEN/NOTIFY, and schema migrations are guarded by an advisory lock.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authctl/authctl/server"
)

// Store is a server.Store on a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
}

var (
	_ server.Store             = (*Store)(nil)
	_ server.RevocationWatcher = (*Store)(nil)
)

// Channel is the NOTIFY channel carrying revoked session ids.
const Channel = "authctl_revocations"

const (
	schemaVersion = 2
	migrateLock   = 0x617574686374 // "authct": serialises migrations across replicas
	keysLock      = 0x617574686b79 // serialises EnsureSigningKey across replicas
)

var migrations = []string{
	`CREATE TABLE users (
		id            BIGSERIAL PRIMARY KEY,
		name          TEXT NOT NULL UNIQUE,
		role          TEXT NOT NULL,
		password_hash TEXT NOT NULL,
		created_at    BIGINT NOT NULL
	);
	CREATE TABLE sessions (
		id            TEXT PRIMARY KEY,
		user_id       BIGINT NOT NULL,
		created_at    BIGINT NOT NULL,
		expires_at    BIGINT NOT NULL,
		revoked_at    BIGINT,
		revoke_reason TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX sessions_user ON sessions(user_id);
	CREATE INDEX sessions_revoked ON sessions(revoked_at) WHERE revoked_at IS NOT NULL;
	CREATE INDEX sessions_expires ON sessions(expires_at);
	CREATE TABLE refresh_tokens (
		hash        BYTEA PRIMARY KEY,
		session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
		parent_hash BYTEA,
		issued_at   BIGINT NOT NULL,
		used_at     BIGINT
	);
	CREATE INDEX refresh_tokens_parent ON refresh_tokens(parent_hash);
	CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
	CREATE TABLE secrets (
		name  TEXT PRIMARY KEY,
		value BYTEA NOT NULL
	);
	CREATE TABLE signing_keys (
		kid        TEXT PRIMARY KEY,
		alg        TEXT NOT NULL,
		private    BYTEA NOT NULL,
		created_at BIGINT NOT NULL,
		active     BOOLEAN NOT NULL,
		retire_at  BIGINT
	);`,
	// version 2: rotation as one server-side function, so a refresh costs one round trip.
	`CREATE OR REPLACE FUNCTION authctl_rotate(p_presented BYTEA, p_next BYTEA, p_now BIGINT, p_grace BIGINT)
	RETURNS TABLE (outcome TEXT, sid TEXT, s_user BIGINT, s_created BIGINT, s_expires BIGINT, s_revoked BIGINT,
	               s_reason TEXT, u_id BIGINT, u_name TEXT, u_role TEXT, u_hash TEXT, u_created BIGINT)
	LANGUAGE plpgsql AS $$
	#variable_conflict use_column
	DECLARE
		t_used      BIGINT;
		child_used  BIGINT;
		child_found BOOLEAN := FALSE;
	BEGIN
		SELECT t.used_at, s.id, s.user_id, s.created_at, s.expires_at, s.revoked_at, s.revoke_reason,
		       u.id, u.name, u.role, u.password_hash, u.created_at
		  INTO t_used, sid, s_user, s_created, s_expires, s_revoked, s_reason, u_id, u_name, u_role, u_hash, u_created
		  FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id LEFT JOIN users u ON u.id = s.user_id
		 WHERE t.hash = p_presented
		   FOR UPDATE OF t;
		IF NOT FOUND THEN outcome := 'not_found'; RETURN NEXT; RETURN; END IF;
		IF s_revoked IS NOT NULL OR u_id IS NULL THEN outcome := 'revoked'; RETURN NEXT; RETURN; END IF;
		IF p_now >= s_expires THEN outcome := 'expired'; RETURN NEXT; RETURN; END IF;
		IF t_used IS NULL THEN
			UPDATE refresh_tokens SET used_at = p_now WHERE hash = p_presented;
			INSERT INTO refresh_tokens (hash, session_id, parent_hash, issued_at) VALUES (p_next, sid, p_presented, p_now);
			outcome := 'rotated'; RETURN NEXT; RETURN;
		END IF;
		IF p_now - t_used <= p_grace THEN
			SELECT c.used_at, TRUE INTO child_used, child_found FROM refresh_tokens c WHERE c.parent_hash = p_presented LIMIT 1;
			IF child_found AND child_used IS NULL THEN outcome := 'replayed'; RETURN NEXT; RETURN; END IF;
		END IF;
		UPDATE sessions SET revoked_at = p_now, revoke_reason = 'reuse' WHERE id = sid AND revoked_at IS NULL;
		PERFORM pg_notify('authctl_revocations', sid);
		s_revoked := p_now;
		s_reason := 'reuse';
		outcome := 'reuse';
		RETURN NEXT;
	END $$;`,
}

// Open connects to dsn and brings the schema up to date. Several replicas may open at once.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	return OpenConfig(ctx, cfg)
}

// OpenConfig is Open with a parsed pool configuration (tests set search_path through it).
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate PostgreSQL schema: %w", err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL)"); err != nil {
			return err
		}
		var v int
		err := tx.QueryRow(ctx, "SELECT version FROM schema_version").Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			if _, err := tx.Exec(ctx, "INSERT INTO schema_version VALUES (0)"); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if v > schemaVersion {
			return fmt.Errorf("database schema version %d is newer than this authctl (%d)", v, schemaVersion)
		}
		for ; v < schemaVersion; v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("schema version %d: %w", v+1, err)
			}
		}
		_, err = tx.Exec(ctx, "UPDATE schema_version SET version = $1", schemaVersion)
		return err
	})
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// tx runs fn in a transaction, retrying serialization failures and deadlocks, and marking
// connection failures as server.ErrUnavailable.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		if !retryable(err) {
			return classify(err)
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	return classify(err)
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// classify keeps domain errors and SQL errors as they are and marks everything else — a
// refused or broken connection — as unavailable.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	for _, known := range []error{server.ErrNotFound, server.ErrUserExists, server.ErrSessionRevoked,
		server.ErrSessionExpired, server.ErrReuseDetected, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, known) {
			return err
		}
	}
	if errors.As(err, &pe) && pe.Code[:2] != "08" && pe.Code[:2] != "57" && pe.Code[:2] != "53" {
		return err
	}
	return fmt.Errorf("%w: %w", server.ErrUnavailable, err)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromNullMS(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return fromMS(*v)
}

func nullMS(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := ms(t)
	return &v
}

const userCols = "id, name, role, password_hash, created_at"

func scanUser(row pgx.Row) (server.User, error) {
	var u server.User
	var created int64
	if err := row.Scan(&u.ID, &u.Name, &u.Role, &u.PasswordHash, &created); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return server.User{}, server.ErrNotFound
		}
		return server.User{}, err
	}
	u.CreatedAt = fromMS(created)
	return u, nil
}

// CreateUser implements server.Store.
func (s *Store) CreateUser(ctx context.Context, name, role, hash string, now time.Time) (server.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx,
		"INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING "+userCols,
		name, role, hash, ms(now)))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return server.User{}, server.ErrUserExists
	}
	return u, classify(err)
}

// UserByName implements server.Store.
func (s *Store) UserByName(ctx context.Context, name string) (server.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE name = $1", name))
	return u, classify(err)
}

// UserByID implements server.Store.
func (s *Store) UserByID(ctx context.Context, id int64) (server.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE id = $1", id))
	return u, classify(err)
}

// ListUsers implements server.Store.
func (s *Store) ListUsers(ctx context.Context) ([]server.User, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+userCols+" FROM users ORDER BY name COLLATE \"C\"")
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var users []server.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, classify(err)
		}
		users = append(users, u)
	}
	return users, classify(rows.Err())
}

// CountUsers implements server.Store.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	return n, classify(s.pool.QueryRow(ctx, "SELECT count(*) FROM users").Scan(&n))
}

// SetPassword implements server.Store.
func (s *Store) SetPassword(ctx context.Context, name, hash string, now time.Time) (server.User, error) {
	var u server.User
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if u, err = scanUser(tx.QueryRow(ctx, "UPDATE users SET password_hash = $1 WHERE name = $2 RETURNING "+userCols, hash, name)); err != nil {
			return err
		}
		return revokeUser(ctx, tx, u.ID, server.RevokePasswordChanged, now)
	})
	return u, err
}

// DeleteUser implements server.Store.
func (s *Store) DeleteUser(ctx context.Context, name string, now time.Time) (server.User, error) {
	var u server.User
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if u, err = scanUser(tx.QueryRow(ctx, "DELETE FROM users WHERE name = $1 RETURNING "+userCols, name)); err != nil {
			return err
		}
		return revokeUser(ctx, tx, u.ID, server.RevokeUserDeleted, now)
	})
	return u, err
}

// revokeUser revokes a user's live sessions and notifies every replica of each.
func revokeUser(ctx context.Context, tx pgx.Tx, userID int64, reason string, now time.Time) error {
	_, err := tx.Exec(ctx, `
		WITH revoked AS (
			UPDATE sessions SET revoked_at = $1, revoke_reason = $2
			WHERE user_id = $3 AND revoked_at IS NULL RETURNING id)
		SELECT pg_notify('`+Channel+`', id) FROM revoked`, ms(now), reason, userID)
	return err
}

func notify(ctx context.Context, tx pgx.Tx, sid string) error {
	_, err := tx.Exec(ctx, "SELECT pg_notify('"+Channel+"', $1)", sid)
	return err
}

const sessionCols = "id, user_id, created_at, expires_at, revoked_at, revoke_reason"

func scanSession(row pgx.Row) (server.Session, error) {
	var ss server.Session
	var created, expires int64
	var revoked *int64
	if err := row.Scan(&ss.ID, &ss.UserID, &created, &expires, &revoked, &ss.RevokeReason); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return server.Session{}, server.ErrNotFound
		}
		return server.Session{}, err
	}
	ss.CreatedAt, ss.ExpiresAt, ss.RevokedAt = fromMS(created), fromMS(expires), fromNullMS(revoked)
	return ss, nil
}

// CreateSession implements server.Store.
func (s *Store) CreateSession(ctx context.Context, ss server.Session, first server.RefreshToken) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
			ss.ID, ss.UserID, ms(ss.CreatedAt), ms(ss.ExpiresAt)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO refresh_tokens (hash, session_id, parent_hash, issued_at, used_at) VALUES ($1, $2, $3, $4, $5)",
			first.Hash, ss.ID, first.ParentHash, ms(first.IssuedAt), nullMS(first.UsedAt))
		return err
	})
}

// Session implements server.Store.
func (s *Store) Session(ctx context.Context, id string) (server.Session, error) {
	ss, err := scanSession(s.pool.QueryRow(ctx, "SELECT "+sessionCols+" FROM sessions WHERE id = $1", id))
	return ss, classify(err)
}

// SessionByToken implements server.Store.
func (s *Store) SessionByToken(ctx context.Context, hash []byte) (server.Session, error) {
	ss, err := scanSession(s.pool.QueryRow(ctx,
		"SELECT "+sessionCols+" FROM sessions WHERE id = (SELECT session_id FROM refresh_tokens WHERE hash = $1)", hash))
	return ss, classify(err)
}

// Rotate implements server.Store with the authctl_rotate function (migration 2): one round
// trip, one transaction. The function locks the presented token's row FOR UPDATE, so of
// several replicas presenting it at once one rotates and the others, once it commits, see it
// used and take the grace or reuse branch.
func (s *Store) Rotate(ctx context.Context, req server.RotateRequest) (server.RotateResult, error) {
	var res server.RotateResult
	var outcome string
	var sid, reason, userName, userRole, userHash *string
	var sessUser, sessCreated, sessExpires, sessRevoked, userID, userCreated *int64
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		err = s.pool.QueryRow(ctx, "SELECT * FROM authctl_rotate($1, $2, $3, $4)",
			req.Presented, req.Next, ms(req.Now), req.Grace.Milliseconds()).Scan(
			&outcome, &sid, &sessUser, &sessCreated, &sessExpires, &sessRevoked, &reason,
			&userID, &userName, &userRole, &userHash, &userCreated)
		if !retryable(err) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	if err != nil {
		return server.RotateResult{}, classify(err)
	}
	switch outcome {
	case "not_found":
		return server.RotateResult{}, server.ErrNotFound
	case "revoked":
		return server.RotateResult{}, server.ErrSessionRevoked
	case "expired":
		return server.RotateResult{}, server.ErrSessionExpired
	}
	res.Session = server.Session{ID: *sid, UserID: *sessUser, CreatedAt: fromMS(*sessCreated), ExpiresAt: fromMS(*sessExpires),
		RevokedAt: fromNullMS(sessRevoked), RevokeReason: *reason}
	res.User = server.User{ID: *userID, Name: *userName, Role: *userRole, PasswordHash: *userHash, CreatedAt: fromNullMS(userCreated)}
	switch outcome {
	case "rotated":
		return res, nil
	case "replayed":
		res.Replayed = true
		return res, nil
	case "reuse":
		return res, server.ErrReuseDetected
	}
	return server.RotateResult{}, fmt.Errorf("authctl_rotate answered %q", outcome)
}

// RevokeSession implements server.Store.
func (s *Store) RevokeSession(ctx context.Context, id, reason string, now time.Time) (server.Session, error) {
	var ss server.Session
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
			ms(now), reason, id); err != nil {
			return err
		}
		var err error
		if ss, err = scanSession(tx.QueryRow(ctx, "SELECT "+sessionCols+" FROM sessions WHERE id = $1", id)); err != nil {
			return err
		}
		return notify(ctx, tx, id)
	})
	return ss, err
}

// RevokedSince implements server.Store.
func (s *Store) RevokedSince(ctx context.Context, since time.Time) ([]server.Revocation, error) {
	rows, err := s.pool.Query(ctx,
		"SELECT id, revoked_at FROM sessions WHERE revoked_at IS NOT NULL AND revoked_at >= $1 ORDER BY revoked_at", ms(since))
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var revs []server.Revocation
	for rows.Next() {
		var r server.Revocation
		var at int64
		if err := rows.Scan(&r.SessionID, &at); err != nil {
			return nil, classify(err)
		}
		r.RevokedAt = fromMS(at)
		revs = append(revs, r)
	}
	return revs, classify(rows.Err())
}

// DeleteExpired implements server.Store.
func (s *Store) DeleteExpired(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM sessions WHERE expires_at < $1", ms(before))
	return tag.RowsAffected(), classify(err)
}

// Secret implements server.Store.
func (s *Store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, "SELECT value FROM secrets WHERE name = $1", name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, classify(err)
	}
	fresh, err := generate()
	if err != nil {
		return nil, err
	}
	if _, err := s.pool.Exec(ctx, "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", name, fresh); err != nil {
		return nil, classify(err)
	}
	return v, classify(s.pool.QueryRow(ctx, "SELECT value FROM secrets WHERE name = $1", name).Scan(&v))
}

const keyCols = "kid, alg, private, created_at, active, retire_at"

func scanKey(row pgx.Row) (server.SigningKey, error) {
	var k server.SigningKey
	var created int64
	var retire *int64
	if err := row.Scan(&k.KID, &k.Alg, &k.Private, &created, &k.Active, &retire); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return server.SigningKey{}, server.ErrNotFound
		}
		return server.SigningKey{}, err
	}
	k.CreatedAt, k.RetireAt = fromMS(created), fromNullMS(retire)
	return k, nil
}

func insertKey(ctx context.Context, tx pgx.Tx, k server.SigningKey) error {
	_, err := tx.Exec(ctx, "INSERT INTO signing_keys (kid, alg, private, created_at, active, retire_at) VALUES ($1, $2, $3, $4, TRUE, $5)",
		k.KID, k.Alg, k.Private, ms(k.CreatedAt), nullMS(k.RetireAt))
	return err
}

// EnsureSigningKey implements server.Store.
func (s *Store) EnsureSigningKey(ctx context.Context, k server.SigningKey) (server.SigningKey, error) {
	var active server.SigningKey
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(keysLock)); err != nil {
			return err
		}
		var err error
		active, err = scanKey(tx.QueryRow(ctx,
			"SELECT "+keyCols+" FROM signing_keys WHERE alg = $1 AND active ORDER BY created_at DESC LIMIT 1", k.Alg))
		if !errors.Is(err, server.ErrNotFound) {
			return err
		}
		k.Active = true
		active = k
		return insertKey(ctx, tx, k)
	})
	return active, err
}

// RotateSigningKey implements server.Store.
func (s *Store) RotateSigningKey(ctx context.Context, k server.SigningKey, retireOld time.Time) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(keysLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE signing_keys SET active = FALSE, retire_at = $1 WHERE alg = $2 AND active", ms(retireOld), k.Alg); err != nil {
			return err
		}
		return insertKey(ctx, tx, k)
	})
}

// SigningKeys implements server.Store.
func (s *Store) SigningKeys(ctx context.Context, now time.Time) ([]server.SigningKey, error) {
	rows, err := s.pool.Query(ctx,
		"SELECT "+keyCols+" FROM signing_keys WHERE retire_at IS NULL OR retire_at > $1 ORDER BY created_at DESC, kid", ms(now))
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var keys []server.SigningKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, classify(err)
		}
		keys = append(keys, k)
	}
	return keys, classify(rows.Err())
}

// WatchRevocations implements server.RevocationWatcher: it LISTENs on a dedicated connection
// and reconnects with backoff after losing it, until ctx ends.
func (s *Store) WatchRevocations(ctx context.Context, fn func(sessionID string)) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listen(ctx, fn, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			break
		}
		_ = err // the Service's periodic poll covers what was missed while disconnected
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return nil
}

func (s *Store) listen(ctx context.Context, fn func(string), connected func()) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// A LISTENing connection must not go back to the pool.
		conn.Conn().Close(context.Background())
		conn.Release()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	connected()
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}
