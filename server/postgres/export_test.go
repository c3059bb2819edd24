package postgres

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authctl/authctl/server/sqlstore"
)

// Pool exposes the store's pool to the external tests, which check its connections' settings.
func Pool(s *Store) *pgxpool.Pool { return s.pool }

// DB is the sqlstore.DB the store runs on pool, for tests of its transactions.
func DB(pool *pgxpool.Pool) sqlstore.DB { return pgDB{pool} }
