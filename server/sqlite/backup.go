package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
)

// ErrBackupExists is returned by Backup when dst exists and overwrite was not asked for.
var ErrBackupExists = errors.New("backup file exists")

// Backup writes a consistent copy of the database at src to the new file dst, mode 0600,
// while other processes — a running `authctl serve` — go on reading and writing it.
//
// Copying the file is not enough: in WAL mode the latest commits live in src-wal until a
// checkpoint, and a copy taken mid-write is torn. VACUUM INTO instead copies the database
// as one read transaction sees it, WAL included, into a compact new file; a writer is never
// blocked by it. The copy is written beside dst under a temporary name, checked
// (PRAGMA integrity_check) and synced before it takes dst's name, so dst is either
// absent or a whole backup, never half of one. Without overwrite an existing dst is
// refused (ErrBackupExists), also when it appears while the copy is written.
//
// Backup never creates src and never changes it: it refuses a missing file rather than
// copying an empty database.
func Backup(ctx context.Context, src, dst string, overwrite bool) error {
	srcInfo, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("database %s: %w", src, err)
	}
	if !srcInfo.Mode().IsRegular() {
		return fmt.Errorf("database %s is not a file", src)
	}
	if dstInfo, err := os.Stat(dst); err == nil {
		if os.SameFile(srcInfo, dstInfo) {
			return fmt.Errorf("%s is the database itself", dst)
		}
		if !overwrite {
			return fmt.Errorf("%s: %w", dst, ErrBackupExists)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}

	// os.CreateTemp makes the file 0600; VACUUM INTO accepts an existing empty file and
	// keeps its mode, so the copy of the signing keys and password hashes is never
	// readable by others, not even for a moment.
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create backup: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	placed := false
	defer func() {
		if !placed {
			os.Remove(tmpPath)
		}
	}()

	if err := vacuumInto(ctx, src, tmpPath); err != nil {
		return err
	}
	if err := checkCopy(ctx, tmpPath); err != nil {
		return err
	}
	if err := syncFile(tmpPath); err != nil {
		return err
	}
	if overwrite {
		err = os.Rename(tmpPath, dst)
	} else {
		// A hard link fails if dst exists, where a rename would silently replace it.
		if err = os.Link(tmpPath, dst); err == nil {
			os.Remove(tmpPath)
		} else if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", dst, ErrBackupExists)
		}
	}
	if err != nil {
		return fmt.Errorf("place backup: %w", err)
	}
	placed = true
	// Make the new name durable too; some systems cannot sync a directory, and the data
	// itself is already synced, so a failure here is not worth failing the backup.
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// fileDSN is the modernc DSN of the file at path with the given query (pragmas, mode).
func fileDSN(path, query string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + query
}

// vacuumInto copies src into the empty file dst. mode=rw, not rwc: a missing src is an
// error, not a new empty database. (query_only would forbid VACUUM INTO; the statement
// only reads src.)
func vacuumInto(ctx context.Context, src, dst string) error {
	db, err := sql.Open("sqlite", fileDSN(src, "mode=rw&_pragma=busy_timeout(10000)"))
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}

// checkCopy reads the whole copy back before it may replace anything.
func checkCopy(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", fileDSN(path, "mode=ro"))
	if err != nil {
		return fmt.Errorf("check backup: %w", err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&result); err != nil {
		return fmt.Errorf("check backup: %w", err)
	}
	if result != "ok" {
		return fmt.Errorf("check backup: integrity_check says %q", result)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("sync backup: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync backup: %w", err)
	}
	return nil
}
