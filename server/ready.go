package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Readiness: /readyz answers 200 only when this process could serve a login — its signing
// keys are loaded and the store takes a write — unlike /healthz, which only says that the
// process runs. A read would not do: a full disk, a read-only database or (SQLite) a file
// deleted under the server all still read.

const (
	// readyFor is how long a probe's result stands: orchestrators and load balancers may
	// probe every replica every second, and each probe is a write.
	readyFor = time.Second
	// readyEvery is how often Run probes by itself, so that a lost database file or a full
	// disk reaches the log even when nothing asks /readyz.
	readyEvery = 10 * time.Second
)

// probeStore is what the readiness check needs from the Store.
type probeStore interface {
	Probe(ctx context.Context, now time.Time) error
	CountUsers(ctx context.Context) (int, error)
}

// readiness runs the write probe at most once per readyFor, one probe at a time however
// many callers ask, and logs when the answer changes. Between write probes a read shows
// that the store still answers, so that a database that went away is seen at once: /readyz
// is open to anyone, and a write is what must not be repeated at will.
type readiness struct {
	store probeStore
	keys  *keySchedule
	now   func() time.Time
	log   *slog.Logger

	mu       sync.Mutex
	checked  time.Time // wall clock of the last probe's end; zero before the first
	err      error     // its result
	inflight chan struct{}
}

// Ready reports whether the Service can serve: signing keys loaded and a store that takes
// writes. Failures wrap ErrUnavailable. The store gets a write probe at most once a second
// and a read in between; a caller whose ctx ends first gets the ctx's error while the probe
// goes on for the others.
func (s *Service) Ready(ctx context.Context) error { return s.ready.check(ctx) }

func (r *readiness) check(ctx context.Context) error {
	r.mu.Lock()
	if !r.checked.IsZero() && time.Since(r.checked) < readyFor {
		err := r.err
		r.mu.Unlock()
		if err != nil {
			return err
		}
		if _, err := r.store.CountUsers(ctx); err != nil {
			err = unavailable("readiness read", err)
			if ctx.Err() == nil { // not merely this caller giving up
				r.record(err)
			}
			return err
		}
		return nil
	}
	wait := r.inflight
	if wait == nil {
		wait = make(chan struct{})
		r.inflight = wait
		// Detached from the first caller, whose going away must not fail everyone's
		// answer; the store's call deadline bounds it.
		go r.probe(context.WithoutCancel(ctx), wait)
	}
	r.mu.Unlock()
	select {
	case <-wait:
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.err
	case <-ctx.Done():
		return unavailable("readiness probe", ctx.Err())
	}
}

func (r *readiness) probe(ctx context.Context, done chan struct{}) {
	var err error
	if r.keys.current() == nil {
		err = unavailable("readiness", errors.New("no signing keys loaded"))
	} else if perr := r.store.Probe(ctx, r.now()); perr != nil {
		err = unavailable("write probe", perr)
	}
	r.record(err)
	r.mu.Lock()
	r.inflight = nil
	r.mu.Unlock()
	close(done)
}

// record keeps a result for readyFor and logs when it differs from the last one.
func (r *readiness) record(err error) {
	r.mu.Lock()
	was := r.err
	r.err, r.checked = err, time.Now()
	r.mu.Unlock()
	switch {
	case err != nil && was == nil:
		r.log.Error("not ready: the store does not answer or take writes, or no signing keys are loaded; /readyz answers 503", "err", err)
	case err == nil && was != nil:
		r.log.Info("ready again: the store answers and takes writes")
	}
}
