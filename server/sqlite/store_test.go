package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
	"github.com/authctl/authctl/server/storetest"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store {
		return open(t, filepath.Join(t.TempDir(), "authctl.db"))
	})
}

func TestFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data", "authctl")
	path := filepath.Join(dir, "authctl.db")
	st := open(t, path)

	t.Run("the directory is 0700 and the database files 0600", func(t *testing.T) {
		for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600, path + "-wal": 0o600} {
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: %v %v, want %v", filepath.Base(p), fi.Mode().Perm(), err, want)
			}
		}
	})
	t.Run("the schema version is recorded", func(t *testing.T) {
		if v, err := st.SchemaVersion(ctx); err != nil || v != 1 {
			t.Errorf("version %d %v", v, err)
		}
	})
	t.Run("data survives close and reopen", func(t *testing.T) {
		if _, err := st.CreateUser(ctx, "alice", "user", "h", time.Now()); err != nil {
			t.Fatal(err)
		}
		st.Close()
		again := open(t, path)
		if _, err := again.UserByName(ctx, "alice"); err != nil {
			t.Errorf("after reopen: %v", err)
		}
	})
}

func TestRevocationFromAnotherConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authctl.db")
	a, b := open(t, path), open(t, path)
	now := time.Now().Truncate(time.Millisecond)
	u, _ := a.CreateUser(ctx, "alice", "user", "h", now)
	a.CreateSession(ctx, server.Session{ID: "s1", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		server.RefreshToken{Hash: []byte("0123456789abcdef0123456789abcdef"), SessionID: "s1", IssuedAt: now})
	if _, err := b.RevokeSession(ctx, "s1", server.RevokeLogout, now); err != nil {
		t.Fatal(err)
	}
	revs, err := a.RevokedSince(ctx, now)
	if err != nil || len(revs) != 1 || revs[0].SessionID != "s1" {
		t.Errorf("other connection's revocation: %+v %v", revs, err)
	}
}

// BenchmarkRotate measures rotations with 16 concurrent chains on one file.
func BenchmarkRotate(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "authctl.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	storetest.BenchmarkRotate(b, st)
}
