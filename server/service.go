package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Config is the token server's policy. DefaultConfig gives the documented defaults.
type Config struct {
	Issuer, Audience string
	AccessTTL        time.Duration // access token lifetime
	RefreshTTL       time.Duration // absolute lifetime of a login session (refresh-token family)
	ReuseGrace       time.Duration // window in which the previous refresh token replays its successor
	SigningAlg       string        // EdDSA, ES256, RS256 or HS256
	SigningKey       []byte        // contents of --signing-key; nil: generated and persisted in the store
	ClientID         string        // client_id claim and the only public client
	Argon2           Argon2Params  // zero: DefaultArgon2
	Limits           LimitConfig   // zero: defaults
	PollInterval     time.Duration // how often other processes' revocations and keys are read
	Now              func() time.Time
}

// DefaultConfig returns the defaults documented in SPEC §2.
func DefaultConfig() Config {
	return Config{
		Issuer:       "authctl",
		Audience:     "authctl",
		AccessTTL:    5 * time.Minute,
		RefreshTTL:   720 * time.Hour,
		ReuseGrace:   10 * time.Second,
		SigningAlg:   "EdDSA",
		ClientID:     "authctl",
		Argon2:       DefaultArgon2,
		PollInterval: time.Second,
	}
}

// Errors the Service returns besides those of the Store.
var (
	// ErrInvalidCredentials is the one answer to a failed login, whether the user exists or not.
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrInvalidGrant covers every refresh token that cannot be spent: unknown, reused,
	// revoked, expired or malformed. The cause is wrapped for logs, never shown to clients.
	ErrInvalidGrant = errors.New("invalid grant")
)

// RateLimitError says that login attempts are refused for RetryAfter.
type RateLimitError struct{ RetryAfter time.Duration }

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many failed logins; retry after %s", e.RetryAfter)
}

// RevocationWatcher is implemented by stores that push other processes' revocations as they
// happen (PostgreSQL LISTEN/NOTIFY). WatchRevocations blocks until ctx ends, reconnecting by
// itself; polling still runs beside it so that a missed notification heals.
type RevocationWatcher interface {
	WatchRevocations(ctx context.Context, fn func(sessionID string)) error
}

// Tokens is what a login or refresh hands out.
type Tokens struct {
	AccessToken      string
	ExpiresIn        int // seconds
	RefreshToken     string
	RefreshExpiresIn int // seconds until the family's absolute expiry
}

// Service issues, rotates, verifies and revokes tokens. It is safe for concurrent use.
type Service struct {
	cfg      Config
	store    Store
	log      *slog.Logger
	hasher   *PasswordHasher
	limiter  *LoginLimiter
	cache    *TokenCache
	keys     atomic.Pointer[KeySet]
	static   bool   // keys came from --signing-key; never reloaded
	keyPrint string // keyPrint of the loaded keys; touched only by NewService and Run
	chain    []byte // HMAC key deriving a refresh token's successor

	mu      sync.RWMutex
	revoked map[string]time.Time // sid → when it can be forgotten (no token of it can be valid)
}

const (
	refreshTokenBytes = 32 // 256 bits
	maxRefreshToken   = 512
	maxAccessToken    = 8 << 10
	chainSecretName   = "refresh-chain-v1"
	gcInterval        = time.Hour
	revocationOverlap = 30 * time.Second // re-read window so writers' clock skew cannot hide a revocation
)

