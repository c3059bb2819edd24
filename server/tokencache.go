package server

import (
	"hash/maphash"
	"sync"
	"time"
)

// TokenCache remembers verified access tokens, keyed by the whole token string, so a reused
// token costs a map lookup instead of a signature check. Entries die with the token's exp;
// the revocation check is not cached — callers do it on every request.
type TokenCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
	per    int
}

const cacheShards = 32

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]cachedToken
}

type cachedToken struct {
	claims *AccessClaims
	exp    time.Time
}

// NewTokenCache returns a cache holding at most size tokens (rounded up to a multiple of
// its shard count).
func NewTokenCache(size int) *TokenCache {
	c := &TokenCache{seed: maphash.MakeSeed(), per: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cachedToken)
	}
	return c
}

func (c *TokenCache) shard(token string) *cacheShard {
	return &c.shards[maphash.String(c.seed, token)%cacheShards]
}

// Get returns the claims of a cached token that has not expired at now. The claims are
// shared with other callers and must not be modified.
func (c *TokenCache) Get(token string, now time.Time) (*AccessClaims, bool) {
	s := c.shard(token)
	s.mu.RLock()
	e, ok := s.m[token]
	s.mu.RUnlock()
	if !ok {
		return nil, false
	}
	if !now.Before(e.exp) {
		s.mu.Lock()
		// Re-read: a Put between the two locks may have stored a fresh entry for the token.
		if e, ok := s.m[token]; ok && !now.Before(e.exp) {
			delete(s.m, token)
		}
		s.mu.Unlock()
		return nil, false
	}
	return e.claims, true
}

// Put caches verified claims; tokens without exp are not cached.
func (c *TokenCache) Put(token string, claims *AccessClaims) {
	if claims == nil || claims.ExpiresAt == nil {
		return
	}
	s := c.shard(token)
	s.mu.Lock()
	if _, ok := s.m[token]; !ok && len(s.m) >= c.per {
		// Full: drop an arbitrary half. Cheap, bounded, and a dropped token is only re-verified.
		n := 0
		for k := range s.m {
			delete(s.m, k)
			if n++; n >= c.per/2+1 {
				break
			}
		}
	}
	s.m[token] = cachedToken{claims: claims, exp: claims.ExpiresAt.Time}
	s.mu.Unlock()
}
