package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/server/sqlite"
)

// BackupOptions are `authctl backup`'s.
type BackupOptions struct {
	OutputOptions
	DB    string // --db, the SQLite file (defaultDB when not given)
	File  string // where the copy goes
	Force bool   // --force: replace File if it exists
}

func (o *BackupOptions) fill(f *Factory, cmd *cobra.Command, args []string) error {
	o.File, o.DB = args[0], dbFlag(cmd)
	if isPostgresURL(o.DB) {
		return usageError(`backup copies the embedded SQLite store; for PostgreSQL use pg_dump and pg_restore (README "Backup and restore")`)
	}
	if o.DB == "" {
		db, err := defaultDB(f.Getenv, runtime.GOOS)
		if err != nil {
			return err
		}
		o.DB = db
	}
	return nil
}

// NewCmdBackup is `authctl backup FILE`.
func NewCmdBackup(f *Factory, runF func(context.Context, *BackupOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Copy the SQLite store to FILE, also while the server runs",
		Long: `Write a consistent copy of the SQLite store (--db) to FILE, mode 0600: users,
sessions, refresh tokens and the signing keys kept in the store. The server may keep
running; its latest writes, still in the -wal file, are included. FILE must not exist
unless --force is given.

To restore: stop the server, remove DB-wal and DB-shm if present, put the copy in
place of DB (keeping its owner, mode 0600), start the server. Sessions and keys are as
they were at the time of the backup.

For a PostgreSQL store use pg_dump and pg_restore instead (README "Backup and restore").`,
		Example: `  authctl backup --db /var/lib/authctl/authctl.db /srv/backup/authctl-$(date +%F).db`,
		Args:    cobra.ExactArgs(1),
	}
	return newCmd(f, cmd, runF, backupRun, func(cmd *cobra.Command, o *BackupOptions) {
		addDBFlag(cmd, f)
		cmd.Flags().BoolVar(&o.Force, "force", false, "replace FILE if it exists")
	})
}

func backupRun(ctx context.Context, opts *BackupOptions) error {
	err := sqlite.Backup(ctx, opts.DB, opts.File, opts.Force)
	switch {
	case errors.Is(err, sqlite.ErrBackupExists):
		return fmt.Errorf("%s exists; use --force to replace it", opts.File)
	case errors.Is(err, os.ErrNotExist) && !fileExists(opts.DB):
		return fmt.Errorf("no database at %s (use --db)", opts.DB)
	case err != nil:
		return fmt.Errorf("backup: %w", err)
	}
	size := ""
	if fi, err := os.Stat(opts.File); err == nil {
		size = fmt.Sprintf(", %d bytes", fi.Size())
	}
	fmt.Fprintf(opts.IO.ErrOut, "authctl: backed up %s to %s (mode 0600%s)\n", opts.DB, opts.File, size)
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
