// Package sqlstore is the one implementation of server.Store over SQL, shared by the
// embedded SQLite store (server/sqlite) and the PostgreSQL store for replicas
// (server/postgres). Each query is written once with ? placeholders; a Dialect holds what
// truly differs between the two databases (placeholders, locking, NOTIFY, error classes,
// where the schema version lives), and a Conn adapts each driver. The rotation rules are not
// here either: Rotate loads the facts and applies server.DecideRotation, or, on PostgreSQL,
// runs server.RotationRules rendered into one statement (rotate_one.go).
package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authctl/authctl/server"
)

// Store is a server.Store over a DB in a Dialect.
type Store struct {
	db   DB
	d    Dialect
	b    *binder
	read runner // statements outside a transaction, each under the call deadline
	opts Options

	refreshed *refreshTimes // sessions' last-refresh times not yet written (refreshed.go)

	rotateInOneSQL string // Rotate's one statement, when the dialect can (RotateInOne)
}

var _ server.Store = (*Store)(nil)

// New brings the schema of db up to date and returns the Store on it. On error the caller
// still owns db. The migration runs under ctx alone: the call deadline is for serving, and
// a migration of a large database may take longer.
func New(ctx context.Context, db DB, d Dialect, opts Options) (*Store, error) {
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	s := &Store{db: db, d: d, b: &binder{numbered: d.Numbered}, opts: opts}
	s.read = runner{c: db, s: s, bounded: true}
	if d.RotateInOne {
		s.rotateInOneSQL = rotateInOneSQL(d)
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	s.startRefreshTimes()
	return s, nil
}

// Close writes the last-refresh times still held and closes the database.
func (s *Store) Close() error {
	s.stopRefreshTimes()
	return s.db.Close()
}

// fail is where driver errors become the domain's, for every statement: "no rows" is
// server.ErrNotFound, a database that cannot answer is server.ErrUnavailable, and the rest
// stay as they are.
func (s *Store) fail(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows): // pgx.ErrNoRows matches it too
		return server.ErrNotFound
	case s.d.Unavailable != nil && !errors.Is(err, server.ErrUnavailable) && s.d.Unavailable(err):
		return fmt.Errorf("%w: %w", server.ErrUnavailable, err)
	}
	return err
}

// runner runs the Store's queries on a Conn: rebinding placeholders and classifying errors.
type runner struct {
	c       Conn
	s       *Store
	bounded bool // each statement gets the call deadline (outside a transaction, which has its own)
}

type scanner interface{ Scan(dest ...any) error }

type row struct {
	r      Row
	s      *Store
	ctx    context.Context    // the statement's, for telling a missed deadline
	cancel context.CancelFunc // ends the call deadline once scanned; nil in a transaction
}

func (r row) Scan(dest ...any) error {
	err := r.s.fail(r.r.Scan(dest...))
	if r.cancel != nil {
		err = r.s.late(r.ctx, err)
		r.cancel()
	}
	return err
}

// call is the context one statement of r runs under: with the call deadline when r is
// bounded. The CancelFunc is nil when there is nothing to cancel.
func (r runner) call(ctx context.Context) (context.Context, context.CancelFunc) {
	if !r.bounded {
		return ctx, nil
	}
	return r.s.bound(ctx)
}

func (r runner) exec(ctx context.Context, query string, args ...any) (int64, error) {
	ctx, cancel := r.call(ctx)
	n, err := r.c.Exec(ctx, r.s.b.bind(query), args...)
	err = r.s.fail(err)
	if cancel != nil {
		err = r.s.late(ctx, err)
		cancel()
	}
	return n, err
}

func (r runner) queryRow(ctx context.Context, query string, args ...any) row {
	ctx, cancel := r.call(ctx)
	return row{r.c.QueryRow(ctx, r.s.b.bind(query), args...), r.s, ctx, cancel}
}

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, r runner, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	ctx, cancel := r.call(ctx)
	if cancel != nil {
		defer cancel()
	}
	out, err := listRows(ctx, r, scan, query, args...)
	if cancel != nil {
		err = r.s.late(ctx, err)
	}
	return out, err
}

func listRows[T any](ctx context.Context, r runner, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := r.c.Query(ctx, r.s.b.bind(query), args...)
	if err != nil {
		return nil, r.s.fail(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, r.s.fail(err)
		}
		out = append(out, v)
	}
	return out, r.s.fail(rows.Err())
}

// txq is a runner inside a write transaction.
type txq struct {
	runner
	tx Tx
}

// queue runs a write whose result is not needed; see Tx.Queue.
func (t txq) queue(ctx context.Context, query string, args ...any) {
	t.tx.Queue(ctx, t.s.b.bind(query), args...)
}

