package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"text/template"
)

// The schema's migrations. A file under shared/ is written once for both dialects and
// filled in with the dialect's schemaWords; what differs beyond column types is a file of
// the dialect's own. Released migrations never change: a database records how many it has
// had and runs only the ones after (TestMigrationsAreUnchanged pins their text).
//
//go:embed migrations
var migrationFiles embed.FS

// migrationOrder is each dialect's migrations in order: element i takes a database from
// version i to i+1.
var migrationOrder = map[string][]string{
	"sqlite": {
		"shared/init.sql",
		"sqlite/token_chains.sql",
		"shared/sessions_and_audit.sql",
		"sqlite/bounded_storage.sql",
	},
	"postgres": {
		"shared/init.sql",
		"postgres/rotate_function.sql",
		"postgres/rotation_in_go.sql",
		"shared/sessions_and_audit.sql",
		"postgres/bounded_storage.sql",
	},
}

// schemaWords are a dialect's words for the shared migrations' column types.
type schemaWords struct {
	Int          string // a 64-bit integer (times are Unix milliseconds)
	Blob         string // bytes (token hashes, keys)
	Bool         string
	Serial       string // an integer primary key the database numbers
	WithoutRowID string // after a table's closing parenthesis: no hidden row id (SQLite)
}

var dialectWords = map[string]schemaWords{
	"sqlite": {Int: "INTEGER", Blob: "BLOB", Bool: "INTEGER",
		Serial: "INTEGER PRIMARY KEY AUTOINCREMENT", WithoutRowID: " WITHOUT ROWID"},
	"postgres": {Int: "BIGINT", Blob: "BYTEA", Bool: "BOOLEAN", Serial: "BIGSERIAL PRIMARY KEY"},
}

// Advisory lock keys (Dialect.AdvisoryLock) shared by every process on one database.
const (
	migrateLock = 0x617574686374 // "authct": one process migrates at a time
	keysLock    = 0x617574686b79 // "authky": EnsureSigningKey and RotateSigningKey
)

// Migrations returns the dialect's migrations in order, as the database runs them: element
// i takes a database from version i to i+1.
func Migrations(dialect string) ([]string, error) {
	names, ok := migrationOrder[dialect]
	if !ok {
		return nil, fmt.Errorf("no migrations for dialect %q", dialect)
	}
	out := make([]string, len(names))
	for i, name := range names {
		b, err := fs.ReadFile(migrationFiles, path.Join("migrations", name))
		if err != nil {
			return nil, err
		}
		if path.Dir(name) != "shared" {
			out[i] = string(b)
			continue
		}
		t, err := template.New(name).Parse(string(b))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		var sql strings.Builder
		if err := t.Execute(&sql, dialectWords[dialect]); err != nil {
			return nil, fmt.Errorf("migration %s for %s: %w", name, dialect, err)
		}
		out[i] = sql.String()
	}
	return out, nil
}

// migrate brings the schema up to date in one transaction, under the advisory lock so that
// replicas starting together migrate one after the other.
func (s *Store) migrate(ctx context.Context) error {
	files, err := Migrations(s.d.Name)
	if err != nil {
		return err
	}
	return s.retry(ctx, func(tx txq) error {
		if s.d.Unbounded != "" {
			// Waiting for another replica's migration, or running a long one, is not a
			// statement that hangs: lift the connection's statement and lock timeouts.
			if _, err := tx.exec(ctx, s.d.Unbounded); err != nil {
				return err
			}
		}
		if s.d.AdvisoryLock != "" {
			if _, err := tx.exec(ctx, s.d.AdvisoryLock, int64(migrateLock)); err != nil {
				return err
			}
		}
		if s.d.VersionInit != "" {
			if _, err := tx.exec(ctx, s.d.VersionInit); err != nil {
				return err
			}
		}
		var v int
		if err := tx.queryRow(ctx, s.d.VersionRead).Scan(&v); err != nil {
			return err
		}
		if v > len(files) {
			return fmt.Errorf("database schema version %d is newer than this authctl (%d)", v, len(files))
		}
		for ; v < len(files); v++ {
			if _, err := tx.exec(ctx, files[v]); err != nil {
				return fmt.Errorf("schema version %d: %w", v+1, err)
			}
		}
		_, err := tx.exec(ctx, fmt.Sprintf(s.d.VersionWrite, len(files)))
		return err
	})
}

// SchemaVersion reports the schema version recorded in the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.read.queryRow(ctx, s.d.VersionRead).Scan(&v)
	return v, err
}
