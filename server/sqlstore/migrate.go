package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
)

// Every dialect's schema, one file per version. Released files never change: a database
// records how many it has had and runs only the ones after.
//
//go:embed migrations
var migrationFiles embed.FS

// Advisory lock keys (Dialect.AdvisoryLock) shared by every process on one database.
const (
	migrateLock = 0x617574686374 // "authct": one process migrates at a time
	keysLock    = 0x617574686b79 // "authky": EnsureSigningKey and RotateSigningKey
)

// Migrations returns the dialect's migrations in order: element i takes a database from
// version i to i+1.
func Migrations(dialect string) ([]string, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("no migrations for dialect %q: %w", dialect, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names) // NNNN_ prefixes: the order of the names is the order of the versions
	out := make([]string, len(names))
	for i, name := range names {
		var v int
		if _, err := fmt.Sscanf(name, "%04d_", &v); err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s/%s: want version %d first in its name", dialect, name, i+1)
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out[i] = string(b)
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
