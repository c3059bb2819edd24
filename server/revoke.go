package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// revokeStore is what logout and revocation need from the Store.
type revokeStore interface {
	SessionByToken(ctx context.Context, hash []byte) (Session, error)
	RevokeSession(ctx context.Context, id, reason string, now time.Time) (Session, error)
}

// revokeFlow ends sessions: by refresh token (logout), by access token, or by whichever of
// the two a client hands to the RFC 7009 endpoint.
type revokeFlow struct {
	store   revokeStore
	auth    *authenticator
	revoked *revocationSet
	log     *slog.Logger
	now     func() time.Time
	obs     observer
}

func (f *revokeFlow) logout(ctx context.Context, refreshToken string) error {
	if !wellFormedRefresh(refreshToken) {
		return fmt.Errorf("%w: malformed refresh token", ErrInvalidGrant)
	}
	sess, err := f.store.SessionByToken(ctx, hashToken(refreshToken))
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrInvalidGrant, err)
	} else if err != nil {
		return unavailable("look up session", err)
	}
	return f.revoke(ctx, sess.ID, RevokeLogout)
}

func (f *revokeFlow) revokeAccess(ctx context.Context, accessToken string) error {
	claims, err := f.auth.authenticate(accessToken)
	if err != nil {
		return err
	}
	return f.revoke(ctx, claims.SID, RevokeLogout)
}

// revokeAny is RFC 7009: the kind of token is told apart by form (a JWT has two dots; a
// refresh token is base64url), so no hint is needed, and a token that is unknown, expired or
// invalid is not an error, since it grants nothing. Only a store failure is.
func (f *revokeFlow) revokeAny(ctx context.Context, token string) error {
	var err error
	if strings.Count(token, ".") == 2 {
		err = f.revokeAccess(ctx, token)
	} else {
		err = f.logout(ctx, token)
	}
	if errors.Is(err, ErrInvalidGrant) || errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrTokenExpired) {
		return nil
	}
	return err
}

func (f *revokeFlow) revoke(ctx context.Context, sid, reason string) error {
	now := f.now()
	sess, err := f.store.RevokeSession(ctx, sid, reason, now)
	switch {
	case errors.Is(err, ErrNotFound):
		// The expired-session cleanup deleted it. An access token minted shortly before the
		// family's end can outlive it, so refuse the sid here all the same; no row is left
		// to tell other replicas, and the token dies within AccessTTL anyway.
		f.revoked.mark(sid, now)
		f.log.Info("session revoked after its cleanup", "sid", sid, "reason", reason)
		return nil
	case err != nil:
		return unavailable("revoke session", err)
	}
	f.revoked.mark(sid, now)
	f.obs.revoked(reason)
	f.log.Info("session revoked", "sid", sid, "user_id", sess.UserID, "reason", reason)
	return nil
}
