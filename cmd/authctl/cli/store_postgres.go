package cli

import (
	"context"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/postgres"
)

func openPostgres(ctx context.Context, dsn string) (server.Store, error) {
	return postgres.Open(ctx, dsn)
}
