package sqlstore

import (
	"context"
	"slices"
	"sync"
	"time"
)

// refreshTimes holds the sessions list's "last refreshed" times until they are written, a
// second's worth at a time. Written by each rotation, the time cost SQLite a quarter of its
// rotations per second: one more page in every commit. Written in batches, the cost
// vanishes; what it costs is that another process sees a refresh up to a second late, and
// a crash forgets the last second's (the sessions list shows the previous time).
type refreshTimes struct {
	mu      sync.Mutex
	pending map[string]int64 // session id → time of its last fresh rotation, ms
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

const (
	refreshFlushEvery = time.Second
	// maxPendingRefresh bounds the map: more sessions than this rotating within a second
	// (some ten times what the store manages) lose their newest times, not memory.
	maxPendingRefresh = 100_000
	// refreshFlushTimeout bounds one batch when nobody waits for it.
	refreshFlushTimeout = 10 * time.Second
)

// startRefreshTimes starts writing the times noted every refreshFlushEvery until Close.
func (s *Store) startRefreshTimes() {
	r := &refreshTimes{pending: make(map[string]int64), stop: make(chan struct{}), done: make(chan struct{})}
	s.refreshed = r
	go func() {
		defer close(r.done)
		tick := time.NewTicker(refreshFlushEvery)
		defer tick.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-tick.C:
				ctx, cancel := context.WithTimeout(context.Background(), refreshFlushTimeout)
				_ = s.flushRefreshed(ctx) // kept and tried again on the next tick
				cancel()
			}
		}
	}()
}

// stopRefreshTimes stops the writer and writes what is left.
func (s *Store) stopRefreshTimes() {
	r := s.refreshed
	if r == nil {
		return
	}
	r.once.Do(func() {
		close(r.stop)
		<-r.done
		ctx, cancel := context.WithTimeout(context.Background(), refreshFlushTimeout)
		defer cancel()
		_ = s.flushRefreshed(ctx)
	})
}

// noteRefreshed records a fresh rotation of session sid at ms.
func (r *refreshTimes) note(sid string, at int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.pending[sid]; ok {
		r.pending[sid] = max(old, at)
	} else if len(r.pending) < maxPendingRefresh {
		r.pending[sid] = at
	}
}

// take empties the map and returns what it held.
func (r *refreshTimes) take() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) == 0 {
		return nil
	}
	p := r.pending
	r.pending = make(map[string]int64, len(p))
	return p
}

// putBack returns times whose write failed, unless newer ones arrived meanwhile.
func (r *refreshTimes) putBack(p map[string]int64) {
	for sid, at := range p {
		r.note(sid, at)
	}
}

// flushRefreshed writes the times noted so far in one transaction. A time never moves
// back: replicas flush their own notes in any order. Ids go in sorted order, so that two
// replicas' batches lock shared rows in one order and cannot deadlock.
func (s *Store) flushRefreshed(ctx context.Context) error {
	r := s.refreshed
	if r == nil {
		return nil
	}
	p := r.take()
	if p == nil {
		return nil
	}
	sids := make([]string, 0, len(p))
	for sid := range p {
		sids = append(sids, sid)
	}
	slices.Sort(sids)
	err := s.tx(ctx, func(tx txq) error {
		for _, sid := range sids {
			tx.queue(ctx, "UPDATE sessions SET refreshed_at = ? WHERE id = ? AND (refreshed_at IS NULL OR refreshed_at < ?)",
				p[sid], sid, p[sid])
		}
		return nil
	})
	if err != nil {
		r.putBack(p)
	}
	return err
}