// notify tells other processes, when the dialect has a way, that a session was revoked.
func (t txq) notify(ctx context.Context, sid string) {
	if t.s.d.Notify != nil {
		t.queue(ctx, "SELECT "+t.s.d.Notify("?"), sid)
	}
}

// Retries of a transaction that failed busy, on a serialization failure or a deadlock.
const (
	maxAttempts = 8
	retryStep   = 5 * time.Millisecond // the n-th retry waits n steps
)

// tx runs fn in a write transaction, running it again (after a growing pause that a done ctx
// cuts short) when the dialect says the failure was only contention. The call deadline
// bounds all attempts together, and a write guard (Options.WriteGuard) that fails stops the
// write before it begins.
func (s *Store) tx(ctx context.Context, fn func(txq) error) error {
	if g := s.opts.WriteGuard; g != nil {
		if err := g(); err != nil {
			return err
		}
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.late(ctx, s.retry(ctx, fn))
}

// retry is tx without the call deadline and the write guard, for migrations.
func (s *Store) retry(ctx context.Context, fn func(txq) error) error {
	for attempt := 1; ; attempt++ {
		err := s.try(ctx, fn)
		if errors.Is(err, errStaleRead) && attempt < maxAttempts {
			continue // nothing to wait for: the lock it waited for is free
		}
		if err == nil || attempt == maxAttempts || s.d.Retryable == nil || !s.d.Retryable(err) {
			return err
		}
		pause := time.NewTimer(time.Duration(attempt) * retryStep)
		select {
		case <-ctx.Done():
			pause.Stop()
			return fmt.Errorf("%w (after %d attempts: %w)", ctx.Err(), attempt, err)
		case <-pause.C:
		}
	}
}

func (s *Store) try(ctx context.Context, fn func(txq) error) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return s.fail(err)
	}
	if err := fn(txq{runner{c: tx, s: s}, tx}); err != nil {
		tx.Rollback(ctx)
		return err
	}
	return s.fail(tx.Commit(ctx))
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// nullMS is a time as an argument: NULL for the zero time.
func nullMS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ms(t)
}

// nullBytes is a byte slice as an argument: NULL for nil rather than an empty value.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

const userCols = "id, name, role, password_hash, created_at"

func scanUser(row scanner) (server.User, error) {
	var u server.User
	var created int64
	if err := row.Scan(&u.ID, &u.Name, &u.Role, &u.PasswordHash, &created); err != nil {
		return server.User{}, err
	}
	u.CreatedAt = fromMS(created)
	return u, nil
}

// CreateUser implements server.Store.
func (s *Store) CreateUser(ctx context.Context, name, role, hash string, now time.Time) (server.User, error) {
	var u server.User
	err := s.tx(ctx, func(tx txq) error {
		var err error
		u, err = scanUser(tx.queryRow(ctx,
			"INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING "+userCols,
			name, role, hash, ms(now)))
		if err == nil {
			tx.audit(ctx, now, server.AuditUserAdded, name, "role="+role)
		}
		return err
	})
	if err != nil && s.d.Unique(err) {
		return server.User{}, server.ErrUserExists
	}
	return u, err
}

// UserByName implements server.Store.
func (s *Store) UserByName(ctx context.Context, name string) (server.User, error) {
	return scanUser(s.read.queryRow(ctx, "SELECT "+userCols+" FROM users WHERE name = ?", name))
}

