package postgres_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/postgres"
	"github.com/authctl/authctl/server/sqlstore"
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
		// The channel is the database's: other tests' schemas notify on it too.
		if !notified(got, "s1", time.Second) {
			t.Fatal("no notification within 1 s")
		}
		t.Logf("notified after %v", time.Since(start))
	})
	t.Run("a reuse detected on one replica is pushed to another", func(t *testing.T) {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		got := make(chan string, 8)
		go b.WatchRevocations(wctx, func(sid string) { got <- sid })
		time.Sleep(200 * time.Millisecond)                    // let LISTEN start
		sid := fmt.Sprintf("reuse-%d", time.Now().UnixNano()) // the channel is shared with other tests
		a.CreateSession(ctx, server.Session{ID: sid, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
			server.RefreshToken{Hash: h(sid + "0"), SessionID: sid, IssuedAt: now})
		rotate := func(at time.Time) error {
			_, err := a.Rotate(ctx, server.RotateRequest{Presented: h(sid + "0"), Next: h(sid + "1"), Now: at, Grace: time.Second})
			return err
		}
		if err := rotate(now); err != nil {
			t.Fatal(err)
		}
		if err := rotate(now.Add(time.Minute)); !errors.Is(err, server.ErrReuseDetected) {
			t.Fatalf("second use: %v, want ErrReuseDetected", err)
		}
		if !notified(got, sid, time.Second) {
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

// schemaByHand gives a fresh schema, a connection to it for laying out an old version of the
// database statement by statement, and the migrations to do it with; the connection closes
// with the test.
func schemaByHand(t *testing.T) (func() *pgxpool.Config, *pgx.Conn, []string) {
	t.Helper()
	ctx := context.Background()
	cfg := freshSchema(t)
	conn, err := pgx.ConnectConfig(ctx, cfg().ConnConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	migrations, err := sqlstore.Migrations("postgres")
	if err != nil {
		t.Fatal(err)
	}
	return cfg, conn, migrations
}

// A database that an earlier authctl left at schema version 2 (rotation as a PL/pgSQL
// function, tokens deleted by a cascading foreign key) keeps its families.
func TestMigrateFromVersion2(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, conn, migrations := schemaByHand(t)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	h := func(s string) []byte { sum := sha256.Sum256([]byte(s)); return sum[:] }
	for _, stmt := range append(migrations[:2:2],
		"CREATE TABLE schema_version (version INT NOT NULL); INSERT INTO schema_version VALUES (2)",
		fmt.Sprintf("INSERT INTO users (id, name, role, password_hash, created_at) VALUES (1, 'alice', 'user', 'h', %d)", now.UnixMilli()),
		fmt.Sprintf("INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ('s', 1, %d, %d)", now.UnixMilli(), now.Add(time.Hour).UnixMilli()),
		fmt.Sprintf(`INSERT INTO refresh_tokens VALUES ('\x%x', 's', NULL, %d, %d), ('\x%x', 's', '\x%x', %d, NULL)`,
			h("t0"), now.UnixMilli(), now.UnixMilli(), h("t1"), h("t0"), now.UnixMilli()),
	) {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%.60s…: %v", stmt, err)
		}
	}

	st := open(t, cfg())
	if v, err := st.SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Errorf("schema version %d %v, want %d", v, err, len(migrations))
	}
	var functions int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_proc WHERE proname = 'authctl_rotate' AND pronamespace = current_schema()::regnamespace").Scan(&functions); err != nil || functions != 0 {
		t.Errorf("authctl_rotate still defined (%d, %v)", functions, err)
	}
	if res, err := st.Rotate(ctx, server.RotateRequest{Presented: h("t0"), Next: h("t1"), Now: now.Add(time.Second), Grace: 10 * time.Second}); err != nil || !res.Replayed {
		t.Errorf("replaying the migrated family's spent token: %+v %v", res, err)
	}
	if res, err := st.Rotate(ctx, server.RotateRequest{Presented: h("t1"), Next: h("t2"), Now: now.Add(time.Second), Grace: 10 * time.Second}); err != nil || res.Replayed || res.User.Name != "alice" {
		t.Fatalf("rotating the migrated family: %+v %v", res, err)
	}
	if n, err := st.DeleteExpired(ctx, now.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("DeleteExpired: %d %v", n, err)
	}
	var left int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM refresh_tokens").Scan(&left); err != nil || left != 0 {
		t.Errorf("%d tokens left after their family was deleted (%v)", left, err)
	}
}

// notified waits for a notification of sid, skipping others.
func notified(got <-chan string, sid string, within time.Duration) bool {
	deadline := time.After(within)
	for {
		select {
		case n := <-got:
			if n == sid {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// logRecords is a slog.Handler that hands every record to a channel.
type logRecords chan slog.Record

func (c logRecords) Enabled(context.Context, slog.Level) bool      { return true }
func (c logRecords) Handle(_ context.Context, r slog.Record) error { c <- r; return nil }
func (c logRecords) WithAttrs([]slog.Attr) slog.Handler            { return c }
func (c logRecords) WithGroup(string) slog.Handler                 { return c }

// listeners returns the backend pids LISTENing for the store opened with application name app.
func listeners(t *testing.T, conn *pgx.Conn, app string) []int32 {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		"SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query = 'LISTEN "+postgres.Channel+"'", app)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

func TestWatchRevocationsSurvivesALostConnection(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := freshSchema(t)()
	app := "authctl-test-" + cfg.ConnConfig.RuntimeParams["search_path"]
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	st := open(t, cfg)
	logs := make(logRecords, 16)
	st.SetLogger(slog.New(logs))
	u, err := st.CreateUser(ctx, "alice", "user", "h", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s1, s2 := app+"/s1", app+"/s2" // unique: every test's notifications reach every listener
	for _, sid := range []string{s1, s2} {
		if err := st.CreateSession(ctx, server.Session{ID: sid, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
			server.RefreshToken{Hash: []byte(sid), SessionID: sid, IssuedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	admin, err := pgx.Connect(ctx, dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)

	got := make(chan string, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.WatchRevocations(ctx, func(sid string) { got <- sid })
	}()
	// waitListening waits for a LISTENing backend other than the ones in old (a terminated
	// backend can stay listed for a moment).
	waitListening := func(old ...int32) []int32 {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if pids := slices.DeleteFunc(listeners(t, admin, app), func(p int32) bool { return slices.Contains(old, p) }); len(pids) > 0 {
				return pids
			}
		}
		t.Fatal("the store never LISTENed")
		return nil
	}
	revoke := func(sid string) {
		t.Helper()
		if _, err := st.RevokeSession(ctx, sid, server.RevokeLogout, now); err != nil {
			t.Fatal(err)
		}
		if !notified(got, sid, 2*time.Second) {
			t.Fatalf("no notification of %s", sid)
		}
	}

	// Revoke only once the store LISTENs: a NOTIFY sent before that reaches no one.
	pids := waitListening()
	revoke(s1)
	for _, pid := range pids {
		if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case r := <-logs:
		if r.Level != slog.LevelWarn {
			t.Errorf("the lost listener was logged at %v, want WARN: %s", r.Level, r.Message)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the lost listener was not logged")
	}
	waitListening(pids...)
	revoke(s2)

	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("WatchRevocations did not return after its context ended")
	}
}

// BenchmarkRotate measures rotations with 16 concurrent chains on a fresh schema.
func BenchmarkRotate(b *testing.B) {
	storetest.BenchmarkRotate(b, open(b, freshSchema(b)()))
}
