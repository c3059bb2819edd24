package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
)

// TestFileDeletedOrReplaced: the store notices that its file is gone or another file took
// its name, fails the probe and every write with a message saying which, and never creates
// a new file at the path. (Reads on connections that have the old file open still answer;
// a new connection fails, or reads the new file.)
func TestFileDeletedOrReplaced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		name, want string
		change     func(t *testing.T, path string)
	}{
		{"deleted", "is gone", func(t *testing.T, path string) {
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
		}},
		{"replaced", "was replaced", func(t *testing.T, path string) {
			other := filepath.Join(filepath.Dir(path), "other.db")
			if err := os.WriteFile(other, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "authctl.db")
			st := open(t, path)
			seed(t, st)
			if err := st.Probe(ctx, now); err != nil {
				t.Fatalf("probe before: %v", err)
			}
			c.change(t, path)

			err := st.Probe(ctx, now)
			if !errors.Is(err, server.ErrUnavailable) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("probe: %v; want ErrUnavailable naming %s and saying it %s", err, path, c.want)
			}
			// Writes stop at once: the write guard's last good check is not trusted for
			// long, so poll it past checkEvery.
			deadline := time.Now().Add(3 * time.Second)
			for i := 0; ; i++ {
				_, err = st.CreateUser(ctx, fmt.Sprintf("bob%d", i), "user", "h", now)
				if err != nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if !errors.Is(err, server.ErrUnavailable) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("a write: %v; want it refused", err)
			}
			if c.name == "deleted" {
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Errorf("the store created %s again: %v", path, err)
				}
			}
		})
	}
}

// TestNewConnectionsDoNotCreateTheFile: a connection opened after the file vanished fails
// rather than creating an empty database at the path (mode=rw).
func TestNewConnectionsDoNotCreateTheFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authctl.db")
	st := open(t, path)
	seed(t, st)
	os.Remove(path)
	// Enough readers at once that the pool opens more connections than it had.
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := st.ListUsers(ctx)
			errs <- err
		}()
	}
	for range 8 {
		<-errs
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s exists again: %v", path, err)
	}
}

// TestLockedDatabaseIsUnavailableWithinTheDeadline: another process holding the write
// lock delays a write by at most the call deadline (the busy timeout is the same), then it
// fails as ErrUnavailable.
func TestLockedDatabaseIsUnavailableWithinTheDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authctl.db")
	const deadline = 300 * time.Millisecond
	st, err := sqlite.OpenOptions(ctx, path, sqlite.Options{CallTimeout: deadline})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	seed(t, st)

	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = st.CreateUser(ctx, "bob", "user", "h", now)
	if took := time.Since(start); !errors.Is(err, server.ErrUnavailable) || took > deadline+time.Second {
		t.Errorf("a write behind another process's lock: %v after %v; want ErrUnavailable within %v", err, took, deadline)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, "bob", "user", "h", now); err != nil {
		t.Errorf("after the lock was released: %v", err)
	}
}