// UserByID implements server.Store.
func (s *Store) UserByID(ctx context.Context, id int64) (server.User, error) {
	return scanUser(s.read.queryRow(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", id))
}

// ListUsers implements server.Store. The names are sorted here, byte by byte: the databases'
// default collations differ (PostgreSQL's follows the locale), and the list is short.
func (s *Store) ListUsers(ctx context.Context) ([]server.User, error) {
	users, err := list(ctx, s.read, scanUser, "SELECT "+userCols+" FROM users")
	slices.SortFunc(users, func(a, b server.User) int { return cmp.Compare(a.Name, b.Name) })
	return users, err
}

// CountUsers implements server.Store.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.read.queryRow(ctx, "SELECT count(*) FROM users").Scan(&n)
	return n, err
}

// SetPassword implements server.Store.
func (s *Store) SetPassword(ctx context.Context, name, hash string, now time.Time) (server.User, error) {
	return s.changeUser(ctx, "UPDATE users SET password_hash = ? WHERE name = ? RETURNING "+userCols,
		[]any{hash, name}, server.RevokePasswordChanged, server.AuditPasswordChanged, now)
}

// DeleteUser implements server.Store.
func (s *Store) DeleteUser(ctx context.Context, name string, now time.Time) (server.User, error) {
	return s.changeUser(ctx, "DELETE FROM users WHERE name = ? RETURNING "+userCols,
		[]any{name}, server.RevokeUserDeleted, server.AuditUserDeleted, now)
}

// changeUser runs a statement returning one user and, in the same transaction, revokes the
// user's live sessions with reason, telling other processes of each, and audits it as action.
func (s *Store) changeUser(ctx context.Context, query string, args []any, reason, action string, now time.Time) (server.User, error) {
	var u server.User
	err := s.tx(ctx, func(tx txq) error {
		var err error
		if u, err = scanUser(tx.queryRow(ctx, query, args...)); err != nil {
			return err
		}
		ids, err := list(ctx, tx.runner, scanString,
			"UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND revoked_at IS NULL RETURNING id",
			ms(now), reason, u.ID)
		for _, id := range ids {
			tx.notify(ctx, id)
		}
		if err == nil {
			tx.audit(ctx, now, action, u.Name, fmt.Sprintf("sessions_revoked=%d", len(ids)))
		}
		return err
	})
	return u, err
}

func scanString(row scanner) (string, error) {
	var v string
	err := row.Scan(&v)
	return v, err
}

const sessionCols = "id, user_id, created_at, expires_at, revoked_at, revoke_reason, refreshed_at, client_addr, user_agent"

func scanSession(row scanner) (server.Session, error) {
	var ss server.Session
	var created, expires int64
	var revoked, refreshed sql.NullInt64
	if err := row.Scan(&ss.ID, &ss.UserID, &created, &expires, &revoked, &ss.RevokeReason,
		&refreshed, &ss.ClientAddr, &ss.UserAgent); err != nil {
		return server.Session{}, err
	}
	ss.CreatedAt, ss.ExpiresAt, ss.RevokedAt = fromMS(created), fromMS(expires), fromNullMS(revoked)
	ss.RefreshedAt = fromNullMS(refreshed)
	return ss, nil
}

const insertTokenSQL = "INSERT INTO refresh_tokens (hash, session_id, parent_hash, issued_at, used_at) VALUES (?, ?, ?, ?, ?)"

// CreateSession implements server.Store. The session keeps the hash of its first token:
// DeleteExpired finds a family's tokens by walking the chain from there.
func (s *Store) CreateSession(ctx context.Context, ss server.Session, first server.RefreshToken) error {
	return s.tx(ctx, func(tx txq) error {
		tx.queue(ctx, "INSERT INTO sessions (id, user_id, created_at, expires_at, first_hash, client_addr, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)",
			ss.ID, ss.UserID, ms(ss.CreatedAt), ms(ss.ExpiresAt), first.Hash, ss.ClientAddr, ss.UserAgent)
		tx.queue(ctx, insertTokenSQL, first.Hash, ss.ID, nullBytes(first.ParentHash), ms(first.IssuedAt), nullMS(first.UsedAt))
		return nil
	})
}

// Session implements server.Store.
func (s *Store) Session(ctx context.Context, id string) (server.Session, error) {
	_ = s.flushRefreshed(ctx) // RefreshedAt as of now; a failed write is tried again later
	return scanSession(s.read.queryRow(ctx, "SELECT "+sessionCols+" FROM sessions WHERE id = ?", id))
}

// SessionByToken implements server.Store.
func (s *Store) SessionByToken(ctx context.Context, hash []byte) (server.Session, error) {
	return scanSession(s.read.queryRow(ctx,
		"SELECT "+sessionCols+" FROM sessions WHERE id = (SELECT session_id FROM refresh_tokens WHERE hash = ?)", hash))
}

const revokeSQL = "UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL"

// RevokeSession implements server.Store.
func (s *Store) RevokeSession(ctx context.Context, id, reason string, now time.Time) (server.Session, error) {
	var ss server.Session
	err := s.tx(ctx, func(tx txq) error {
		tx.queue(ctx, revokeSQL, ms(now), reason, id)
		var err error
		if ss, err = scanSession(tx.queryRow(ctx, "SELECT "+sessionCols+" FROM sessions WHERE id = ?", id)); err != nil {
			return err
		}
		tx.notify(ctx, id)
		return tx.auditSession(ctx, now, ss)
	})
	return ss, err
}

// RevokedSince implements server.Store.
func (s *Store) RevokedSince(ctx context.Context, since time.Time) ([]server.Revocation, error) {
	return list(ctx, s.read, func(row scanner) (server.Revocation, error) {
		var r server.Revocation
		var at int64
		err := row.Scan(&r.SessionID, &at)
		r.RevokedAt = fromMS(at)
		return r, err
	}, "SELECT id, revoked_at FROM sessions WHERE revoked_at IS NOT NULL AND revoked_at >= ? ORDER BY revoked_at", ms(since))
}

// DeleteExpired implements server.Store. Every token of a family descends from its first one
// (Rotate only ever adds a child of a token of the same family), so walking the chains from
// the sessions' first tokens finds them all.
func (s *Store) DeleteExpired(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx txq) error {
		if s.d.LockExpired != "" {
			tx.queue(ctx, "SELECT id FROM sessions WHERE expires_at < ?"+s.d.LockExpired, ms(before))
		}
		if _, err := tx.exec(ctx, `
			WITH RECURSIVE family(hash) AS (
				SELECT first_hash FROM sessions WHERE expires_at < ?
				UNION ALL
				SELECT t.hash FROM refresh_tokens t JOIN family f ON t.parent_hash = f.hash
			)
			DELETE FROM refresh_tokens WHERE hash IN (SELECT hash FROM family)`, ms(before)); err != nil {
			return err
		}
		var err error
		n, err = tx.exec(ctx, "DELETE FROM sessions WHERE expires_at < ?", ms(before))
		return err
	})
	return n, err
}

