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
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "authctl.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	bench(b, st)
}

func bench(b *testing.B, st server.Store) {
	ctx := context.Background()
	now := time.Now()
	u, _ := st.CreateUser(ctx, "bench", "user", "h", now)
	var next int64
	var mu = make(chan struct{}, 1)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu <- struct{}{}
		next++
		chain := next
		<-mu
		sid := "chain-" + string(rune('a'+chain))
		tok := func(i int) []byte {
			h := make([]byte, 32)
			copy(h, sid)
			h[30], h[31] = byte(i>>8), byte(i)
			h[29] = byte(i >> 16)
			return h
		}
		if err := st.CreateSession(ctx, server.Session{ID: sid, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
			server.RefreshToken{Hash: tok(0), SessionID: sid, IssuedAt: now}); err != nil {
			b.Error(err)
			return
		}
		for i := 0; pb.Next(); i++ {
			if _, err := st.Rotate(ctx, server.RotateRequest{Presented: tok(i), Next: tok(i + 1), Now: time.Now(), Grace: time.Second}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rotations/s")
}
