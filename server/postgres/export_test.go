package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// Pool exposes the store's pool to the external tests, which check its connections' settings.
func Pool(s *Store) *pgxpool.Pool { return s.pool }
