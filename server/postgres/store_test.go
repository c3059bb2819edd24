package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/postgres"
	"github.com/authctl/authctl/server/storetest"
)

// dsn is the test database; tests skip when it is unreachable unless
// AUTHCTL_TEST_POSTGRES_REQUIRED=1 (CI) makes that a failure.
func dsn(t testing.TB) string {
	t.Helper()
	d := os.Getenv("AUTHCTL_TEST_POSTGRES")
	if d == "" {
		d = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d)
	if err != nil {
		if os.Getenv("AUTHCTL_TEST_POSTGRES_REQUIRED") == "1" {
			t.Fatalf("PostgreSQL required but unreachable: %v", err)
		}
		t.Skipf("PostgreSQL unreachable (%v); set AUTHCTL_TEST_POSTGRES", err)
	}
	conn.Close(ctx)
	return d
}

// freshSchema creates an empty schema dropped after the test and returns a pool config
// whose search_path points at it.
func freshSchema(t testing.TB) func() *pgxpool.Config {
	t.Helper()
	d := dsn(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), d)
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	return func() *pgxpool.Config {
		cfg, err := pgxpool.ParseConfig(d)
		if err != nil {
			t.Fatal(err)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
		return cfg
	}
}

func open(t testing.TB, cfg *pgxpool.Config) *postgres.Store {
	t.Helper()
	st, err := postgres.OpenConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestContract(t *testing.T) {
	dsn(t)
	storetest.Run(t, func(t *testing.T) server.Store { return open(t, freshSchema(t)()) })
}

func TestReplicasTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := freshSchema(t)

	// Three replicas migrating at once.
	stores := make([]*postgres.Store, 3)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Add(1)
		go func() { defer wg.Done(); stores[i] = open(t, cfg()) }()
	}
	wg.Wait()
	for _, s := range stores {
		if s == nil {
			t.Fatal("a concurrent migration failed")
		}
	}
	a, b := stores[0], stores[1]
	now := time.Now().Truncate(time.Millisecond)
	u, err := a.CreateUser(ctx, "alice", "user", "h", now)
	if err != nil {
		t.Fatal(err)
	}
	h := func(s string) []byte { x := make([]byte, 32); copy(x, s); return x }
	a.CreateSession(ctx, server.Session{ID: "s1", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		server.RefreshToken{Hash: h("t0"), SessionID: "s1", IssuedAt: now})

	t.Run("two replicas rotating one token make one successor", func(t *testing.T) {
		var mu sync.Mutex
		fresh, replayed := 0, 0
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := stores[i%2]
				res, err := st.Rotate(ctx, server.RotateRequest{Presented: h("t0"), Next: h("t1"), Now: now, Grace: 10 * time.Second})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Error(err)
				} else if res.Replayed {
					replayed++
				} else {
					fresh++
				}
			}()
		}
		wg.Wait()
		if fresh != 1 || replayed != 15 {
			t.Errorf("fresh %d replayed %d", fresh, replayed)
		}
	})
	t.Run("a revocation on one replica is pushed to another within a second", func(t *testing.T) {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		got := make(chan string, 8)
		go b.WatchRevocations(wctx, func(sid string) { got <- sid })
		time.Sleep(200 * time.Millisecond) // let LISTEN start
		start := time.Now()
		if _, err := a.RevokeSession(ctx, "s1", server.RevokeLogout, now); err != nil {
			t.Fatal(err)
		}
		select {
		case sid := <-got:
			if sid != "s1" {
				t.Errorf("notified %q", sid)
			}
			t.Logf("notified after %v", time.Since(start))
		case <-time.After(time.Second):
			t.Fatal("no notification within 1 s")
		}
	})
}

func TestUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	cfg := freshSchema(t)
	st := open(t, cfg())
	st.Close()
	if _, err := st.UserByName(context.Background(), "x"); !errors.Is(err, server.ErrUnavailable) {
		t.Errorf("closed pool: %v", err)
	}
}

// BenchmarkRotate measures rotations with 16 concurrent chains on a fresh schema.
func BenchmarkRotate(b *testing.B) {
	storetest.BenchmarkRotate(b, open(b, freshSchema(b)()))
}
