package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/authctl/authctl/server/sqlstore"
)

// TestCommitRow checks sqlstore.SQLDB's Tx.CommitRow on a real file: the row comes back, the
// transaction is committed by Scan (a later Commit or Rollback does nothing), and a failing
// statement commits nothing, not even what was queued before it.
func TestCommitRow(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	st := sqlstore.SQLDB(db, db)
	defer st.Close()
	if _, err := st.Exec(ctx, "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		t.Helper()
		if err := st.QueryRow(ctx, "SELECT count(*) FROM kv WHERE v >= ?", 0).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx.Queue(ctx, "INSERT INTO kv VALUES (?, ?)", "a", 1)
	var v int
	if err := tx.CommitRow(ctx, "INSERT INTO kv VALUES (?, ?) RETURNING v", "b", 2).Scan(&v); err != nil || v != 2 {
		t.Fatalf("CommitRow: %d, %v", v, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Errorf("Rollback after CommitRow: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Errorf("Commit after CommitRow: %v", err)
	}
	if n := count(); n != 2 {
		t.Errorf("%d rows after CommitRow, want 2", n)
	}

	tx, err = st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx.Queue(ctx, "INSERT INTO kv VALUES (?, ?)", "c", 3)
	if err := tx.CommitRow(ctx, "INSERT INTO kv VALUES (?, ?) RETURNING v", "a", 4).Scan(&v); err == nil {
		t.Fatal("CommitRow of a duplicate key succeeded")
	}
	tx.Commit(ctx)
	if n := count(); n != 2 {
		t.Errorf("%d rows after a failed CommitRow, want 2: it committed", n)
	}
}
