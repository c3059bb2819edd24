package sqlite_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
	"github.com/authctl/authctl/server/storetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func hash(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// seed stores user alice with session "s" whose first token is hash("s/0").
func seed(t *testing.T, st server.Store) {
	t.Helper()
	ctx := context.Background()
	u, err := st.CreateUser(ctx, "alice", "user", "h", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(ctx, server.Session{ID: "s", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		server.RefreshToken{Hash: hash("s/0"), SessionID: "s", IssuedAt: now}); err != nil {
		t.Fatal(err)
	}
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store {
		return open(t, filepath.Join(t.TempDir(), "authctl.db"))
	})
}

func TestFileModes(t *testing.T) {
	t.Parallel()

	t.Run("a new directory is 0700 and the database files 0600", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "data", "authctl")
		path := filepath.Join(dir, "authctl.db")
		st := open(t, path)
		seed(t, st) // the WAL and its index exist once something was written
		for _, tc := range []struct {
			path string
			want os.FileMode
		}{
			{dir, 0o700},
			{filepath.Dir(dir), 0o700},
			{path, 0o600},
			{path + "-wal", 0o600},
			{path + "-shm", 0o600},
		} {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Errorf("%s: %v", tc.path, err)
			} else if got := fi.Mode().Perm(); got != tc.want {
				t.Errorf("%s is %v, want %v", filepath.Base(tc.path), got, tc.want)
			}
		}
	})

	t.Run("existing database files that others could read are narrowed to 0600", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "authctl.db")
		seed(t, open(t, path))
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			if err := os.Chmod(p, 0o644); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
		open(t, path)
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			if fi, err := os.Stat(p); err == nil && fi.Mode().Perm() != 0o600 {
				t.Errorf("%s is %v after Open, want 0600", filepath.Base(p), fi.Mode().Perm())
			}
		}
	})
}

func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authctl.db")
	st := open(t, path)
	seed(t, st)
	if _, err := st.Rotate(ctx, server.RotateRequest{Presented: hash("s/0"), Next: hash("s/1"), Now: now, Grace: time.Second}); err != nil {
		t.Fatal(err)
	}
	secret, err := st.Secret(ctx, "cookie", func() ([]byte, error) { return []byte("first"), nil })
	if err != nil {
		t.Fatal(err)
	}
	version, err := st.SchemaVersion(ctx)
	if err != nil || version < 1 {
		t.Fatalf("schema version %d %v", version, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	again := open(t, path)
	t.Run("the schema version is recorded and kept", func(t *testing.T) {
		if v, err := again.SchemaVersion(ctx); err != nil || v != version {
			t.Errorf("after reopen: %d %v, want %d", v, err, version)
		}
	})
	t.Run("users, sessions, tokens and secrets survive", func(t *testing.T) {
		if _, err := again.UserByName(ctx, "alice"); err != nil {
			t.Errorf("user: %v", err)
		}
		if s, err := again.SessionByToken(ctx, hash("s/1")); err != nil || s.ID != "s" {
			t.Errorf("rotated token: %+v %v", s, err)
		}
		if v, err := again.Secret(ctx, "cookie", func() ([]byte, error) { return []byte("second"), nil }); err != nil || string(v) != string(secret) {
			t.Errorf("secret: %q %v, want %q", v, err, secret)
		}
		if res, err := again.Rotate(ctx, server.RotateRequest{Presented: hash("s/1"), Next: hash("s/2"), Now: now, Grace: time.Second}); err != nil || res.Replayed {
			t.Errorf("rotation after reopen: %+v %v", res, err)
		}
	})
}

// TestHelperRevoke is not a test: it is the second process of TestRevocationFromAnotherProcess.
func TestHelperRevoke(t *testing.T) {
	path := os.Getenv("AUTHCTL_SQLITE_HELPER_DB")
	if path == "" {
		t.Skip("only run as a helper process")
	}
	st := open(t, path)
	if _, err := st.RevokeSession(context.Background(), "s", server.RevokeLogout, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
}

func TestRevocationFromAnotherProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authctl.db")
	st := open(t, path)
	seed(t, st)
	if revs, err := st.RevokedSince(ctx, now); err != nil || len(revs) != 0 {
		t.Fatalf("before: %+v %v", revs, err)
	}

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperRevoke$", "-test.count=1")
	cmd.Env = append(os.Environ(), "AUTHCTL_SQLITE_HELPER_DB="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper process: %v\n%s", err, out)
	}

	revs, err := st.RevokedSince(ctx, now)
	if err != nil || len(revs) != 1 || revs[0].SessionID != "s" || !revs[0].RevokedAt.Equal(now.Add(time.Minute)) {
		t.Errorf("the other process's revocation: %+v %v", revs, err)
	}
	if _, err := st.Rotate(ctx, server.RotateRequest{Presented: hash("s/0"), Next: hash("s/1"), Now: now, Grace: time.Second}); err == nil {
		t.Error("rotated a session that another process revoked")
	}
}

// Two stores on one file are two writers that SQLite itself must serialise: neither may see
// SQLITE_BUSY.
func TestTwoStoresWriteOneFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authctl.db")
	stores := []*sqlite.Store{open(t, path), open(t, path)}
	u, err := stores[0].CreateUser(ctx, "alice", "user", "h", now)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for c := range 8 {
		st := stores[c%2]
		sid := fmt.Sprintf("s%d", c)
		wg.Go(func() {
			if err := st.CreateSession(ctx, server.Session{ID: sid, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
				server.RefreshToken{Hash: hash(sid + "/0"), SessionID: sid, IssuedAt: now}); err != nil {
				errs <- err
				return
			}
			for i := range 20 {
				req := server.RotateRequest{Presented: hash(fmt.Sprintf("%s/%d", sid, i)), Next: hash(fmt.Sprintf("%s/%d", sid, i+1)), Now: now, Grace: time.Second}
				if _, err := st.Rotate(ctx, req); err != nil {
					errs <- fmt.Errorf("%s/%d: %w", sid, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestOpenFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		path string
	}{
		{"when the path is a directory", dir},
		{"when the parent is a file", filepath.Join(dir, "file", "authctl.db")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if st, err := sqlite.Open(context.Background(), tc.path); err == nil {
				st.Close()
				t.Error("Open succeeded")
			}
		})
	}
}

// BenchmarkRotate measures Rotate with 16 concurrent chains on one file.
func BenchmarkRotate(b *testing.B) {
	storetest.BenchmarkRotate(b, open(b, filepath.Join(b.TempDir(), "authctl.db")))
}
