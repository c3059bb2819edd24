package server

import (
	"context"
	"errors"
	"time"
)

// Observer is told what the Service decides, so that an adapter can count it (server/metrics
// turns it into Prometheus counters). The domain knows no metrics library: it names outcomes
// and leaves the counting to the adapter. Methods are called on the request path, from many
// goroutines at once, and must be cheap and must not block.
type Observer interface {
	// Login reports the outcome of one login attempt: LoginOK, LoginBadCredentials,
	// LoginLimited or LoginError.
	Login(outcome string)
	// Refresh reports the outcome of one refresh-token presentation: RefreshRotated,
	// RefreshReplayed, RefreshReuseDetected, RefreshInvalid or RefreshError.
	Refresh(outcome string)
	// Revoked reports a session this process revoked, with its reason (RevokeLogout,
	// RevokeReuse, …).
	Revoked(reason string)
	// TokenCache reports one lookup in the verified-access-token cache.
	TokenCache(hit bool)
}

// Login outcomes.
const (
	LoginOK             = "ok"
	LoginBadCredentials = "bad_credentials" // wrong password or unknown user (401)
	LoginLimited        = "limited"         // refused without a password check: rate limit or overload (429/503)
	LoginError          = "error"           // the store failed or the client went away
)

// Refresh outcomes.
const (
	RefreshRotated       = "rotated"
	RefreshReplayed      = "replayed"       // the just-rotated token again within --reuse-grace
	RefreshReuseDetected = "reuse_detected" // an older token again: the family was revoked
	RefreshInvalid       = "invalid"        // malformed, unknown, revoked or expired
	RefreshError         = "error"          // the store failed
)

// LiveSessionCounter is implemented by stores that can count sessions neither revoked nor
// past their absolute lifetime, for a "live sessions" gauge sampled now and then.
type LiveSessionCounter interface {
	CountLiveSessions(ctx context.Context, now time.Time) (int64, error)
}

// SetObserver makes the Service report its decisions to o. Call it once, before the Service
// serves requests; without it nothing is reported.
func (s *Service) SetObserver(o Observer) {
	obs := observer{o}
	s.login.obs, s.refresh.obs, s.revoke.obs, s.auth.obs = obs, obs, obs, obs
}

// observer is an optional Observer: its zero value reports to nobody, so the flows need no
// nil checks and tests that build them by hand need no Observer.
type observer struct{ o Observer }

// loggedIn classifies a finished login by its error.
func (o observer) loggedIn(err error) {
	if o.o == nil {
		return
	}
	var rl *RateLimitError
	var ov *OverloadError
	switch {
	case err == nil:
		o.o.Login(LoginOK)
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, errBadHash):
		o.o.Login(LoginBadCredentials)
	case errors.As(err, &rl), errors.As(err, &ov):
		o.o.Login(LoginLimited)
	default:
		o.o.Login(LoginError)
	}
}

// rotated classifies the store's answer to a Rotate; a detected reuse is also a revocation.
func (o observer) rotated(res RotateResult, err error) {
	if o.o == nil {
		return
	}
	switch {
	case errors.Is(err, ErrReuseDetected):
		o.o.Refresh(RefreshReuseDetected)
		o.o.Revoked(RevokeReuse)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrSessionRevoked), errors.Is(err, ErrSessionExpired):
		o.o.Refresh(RefreshInvalid)
	case err != nil:
		o.o.Refresh(RefreshError)
	case res.Replayed:
		o.o.Refresh(RefreshReplayed)
	default:
		o.o.Refresh(RefreshRotated)
	}
}

// invalidRefresh counts a refresh token refused before the store was asked (malformed).
func (o observer) invalidRefresh() {
	if o.o != nil {
		o.o.Refresh(RefreshInvalid)
	}
}

func (o observer) revoked(reason string) {
	if o.o != nil {
		o.o.Revoked(reason)
	}
}

func (o observer) tokenCache(hit bool) {
	if o.o != nil {
		o.o.TokenCache(hit)
	}
}

// SigningKeyID is the kid of the key new access tokens are signed with, for the start-up
// line; it changes when `authctl keys rotate` takes effect.
func (s *Service) SigningKeyID() string { return s.keys.current().signKID }
