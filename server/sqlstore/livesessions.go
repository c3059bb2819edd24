package sqlstore

import (
	"context"
	"time"

	"github.com/authctl/authctl/server"
)

var _ server.LiveSessionCounter = (*Store)(nil)

// CountLiveSessions implements server.LiveSessionCounter for the live-sessions gauge of
// server/metrics. It walks the sessions_expires index rather than every row, and is sampled
// every few seconds, not per request, so its cost does not grow with traffic.
func (s *Store) CountLiveSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.read.queryRow(ctx, "SELECT COUNT(*) FROM sessions WHERE expires_at > ? AND revoked_at IS NULL", ms(now)).Scan(&n)
	return n, err
}
