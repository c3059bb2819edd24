package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authctl/authctl/server/sqlite"
)

func TestBackupCopiesWhatIsStillInTheWAL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "authctl.db")
	st := open(t, src)
	seed(t, st) // committed, but in authctl.db-wal: the store is still open

	// What `cp authctl.db` would give: the main file alone lacks the recent writes.
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(dir, "cp.db")
	if err := os.WriteFile(cp, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, cp).UserByName(ctx, "alice"); err == nil {
		t.Fatal("the main file already holds the user: this test shows nothing about the WAL")
	}

	dst := filepath.Join(dir, "backup.db")
	if err := sqlite.Backup(ctx, src, dst, false); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
	}
	restored := open(t, dst)
	if _, err := restored.UserByName(ctx, "alice"); err != nil {
		t.Errorf("backup lacks the user: %v", err)
	}
	if _, err := restored.SessionByToken(ctx, hash("s/0")); err != nil {
		t.Errorf("backup lacks the session: %v", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".backup.db.tmp-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestBackupRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "authctl.db")
	seed(t, open(t, src))

	t.Run("an existing file is kept without overwrite", func(t *testing.T) {
		dst := filepath.Join(dir, "exists.db")
		if err := os.WriteFile(dst, []byte("precious"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := sqlite.Backup(ctx, src, dst, false); !errors.Is(err, sqlite.ErrBackupExists) {
			t.Fatalf("got %v, want ErrBackupExists", err)
		}
		if b, _ := os.ReadFile(dst); string(b) != "precious" {
			t.Errorf("the existing file was changed to %q", b)
		}
		if err := sqlite.Backup(ctx, src, dst, true); err != nil {
			t.Fatalf("with overwrite: %v", err)
		}
		if _, err := open(t, dst).UserByName(ctx, "alice"); err != nil {
			t.Errorf("the overwritten file is no backup: %v", err)
		}
	})
	t.Run("a missing database is not created", func(t *testing.T) {
		missing := filepath.Join(dir, "missing.db")
		if err := sqlite.Backup(ctx, missing, filepath.Join(dir, "m.db"), false); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("got %v, want not-exist", err)
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Error("Backup created the database it was to copy")
		}
	})
	t.Run("the database is not its own backup", func(t *testing.T) {
		if err := sqlite.Backup(ctx, src, src, true); err == nil {
			t.Fatal("Backup overwrote the database with itself")
		}
	})
	t.Run("a directory that does not exist fails cleanly", func(t *testing.T) {
		if err := sqlite.Backup(ctx, src, filepath.Join(dir, "no", "such", "dir.db"), false); err == nil {
			t.Fatal("no error")
		}
	})
}

// TestBackupWhileWriting takes backups while another connection commits users one by
// one: each backup is a whole database holding a prefix of the commits.
func TestBackupWhileWriting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "authctl.db")
	st := open(t, src)

	var committed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { // before the store closes, also when the test fails
		close(stop)
		wg.Wait()
	}()
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := st.CreateUser(ctx, fmt.Sprintf("u%d", i), "user", "h", now); err != nil {
				t.Error(err)
				return
			}
			committed.Add(1)
		}
	})
	for i := range 5 {
		before := committed.Load()
		dst := filepath.Join(dir, fmt.Sprintf("b%d.db", i))
		if err := sqlite.Backup(ctx, src, dst, false); err != nil {
			t.Fatal(err)
		}
		after := committed.Load()
		n, err := open(t, dst).CountUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if int64(n) < before || int64(n) > after+1 {
			t.Errorf("backup %d holds %d users; %d were committed before it and %d after", i, n, before, after)
		}
	}
}
