package server

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestLoginLimiter(t *testing.T) {
	t.Parallel()
	now := testNow
	failUntilRefused := func(l *LoginLimiter, user, addr string) int {
		for n := 0; n < 1000; n++ {
			if ok, _ := l.Allow(user, addr, now); !ok {
				return n
			}
			l.Failed(user, addr, now)
		}
		return -1
	}

	t.Run("a user gets the burst of failures, then a refusal with a whole-second Retry-After", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(LimitConfig{})
		if n := failUntilRefused(l, "alice", "10.0.0.1"); n != 5 {
			t.Fatalf("refused after %d failures, want 5", n)
		}
		ok, wait := l.Allow("alice", "10.0.0.1", now)
		if ok || wait != 12*time.Second {
			t.Errorf("got %v, retry after %v; want refusal for 12s", ok, wait)
		}
		if ok, _ := l.Allow("alice", "10.0.0.2", now); ok {
			t.Error("another address lifted the user's limit")
		}
	})
	t.Run("the bucket refills over time at the configured rate", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(LimitConfig{})
		failUntilRefused(l, "alice", "10.0.0.1")
		for _, tc := range []struct {
			after time.Duration
			ok    bool
			wait  time.Duration
		}{
			{500 * time.Millisecond, false, 12 * time.Second},
			{11*time.Second + 500*time.Millisecond, false, time.Second},
			{12 * time.Second, true, 0},
		} {
			ok, wait := l.Allow("alice", "10.0.0.1", now.Add(tc.after))
			if ok != tc.ok || wait != tc.wait {
				t.Errorf("after %v: %v, %v; want %v, %v", tc.after, ok, wait, tc.ok, tc.wait)
			}
		}
		l.Failed("alice", "10.0.0.1", now.Add(12*time.Second))
		if ok, _ := l.Allow("alice", "10.0.0.1", now.Add(12*time.Second)); ok {
			t.Error("the refilled token was not consumed")
		}
	})
	t.Run("Allow alone consumes nothing", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(LimitConfig{})
		for range 100 {
			if ok, _ := l.Allow("alice", "10.0.0.1", now); !ok {
				t.Fatal("refused without a failure")
			}
		}
	})
	t.Run("failures admitted together all count", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(LimitConfig{})
		for range 7 { // seven concurrent attempts passed Allow before any failed
			l.Failed("alice", "10.0.0.1", now)
		}
		if ok, wait := l.Allow("alice", "10.0.0.1", now); ok || wait != 36*time.Second {
			t.Errorf("%v, %v; want refusal for 36s", ok, wait)
		}
	})
	t.Run("a success resets the user but not the address", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(LimitConfig{UserBurst: 2, AddrBurst: 3})
		failUntilRefused(l, "alice", "10.0.0.1")
		l.Succeeded("alice", "10.0.0.1", now)
		if ok, _ := l.Allow("alice", "10.0.0.1", now); !ok {
			t.Fatal("still refused after a success")
		}
		l.Failed("alice", "10.0.0.1", now)
		if ok, wait := l.Allow("mallory", "10.0.0.1", now); ok || wait != 3*time.Second {
			t.Errorf("address after 3 failures: %v, %v", ok, wait)
		}
	})
	t.Run("users and addresses are limited independently", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(LimitConfig{})
		failUntilRefused(l, "alice", "10.0.0.1")
		if ok, _ := l.Allow("bob", "10.0.0.1", now); !ok {
			t.Error("another user from the same address refused before the address limit")
		}
		// One address spraying many users hits the address limit of 20.
		for i := range 15 {
			l.Failed(fmt.Sprint("user", i), "10.0.0.1", now)
		}
		if ok, wait := l.Allow("carol", "10.0.0.1", now); ok || wait != 3*time.Second {
			t.Errorf("address after 20 failures: %v, %v", ok, wait)
		}
		if ok, _ := l.Allow("carol", "10.0.0.2", now); !ok {
			t.Error("another address refused")
		}
	})
	t.Run("a custom config is honoured", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(LimitConfig{PerUser: rate.Every(time.Minute), UserBurst: 1})
		l.Failed("alice", "10.0.0.1", now)
		if ok, wait := l.Allow("alice", "10.0.0.1", now); ok || wait != time.Minute {
			t.Errorf("%v, %v", ok, wait)
		}
	})
	t.Run("memory stays bounded by MaxKeys, dropping the least recently used", func(t *testing.T) {
		t.Parallel()
		l := NewLoginLimiter(LimitConfig{MaxKeys: 100, UserBurst: 1})
		l.Failed("victim", "10.0.0.1", now)
		for i := range 1000 {
			l.Failed(fmt.Sprint("user", i), fmt.Sprint("addr", i), now)
			if i%50 == 0 {
				l.Allow("victim", "10.0.0.1", now) // keeps the victim recently used
			}
		}
		if l.users.len() > 100 || l.addrs.len() > 100 {
			t.Errorf("%d users, %d addrs kept", l.users.len(), l.addrs.len())
		}
		if ok, _ := l.Allow("victim", "10.0.0.1", now); ok {
			t.Error("a recently used bucket was evicted")
		}
		if ok, _ := l.Allow("user0", "elsewhere", now); !ok {
			t.Error("the oldest bucket was not the one evicted")
		}
	})
}

func BenchmarkLoginLimiterAllow(b *testing.B) {
	l := NewLoginLimiter(LimitConfig{})
	l.Failed("alice", "10.0.0.1", testNow)
	for b.Loop() {
		l.Allow("alice", "10.0.0.1", testNow)
	}
}