// Secret implements server.Store.
func (s *Store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	const get = "SELECT value FROM secrets WHERE name = ?"
	var v []byte
	err := s.read.queryRow(ctx, get, name).Scan(&v)
	if !errors.Is(err, server.ErrNotFound) {
		return v, err
	}
	fresh, err := generate()
	if err != nil {
		return nil, err
	}
	err = s.tx(ctx, func(tx txq) error {
		// Of racing processes the first insert wins; the others read what it stored.
		tx.queue(ctx, "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", name, fresh)
		return tx.queryRow(ctx, get, name).Scan(&v)
	})
	return v, err
}

const keyCols = "kid, alg, private, created_at, active, retire_at"

func scanKey(row scanner) (server.SigningKey, error) {
	var k server.SigningKey
	var created int64
	var retire sql.NullInt64
	if err := row.Scan(&k.KID, &k.Alg, &k.Private, &created, &k.Active, &retire); err != nil {
		return server.SigningKey{}, err
	}
	k.CreatedAt, k.RetireAt = fromMS(created), fromNullMS(retire)
	return k, nil
}

// keysTx runs fn in a transaction that holds the signing-keys lock where writers are not
// serialised already.
func (s *Store) keysTx(ctx context.Context, fn func(txq) error) error {
	return s.tx(ctx, func(tx txq) error {
		if s.d.AdvisoryLock != "" {
			tx.queue(ctx, s.d.AdvisoryLock, int64(keysLock))
		}
		return fn(tx)
	})
}

func insertKey(ctx context.Context, tx txq, k server.SigningKey) {
	tx.queue(ctx, "INSERT INTO signing_keys (kid, alg, private, created_at, active, retire_at) VALUES (?, ?, ?, ?, TRUE, ?)",
		k.KID, k.Alg, k.Private, ms(k.CreatedAt), nullMS(k.RetireAt))
}

// EnsureSigningKey implements server.Store.
func (s *Store) EnsureSigningKey(ctx context.Context, k server.SigningKey) (server.SigningKey, error) {
	var active server.SigningKey
	err := s.keysTx(ctx, func(tx txq) error {
		var err error
		active, err = scanKey(tx.queryRow(ctx,
			"SELECT "+keyCols+" FROM signing_keys WHERE alg = ? AND active = TRUE ORDER BY created_at DESC LIMIT 1", k.Alg))
		if !errors.Is(err, server.ErrNotFound) {
			return err
		}
		k.Active = true
		active = k
		insertKey(ctx, tx, k)
		return nil
	})
	return active, err
}

// RotateSigningKey implements server.Store.
func (s *Store) RotateSigningKey(ctx context.Context, k server.SigningKey, retireOld time.Time) error {
	return s.keysTx(ctx, func(tx txq) error {
		tx.queue(ctx, "UPDATE signing_keys SET active = FALSE, retire_at = ? WHERE alg = ? AND active = TRUE", ms(retireOld), k.Alg)
		insertKey(ctx, tx, k)
		tx.audit(ctx, k.CreatedAt, server.AuditSigningKeyRotated, k.KID, "alg="+k.Alg)
		return nil
	})
}

// SigningKeys implements server.Store.
func (s *Store) SigningKeys(ctx context.Context, now time.Time) ([]server.SigningKey, error) {
	return list(ctx, s.read, scanKey,
		"SELECT "+keyCols+" FROM signing_keys WHERE retire_at IS NULL OR retire_at > ? ORDER BY created_at DESC, kid", ms(now))
}
