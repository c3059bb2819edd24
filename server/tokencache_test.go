package server

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestTokenCache(t *testing.T) {
	t.Parallel()
	claims := testClaims()
	exp := claims.ExpiresAt.Time

	t.Run("a fresh token hits until its exp and misses from then on", func(t *testing.T) {
		t.Parallel()
		c := NewTokenCache(64)
		c.Put("tok", &claims)
		for _, tc := range []struct {
			at  time.Time
			hit bool
		}{
			{testNow, true},
			{exp.Add(-time.Nanosecond), true},
			{exp, false},
			{exp.Add(-time.Second), false}, // the expired entry was dropped
		} {
			got, ok := c.Get("tok", tc.at)
			if ok != tc.hit || (ok && got.SID != "sid-1") {
				t.Errorf("at %v: %v %v, want hit %v", tc.at, got, ok, tc.hit)
			}
		}
	})
	t.Run("only the whole token string hits", func(t *testing.T) {
		t.Parallel()
		c := NewTokenCache(64)
		c.Put("header.payload.sig", &claims)
		for _, other := range []string{"header.payload.si", "header.payload.sig.", "header.payload.siG", ""} {
			if _, ok := c.Get(other, testNow); ok {
				t.Errorf("hit for %q", other)
			}
		}
	})
	t.Run("claims without exp or no claims at all are not cached", func(t *testing.T) {
		t.Parallel()
		c := NewTokenCache(64)
		noExp := testClaims()
		noExp.ExpiresAt = nil
		c.Put("a", &noExp)
		c.Put("b", nil)
		for _, tok := range []string{"a", "b"} {
			if _, ok := c.Get(tok, testNow); ok {
				t.Errorf("hit for %s", tok)
			}
		}
	})
	t.Run("the size stays bounded", func(t *testing.T) {
		t.Parallel()
		c := NewTokenCache(64)
		for i := range 10_000 {
			c.Put(fmt.Sprint("tok", i), &claims)
		}
		if n := c.len(); n > 64+cacheShards {
			t.Errorf("%d entries in a cache of 64", n)
		}
		c.Put("last", &claims)
		if _, ok := c.Get("last", testNow); !ok {
			t.Error("the newest entry is missing")
		}
	})
	t.Run("a full cache drops expired entries before live ones", func(t *testing.T) {
		t.Parallel()
		c := NewTokenCache(cacheShards * 8) // 8 a shard
		old := testClaims()
		old.ExpiresAt = jwt.NewNumericDate(testNow.Add(-time.Second))
		live := testClaims()
		for i := range 2000 {
			if i%2 == 0 {
				c.Put(fmt.Sprint("old", i), &old)
			} else {
				c.Put(fmt.Sprint("live", i), &live)
			}
		}
		// Each shard kept its newest live entries; the expired ones went first.
		kept := 0
		for i := 1999; i > 1999-2*cacheShards; i -= 2 {
			if _, ok := c.Get(fmt.Sprint("live", i), testNow); ok {
				kept++
			}
		}
		if kept < cacheShards/2 {
			t.Errorf("only %d of the %d newest live tokens kept", kept, cacheShards)
		}
	})
	t.Run("concurrent use is safe", func(t *testing.T) {
		t.Parallel()
		c := NewTokenCache(128)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 500 {
					tok := fmt.Sprint("tok", (g*31+i)%300)
					cl := testClaims()
					cl.ExpiresAt = jwt.NewNumericDate(testNow.Add(time.Duration(i%3) * time.Second))
					c.Put(tok, &cl)
					c.Get(tok, testNow.Add(time.Second))
				}
			})
		}
		wg.Wait()
	})
}

// Not parallel: it measures the heap. The count bound is only a memory bound if an entry
// is small; the cache used to key entries by the whole token, about 2 KiB each.
func TestTokenCacheEntriesAreSmall(t *testing.T) {
	const n = 10_000
	c := NewTokenCache(2 * n) // room for uneven shards: every entry stays
	payload := func(i int) []byte {
		return fmt.Appendf(nil, `{"iss":"https://auth.example.com:8443","sub":"%d","aud":["authctl"],`+
			`"exp":%d,"nbf":%d,"iat":%d,"jti":"%022d","client_id":"authctl",`+
			`"name":"user-with-a-long-name-%042d","role":"administrator","sid":"%022d"}`,
			i, testNow.Add(time.Hour).Unix(), testNow.Unix(), testNow.Unix(), i, i, i)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for i := range n {
		// Claims decoded as the verifier does, from a token about as long as an RS256 one.
		var cl AccessClaims
		if err := json.Unmarshal(payload(i), &cl); err != nil {
			t.Fatal(err)
		}
		tok := fmt.Sprintf("%0900d", i)
		c.Put(tok, &cl)
	}
	if got := c.len(); got != n {
		t.Fatalf("%d entries", got)
	}
	per := (heap() - before) / n
	t.Logf("%d bytes per cached token", per)
	if per > 1024 {
		t.Errorf("%d bytes per cached token; want at most 1 KiB", per)
	}
	runtime.KeepAlive(c)
}

func (c *TokenCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].m)
		c.shards[i].mu.RUnlock()
	}
	return n
}

func BenchmarkTokenCacheGetParallel(b *testing.B) {
	c := NewTokenCache(100_000)
	claims := testClaims()
	toks := make([]string, 1024)
	for i := range toks {
		toks[i] = fmt.Sprintf("eyJhbGciOiJFZERTQSJ9.payload-%d.signature", i)
		c.Put(toks[i], &claims)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := c.Get(toks[i%len(toks)], testNow); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}