// NewService loads (or creates) the signing keys and server secrets and returns a ready
// Service. Call Run for the background work.
func NewService(ctx context.Context, cfg Config, store Store, log *slog.Logger) (*Service, error) {
	def := DefaultConfig()
	if cfg.Issuer == "" {
		cfg.Issuer = def.Issuer
	}
	if cfg.Audience == "" {
		cfg.Audience = def.Audience
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = def.AccessTTL
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = def.RefreshTTL
	}
	if cfg.ReuseGrace < 0 {
		cfg.ReuseGrace = 0
	}
	if cfg.SigningAlg == "" {
		cfg.SigningAlg = def.SigningAlg
	}
	if !ValidAlg(cfg.SigningAlg) {
		return nil, fmt.Errorf("unsupported signing algorithm %q (want EdDSA, ES256, RS256 or HS256)", cfg.SigningAlg)
	}
	if cfg.ClientID == "" {
		cfg.ClientID = def.ClientID
	}
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = def.Argon2
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = def.PollInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		cfg:     cfg,
		store:   store,
		log:     log,
		hasher:  NewPasswordHasher(cfg.Argon2, 0),
		limiter: NewLoginLimiter(cfg.Limits),
		cache:   NewTokenCache(100_000),
		revoked: make(map[string]time.Time),
	}
	chain, err := store.Secret(ctx, chainSecretName, func() ([]byte, error) { return randomBytes(32) })
	if err != nil {
		return nil, fmt.Errorf("load refresh-chain secret: %w", err)
	}
	s.chain = chain
	if err := s.loadKeys(ctx); err != nil {
		return nil, err
	}
	if err := s.pollRevocations(ctx, cfg.Now().Add(-cfg.AccessTTL-revocationOverlap)); err != nil {
		return nil, fmt.Errorf("load revocations: %w", err)
	}
	return s, nil
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// Hasher returns the password hasher, for user management sharing its concurrency bound.
func (s *Service) Hasher() *PasswordHasher { return s.hasher }

func (s *Service) loadKeys(ctx context.Context) error {
	now := s.cfg.Now()
	if s.cfg.SigningKey != nil {
		k, err := ParseSigningKey(s.cfg.SigningAlg, s.cfg.SigningKey, now)
		if err != nil {
			return fmt.Errorf("signing key: %w", err)
		}
		ks, err := NewKeySet(s.cfg.SigningAlg, []SigningKey{k})
		if err != nil {
			return err
		}
		s.keys.Store(ks)
		s.static = true
		return nil
	}
	k, err := GenerateSigningKey(s.cfg.SigningAlg, now)
	if err != nil {
		return fmt.Errorf("generate signing key: %w", err)
	}
	if _, err := s.store.EnsureSigningKey(ctx, k); err != nil {
		return fmt.Errorf("store signing key: %w", err)
	}
	return s.reloadKeys(ctx)
}

// reloadKeys picks up keys added or retired by other processes (`authctl keys rotate`).
func (s *Service) reloadKeys(ctx context.Context) error {
	if s.static {
		return nil
	}
	now := s.cfg.Now()
	all, err := s.store.SigningKeys(ctx, now)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	var keys []SigningKey
	for _, k := range all {
		if k.Alg == s.cfg.SigningAlg {
			keys = append(keys, k)
		}
	}
	keys = chooseSigner(keys, now, 2*s.cfg.PollInterval+time.Second)
	fp := keyPrint(keys)
	if fp == s.keyPrint {
		return nil
	}
	ks, err := NewKeySet(s.cfg.SigningAlg, keys)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	s.keys.Store(ks)
	s.keyPrint = fp
	return nil
}

// chooseSigner marks which key signs. A key made by `authctl keys rotate` is published (in
// JWKS and every replica's verification map) for publishDelay before anyone signs with it,
// so no replica refuses a token signed with a key it has not loaded yet; until then the
// newest older key keeps signing. When every key is that new (first start), the oldest signs.
// keys are newest first, as SigningKeys returns them.
func chooseSigner(keys []SigningKey, now time.Time, publishDelay time.Duration) []SigningKey {
	signer := -1
	for i, k := range keys {
		if !k.CreatedAt.After(now.Add(-publishDelay)) {
			signer = i
			break
		}
	}
	if signer < 0 && len(keys) > 0 {
		signer = len(keys) - 1 // all are new: the one published longest
	}
	out := make([]SigningKey, len(keys))
	for i, k := range keys {
		k.Active = i == signer
		out[i] = k
	}
	return out
}

// keyPrint identifies a key list, so that an unchanged list is not rebuilt every poll.
func keyPrint(keys []SigningKey) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k.KID)
		if k.Active {
			b.WriteByte('*')
		}
		b.WriteByte(' ')
	}
	return b.String()
}

