package server

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var cheap = Argon2Params{Memory: 64, Time: 1, Threads: 1}

func TestPasswordHasher(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := NewPasswordHasher(cheap, 2)
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.Verify(ctx, enc, "correct horse"); !ok || err != nil {
		t.Errorf("right password: %v %v", ok, err)
	}
	if ok, _ := h.Verify(ctx, enc, "correct horsE"); ok {
		t.Error("wrong password accepted")
	}
	if again, _ := h.Hash(ctx, "correct horse"); again == enc {
		t.Error("two hashes share a salt")
	}
	t.Run("malformed hashes are errors, not panics", func(t *testing.T) {
		for _, bad := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
			"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
			"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=64,t=1,p=1$!!!$aGFzaGhhc2hoYXNoaGFzaA"} {
			if _, err := h.Verify(ctx, bad, "x"); err == nil {
				t.Errorf("accepted %q", bad)
			}
		}
	})
	t.Run("the production parameters are OWASP's", func(t *testing.T) {
		if DefaultArgon2.Memory < 19*1024 || DefaultArgon2.Time < 2 {
			t.Errorf("%+v", DefaultArgon2)
		}
	})
}

func TestHashConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	h := NewPasswordHasher(cheap, 2)
	var cur, peak atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.acquire(context.Background())
			n := cur.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(time.Millisecond)
			cur.Add(-1)
			h.release()
		}()
	}
	wg.Wait()
	if peak.Load() > 2 {
		t.Errorf("%d hashes at once; the bound is 2", peak.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.acquire(ctx)
	h.acquire(ctx)
	cancel()
	if _, err := h.Hash(ctx, "x"); err == nil {
		t.Error("a full semaphore ignored the cancelled context")
	}
}

func TestUnknownUserCostsAsMuchAsAWrongPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := Argon2Params{Memory: 8 * 1024, Time: 2, Threads: 1}
	h := NewPasswordHasher(p, 1)
	enc, _ := h.Hash(ctx, "secret password")
	h.VerifyDummy(ctx, "warm up")
	timeIt := func(f func()) time.Duration {
		best := time.Hour
		for range 5 {
			start := time.Now()
			f()
			best = min(best, time.Since(start))
		}
		return best
	}
	wrong := timeIt(func() { h.Verify(ctx, enc, "guess") })
	unknown := timeIt(func() { h.VerifyDummy(ctx, "guess") })
	if ratio := float64(unknown) / float64(wrong); ratio < 0.5 || ratio > 2 {
		t.Errorf("unknown user %v vs wrong password %v", unknown, wrong)
	}
}

func TestLoginLimiter(t *testing.T) {
	t.Parallel()
	now := testNow
	l := NewLoginLimiter(LimitConfig{})
	for i := range 5 {
		if ok, _ := l.Allow("alice", "10.0.0.1", now); !ok {
			t.Fatalf("refused after %d failures", i)
		}
		l.Failed("alice", "10.0.0.1", now)
	}
	ok, wait := l.Allow("alice", "10.0.0.1", now)
	if ok || wait < time.Second || wait > 13*time.Second {
		t.Fatalf("after the burst: %v, retry after %v", ok, wait)
	}
	if ok, _ := l.Allow("bob", "10.0.0.1", now); !ok {
		t.Error("another user from the same address refused before the address limit")
	}
	if ok, _ := l.Allow("alice", "10.0.0.1", now.Add(13*time.Second)); !ok {
		t.Error("no refill after 13 s")
	}
	l.Succeeded("alice", "10.0.0.1", now)
	if ok, _ := l.Allow("alice", "10.0.0.2", now); !ok {
		t.Error("a success did not reset the user")
	}
	t.Run("one address trying many users is limited", func(t *testing.T) {
		l := NewLoginLimiter(LimitConfig{})
		for i := range 20 {
			l.Failed(string(rune('a'+i)), "10.9.9.9", now)
		}
		if ok, _ := l.Allow("zed", "10.9.9.9", now); ok {
			t.Error("address not limited")
		}
	})
	t.Run("memory stays bounded", func(t *testing.T) {
		l := NewLoginLimiter(LimitConfig{MaxKeys: 100})
		for i := range 1000 {
			l.Failed(string(rune(i+1000)), string(rune(i+5000)), now)
		}
		if l.users.len() > 100 || l.addrs.len() > 100 {
			t.Errorf("%d users, %d addrs", l.users.len(), l.addrs.len())
		}
	})
}

func TestTokenCache(t *testing.T) {
	t.Parallel()
	c := NewTokenCache(64)
	claims := testClaims()
	c.Put("tok", &claims)
	if got, ok := c.Get("tok", testNow); !ok || got.SID != "sid-1" {
		t.Error("miss for a fresh token")
	}
	if _, ok := c.Get("tok", testNow.Add(5*time.Minute)); ok {
		t.Error("hit at exp")
	}
	if _, ok := c.Get("tok", testNow); ok {
		t.Error("expired entry not dropped")
	}
	if _, ok := c.Get("tok-prefix", testNow); ok {
		t.Error("hit for another token")
	}
	for i := range 10_000 {
		c.Put(string(rune(i)), &claims)
	}
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].m)
	}
	if n > 64+cacheShards*2 {
		t.Errorf("%d entries in a cache of 64", n)
	}
}

func BenchmarkTokenCacheGet(b *testing.B) {
	c := NewTokenCache(1000)
	claims := testClaims()
	c.Put("token", &claims)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Get("token", testNow)
		}
	})
}
