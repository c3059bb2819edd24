package sqlstore

import (
	"context"
	"time"

	"github.com/authctl/authctl/server"
)

// Probe implements server.Store: one upsert of a one-row table, committed. It fails where
// every write would (a full disk, a read-only or stalled database), which a read cannot show.
func (s *Store) Probe(ctx context.Context, now time.Time) error {
	return s.tx(ctx, func(tx txq) error {
		tx.queue(ctx, "INSERT INTO probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at", ms(now))
		return nil
	})
}

// SetServerSetting implements server.Store.
func (s *Store) SetServerSetting(ctx context.Context, name, value string, now time.Time) error {
	return s.tx(ctx, func(tx txq) error {
		tx.queue(ctx, `INSERT INTO server_settings (name, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, ms(now))
		return nil
	})
}

// ServerSetting implements server.Store.
func (s *Store) ServerSetting(ctx context.Context, name string) (server.ServerSetting, error) {
	var v server.ServerSetting
	var at int64
	if err := s.read.queryRow(ctx, "SELECT name, value, updated_at FROM server_settings WHERE name = ?", name).Scan(&v.Name, &v.Value, &at); err != nil {
		return server.ServerSetting{}, err
	}
	v.UpdatedAt = fromMS(at)
	return v, nil
}