// Run does the background work until ctx ends: reading revocations and keys written by other
// processes, and deleting expired sessions.
func (s *Service) Run(ctx context.Context) error {
	if w, ok := s.store.(RevocationWatcher); ok {
		go func() {
			if err := w.WatchRevocations(ctx, func(sid string) { s.markRevoked(sid, s.cfg.Now()) }); err != nil && ctx.Err() == nil {
				s.log.Error("revocation watcher stopped", "err", err)
			}
		}()
	}
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	gc := time.NewTicker(gcInterval)
	defer gc.Stop()
	last := s.cfg.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
			start := s.cfg.Now()
			if err := s.pollRevocations(ctx, last.Add(-revocationOverlap)); err != nil {
				s.log.Warn("reading revocations failed", "err", err)
				continue
			}
			last = start
			if err := s.reloadKeys(ctx); err != nil {
				s.log.Warn("reloading signing keys failed", "err", err)
			}
			s.forgetRevocations(start)
		case <-gc.C:
			n, err := s.store.DeleteExpired(ctx, s.cfg.Now())
			if err != nil {
				s.log.Warn("deleting expired sessions failed", "err", err)
			} else if n > 0 {
				s.log.Info("deleted expired sessions", "count", n)
			}
		}
	}
}

func (s *Service) pollRevocations(ctx context.Context, since time.Time) error {
	revs, err := s.store.RevokedSince(ctx, since)
	if err != nil {
		return err
	}
	for _, r := range revs {
		s.markRevoked(r.SessionID, r.RevokedAt)
	}
	return nil
}

// markRevoked remembers a revoked sid for as long as any access token of it could be valid.
func (s *Service) markRevoked(sid string, at time.Time) {
	until := at.Add(s.cfg.AccessTTL + time.Minute)
	if now := s.cfg.Now(); until.Before(now.Add(s.cfg.AccessTTL)) {
		until = now.Add(s.cfg.AccessTTL + time.Minute)
	}
	s.mu.Lock()
	if until.After(s.revoked[sid]) {
		s.revoked[sid] = until
	}
	s.mu.Unlock()
}

func (s *Service) forgetRevocations(now time.Time) {
	s.mu.Lock()
	for sid, until := range s.revoked {
		if now.After(until) {
			delete(s.revoked, sid)
		}
	}
	s.mu.Unlock()
}

func (s *Service) isRevoked(sid string) bool {
	s.mu.RLock()
	_, ok := s.revoked[sid]
	s.mu.RUnlock()
	return ok
}

// Login checks a username and password and opens a new session.
func (s *Service) Login(ctx context.Context, username, password, clientAddr string) (Tokens, error) {
	if len(username) > 256 || len(password) > maxPasswordLen {
		// No such user can exist; refusing before the limiter keeps its keys and the log small.
		return Tokens{}, ErrInvalidCredentials
	}
	now := s.cfg.Now()
	if ok, wait := s.limiter.Allow(username, clientAddr, now); !ok {
		s.log.Warn("login rate-limited", "user", username, "addr", clientAddr)
		return Tokens{}, &RateLimitError{RetryAfter: wait}
	}
	u, err := s.store.UserByName(ctx, username)
	switch {
	case errors.Is(err, ErrNotFound):
		// Spend the same time as a wrong password so that timing does not reveal users.
		s.hasher.VerifyDummy(ctx, password)
		s.limiter.Failed(username, clientAddr, s.cfg.Now())
		s.log.Info("login failed", "user", username, "addr", clientAddr)
		return Tokens{}, ErrInvalidCredentials
	case err != nil:
		return Tokens{}, unavailable("look up user", err)
	}
	ok, err := s.hasher.Verify(ctx, u.PasswordHash, password)
	if err != nil {
		if ctx.Err() != nil {
			return Tokens{}, ctx.Err()
		}
		return Tokens{}, fmt.Errorf("verify password of %s: %w", u.Name, err)
	}
	if !ok {
		s.limiter.Failed(username, clientAddr, s.cfg.Now())
		s.log.Info("login failed", "user", username, "addr", clientAddr)
		return Tokens{}, ErrInvalidCredentials
	}
	s.limiter.Succeeded(username, clientAddr, now)

	now = s.cfg.Now()
	sid, err := randomToken(16)
	if err != nil {
		return Tokens{}, err
	}
	refresh, err := randomToken(refreshTokenBytes)
	if err != nil {
		return Tokens{}, err
	}
	sess := Session{ID: sid, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}
	first := RefreshToken{Hash: hashToken(refresh), SessionID: sid, IssuedAt: now}
	if err := s.store.CreateSession(ctx, sess, first); err != nil {
		return Tokens{}, unavailable("create session", err)
	}
	s.log.Info("login", "user", u.Name, "sid", sid, "addr", clientAddr)
	return s.tokens(u, sess, refresh, now)
}

