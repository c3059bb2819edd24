package cli

import (
	"context"
	"errors"

	"github.com/authctl/authctl/server"
)

func openPostgres(ctx context.Context, dsn string) (server.Store, error) {
	return nil, errors.New("PostgreSQL support is not built yet")
}
