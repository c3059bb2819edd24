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
// (keeping the newest revocations), and fails closed: from then on it refuses every access
// token issued at or before the newest revocation it forgot (floor), since such a token may
// be that session's. Clients holding one refresh (the store knows every revocation) and get
// a token issued after the floor; the floor lapses once the tokens it guards have expired.
// So a full set costs honest clients a refresh, never lets a revoked session's token pass,
// and memory stays bounded; dropped counts the sessions forgotten early.
type revocationSet struct {
	feed      revocationFeed
	accessTTL time.Duration
	now       func() time.Time
	max       int

	mu      sync.RWMutex
	until   map[string]time.Time // sid → when it can be forgotten
	dropped int                  // sessions forgotten early because the set was full
	floor   time.Time            // tokens issued at or before it are refused; zero: none

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
		r.raiseFloor(newUntil)
		return false
	}
	n := max(1, r.max/16)
	for _, e := range all[:n] {
		delete(r.until, e.sid)
	}
	r.dropped += n
	r.raiseFloor(all[n-1].until) // the latest of those forgotten
	return true
}

// raiseFloor refuses from now on every token that a session forgotten early, remembered
// until until, may hold: mark sets until an access TTL and a minute after the revocation
// (or after now, whichever is later), and no token of a session is issued after it was
// revoked. The caller holds mu.
func (r *revocationSet) raiseFloor(until time.Time) {
	if at := until.Add(-r.accessTTL - time.Minute); at.After(r.floor) {
		r.floor = at
	}
}

func (r *revocationSet) forget(now time.Time) {
	r.mu.Lock()
	for sid, until := range r.until {
		if now.After(until) {
			delete(r.until, sid)
		}
	}
	if !r.floor.IsZero() && now.After(r.floor.Add(r.accessTTL+time.Minute)) {
		r.floor = time.Time{} // every token issued before it has expired
	}
	r.mu.Unlock()
}

// refuses says whether an access token of session sid issued at issuedAt (its iat, whole
// seconds; zero when absent) must be refused: its session is revoked, or the set was full
// and it was issued no later than a revocation the set had to forget.
func (r *revocationSet) refuses(sid string, issuedAt time.Time) bool {
	r.mu.RLock()
	_, ok := r.until[sid]
	floor := r.floor
	r.mu.RUnlock()
	return ok || (!floor.IsZero() && !issuedAt.After(floor))
}

func (r *revocationSet) revoked(sid string) bool {
	r.mu.RLock()
	_, ok := r.until[sid]
	r.mu.RUnlock()
	return ok
}
