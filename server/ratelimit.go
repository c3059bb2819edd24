package server

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LimitConfig sets the login limits (README "Security notes"). Start from DefaultLimits.
//
// Three token buckets hold failures: per (user, client address), the strict one; per client
// address over all users, against a password spray; and per user over all addresses, a
// looser ceiling against guessing from many addresses. The strict limit is keyed by the
// address too so that failures from addresses a user does not use cannot lock them out; the
// ceiling is set so that no single address can exhaust it.
type LimitConfig struct {
	PerUser   rate.Limit // refill of a (user, client address) bucket
	UserBurst int        // failures it holds
	PerAddr   rate.Limit // refill of a client address's bucket
	AddrBurst int        // failures it holds
	// UserCeiling and CeilingBurst are a user's bucket over all addresses. Both zero: none.
	UserCeiling  rate.Limit
	CeilingBurst int
	MaxKeys      int // buckets kept per kind (least recently used go first)
	// HashQueuePerAddr is how many logins of one client address may wait for a password
	// hash; beyond it they get 429 at once. When set, one address also runs at most half the
	// hashing slots. Zero: neither bound.
	HashQueuePerAddr int
	// HashQueue is how many logins may wait for a password hash in all; beyond it they get
	// 503 at once. Zero: no bound.
	HashQueue int
}

// DefaultLimits are the documented login limits:
//   - (user, address): 5 failures, then one every 12 s (300 an hour);
//   - address: 20 failures over all users, then one every 3 s;
//   - user: 100 failures over all addresses, then one every 6 s (600 an hour), twice what
//     one address may try for one user, so only several addresses together reach it;
//   - 10,000 buckets of each kind;
//   - 8 logins of one address and 64 in all waiting for a hash.
func DefaultLimits() LimitConfig {
	return LimitConfig{
		PerUser:          rate.Every(12 * time.Second),
		UserBurst:        5,
		PerAddr:          rate.Every(3 * time.Second),
		AddrBurst:        20,
		UserCeiling:      rate.Every(6 * time.Second),
		CeilingBurst:     100,
		MaxKeys:          10_000,
		HashQueuePerAddr: 8,
		HashQueue:        64,
	}
}

// validate lists what is wrong with c, for Config.Validate.
func (c LimitConfig) validate() []string {
	var bad []string
	if c.PerUser <= 0 || c.PerAddr <= 0 {
		bad = append(bad, "login limit rates must be positive")
	}
	if c.UserBurst < 1 || c.AddrBurst < 1 {
		bad = append(bad, "login limit bursts must be at least 1")
	}
	if c.UserCeiling < 0 || c.CeilingBurst < 0 || (c.UserCeiling > 0) != (c.CeilingBurst > 0) {
		bad = append(bad, "the per-user login ceiling needs both a positive rate and burst, or neither")
	}
	if c.MaxKeys < 1 {
		bad = append(bad, "login limiter must keep at least one bucket")
	}
	if c.HashQueuePerAddr < 0 || c.HashQueue < 0 {
		bad = append(bad, "login hash queue bounds must not be negative")
	}
	return bad
}

// queue is the hasher's waiting bound for logins.
func (c LimitConfig) queue() queueLimits {
	return queueLimits{perClient: c.HashQueuePerAddr, total: c.HashQueue}
}

// LoginLimiter counts failed logins in token buckets (see LimitConfig). A login reserves a
// failure in every bucket that applies before its password is hashed, and gives it back if
// the password was right or never checked; so however many guesses arrive at once, no more
// are evaluated than the buckets hold.
type LoginLimiter struct {
	cfg LimitConfig

	mu                  sync.Mutex
	pairs, addrs, users *buckets // users is nil without a ceiling
}

// NewLoginLimiter returns a limiter for c, which must be valid (see DefaultLimits).
func NewLoginLimiter(c LimitConfig) *LoginLimiter {
	l := &LoginLimiter{
		cfg:   c,
		pairs: newBuckets(c.PerUser, c.UserBurst, c.MaxKeys),
		addrs: newBuckets(c.PerAddr, c.AddrBurst, c.MaxKeys),
	}
	if c.CeilingBurst > 0 {
		l.users = newBuckets(c.UserCeiling, c.CeilingBurst, c.MaxKeys)
	}
	return l
}

// pairKey keys the strict bucket. A username may hold any byte, a client address is an IP
// and never holds NUL, so putting the address first keeps distinct pairs apart.
func pairKey(user, addr string) string { return addr + "\x00" + user }

