package server

import (
	"context"
	"log/slog"
	"time"
)

// Pruning: sessions that can no longer matter are deleted with their refresh tokens, so
// that the store holds what live sessions need and not the history of every login. The
// other half of bounded storage is in the store's Rotate, which keeps a family's spent
// tokens to the newest SpentTokensKept.
//
// A session can go once it has ended — revoked, or past its absolute lifetime — and no
// access token of it can still be valid: it mints none after it ended, and the last one
// minted before lives AccessTTL. Until then its row must stay, since every replica's
// revocation set, including one starting now, learns of the revocation from it.

const (
	// pruneInterval is how often the pruner runs: often enough that a burst of logins and
	// logouts is gone minutes after it ended.
	pruneInterval = time.Minute
	// pruneMargin is how long an ended session outlives its last access token: for other
	// replicas' polls (at most MaxPollInterval apart, re-reading revocationOverlap) and
	// for clock skew between the replicas that write revoked_at.
	pruneMargin = MaxPollInterval + revocationOverlap + 30*time.Second
	// pruneBatch sessions go per transaction, so that a backlog never holds the database's
	// write lock long; at most pruneRounds batches a run, so that one run ends in bounded
	// time and a larger backlog (after an upgrade or an outage) takes a few runs.
	pruneBatch  = 500
	pruneRounds = 20
)

// pruneStore is what the pruner needs from the Store.
type pruneStore interface {
	PruneSessions(ctx context.Context, endedBefore time.Time, limit int) (int64, error)
}

// pruner deletes ended sessions; Service.Run calls it every pruneInterval.
type pruner struct {
	store     pruneStore
	accessTTL time.Duration
	now       func() time.Time
	log       *slog.Logger
}

// run deletes what ended before now − AccessTTL − pruneMargin, batch by batch, and logs
// how many sessions went.
func (p *pruner) run(ctx context.Context) {
	cut := p.now().Add(-p.accessTTL - pruneMargin)
	var total int64
	for range pruneRounds {
		n, err := p.store.PruneSessions(ctx, cut, pruneBatch)
		total += n
		if err != nil {
			p.log.Warn("pruning ended sessions failed", "deleted", total, "err", err)
			return
		}
		if n < pruneBatch {
			break
		}
	}
	if total > 0 {
		p.log.Info("pruned ended sessions", "count", total)
	}
}
