package server

import (
	"crypto/sha256"
	"sync"
	"time"
)

// TokenCache remembers verified access tokens so that a reused token costs a hash and a map
// lookup instead of a signature check. Entries die with the token's exp; the revocation check
// is not cached — callers do it on every request.
//
// Memory: an entry is keyed by the SHA-256 of the token, not the token (about 0.5–1 KiB for
// RS256), and holds the claims of a token this server signed, whose strings are short and
// bounded (names and roles are valid usernames). An entry costs about 0.6 KiB (measured in
// the tests), so the count bound is a memory bound: 10,000 tokens, the default, about 6 MiB.
type TokenCache struct {
	shards [cacheShards]cacheShard
	per    int
}

const cacheShards = 32

type cacheShard struct {
	mu sync.RWMutex
	m  map[[sha256.Size]byte]cachedToken
}

type cachedToken struct {
	claims *AccessClaims
	exp    time.Time
}

// NewTokenCache returns a cache holding at most size tokens (rounded up to a multiple of
// its shard count).
func NewTokenCache(size int) *TokenCache {
	c := &TokenCache{per: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[[sha256.Size]byte]cachedToken)
	}
	return c
}

// key is the token's digest: a collision would need a second token with the same SHA-256,
// and only tokens that passed a signature check are ever stored.
func (c *TokenCache) key(token string) ([sha256.Size]byte, *cacheShard) {
	k := sha256.Sum256([]byte(token))
	return k, &c.shards[k[0]%cacheShards]
}

// Get returns the claims of a cached token that has not expired at now. The claims are
// shared with other callers and must not be modified.
func (c *TokenCache) Get(token string, now time.Time) (*AccessClaims, bool) {
	k, s := c.key(token)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok {
		return nil, false
	}
	if !now.Before(e.exp) {
		s.mu.Lock()
		// Re-read: a Put between the two locks may have stored a fresh entry for the token.
		if e, ok := s.m[k]; ok && !now.Before(e.exp) {
			delete(s.m, k)
		}
		s.mu.Unlock()
		return nil, false
	}
	return e.claims, true
}

// Put caches verified claims; tokens without exp are not cached. A full shard drops what
// has expired, then random entries (map order) until a quarter is free: a dropped token is
// only verified again, and random eviction cannot be steered by a client.
func (c *TokenCache) Put(token string, claims *AccessClaims) {
	if claims == nil || claims.ExpiresAt == nil {
		return
	}
	k, s := c.key(token)
	s.mu.Lock()
	if _, ok := s.m[k]; !ok && len(s.m) >= c.per {
		s.evict(c.per-c.per/4-1, claims)
	}
	s.m[k] = cachedToken{claims: claims, exp: claims.ExpiresAt.Time}
	s.mu.Unlock()
}

// evict shrinks the shard to keep entries; the caller holds mu. The token being stored was
// just verified, so its iat is no later than now: whatever expired by then is dead for sure.
func (s *cacheShard) evict(keep int, fresh *AccessClaims) {
	if fresh.IssuedAt != nil {
		for k, e := range s.m {
			if !fresh.IssuedAt.Before(e.exp) {
				delete(s.m, k)
			}
		}
	}
	for k := range s.m {
		if len(s.m) <= keep {
			break
		}
		delete(s.m, k)
	}
}
