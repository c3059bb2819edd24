package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/authctl/authctl/server"
)

// Rotate implements server.Store: one transaction that locks the presented token, reads the
// facts server.RotationRules ask about, and writes what the first rule that applies says.
//
// Two ways to one outcome, chosen by Dialect.RotateInOne. On SQLite (rotateInGo) BEGIN
// IMMEDIATE holds the database's write lock; the store reads the facts, server.DecideRotation
// decides, and the writes follow — the database is in-process, so statements cost no round
// trips. On PostgreSQL (rotateInOne) the rules are rendered into one statement that locks,
// reads the facts, decides and writes: a transaction of its own, one round trip, like the
// PL/pgSQL function of earlier versions. It answers with the facts and its outcome, which
// DecideRotation checks.
func (s *Store) Rotate(ctx context.Context, req server.RotateRequest) (server.RotateResult, error) {
	// The store keeps milliseconds: the rules see the request at that precision, so that
	// both ways decide alike at the edges of a lifetime or a grace window.
	req.Now, req.Grace = fromMS(ms(req.Now)), req.Grace.Truncate(time.Millisecond)
	var (
		res     server.RotateResult
		outcome server.RotationOutcome
		gen     int64 // the presented token's, when the statement trims later (RotateInOne)
	)
	err := s.tx(ctx, func(tx txq) (err error) {
		if s.d.RotateInOne {
			res, outcome, gen, err = s.rotateInOne(ctx, tx, req)
		} else {
			res, outcome, err = s.rotateInGo(ctx, tx, req)
		}
		return err
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
		if s.d.RotateInOne && trimDue(gen) {
			s.trimAfter(ctx, res.Session.ID, req.Presented, gen)
		}
	}
	return res, nil
}

// result is what Rotate returns for outcome o of a rotation whose facts are f.
func result(f server.RotationFacts, o server.RotationOutcome, req server.RotateRequest) server.RotateResult {
	res := server.RotateResult{Session: f.Session, User: f.User, Replayed: o == server.RotationReplay}
	if o == server.RotationReuse {
		res.Session.RevokedAt, res.Session.RevokeReason = req.Now.UTC(), server.RevokeReuse
	}
	return res
}

// The Go rotation's statements. The token, its family and the family's user come in one read,
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

// rotateInGo reads the facts, lets server.DecideRotation choose and queues the writes. The
// token's child matters only once the token is spent, so it is read then, in a statement of
// its own: a fresh rotation — nearly every refresh — skips it.
func (s *Store) rotateInGo(ctx context.Context, tx txq, req server.RotateRequest) (server.RotateResult, server.RotationOutcome, error) {
	f, gen, err := rotationFacts(ctx, tx, rotationFactsSQL+s.d.LockRotation, req.Presented)
	if err != nil {
		return server.RotateResult{}, 0, err
	}
	if f.TokenFound && !f.UsedAt.IsZero() {
		var issued, used sql.NullInt64
		if err := tx.queryRow(ctx, childSQL, req.Presented).Scan(&issued, &used); err != nil && !errors.Is(err, server.ErrNotFound) {
			return server.RotateResult{}, 0, err
		}
		f.ChildFound, f.ChildUsedAt = issued.Valid, fromNullMS(used)
	}
	outcome := server.DecideRotation(f, req)
	switch outcome {
	case server.RotationFresh:
		tx.queue(ctx, markUsedSQL, ms(req.Now), req.Presented)
		tx.queue(ctx, insertChildSQL, req.Next, f.Session.ID, req.Presented, ms(req.Now), gen+1)
		s.trim(ctx, tx, f.Session.ID, req.Presented, gen)
	case server.RotationReuse:
		tx.queue(ctx, revokeSQL, ms(req.Now), server.RevokeReuse, f.Session.ID)
		tx.notify(ctx, f.Session.ID)
	}
	return result(f, outcome, req), outcome, nil
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

// errRulesDisagree is a rotation whose rendered rules chose another outcome than
// DecideRotation on the same facts: a bug in rotateInOneSQL.
var errRulesDisagree = errors.New("sqlstore: the rotation rules rendered into SQL disagree with server.DecideRotation")

// errStaleRead is a rotation that read a spent token without its child (see staleRead); the
// transaction runs again.
var errStaleRead = errors.New("sqlstore: a rotation read a spent token without its child")

// rotateInOne runs rotateInOneSQL, which locks, decides and writes, as a transaction of its own
// — one statement, one round trip — and checks its outcome against DecideRotation.
func (s *Store) rotateInOne(ctx context.Context, tx txq, req server.RotateRequest) (server.RotateResult, server.RotationOutcome, int64, error) {
	var (
		f                                            server.RotationFacts
		decided                                      server.RotationOutcome
		used, sessUser, sessCreated, sessExpires     sql.NullInt64
		revoked, userID, userCreated, childUsed, gen sql.NullInt64
		sid, reason, userName, userRole, userHash    sql.NullString
	)
	err := tx.commitRow(ctx, s.rotateInOneSQL, req.Presented, ms(req.Now), req.Grace.Milliseconds(), req.Next, server.RevokeReuse).Scan(
		&decided, &used, &sid, &sessUser, &sessCreated, &sessExpires, &revoked, &reason,
		&f.UserFound, &userID, &userName, &userRole, &userHash, &userCreated, &f.ChildFound, &childUsed, &gen)
	switch {
	case errors.Is(err, server.ErrNotFound):
		f, decided = server.RotationFacts{}, server.RotationUnknown
	case err != nil:
		return server.RotateResult{}, 0, 0, err
	case decided == staleRead:
		return server.RotateResult{}, 0, 0, errStaleRead
	default:
		f.TokenFound = true
	}
	f.UsedAt, f.ChildUsedAt = fromNullMS(used), fromNullMS(childUsed)
	f.Session = server.Session{ID: sid.String, UserID: sessUser.Int64, ExpiresAt: fromNullMS(sessExpires),
		CreatedAt: fromNullMS(sessCreated), RevokedAt: fromNullMS(revoked), RevokeReason: reason.String}
	f.User = server.User{ID: userID.Int64, Name: userName.String, Role: userRole.String, PasswordHash: userHash.String,
		CreatedAt: fromNullMS(userCreated)}
	if want := server.DecideRotation(f, req); want != decided {
		return server.RotateResult{}, 0, 0, fmt.Errorf("%w: SQL chose %v, Go %v", errRulesDisagree, decided, want)
	}
	return result(f, decided, req), decided, gen.Int64, nil
}
