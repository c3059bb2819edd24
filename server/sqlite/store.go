// Package sqlite is the embedded server.Store: one SQLite file in WAL mode, written through a
// single connection so that transactions serialise in-process instead of failing busy. The
// queries and the rotation live in server/sqlstore; this package opens the file and says how
// SQLite differs.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlstore"
)

// Store is a server.Store on one SQLite file.
type Store struct {
	*sqlstore.Store
	file *fileWatch
}

var _ server.Store = (*Store)(nil)

// dialect is SQLite's: the writer connection's BEGIN IMMEDIATE holds the database's write
// lock, so nothing else needs locking; one process per file, so nobody to notify (other
// processes on the same file poll RevokedSince); the schema version in PRAGMA user_version.
var dialect = sqlstore.Dialect{
	Name:         "sqlite",
	Unique:       isUnique,
	Retryable:    isBusy,
	VersionRead:  "PRAGMA user_version",
	VersionWrite: "PRAGMA user_version = %d",
}

// Options are Open's settings.
type Options struct {
	// CallTimeout bounds each store call, and is also SQLite's busy timeout, so that a
	// write waiting for another process's lock gives up within it; zero is
	// sqlstore.DefaultCallTimeout.
	CallTimeout time.Duration
}

// Open opens (creating when missing) the database at path and brings its schema up to date.
// The directory is created 0700 and the files are kept 0600: they hold signing keys.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenOptions(ctx, path, Options{})
}

// OpenOptions is Open with settings.
//
// Only Open creates the file. The connections open it with mode=rw, so that one opened
// later, when the file was deleted meanwhile, fails instead of creating an empty database
// under the same name; and the Store remembers which file it opened, refusing writes (and
// failing Probe) once the path names another file or none (fileWatch).
func OpenOptions(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = sqlstore.DefaultCallTimeout
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	opened, err := f.Stat()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		fmt.Sprintf("?mode=rw&_pragma=busy_timeout(%d)", opts.CallTimeout.Milliseconds()) +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	db := sqlstore.SQLDB(w, r)
	watch := &fileWatch{path: path, opened: opened}
	st, err := sqlstore.New(ctx, db, dialect, sqlstore.Options{CallTimeout: opts.CallTimeout, WriteGuard: watch.guard})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Chmod(path+suffix, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			st.Close()
			return nil, fmt.Errorf("chmod %s: %w", path+suffix, err)
		}
	}
	return &Store{Store: st, file: watch}, nil
}

// Probe implements server.Store: the file at the path must still be the one opened, and
// take a write.
func (s *Store) Probe(ctx context.Context, now time.Time) error {
	if err := s.file.check(); err != nil {
		return err
	}
	return s.Store.Probe(ctx, now)
}

func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

func isUnique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}