// Refresh spends a refresh token and returns its successor with a fresh access token.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	if !wellFormedRefresh(refreshToken) {
		return Tokens{}, fmt.Errorf("%w: malformed refresh token", ErrInvalidGrant)
	}
	now := s.cfg.Now()
	next := s.successor(refreshToken)
	res, err := s.store.Rotate(ctx, RotateRequest{
		Presented: hashToken(refreshToken),
		Next:      hashToken(next),
		Now:       now,
		Grace:     s.cfg.ReuseGrace,
	})
	switch {
	case errors.Is(err, ErrReuseDetected):
		s.markRevoked(res.Session.ID, now)
		s.log.Warn("security: refresh token reuse detected; session revoked",
			"user", res.User.Name, "sid", res.Session.ID)
		return Tokens{}, fmt.Errorf("%w: %w", ErrInvalidGrant, err)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrSessionRevoked), errors.Is(err, ErrSessionExpired):
		return Tokens{}, fmt.Errorf("%w: %w", ErrInvalidGrant, err)
	case err != nil:
		return Tokens{}, unavailable("rotate refresh token", err)
	}
	if res.Replayed {
		s.log.Info("refresh replayed within grace", "user", res.User.Name, "sid", res.Session.ID)
	}
	return s.tokens(res.User, res.Session, next, now)
}

// RefreshClassic is Refresh for the classic /api/JWT/refreshjwt endpoint: the client also
// sends its (usually expired) access token, which must be ours and name the same user.
func (s *Service) RefreshClassic(ctx context.Context, accessToken, refreshToken string) (Tokens, error) {
	if accessToken != "" {
		claims, err := s.verifyIgnoringExpiry(accessToken)
		if err != nil {
			return Tokens{}, fmt.Errorf("%w: access token: %w", ErrInvalidGrant, err)
		}
		if !wellFormedRefresh(refreshToken) {
			return Tokens{}, fmt.Errorf("%w: malformed refresh token", ErrInvalidGrant)
		}
		sess, err := s.store.SessionByToken(ctx, hashToken(refreshToken))
		if errors.Is(err, ErrNotFound) {
			return Tokens{}, fmt.Errorf("%w: %w", ErrInvalidGrant, err)
		} else if err != nil {
			return Tokens{}, unavailable("look up session", err)
		}
		if claims.Subject != strconv.FormatInt(sess.UserID, 10) {
			return Tokens{}, fmt.Errorf("%w: access token belongs to another user", ErrInvalidGrant)
		}
	}
	return s.Refresh(ctx, refreshToken)
}

// verifyIgnoringExpiry checks signature, issuer and audience of a token that may have expired,
// by verifying it at an instant just before its own expiry.
func (s *Service) verifyIgnoringExpiry(token string) (*AccessClaims, error) {
	if len(token) > maxAccessToken {
		return nil, fmt.Errorf("%w: token too large", ErrInvalidToken)
	}
	var unverified AccessClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &unverified); err != nil || unverified.ExpiresAt == nil {
		return nil, fmt.Errorf("%w: malformed", ErrInvalidToken)
	}
	at := s.cfg.Now()
	if exp := unverified.ExpiresAt.Time; !at.Before(exp) {
		at = exp.Add(-time.Millisecond)
	}
	return s.keys.Load().Verify(token, s.cfg.Issuer, s.cfg.Audience, at)
}

