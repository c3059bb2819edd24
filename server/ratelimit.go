package server

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LimitConfig sets the failed-login limits. Zero fields take the defaults.
type LimitConfig struct {
	PerUser   rate.Limit // refill of a user's bucket; default one per 12 s
	UserBurst int        // default 5
	PerAddr   rate.Limit // refill of a client address's bucket; default one per 3 s
	AddrBurst int        // default 20
	MaxKeys   int        // buckets kept per kind; default 10,000 (least recently used go first)
}

// LoginLimiter counts failed logins per user and per client address. Only failures consume
// tokens; an empty bucket refuses attempts until it refills.
type LoginLimiter struct {
	users, addrs *buckets
}

// NewLoginLimiter returns a limiter for c.
func NewLoginLimiter(c LimitConfig) *LoginLimiter {
	if c.PerUser <= 0 {
		c.PerUser = rate.Every(12 * time.Second)
	}
	if c.UserBurst <= 0 {
		c.UserBurst = 5
	}
	if c.PerAddr <= 0 {
		c.PerAddr = rate.Every(3 * time.Second)
	}
	if c.AddrBurst <= 0 {
		c.AddrBurst = 20
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = 10_000
	}
	return &LoginLimiter{
		users: newBuckets(c.PerUser, c.UserBurst, c.MaxKeys),
		addrs: newBuckets(c.PerAddr, c.AddrBurst, c.MaxKeys),
	}
}

// Allow reports whether an attempt for (user, addr) may proceed now and, when not, how long
// until it may (whole seconds, at least one).
func (l *LoginLimiter) Allow(user, addr string, now time.Time) (bool, time.Duration) {
	wait := max(l.users.wait(user, now), l.addrs.wait(addr, now))
	if wait <= 0 {
		return true, 0
	}
	// Retry-After carries whole seconds; rounding down would invite a retry that fails.
	return false, max(time.Second, (wait + time.Second - 1).Truncate(time.Second))
}

// Failed records a failed attempt. Attempts admitted together all count: the bucket may go
// below zero, which lengthens the wait instead of forgiving the surplus.
func (l *LoginLimiter) Failed(user, addr string, now time.Time) {
	l.users.take(user, now)
	l.addrs.take(addr, now)
}

// Succeeded forgets the user's failures. The address keeps its count: one account the
// attacker owns must not launder a password spray over many others.
func (l *LoginLimiter) Succeeded(user, _ string, _ time.Time) {
	l.users.forget(user)
}

// buckets is a bounded LRU map of token buckets. Evicting a bucket forgets its failures;
// that is the price of bounded memory, and the address limit still holds a flood of names.
type buckets struct {
	limit rate.Limit
	burst int
	max   int

	mu    sync.Mutex
	order *list.List // front = most recently used; values are *bucket
	byKey map[string]*list.Element
}

type bucket struct {
	key string
	lim *rate.Limiter
}

func newBuckets(limit rate.Limit, burst, max int) *buckets {
	return &buckets{limit: limit, burst: burst, max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

func (b *buckets) get(key string, create bool) *rate.Limiter {
	if e, ok := b.byKey[key]; ok {
		b.order.MoveToFront(e)
		return e.Value.(*bucket).lim
	}
	if !create {
		return nil
	}
	if b.order.Len() >= b.max {
		old := b.order.Back()
		b.order.Remove(old)
		delete(b.byKey, old.Value.(*bucket).key)
	}
	lim := rate.NewLimiter(b.limit, b.burst)
	b.byKey[key] = b.order.PushFront(&bucket{key: key, lim: lim})
	return lim
}

// wait is how long until the key's bucket holds a whole token again.
func (b *buckets) wait(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	lim := b.get(key, false)
	if lim == nil {
		return 0
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(b.limit) * float64(time.Second))
}

func (b *buckets) take(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.get(key, true).ReserveN(now, 1)
}

func (b *buckets) forget(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.byKey[key]; ok {
		b.order.Remove(e)
		delete(b.byKey, key)
	}
}

func (b *buckets) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.order.Len()
}
