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
	stmts := append(migrations[:before:before],
		fmt.Sprintf("CREATE TABLE schema_version (version INT NOT NULL); INSERT INTO schema_version VALUES (%d)", before))
	stmts = append(stmts, storetest.LongChainRows(func(b []byte) string { return fmt.Sprintf(`'\x%x'`, b) })...)
	for _, stmt := range stmts {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%.60s…: %v", stmt, err)
		}
	}

	st := open(t, cfg())
	storetest.CheckTrimmedChain(t, st, func() (n int, minGen, maxGen int64) {
		t.Helper()
		if err := conn.QueryRow(ctx, "SELECT count(*), COALESCE(min(gen), -1), COALESCE(max(gen), -1) FROM refresh_tokens").Scan(&n, &minGen, &maxGen); err != nil {
			t.Fatal(err)
		}
		return n, minGen, maxGen
	})
}
