package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/authctl/authctl/server"
)

// The rotation's statements. The token, its family and the family's user come in one read,
// through primary keys only.
const (
	rotationFactsSQL = `
		SELECT t.used_at, s.id, s.user_id, s.created_at, s.expires_at, s.revoked_at, s.revoke_reason,
		       u.id, u.name, u.role, u.password_hash, u.created_at, t.gen
		FROM refresh_tokens t
		JOIN sessions s ON s.id = t.session_id
		LEFT JOIN users u ON u.id = s.user_id
		WHERE t.hash = ?`
	childSQL    = "SELECT issued_at, used_at FROM refresh_tokens WHERE parent_hash = ? LIMIT 1"
	markUsedSQL = "UPDATE refresh_tokens SET used_at = ? WHERE hash = ?"
)

// Rotate implements server.Store: one transaction that locks the presented token while
// reading the facts, lets server.DecideRotation choose the outcome and writes it.
//
// On SQLite, BEGIN IMMEDIATE holds the database's write lock already. On PostgreSQL the read
// locks the token (Dialect.LockRotation) and goes out together with BEGIN, and the writes go
// out together with COMMIT (Tx.Queue): two round trips per refresh.
//
// The token's child matters only once the token is spent, so it is read then, in a statement
// of its own, and not joined into the first read: a fresh rotation — nearly every refresh —
// skips it; on PostgreSQL a read that waited for the lock would see the token as the
// concurrent rotation left it but not the child that rotation inserted (READ COMMITTED
// re-checks only the locked row), while a later statement sees both; and a planner without
// statistics for parent_hash (a new or freshly restored database) joins it by scanning the
// whole table.
func (s *Store) Rotate(ctx context.Context, req server.RotateRequest) (server.RotateResult, error) {
	var res server.RotateResult
	var outcome server.RotationOutcome
	err := s.tx(ctx, func(tx txq) error {
		f, gen, err := rotationFacts(ctx, tx, rotationFactsSQL+s.d.LockRotation, req.Presented)
		if err != nil {
			return err
		}
		if f.TokenFound && !f.UsedAt.IsZero() {
			var issued, used sql.NullInt64
			if err := tx.queryRow(ctx, childSQL, req.Presented).Scan(&issued, &used); err != nil && !errors.Is(err, server.ErrNotFound) {
				return err
			}
			f.ChildFound, f.ChildUsedAt = issued.Valid, fromNullMS(used)
		}
		outcome = server.DecideRotation(f, req)
		res = server.RotateResult{Session: f.Session, User: f.User, Replayed: outcome == server.RotationReplay}
		switch outcome {
		case server.RotationFresh:
			tx.queue(ctx, markUsedSQL, ms(req.Now), req.Presented)
			tx.queue(ctx, insertChildSQL, req.Next, f.Session.ID, req.Presented, ms(req.Now), gen+1)
			s.trim(ctx, tx, f.Session.ID, req.Presented, gen)
		case server.RotationReuse:
			tx.queue(ctx, revokeSQL, ms(req.Now), server.RevokeReuse, f.Session.ID)
			tx.notify(ctx, f.Session.ID)
			res.Session.RevokedAt, res.Session.RevokeReason = req.Now.UTC(), server.RevokeReuse
		}
		return nil
	})
	switch {
	case err != nil:
		return server.RotateResult{}, err
	case outcome == server.RotationReuse:
		return res, outcome.Err() // the caller logs who reused the token
	case outcome.Err() != nil:
		return server.RotateResult{}, outcome.Err()
	}
	if outcome == server.RotationFresh {
		s.refreshed.note(res.Session.ID, ms(req.Now)) // written within a second (refreshed.go)
	}
	return res, nil
}

// rotationFacts reads what DecideRotation needs about the presented token, but its child,
// and the token's place in its family's chain (gen).
func rotationFacts(ctx context.Context, tx txq, query string, presented []byte) (server.RotationFacts, int64, error) {
	var (
		f                                  server.RotationFacts
		used, revoked, userID, userCreated sql.NullInt64
		userName, userRole, userHash       sql.NullString
		sessCreated, sessExpires, gen      int64
	)
	err := tx.queryRow(ctx, query, presented).Scan(
		&used, &f.Session.ID, &f.Session.UserID, &sessCreated, &sessExpires, &revoked, &f.Session.RevokeReason,
		&userID, &userName, &userRole, &userHash, &userCreated, &gen)
	if errors.Is(err, server.ErrNotFound) {
		return server.RotationFacts{}, 0, nil
	}
	if err != nil {
		return server.RotationFacts{}, 0, err
	}
	f.TokenFound, f.UsedAt = true, fromNullMS(used)
	f.Session.CreatedAt, f.Session.ExpiresAt, f.Session.RevokedAt = fromMS(sessCreated), fromMS(sessExpires), fromNullMS(revoked)
	f.UserFound = userID.Valid
	f.User = server.User{ID: userID.Int64, Name: userName.String, Role: userRole.String, PasswordHash: userHash.String,
		CreatedAt: fromNullMS(userCreated)}
	return f, gen, nil
}
