package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authctl/authctl/server/postgres"
)

// TestCommitRow checks Tx.CommitRow: alone (how Rotate uses it), after
// queued statements (one implicit transaction) and after a read (with COMMIT), the row comes
// back and everything queued is committed; a statement that fails commits nothing and leaves
// the connection usable.
func TestCommitRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.NewWithConfig(ctx, freshSchema(t)())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := postgres.DB(pool)
	if _, err := db.Exec(ctx, "CREATE TABLE kv (k TEXT PRIMARY KEY, v INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		t.Helper()
		if err := db.QueryRow(ctx, "SELECT count(*) FROM kv WHERE v >= $1", 0).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	insert := "INSERT INTO kv VALUES ($1, $2) RETURNING v"

	for _, tc := range []struct {
		what   string
		queued bool // a statement is queued before CommitRow
		begun  bool // a statement whose row was read went out before CommitRow, with BEGIN
	}{{"alone", false, false}, {"after a queued one", true, false}, {"after a read", true, true}} {
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var v int
		if tc.begun {
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM kv").Scan(&v); err != nil {
				t.Fatal(err)
			}
		}
		before, want := count(), 1
		if tc.queued {
			tx.Queue(ctx, "INSERT INTO kv VALUES ($1, $2)", tc.what+" queued", 1)
			want++
		}
		if err := tx.CommitRow(ctx, insert, tc.what, 2).Scan(&v); err != nil || v != 2 {
			t.Fatalf("%s: CommitRow: %d, %v", tc.what, v, err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Errorf("%s: Rollback after CommitRow: %v", tc.what, err)
		}
		if n := count(); n != before+want {
			t.Errorf("%s: %d rows, want %d", tc.what, n, before+want)
		}

		tx, err = db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tc.begun {
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM kv").Scan(&v); err != nil {
				t.Fatal(err)
			}
		}
		if tc.queued {
			tx.Queue(ctx, "INSERT INTO kv VALUES ($1, $2)", tc.what+" lost", 1)
		}
		if err := tx.CommitRow(ctx, insert, tc.what, 3).Scan(&v); err == nil {
			t.Fatalf("%s: CommitRow of a duplicate key succeeded", tc.what)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Errorf("%s: Commit after CommitRow: %v", tc.what, err)
		}
		if n := count(); n != before+want {
			t.Errorf("%s: %d rows after a failed CommitRow, want %d", tc.what, n, before+want)
		}
	}
}