// Logout revokes the whole family the refresh token belongs to.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	if !wellFormedRefresh(refreshToken) {
		return fmt.Errorf("%w: malformed refresh token", ErrInvalidGrant)
	}
	sess, err := s.store.SessionByToken(ctx, hashToken(refreshToken))
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrInvalidGrant, err)
	} else if err != nil {
		return unavailable("look up session", err)
	}
	return s.revoke(ctx, sess.ID, RevokeLogout)
}

// RevokeAccessToken revokes the session of a valid access token (RFC 7009 for access tokens).
func (s *Service) RevokeAccessToken(ctx context.Context, accessToken string) error {
	claims, err := s.Authenticate(ctx, accessToken)
	if err != nil {
		return err
	}
	return s.revoke(ctx, claims.SID, RevokeLogout)
}

func (s *Service) revoke(ctx context.Context, sid, reason string) error {
	now := s.cfg.Now()
	sess, err := s.store.RevokeSession(ctx, sid, reason, now)
	if err != nil {
		return unavailable("revoke session", err)
	}
	s.markRevoked(sid, now)
	s.log.Info("session revoked", "sid", sid, "user_id", sess.UserID, "reason", reason)
	return nil
}

// Authenticate verifies a bearer access token and checks that its session is not revoked.
func (s *Service) Authenticate(_ context.Context, accessToken string) (*AccessClaims, error) {
	if len(accessToken) > maxAccessToken {
		return nil, fmt.Errorf("%w: token too large", ErrInvalidToken)
	}
	now := s.cfg.Now()
	claims, ok := s.cache.Get(accessToken, now)
	if !ok {
		var err error
		claims, err = s.keys.Load().Verify(accessToken, s.cfg.Issuer, s.cfg.Audience, now)
		if err != nil {
			return nil, err
		}
		s.cache.Put(accessToken, claims)
	}
	if s.isRevoked(claims.SID) {
		return nil, fmt.Errorf("%w: session revoked", ErrInvalidToken)
	}
	return claims, nil
}

// JWKS returns the public verification keys.
func (s *Service) JWKS() JWKSet { return s.keys.Load().JWKS() }

// Health reports whether the store answers.
func (s *Service) Health(ctx context.Context) error {
	if _, err := s.store.CountUsers(ctx); err != nil {
		return unavailable("health check", err)
	}
	return nil
}

func (s *Service) tokens(u User, sess Session, refresh string, now time.Time) (Tokens, error) {
	jti, err := randomToken(16)
	if err != nil {
		return Tokens{}, err
	}
	claims := AccessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.Issuer,
			Subject:   strconv.FormatInt(u.ID, 10),
			Audience:  jwt.ClaimStrings{s.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.AccessTTL)),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ID:        jti,
		},
		ClientID: s.cfg.ClientID,
		Name:     u.Name,
		Role:     u.Role,
		SID:      sess.ID,
	}
	access, err := s.keys.Load().Sign(claims)
	if err != nil {
		return Tokens{}, fmt.Errorf("sign access token: %w", err)
	}
	refreshIn := int(sess.ExpiresAt.Sub(now) / time.Second)
	if refreshIn < 1 {
		refreshIn = 1
	}
	return Tokens{
		AccessToken:      access,
		ExpiresIn:        int(s.cfg.AccessTTL / time.Second),
		RefreshToken:     refresh,
		RefreshExpiresIn: refreshIn,
	}, nil
}

// successor derives the token that replaces t. Deriving it (rather than drawing it at
// random) lets a replay within the grace window answer with the same successor without the
// server ever storing a token in plaintext.
func (s *Service) successor(t string) string {
	m := hmac.New(sha256.New, s.chain)
	m.Write([]byte("authctl refresh successor\x00"))
	m.Write([]byte(t))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func hashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}

func wellFormedRefresh(t string) bool {
	if len(t) < 16 || len(t) > maxRefreshToken {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	return b, nil
}

func randomToken(n int) (string, error) {
	b, err := randomBytes(n)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// unavailable marks a store failure as the server's problem (503), keeping the cause.
func unavailable(what string, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
}
