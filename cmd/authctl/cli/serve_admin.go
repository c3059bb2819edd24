package cli

// The first start of `authctl serve` on an empty store: the user admin, and where its
// generated password goes (README "Server").

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/term"

	"github.com/authctl/authctl/server"
)

// adminPasswordFile is where a generated admin password goes when no terminal can show it:
// beside the SQLite file, or in the default data directory for PostgreSQL.
func adminPasswordFile(getenv func(string) string, db string) (string, error) {
	if db == "" || isPostgresURL(db) {
		def, err := defaultDB(getenv, runtime.GOOS)
		if err != nil {
			return "", err
		}
		if db == "" {
			return def + ".admin-password", nil
		}
		return filepath.Join(filepath.Dir(def), "admin-password"), nil
	}
	return db + ".admin-password", nil
}

// stderrIsTerminal reports whether w is a terminal, where a person (not a log collector)
// reads what is written.
func stderrIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ensureAdmin creates the user admin on an empty store. A password from
// AUTHCTL_ADMIN_PASSWORD is only acknowledged. A generated one is shown once on the terminal
// when stderr is one and the log is text; otherwise — a log collector, a JSON stream — it is
// written to a 0600 file whose path is logged, and never into the log itself. The file is
// written before the user is created, so a failure to write it leaves no admin whose
// password nobody knows.
func ensureAdmin(ctx context.Context, opts *ServeOptions, st server.Store, log *slog.Logger) error {
	n, err := st.CountUsers(ctx)
	if err != nil {
		return fmt.Errorf("first start: count users: %w", err)
	}
	if n > 0 {
		return nil
	}
	password := opts.Getenv("AUTHCTL_ADMIN_PASSWORD")
	generated := password == ""
	toTerminal := opts.LogFormat == "text" && stderrIsTerminal(opts.IO.ErrOut)
	var file string
	if generated {
		password = randomText(18)
		if !toTerminal {
			if file, err = adminPasswordFile(opts.Getenv, opts.DB); err != nil {
				return fmt.Errorf("first start: %w", err)
			}
			if err := replacePrivateFile(file, password+"\n"); err != nil {
				return fmt.Errorf("first start: write the generated admin password: %w", err)
			}
		}
	}
	// EnsureAdmin says on its writer whether it created the user; what it says is not passed
	// on, since serve speaks in log lines.
	var said bytes.Buffer
	hasher := server.NewPasswordHasher(server.DefaultArgon2, 0)
	err = server.EnsureAdmin(ctx, st, hasher, password, &said, time.Now())
	created := err == nil && said.Len() > 0
	if !created && file != "" {
		os.Remove(file) // nobody has that password: no admin was made, or another process made it
	}
	switch {
	case err != nil:
		return fmt.Errorf("first start: %w", err)
	case !created: // another process created the first user meanwhile: nothing to say
	case !generated:
		log.Info("created user admin with the password from AUTHCTL_ADMIN_PASSWORD", "event", "admin_created")
	case toTerminal:
		fmt.Fprintf(opts.IO.ErrOut, "authctl: created user admin with password %s (shown once; change it with `authctl user passwd admin`)\n", password)
	default:
		log.Warn("created user admin with a generated password, written to a file only this user can read; change it with `authctl user passwd admin`, then delete the file",
			"event", "admin_created", "password_file", file)
	}
	return nil
}

// replacePrivateFile replaces path with content, readable only by this user; the file never
// exists with other permissions or half written.
func replacePrivateFile(path, content string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".admin-password-*") // 0600
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // a no-op after the rename
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
