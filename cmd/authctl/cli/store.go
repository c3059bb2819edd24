package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
)

// defaultDB is $XDG_DATA_HOME/authctl/authctl.db, or the platform's user data dir.
func defaultDB(getenv func(string) string) (string, error) {
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "authctl", "authctl.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the data dir: %w (set --db or XDG_DATA_HOME)", err)
	}
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "authctl", "authctl.db"), nil
	case "windows":
		if d := getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "authctl", "authctl.db"), nil
		}
	}
	return filepath.Join(home, ".local", "share", "authctl", "authctl.db"), nil
}

// openStore opens --db: a postgres:// URL or an SQLite file path.
func openStore(ctx context.Context, f *Factory, db string) (server.Store, error) {
	if db == "" {
		var err error
		if db, err = defaultDB(f.Getenv); err != nil {
			return nil, err
		}
	}
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return openPostgres(ctx, db)
	}
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return st, nil
}
