package postgres_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/postgres"
	"github.com/authctl/authctl/server/storetest"
)

func sum(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func portOf(t *testing.T, addr string) uint16 {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return uint16(n)
}

// TestStalledDatabaseIsUnavailableWithinTheDeadline: a database that stops answering
// without closing its connections makes every kind of call — a read, a rotation, the write
// probe — fail as ErrUnavailable within the call deadline, and the store recovers when the
// database answers again.
func TestStalledDatabaseIsUnavailableWithinTheDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := freshSchema(t)()
	proxy := storetest.NewProxy(t, fmt.Sprintf("%s:%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port))
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = "127.0.0.1", portOf(t, proxy.Addr())
	const deadline = 400 * time.Millisecond
	st, err := postgres.OpenOptions(ctx, cfg, postgres.Options{CallTimeout: deadline})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	u, err := st.CreateUser(ctx, "alice", "user", "h", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(ctx, server.Session{ID: "s", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		server.RefreshToken{Hash: sum("t0"), SessionID: "s", IssuedAt: now}); err != nil {
		t.Fatal(err)
	}

	proxy.Stall()
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"UserByName", func() error { _, err := st.UserByName(ctx, "alice"); return err }},
		{"Rotate", func() error {
			_, err := st.Rotate(ctx, server.RotateRequest{Presented: sum("t0"), Next: sum("t1"), Now: now, Grace: time.Second})
			return err
		}},
		{"Probe", func() error { return st.Probe(ctx, now) }},
	} {
		start := time.Now()
		err := c.call()
		took := time.Since(start)
		if !errors.Is(err, server.ErrUnavailable) || took > deadline+time.Second {
			t.Errorf("%s while stalled: %v after %v, want ErrUnavailable within %v", c.name, err, took, deadline)
		}
	}

	proxy.Resume()
	recovered := time.Now().Add(10 * time.Second)
	for {
		_, err := st.Rotate(ctx, server.RotateRequest{Presented: sum("t0"), Next: sum("t1"), Now: now, Grace: time.Second})
		if err == nil {
			break
		}
		if time.Now().After(recovered) {
			t.Fatalf("no recovery after the database answered again: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLockWaitIsBounded: a row lock held elsewhere (a replica stalled in mid-transaction)
// holds a rotation up for at most the call deadline, as ErrUnavailable, not for as long as
// the lock is held.
func TestLockWaitIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := freshSchema(t)
	const deadline = 300 * time.Millisecond
	st, err := postgres.OpenOptions(ctx, cfg(), postgres.Options{CallTimeout: deadline})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	u, _ := st.CreateUser(ctx, "alice", "user", "h", now)
	if err := st.CreateSession(ctx, server.Session{ID: "s", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		server.RefreshToken{Hash: sum("t0"), SessionID: "s", IssuedAt: now}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg().ConnConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	holder, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, "SELECT 1 FROM refresh_tokens WHERE hash = $1 FOR UPDATE", sum("t0")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = st.Rotate(ctx, server.RotateRequest{Presented: sum("t0"), Next: sum("t1"), Now: now, Grace: time.Second})
	if took := time.Since(start); !errors.Is(err, server.ErrUnavailable) || took > deadline+time.Second {
		t.Errorf("rotation behind a held lock: %v after %v, want ErrUnavailable within %v", err, took, deadline)
	}
	holder.Rollback(ctx)
	if _, err := st.Rotate(ctx, server.RotateRequest{Presented: sum("t0"), Next: sum("t1"), Now: now, Grace: time.Second}); err != nil {
		t.Errorf("after the lock was released: %v", err)
	}
}

// TestConnectionTimeouts: the pool's connections carry the call deadline as the server's
// statement and lock timeouts, unless the database URL sets its own.
func TestConnectionTimeouts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := freshSchema(t)
	show := func(c *pgx.Conn, name string) string {
		var v string
		if err := c.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	withOwn := cfg()
	withOwn.ConnConfig.RuntimeParams["statement_timeout"] = "7000"
	for _, c := range []struct {
		name      string
		opts      postgres.Options
		pool      func() *pgxpool.Config
		statement string
	}{
		{"default", postgres.Options{}, func() *pgxpool.Config { return cfg() }, "3s"},
		{"an option", postgres.Options{CallTimeout: 1500 * time.Millisecond}, func() *pgxpool.Config { return cfg() }, "1500ms"},
		{"the URL's own", postgres.Options{}, func() *pgxpool.Config { return withOwn }, "7s"},
	} {
		st, err := postgres.OpenOptions(ctx, c.pool(), c.opts)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := postgres.Pool(st).Acquire(ctx)
		if err != nil {
			st.Close()
			t.Fatal(err)
		}
		got := show(conn.Conn(), "statement_timeout")
		lock := show(conn.Conn(), "lock_timeout")
		conn.Release()
		st.Close()
		if got != c.statement || lock == "0" {
			t.Errorf("%s: statement_timeout %s, lock_timeout %s; want %s and a lock timeout", c.name, got, lock, c.statement)
		}
	}
}

// TestMigrationTrimsLongChains is the SQLite test of the same name on PostgreSQL.
func TestMigrationTrimsLongChains(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, conn, migrations := schemaByHand(t)
	before := -1
	for i, m := range migrations {
		if strings.Contains(m, "ADD COLUMN gen") {
			before = i
		}
	}
	if before < 0 {
		t.Fatal("no migration adds refresh_tokens.gen")
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	at := now.UnixMilli()
	h := func(i int) []byte { return sum(fmt.Sprintf("t%d", i)) }
	const live = 99
	stmts := append(migrations[:before:before],
		fmt.Sprintf("CREATE TABLE schema_version (version INT NOT NULL); INSERT INTO schema_version VALUES (%d)", before),
		fmt.Sprintf(`INSERT INTO users (id, name, role, password_hash, created_at) VALUES (1, 'alice', 'user', 'h', %d)`, at),
		fmt.Sprintf(`INSERT INTO sessions (id, user_id, created_at, expires_at, first_hash) VALUES ('s', 1, %d, %d, '\x%x')`,
			at, now.Add(time.Hour).UnixMilli(), h(0)),
		fmt.Sprintf(`INSERT INTO refresh_tokens (hash, session_id, parent_hash, issued_at, used_at) VALUES ('\x%x', 's', NULL, %d, %d)`, h(0), at, at))
	for i := 1; i <= live; i++ {
		used := fmt.Sprint(at)
		if i == live {
			used = "NULL"
		}
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO refresh_tokens (hash, session_id, parent_hash, issued_at, used_at) VALUES ('\x%x', 's', '\x%x', %d, %s)`,
			h(i), h(i-1), at, used))
	}
	for _, stmt := range stmts {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%.60s…: %v", stmt, err)
		}
	}

	st := open(t, cfg())
	rows := func() (n int, minGen, maxGen int64) {
		t.Helper()
		if err := conn.QueryRow(ctx, "SELECT count(*), COALESCE(min(gen), -1), COALESCE(max(gen), -1) FROM refresh_tokens").Scan(&n, &minGen, &maxGen); err != nil {
			t.Fatal(err)
		}
		return n, minGen, maxGen
	}
	const k = server.SpentTokensKept
	if n, lo, hi := rows(); n != k+1 || lo != live-k || hi != live {
		t.Errorf("after the upgrade: %d tokens, gens %d…%d; want %d, %d…%d", n, lo, hi, k+1, live-k, live)
	}
	for i := live; i < live+3*k; i++ {
		if _, err := st.Rotate(ctx, server.RotateRequest{Presented: h(i), Next: h(i + 1), Now: now.Add(time.Minute), Grace: time.Second}); err != nil {
			t.Fatalf("rotate %d: %v", i, err)
		}
	}
	if n, _, hi := rows(); n > 2*k || hi != live+3*k {
		t.Errorf("after %d more rotations: %d tokens, newest gen %d; want at most %d, %d", 3*k, n, hi, 2*k, live+3*k)
	}
	if n, err := st.DeleteExpired(ctx, now.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("DeleteExpired: %d %v", n, err)
	}
	if n, _, _ := rows(); n != 0 {
		t.Errorf("%d tokens left after their family was deleted", n)
	}
}
