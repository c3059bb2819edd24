package server

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// limits is DefaultLimits changed by edit.
func limits(edit func(*LimitConfig)) LimitConfig {
	c := DefaultLimits()
	edit(&c)
	return c
}

// failUntilRefused reserves and fails attempts for (user, addr) at now until the limiter
// refuses, and returns how many it admitted.
func failUntilRefused(t *testing.T, l *LoginLimiter, user, addr string, now time.Time) int {
	t.Helper()
	for n := 0; n < 10_000; n++ {
		r, err := l.Reserve(user, addr, now)
		if err != nil {
			return n
		}
		r.Failed()
	}
	t.Fatal("never refused")
	return -1
}

// refusal is the Retry-After of a refused Reserve, or 0 when it was admitted (and cancelled).
func refusal(t *testing.T, l *LoginLimiter, user, addr string, now time.Time) time.Duration {
	t.Helper()
	r, err := l.Reserve(user, addr, now)
	if err == nil {
		r.Cancel(now)
		return 0
	}
	var rl *RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("Reserve: %v", err)
	}
	return rl.RetryAfter
}

func TestLoginLimiter(t *testing.T) {
	t.Parallel()
	now := testNow

	t.Run("one address gets the burst of failures for a user, then a whole-second Retry-After", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(DefaultLimits())
		if n := failUntilRefused(t, l, "alice", "10.0.0.1", now); n != 5 {
			t.Fatalf("refused after %d failures, want 5", n)
		}
		if wait := refusal(t, l, "alice", "10.0.0.1", now); wait != 12*time.Second {
			t.Errorf("retry after %v; want 12s", wait)
		}
	})
	t.Run("the victim logs in from another address", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(DefaultLimits())
		failUntilRefused(t, l, "alice", "10.0.0.1", now)
		if wait := refusal(t, l, "alice", "10.0.0.2", now); wait != 0 {
			t.Errorf("alice refused from an address the attacker never used, for %v", wait)
		}
	})
	t.Run("the bucket refills over time at the configured rate", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(DefaultLimits())
		failUntilRefused(t, l, "alice", "10.0.0.1", now)
		for _, tc := range []struct {
			after time.Duration
			wait  time.Duration
		}{
			{500 * time.Millisecond, 12 * time.Second},
			{11*time.Second + 500*time.Millisecond, time.Second},
			{12 * time.Second, 0},
		} {
			if wait := refusal(t, l, "alice", "10.0.0.1", now.Add(tc.after)); wait != tc.wait {
				t.Errorf("after %v: retry after %v; want %v", tc.after, wait, tc.wait)
			}
		}
		r, err := l.Reserve("alice", "10.0.0.1", now.Add(12*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		r.Failed()
		if refusal(t, l, "alice", "10.0.0.1", now.Add(12*time.Second)) == 0 {
			t.Error("the refilled token was not consumed")
		}
	})
	t.Run("concurrent attempts cannot pass together: the slot is taken at Reserve", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(DefaultLimits())
		var admitted atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 40 {
			wg.Go(func() {
				<-start
				r, err := l.Reserve("alice", "10.0.0.1", now)
				if err != nil {
					return
				}
				admitted.Add(1)
				time.Sleep(10 * time.Millisecond) // the password hash
				r.Failed()
			})
		}
		close(start)
		wg.Wait()
		if n := admitted.Load(); n != 5 {
			t.Errorf("%d of 40 concurrent attempts admitted; want the burst, 5", n)
		}
	})
	t.Run("a success gives its slot back and resets the pair, not the address", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(limits(func(c *LimitConfig) { c.UserBurst, c.AddrBurst = 2, 4 }))
		failUntilRefused(t, l, "alice", "10.0.0.1", now)
		l.pairs.forget(pairKey("alice", "10.0.0.1")) // as if the bucket had refilled
		r, err := l.Reserve("alice", "10.0.0.1", now)
		if err != nil {
			t.Fatal(err)
		}
		r.Succeeded(now)
		if l.pairs.lookup(pairKey("alice", "10.0.0.1")) != nil {
			t.Error("the pair's failures were kept after a success")
		}
		// The address made 2 failures and a success: 2 of its 4 remain.
		if n := failUntilRefused(t, l, "mallory", "10.0.0.1", now); n != 2 {
			t.Errorf("address admitted %d more after the success; want 2", n)
		}
	})
	t.Run("a cancelled attempt gives every slot back", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(limits(func(c *LimitConfig) { c.UserBurst, c.AddrBurst, c.CeilingBurst = 1, 1, 1 }))
		for range 10 {
			r, err := l.Reserve("alice", "10.0.0.1", now)
			if err != nil {
				t.Fatalf("refused after cancelled attempts: %v", err)
			}
			r.Cancel(now)
		}
	})
	t.Run("one address spraying many users hits the address limit; others are not", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(DefaultLimits())
		for i := range 20 {
			r, err := l.Reserve(fmt.Sprint("user", i), "10.0.0.1", now)
			if err != nil {
				t.Fatalf("refused at %d: %v", i, err)
			}
			r.Failed()
		}
		if wait := refusal(t, l, "carol", "10.0.0.1", now); wait != 3*time.Second {
			t.Errorf("address after 20 failures: retry after %v; want 3s", wait)
		}
		if refusal(t, l, "carol", "10.0.0.2", now) != 0 {
			t.Error("another address refused")
		}
	})
	t.Run("many addresses together reach the user's ceiling", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(DefaultLimits())
		for i := range 20 {
			if n := failUntilRefused(t, l, "alice", fmt.Sprintf("10.1.0.%d", i), now); n != 5 {
				t.Fatalf("address %d admitted %d", i, n)
			}
		}
		if wait := refusal(t, l, "alice", "10.9.9.9", now); wait != 6*time.Second {
			t.Errorf("after 100 failures from 20 addresses: retry after %v; want the ceiling's 6s", wait)
		}
		if refusal(t, l, "bob", "10.9.9.9", now) != 0 {
			t.Error("the ceiling of one user refused another")
		}
	})
	t.Run("one address guessing flat out for a day never reaches the ceiling", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(DefaultLimits())
		at, guesses := now, 0
		for end := now.Add(24 * time.Hour); at.Before(end); at = at.Add(time.Second) {
			if r, err := l.Reserve("alice", "10.0.0.1", at); err == nil {
				r.Failed()
				guesses++
			}
			if wait := refusal(t, l, "alice", "10.0.0.2", at); wait != 0 {
				t.Fatalf("victim refused after %v and %d guesses from another address", at.Sub(now), guesses)
			}
		}
		if want := 5 + 24*3600/12; guesses > want {
			t.Errorf("%d guesses in a day; want at most %d", guesses, want)
		}
	})
	t.Run("without a ceiling only the pair and address limits apply", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(limits(func(c *LimitConfig) { c.UserCeiling, c.CeilingBurst = 0, 0 }))
		for i := range 50 {
			failUntilRefused(t, l, "alice", fmt.Sprintf("10.1.0.%d", i), now)
		}
		if refusal(t, l, "alice", "10.9.9.9", now) != 0 {
			t.Error("refused with no ceiling configured")
		}
	})
	t.Run("a custom config is honoured", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(limits(func(c *LimitConfig) { c.PerUser, c.UserBurst = rate.Every(time.Minute), 1 }))
		failUntilRefused(t, l, "alice", "10.0.0.1", now)
		if wait := refusal(t, l, "alice", "10.0.0.1", now); wait != time.Minute {
			t.Errorf("retry after %v", wait)
		}
	})
	t.Run("memory stays bounded by MaxKeys per kind, dropping the least recently used", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(limits(func(c *LimitConfig) { c.MaxKeys, c.UserBurst = 100, 1 }))
		failUntilRefused(t, l, "victim", "10.0.0.1", now)
		for i := range 1000 {
			if r, err := l.Reserve(fmt.Sprint("user", i), fmt.Sprint("addr", i), now); err == nil {
				r.Failed()
			}
			if i%50 == 0 {
				refusal(t, l, "victim", "10.0.0.1", now) // keeps the victim recently used
			}
		}
		if p, a, u := l.pairs.len(), l.addrs.len(), l.users.len(); p > 100 || a > 100 || u > 100 {
			t.Errorf("%d pairs, %d addrs, %d users kept", p, a, u)
		}
		if refusal(t, l, "victim", "10.0.0.1", now) == 0 {
			t.Error("a recently used bucket was evicted")
		}
		if l.pairs.lookup(pairKey("user0", "addr0")) != nil {
			t.Error("the oldest bucket was not the one evicted")
		}
	})
	t.Run("a refused attempt creates no bucket", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(limits(func(c *LimitConfig) { c.AddrBurst = 1 }))
		failUntilRefused(t, l, "alice", "10.0.0.1", now)
		for i := range 100 {
			refusal(t, l, fmt.Sprint("user", i), "10.0.0.1", now)
		}
		if n := l.pairs.len(); n != 1 {
			t.Errorf("%d pair buckets after refused attempts; want 1", n)
		}
	})
}

func TestLimitConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*LimitConfig)
		ok   bool
	}{
		{"the defaults are valid", func(*LimitConfig) {}, true},
		{"no ceiling and no hash queue bounds are valid", func(c *LimitConfig) {
			c.UserCeiling, c.CeilingBurst, c.HashQueue, c.HashQueuePerAddr = 0, 0, 0, 0
		}, true},
		{"a ceiling rate without a burst is refused", func(c *LimitConfig) { c.CeilingBurst = 0 }, false},
		{"a ceiling burst without a rate is refused", func(c *LimitConfig) { c.UserCeiling = 0 }, false},
		{"a negative queue bound is refused", func(c *LimitConfig) { c.HashQueue = -1 }, false},
		{"a zero pair burst is refused", func(c *LimitConfig) { c.UserBurst = 0 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if bad := limits(tc.edit).validate(); (len(bad) == 0) != tc.ok {
				t.Errorf("%v", bad)
			}
		})
	}
}

func BenchmarkLoginLimiterReserve(b *testing.B) {
	l := NewLoginLimiter(DefaultLimits())
	for b.Loop() {
		if r, err := l.Reserve("alice", "10.0.0.1", testNow); err == nil {
			r.Cancel(testNow)
		}
	}
}
