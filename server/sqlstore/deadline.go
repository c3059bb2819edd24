package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authctl/authctl/server"
)

// DefaultCallTimeout bounds every Store call unless Options say otherwise: long enough for
// a busy database under load, short enough that a request answers 503 within a few
// seconds when the database stalls, rather than hanging until the client gives up.
const DefaultCallTimeout = 3 * time.Second

// Options are a Store's settings beyond its dialect.
type Options struct {
	// CallTimeout bounds each call of a server.Store method (a read, or a whole write
	// transaction with its retries); zero is DefaultCallTimeout. A call that runs out of it
	// fails with server.ErrUnavailable.
	CallTimeout time.Duration
	// WriteGuard, when set, runs before every write transaction (not before the
	// migration); an error it returns is the write's. The SQLite store uses it to stop
	// writing into a file that was deleted or replaced under it.
	WriteGuard func() error
}

// CallTimeout is the deadline each call runs under.
func (s *Store) CallTimeout() time.Duration { return s.opts.CallTimeout }

// bound gives ctx the call deadline (a sooner one of the caller's stays). A Store built
// without New (a unit test's) has none.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.opts.CallTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.opts.CallTimeout)
}

// outcomes are the errors that are answers, not failures: a deadline that passed as one
// arrived does not turn it into an outage.
var outcomes = []error{server.ErrNotFound, server.ErrUserExists, server.ErrSessionRevoked,
	server.ErrSessionExpired, server.ErrReuseDetected}

// late makes a call that failed because its deadline passed a server.ErrUnavailable, naming
// the deadline. Drivers report the deadline in their own words (SQLite: "interrupted"), so
// the context decides, not the error. A caller that went away (context.Canceled) is left
// as it is: that is not the database's fault.
func (s *Store) late(ctx context.Context, err error) error {
	if err == nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, server.ErrUnavailable) {
		return err
	}
	for _, o := range outcomes {
		if errors.Is(err, o) {
			return err
		}
	}
	return fmt.Errorf("%w: the database did not answer within the call deadline (%s): %w",
		server.ErrUnavailable, s.opts.CallTimeout, err)
}
