package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
)

// addDBFlag declares --db on a server-side command or group (serve, user, keys); the
// subcommands of a group inherit it, and read it with dbFlag.
func addDBFlag(cmd *cobra.Command, f *Factory) {
	cmd.PersistentFlags().String("db", f.Getenv("AUTHCTL_DB"), "SQLite file or postgres:// URL (env AUTHCTL_DB; default $XDG_DATA_HOME/authctl/authctl.db)")
}

// dbFlag is the --db that cmd declared or inherited.
func dbFlag(cmd *cobra.Command) string {
	db, _ := cmd.Flags().GetString("db")
	return db
}

// StoreOptions are what every command working on the server's store holds: user …, keys ….
type StoreOptions struct {
	OutputOptions
	DB        string                                      // --db
	OpenStore func(context.Context) (server.Store, error) // opens DB
}

func (o *StoreOptions) fill(f *Factory, cmd *cobra.Command, _ []string) error {
	db := dbFlag(cmd)
	o.DB = db
	o.OpenStore = func(ctx context.Context) (server.Store, error) { return openExistingStore(ctx, f.Getenv, db) }
	return nil
}

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

// listFromStore is a list command on the store (keys list, user list, user sessions): load
// reads the rows with the store open, which is closed before they are printed (printList).
func listFromStore[T any](ctx context.Context, o *StoreOptions, load func(server.Store) ([]T, error), table func(*OutputOptions, []T) error) error {
	var rows []T
	err := o.withStore(ctx, func(st server.Store) (err error) {
		rows, err = load(st)
		return err
	})
	if err != nil {
		return err
	}
	return printList(&o.OutputOptions, rows, table)
}

// withStore opens --db for fn and closes it after.
func (o *StoreOptions) withStore(ctx context.Context, fn func(server.Store) error) error {
	st, err := o.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st)
}

// openExistingStore is openStore for the commands that work on the store a server made
// (user …, keys …): an SQLite file that is not there is a mistyped --db, not a new store
// to create empty and report as such.
func openExistingStore(ctx context.Context, getenv func(string) string, db string) (server.Store, error) {
	if db == "" {
		var err error
		if db, err = defaultDB(getenv, runtime.GOOS); err != nil {
			return nil, err
		}
	}
	if !isPostgresURL(db) {
		if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s: check --db (or AUTHCTL_DB); to create one, start `authctl serve --db %s` once", db, db)
		}
	}
	return openStore(ctx, getenv, db)
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