// Reservation is one failure slot taken from each bucket of a login attempt. Exactly one of
// Failed, Succeeded and Cancel settles it.
type Reservation struct {
	l          *LoginLimiter
	user, addr string
}

// Reserve takes a failure slot for (user, addr) from every bucket that applies, or takes
// none and returns a *RateLimitError saying how long until all of them have one again
// (whole seconds, at least one).
func (l *LoginLimiter) Reserve(user, addr string, now time.Time) (*Reservation, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	wait := max(l.pairs.wait(pairKey(user, addr), now), l.addrs.wait(addr, now))
	if l.users != nil {
		wait = max(wait, l.users.wait(user, now))
	}
	if wait > 0 {
		// Retry-After carries whole seconds; rounding down would invite a retry that fails.
		return nil, &RateLimitError{RetryAfter: max(time.Second, (wait + time.Second - 1).Truncate(time.Second))}
	}
	l.pairs.take(pairKey(user, addr), now)
	l.addrs.take(addr, now)
	if l.users != nil {
		l.users.take(user, now)
	}
	return &Reservation{l: l, user: user, addr: addr}, nil
}

// Failed keeps the slots: the attempt was a failure.
func (r *Reservation) Failed() {}

// Succeeded gives the slots back and forgets the (user, address) failures. The address and
// the user's ceiling keep their earlier failures: an account the attacker owns must not
// launder a spray over many others, and one success must not reset a distributed guess.
func (r *Reservation) Succeeded(now time.Time) {
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pairs.forget(pairKey(r.user, r.addr))
	l.addrs.refund(r.addr, now)
	if l.users != nil {
		l.users.refund(r.user, now)
	}
}

// Cancel gives the slots back: no password was checked (store down, queue full, client gone).
func (r *Reservation) Cancel(now time.Time) {
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pairs.refund(pairKey(r.user, r.addr), now)
	l.addrs.refund(r.addr, now)
	if l.users != nil {
		l.users.refund(r.user, now)
	}
}

// buckets is a bounded LRU map of token buckets; the LoginLimiter's mutex guards it.
// Evicting a bucket forgets its failures: that is the price of bounded memory, and an
// attacker who churns keys to evict their own bucket pays for every key in the address
// limit. A missing bucket is a full one, so looking one up never creates it.
type buckets struct {
	rate  float64 // tokens per second
	burst float64
	max   int

	order *list.List // front = most recently used; values are *bucket
	byKey map[string]*list.Element
}

type bucket struct {
	key    string
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

func newBuckets(limit rate.Limit, burst, max int) *buckets {
	return &buckets{rate: float64(limit), burst: float64(burst), max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

// level brings b up to now and returns its tokens. A now before b.at (callers read the
// clock before taking the lock) refills nothing.
func (bs *buckets) level(b *bucket, now time.Time) float64 {
	if now.After(b.at) {
		b.tokens = min(bs.burst, b.tokens+now.Sub(b.at).Seconds()*bs.rate)
		b.at = now
	}
	return b.tokens
}

func (bs *buckets) lookup(key string) *bucket {
	e, ok := bs.byKey[key]
	if !ok {
		return nil
	}
	bs.order.MoveToFront(e)
	return e.Value.(*bucket)
}

// wait is how long until the key's bucket holds a whole token.
func (bs *buckets) wait(key string, now time.Time) time.Duration {
	b := bs.lookup(key)
	if b == nil {
		return 0
	}
	t := bs.level(b, now)
	if t >= 1 {
		return 0
	}
	return time.Duration((1 - t) / bs.rate * float64(time.Second))
}

func (bs *buckets) take(key string, now time.Time) {
	b := bs.lookup(key)
	if b == nil {
		if bs.order.Len() >= bs.max {
			old := bs.order.Back()
			bs.order.Remove(old)
			delete(bs.byKey, old.Value.(*bucket).key)
		}
		b = &bucket{key: key, tokens: bs.burst, at: now}
		bs.byKey[key] = bs.order.PushFront(b)
	}
	bs.level(b, now)
	b.tokens--
}

// refund gives a token back. A bucket evicted meanwhile is full already.
func (bs *buckets) refund(key string, now time.Time) {
	if b := bs.lookup(key); b != nil {
		b.tokens = min(bs.burst, bs.level(b, now)+1)
	}
}

func (bs *buckets) forget(key string) {
	if e, ok := bs.byKey[key]; ok {
		bs.order.Remove(e)
		delete(bs.byKey, key)
	}
}

func (bs *buckets) len() int { return bs.order.Len() }
