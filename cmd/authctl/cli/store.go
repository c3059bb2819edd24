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

// defaultDB is where the embedded store lives when --db is not given:
// $XDG_DATA_HOME/authctl/authctl.db when set, else the platform's user data dir.
func defaultDB(getenv func(string) string, goos string) (string, error) {
	if d := getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "authctl", "authctl.db"), nil
	}
	if goos == "windows" {
		if d := getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "authctl", "authctl.db"), nil
		}
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("find the user data dir: %w (use --db)", err)
		}
	}
	switch goos {
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "authctl", "authctl.db"), nil
	case "windows":
		return filepath.Join(home, "AppData", "Local", "authctl", "authctl.db"), nil
	}
	return filepath.Join(home, ".local", "share", "authctl", "authctl.db"), nil
}

// isPostgresURL tells a PostgreSQL connection URL from an SQLite file path.
func isPostgresURL(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// openStore opens --db: a postgres:// URL or an SQLite file path (default: defaultDB).
func openStore(ctx context.Context, getenv func(string) string, db string) (server.Store, error) {
	if db == "" {
		var err error
		if db, err = defaultDB(getenv, runtime.GOOS); err != nil {
			return nil, err
		}
	}
	if isPostgresURL(db) {
		return openPostgres(ctx, db)
	}
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", db, err)
	}
	return st, nil
}
