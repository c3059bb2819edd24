package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Service issues, rotates, verifies and revokes tokens. It is safe for concurrent use.
//
// It only wires parts with one job each: the key schedule (keyschedule.go), the revocation
// set (revocations.go), token minting (mint.go), access-token checks (authenticate.go) and
// the flows (login.go, refresh.go, revoke.go). Run ticks the parts that change over time.
type Service struct {
	cfg     Config
	store   Store
	log     *slog.Logger
	hasher  *PasswordHasher
	keys    *keySchedule
	revoked *revocationSet
	audit   *auditLog
	ready   *readiness
	prune   *pruner

	auth    *authenticator
	login   *loginFlow
	refresh *refreshFlow
	revoke  *revokeFlow
}

// NewService checks cfg, loads (or creates) the signing keys and server secrets, reads the
// revocations that still matter and returns a ready Service. Call Run for the background
// work. A nil log discards.
func NewService(ctx context.Context, cfg Config, store Store, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	chain, err := store.Secret(ctx, chainSecretName, func() ([]byte, error) { return randomBytes(32) })
	if err != nil {
		return nil, fmt.Errorf("load refresh-chain secret: %w", err)
	}
	keys, err := newKeySchedule(ctx, cfg, store)
	if err != nil {
		return nil, err
	}
	revoked := newRevocationSet(store, cfg.AccessTTL, cfg.Now)
	if err := revoked.load(ctx); err != nil {
		return nil, fmt.Errorf("load revocations: %w", err)
	}
	audit := newAuditLog(store, log, cfg.Now)
	if err := audit.load(ctx); err != nil {
		return nil, fmt.Errorf("load audit events: %w", err)
	}
	hasher := NewPasswordHasher(cfg.Argon2, 0)
	mint := &minter{keys: keys, issuer: cfg.Issuer, audience: cfg.Audience, clientID: cfg.ClientID,
		accessTTL: cfg.AccessTTL, chain: chain}
	auth := &authenticator{keys: keys, cache: NewTokenCache(cfg.TokenCacheSize), revoked: revoked,
		issuer: cfg.Issuer, audience: cfg.Audience, now: cfg.Now}
	return &Service{
		cfg:     cfg,
		store:   store,
		log:     log,
		hasher:  hasher,
		keys:    keys,
		revoked: revoked,
		audit:   audit,
		ready:   &readiness{store: store, keys: keys, now: cfg.Now, log: log},
		prune:   &pruner{store: store, accessTTL: cfg.AccessTTL, now: cfg.Now, log: log},
		auth:    auth,
		login: &loginFlow{store: store, hasher: hasher, limiter: NewLoginLimiter(cfg.Limits), mint: mint,
			log: log, now: cfg.Now, refreshTTL: cfg.RefreshTTL},
		refresh: &refreshFlow{store: store, mint: mint, auth: auth, revoked: revoked, log: log,
			now: cfg.Now, grace: cfg.ReuseGrace},
		revoke: &revokeFlow{store: store, auth: auth, revoked: revoked, log: log, now: cfg.Now},
	}, nil
}

// Config returns the configuration the Service runs with.
func (s *Service) Config() Config { return s.cfg }

// Hasher returns the password hasher, for user management sharing its concurrency bound.
func (s *Service) Hasher() *PasswordHasher { return s.hasher }

// Run does the background work until ctx ends: reading revocations and keys written by other
// processes, pruning ended sessions (prune.go) and probing readiness (ready.go). It returns
// only after every goroutine it started has stopped, so the caller may close the store as
// soon as it returns.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // runs before wg.Wait: stops the watcher, then waits for it

	if w, ok := s.store.(RevocationWatcher); ok {
		wg.Go(func() {
			if err := s.revoked.watch(ctx, w); err != nil && ctx.Err() == nil {
				s.log.Error("revocation watcher stopped", "err", err)
			}
		})
	}
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	prune := time.NewTicker(pruneInterval)
	defer prune.Stop()
	ready := time.NewTicker(readyEvery)
	defer ready.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
			if err := s.revoked.poll(ctx); err != nil {
				s.log.Warn("reading revocations failed", "err", err)
			}
			if err := s.keys.reload(ctx); err != nil {
				s.log.Warn("reloading signing keys failed", "err", err)
			}
			if err := s.audit.poll(ctx); err != nil {
				s.log.Warn("reading audit events failed", "err", err)
			}
		case <-prune.C:
			s.prune.run(ctx)
		case <-ready.C:
			s.ready.check(ctx) // logs when the answer changes
		}
	}
}

// Login checks a username and password and opens a new session.
func (s *Service) Login(ctx context.Context, username, password, clientAddr string) (Tokens, error) {
	return s.login.login(ctx, username, password, ClientInfo{Addr: clientAddr})
}

// Refresh spends a refresh token and returns its successor with a fresh access token.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	return s.refresh.refresh(ctx, refreshToken)
}

// RefreshClassic is Refresh for the classic /api/JWT/refreshjwt endpoint: the client also
// sends its (usually expired) access token, which must be ours and name the same user.
func (s *Service) RefreshClassic(ctx context.Context, accessToken, refreshToken string) (Tokens, error) {
	return s.refresh.refreshClassic(ctx, accessToken, refreshToken)
}

// Logout revokes the whole family the refresh token belongs to; an unknown token is
// ErrInvalidGrant.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	return s.revoke.logout(ctx, refreshToken)
}

// Revoke is RFC 7009 revocation of either kind of token: a refresh token or a valid access
// token ends its session; any other token is ignored. It fails only when the store does.
func (s *Service) Revoke(ctx context.Context, token string) error {
	return s.revoke.revokeAny(ctx, token)
}

// Authenticate verifies a bearer access token and checks that its session is not revoked.
func (s *Service) Authenticate(_ context.Context, accessToken string) (*AccessClaims, error) {
	return s.auth.authenticate(accessToken)
}

// JWKS returns the public verification keys.
func (s *Service) JWKS() JWKSet { return s.keys.current().JWKS() }
