package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/authctl/authctl/server"
)

// The sessions list, an admin's revocation of all of a user's sessions, and the audit
// trail of admin changes (server/audit.go).

// UserSessions implements server.Store. The sessions_user index finds the user's rows; a
// user has at most a few thousand, so sorting them needs no index of its own.
func (s *Store) UserSessions(ctx context.Context, userID int64, now time.Time, limit int) ([]server.Session, error) {
	_ = s.flushRefreshed(ctx) // RefreshedAt as of now; a failed write is tried again later
	return list(ctx, s.read, scanSession,
		"SELECT "+sessionCols+" FROM sessions WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, id LIMIT ?",
		userID, ms(now), limit)
}

// RevokeUserSessions implements server.Store.
func (s *Store) RevokeUserSessions(ctx context.Context, userID int64, reason string, now time.Time) ([]string, error) {
	var ids []string
	err := s.tx(ctx, func(tx txq) error {
		var err error
		ids, err = list(ctx, tx.runner, scanString,
			"UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND revoked_at IS NULL RETURNING id",
			ms(now), reason, userID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			tx.notify(ctx, id)
		}
		if _, ok := server.ActorFrom(ctx); ok {
			name, err := tx.userName(ctx, userID)
			if err != nil {
				return err
			}
			tx.audit(ctx, now, server.AuditSessionsRevoked, name, fmt.Sprintf("sessions_revoked=%d", len(ids)))
		}
		return nil
	})
	if ids == nil && err == nil {
		ids = []string{}
	}
	return ids, err
}

// userName is the name of the user with id, "" when the user is gone: an audit row names
// the user a session belonged to even after the user was deleted.
func (t txq) userName(ctx context.Context, id int64) (string, error) {
	var name string
	err := t.queryRow(ctx, "SELECT COALESCE((SELECT name FROM users WHERE id = ?), '')", id).Scan(&name)
	return name, err
}

// audit stores an audit event for the change the transaction makes, when ctx carries an
// actor (server.WithActor); it goes out with the transaction's other writes.
func (t txq) audit(ctx context.Context, at time.Time, action, subject, detail string) {
	a, ok := server.ActorFrom(ctx)
	if !ok {
		return
	}
	t.queue(ctx, "INSERT INTO audit_log (at, actor, via, actor_addr, action, subject, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
		ms(at), a.Name, a.Via, a.Addr, action, subject, detail)
}

// auditSession audits an admin's revocation of the one session ss (revoked or found
// revoked at now).
func (t txq) auditSession(ctx context.Context, now time.Time, ss server.Session) error {
	if _, ok := server.ActorFrom(ctx); !ok {
		return nil
	}
	name, err := t.userName(ctx, ss.UserID)
	if err != nil {
		return err
	}
	detail := "sid=" + ss.ID
	if ms(ss.RevokedAt) != ms(now) {
		detail += " already_revoked=true"
	}
	t.audit(ctx, now, server.AuditSessionRevoked, name, detail)
	return nil
}

// AuditSince implements server.Store.
func (s *Store) AuditSince(ctx context.Context, since time.Time, afterID int64, limit int) ([]server.AuditEvent, error) {
	return list(ctx, s.read, func(row scanner) (server.AuditEvent, error) {
		var ev server.AuditEvent
		var at int64
		err := row.Scan(&ev.ID, &at, &ev.Actor.Name, &ev.Actor.Via, &ev.Actor.Addr, &ev.Action, &ev.Subject, &ev.Detail)
		ev.At = fromMS(at)
		return ev, err
	}, "SELECT id, at, actor, via, actor_addr, action, subject, detail FROM audit_log WHERE at >= ? AND (at > ? OR id > ?) ORDER BY at, id LIMIT ?",
		ms(since), ms(since), afterID, limit)
}
