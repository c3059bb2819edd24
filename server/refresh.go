package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// refreshStore is what a refresh needs from the Store.
type refreshStore interface {
	Rotate(ctx context.Context, req RotateRequest) (RotateResult, error)
	SessionByToken(ctx context.Context, hash []byte) (Session, error)
}

// refreshFlow spends a refresh token: the store decides (fresh, grace replay, reuse) inside
// its transaction; the flow derives the successor, mints the access token and, on reuse,
// refuses the family's access tokens here at once.
type refreshFlow struct {
	store   refreshStore
	mint    *minter
	auth    *authenticator
	revoked *revocationSet
	log     *slog.Logger
	now     func() time.Time
	grace   time.Duration
	obs     observer
}

func (f *refreshFlow) refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	if !wellFormedRefresh(refreshToken) {
		f.obs.invalidRefresh()
		return Tokens{}, fmt.Errorf("%w: malformed refresh token", ErrInvalidGrant)
	}
	now := f.now()
	next := f.mint.successor(refreshToken)
	res, err := f.store.Rotate(ctx, RotateRequest{
		Presented: hashToken(refreshToken),
		Next:      hashToken(next),
		Now:       now,
		Grace:     f.grace,
	})
	f.obs.rotated(res, err)
	switch {
	case errors.Is(err, ErrReuseDetected):
		f.revoked.mark(res.Session.ID, now)
		f.log.Warn("security: refresh token reuse detected; session revoked",
			"user", res.User.Name, "sid", res.Session.ID, "event", "refresh_reuse_detected")
		return Tokens{}, fmt.Errorf("%w: %w", ErrInvalidGrant, err)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrSessionRevoked), errors.Is(err, ErrSessionExpired):
		return Tokens{}, fmt.Errorf("%w: %w", ErrInvalidGrant, err)
	case err != nil:
		return Tokens{}, unavailable("rotate refresh token", err)
	}
	if res.Replayed {
		f.log.Info("refresh replayed within grace", "user", res.User.Name, "sid", res.Session.ID)
	}
	return f.mint.tokens(res.User, res.Session, next, now)
}

// refreshClassic is refresh for the classic /api/JWT/refreshjwt endpoint: the client also
// sends its (usually expired) access token, which must be ours and name the same user.
func (f *refreshFlow) refreshClassic(ctx context.Context, accessToken, refreshToken string) (Tokens, error) {
	if accessToken != "" {
		claims, err := f.auth.verifyIgnoringExpiry(accessToken)
		if err != nil {
			return Tokens{}, fmt.Errorf("%w: access token: %w", ErrInvalidGrant, err)
		}
		if !wellFormedRefresh(refreshToken) {
			return Tokens{}, fmt.Errorf("%w: malformed refresh token", ErrInvalidGrant)
		}
		sess, err := f.store.SessionByToken(ctx, hashToken(refreshToken))
		if errors.Is(err, ErrNotFound) {
			return Tokens{}, fmt.Errorf("%w: %w", ErrInvalidGrant, err)
		} else if err != nil {
			return Tokens{}, unavailable("look up session", err)
		}
		if claims.Subject != strconv.FormatInt(sess.UserID, 10) {
			return Tokens{}, fmt.Errorf("%w: access token belongs to another user", ErrInvalidGrant)
		}
	}
	return f.refresh(ctx, refreshToken)
}
