package server

import (
	"context"
	"slices"
	"sync"
	"time"
)

// RevocationWatcher is implemented by stores that push other processes' revocations as they
// happen (PostgreSQL LISTEN/NOTIFY). WatchRevocations blocks until ctx ends, reconnecting by
// itself; polling still runs beside it so that a missed notification heals.
type RevocationWatcher interface {
	WatchRevocations(ctx context.Context, fn func(sessionID string)) error
}

// revocationFeed is what the revocation set reads from the Store.
type revocationFeed interface {
	RevokedSince(ctx context.Context, since time.Time) ([]Revocation, error)
}

// revocationOverlap is how far back each poll re-reads, so that writers' clock skew cannot
// hide a revocation between two polls.
const revocationOverlap = 30 * time.Second

// revocationSet is the in-memory list of revoked sessions that access-token checks consult.
// Access tokens are verified offline, so this is what makes a logout on one replica refuse
// that session's tokens on every replica within a poll. A session is remembered for as long
// as any access token of it could be valid, then forgotten.
//
// The set holds at most max sessions (maxRevocations, about 10 MiB). At the default 5-minute
// TTL, filling it takes some 280 logouts a second, each after a password login, so the cap
// is a guard against hostile load and a long --access-ttl, not a working limit. When full,
// it forgets first what has aged out, then the sessions closest to being forgotten anyway
// (keeping the newest revocations): such a session's refresh token is still refused by the
// store, but its access tokens pass again until their exp, which is sooner than for any
// session still remembered. That bounded failure is chosen over unbounded memory; dropped
// counts it.
type revocationSet struct {
	feed      revocationFeed
	accessTTL time.Duration
	now       func() time.Time
	max       int

	mu      sync.RWMutex
	until   map[string]time.Time // sid → when it can be forgotten
	dropped int                  // sessions forgotten early because the set was full

	last time.Time // start of the last successful read; touched by load, then only by poll
}

func newRevocationSet(feed revocationFeed, accessTTL time.Duration, now func() time.Time) *revocationSet {
	return &revocationSet{feed: feed, accessTTL: accessTTL, now: now, max: maxRevocations, until: make(map[string]time.Time)}
}

// maxRevocations bounds the revocation set: about 100 bytes a session.
const maxRevocations = 100_000

// load reads every revocation that can still matter: those younger than an access token.
func (r *revocationSet) load(ctx context.Context) error {
	start := r.now()
	if err := r.read(ctx, start.Add(-r.accessTTL-revocationOverlap)); err != nil {
		return err
	}
	r.last = start
	return nil
}

// poll reads what other processes revoked since the last read and forgets what has aged out.
func (r *revocationSet) poll(ctx context.Context) error {
	start := r.now()
	if err := r.read(ctx, r.last.Add(-revocationOverlap)); err != nil {
		return err
	}
	r.last = start
	r.forget(start)
	return nil
}

func (r *revocationSet) read(ctx context.Context, since time.Time) error {
	revs, err := r.feed.RevokedSince(ctx, since)
	if err != nil {
		return err
	}
	for _, rv := range revs {
		r.mark(rv.SessionID, rv.RevokedAt)
	}
	return nil
}

// watch feeds pushed revocations into the set until ctx ends.
func (r *revocationSet) watch(ctx context.Context, w RevocationWatcher) error {
	return w.WatchRevocations(ctx, func(sid string) { r.mark(sid, r.now()) })
}

// mark remembers a revoked sid for as long as any access token of it could be valid.
func (r *revocationSet) mark(sid string, at time.Time) {
	until := at.Add(r.accessTTL + time.Minute)
	if now := r.now(); until.Before(now.Add(r.accessTTL)) {
		until = now.Add(r.accessTTL + time.Minute)
	}
	r.mu.Lock()
	old, known := r.until[sid]
	if !known && len(r.until) >= r.max && !r.makeRoom(until) {
		r.mu.Unlock()
		return
	}
	if until.After(old) {
		r.until[sid] = until
	}
	r.mu.Unlock()
}

// makeRoom frees places for a session that can be forgotten at newUntil, and reports
// whether it may be added; the caller holds mu. It drops a sixteenth of the set when it
// must drop live entries, so that a full set does not sort on every mark. A newcomer that
// would be forgotten before everything held is itself the one not kept.
func (r *revocationSet) makeRoom(newUntil time.Time) bool {
	now := r.now()
	for sid, until := range r.until {
		if now.After(until) {
			delete(r.until, sid)
		}
	}
	if len(r.until) < r.max {
		return true
	}
	type entry struct {
		sid   string
		until time.Time
	}
	all := make([]entry, 0, len(r.until))
	for sid, until := range r.until {
		all = append(all, entry{sid, until})
	}
	slices.SortFunc(all, func(a, b entry) int { return a.until.Compare(b.until) })
	if newUntil.Before(all[0].until) {
		r.dropped++
		return false
	}
	n := max(1, r.max/16)
	for _, e := range all[:n] {
		delete(r.until, e.sid)
	}
	r.dropped += n
	return true
}

func (r *revocationSet) forget(now time.Time) {
	r.mu.Lock()
	for sid, until := range r.until {
		if now.After(until) {
			delete(r.until, sid)
		}
	}
	r.mu.Unlock()
}

func (r *revocationSet) revoked(sid string) bool {
	r.mu.RLock()
	_, ok := r.until[sid]
	r.mu.RUnlock()
	return ok
}
