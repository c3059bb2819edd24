package server

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxAccessToken bounds what is parsed for an unauthenticated caller.
const maxAccessToken = 8 << 10

// authenticator checks bearer access tokens: signature and claims through the key schedule
// (or the cache of tokens already verified), then the revocation set, which is never cached.
type authenticator struct {
	keys     *keySchedule
	cache    *TokenCache
	revoked  *revocationSet
	issuer   string
	audience string
	now      func() time.Time
	obs      observer
}

func (a *authenticator) authenticate(token string) (*AccessClaims, error) {
	if len(token) > maxAccessToken {
		return nil, fmt.Errorf("%w: token too large", ErrInvalidToken)
	}
	now := a.now()
	claims, ok := a.cache.Get(token, now)
	a.obs.tokenCache(ok)
	if !ok {
		var err error
		claims, err = a.keys.current().Verify(token, a.issuer, a.audience, now)
		if err != nil {
			return nil, err
		}
		a.cache.Put(token, claims)
	}
	var issuedAt time.Time
	if claims.IssuedAt != nil {
		issuedAt = claims.IssuedAt.Time
	}
	if a.revoked.refuses(claims.SID, issuedAt) {
		return nil, fmt.Errorf("%w: session revoked", ErrInvalidToken)
	}
	return claims, nil
}

// verifyIgnoringExpiry checks signature, issuer and audience of a token that may have expired,
// by verifying it at an instant just before its own expiry.
func (a *authenticator) verifyIgnoringExpiry(token string) (*AccessClaims, error) {
	if len(token) > maxAccessToken {
		return nil, fmt.Errorf("%w: token too large", ErrInvalidToken)
	}
	var unverified AccessClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &unverified); err != nil || unverified.ExpiresAt == nil {
		return nil, fmt.Errorf("%w: malformed", ErrInvalidToken)
	}
	at := a.now()
	if exp := unverified.ExpiresAt.Time; !at.Before(exp) {
		at = exp.Add(-time.Millisecond)
	}
	return a.keys.current().Verify(token, a.issuer, a.audience, at)
}
