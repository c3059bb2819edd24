package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlstore"
)

// migrations are the embedded SQLite migrations, element i taking version i to i+1.
var migrations = func() []string {
	m, err := sqlstore.Migrations("sqlite")
	if err != nil {
		panic(err)
	}
	return m
}()

// rawDB makes a database at path by hand, at schema version v, and runs the statements.
func rawDB(t *testing.T, path string, v int, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	all := append(append(slices.Clone(migrations[:min(v, len(migrations))]), stmts...), fmt.Sprintf("PRAGMA user_version = %d", v))
	for _, s := range all {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	h := func(s string) []byte { sum := sha256.Sum256([]byte(s)); return sum[:] }

	t.Run("a version 1 database keeps its families and can delete them", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "authctl.db")
		rawDB(t, path, 1,
			fmt.Sprintf(`INSERT INTO users VALUES (1, 'alice', 'user', 'h', %d)`, now.UnixMilli()),
			fmt.Sprintf(`INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ('s', 1, %d, %d)`,
				now.UnixMilli(), now.Add(time.Hour).UnixMilli()),
			fmt.Sprintf(`INSERT INTO refresh_tokens VALUES (x'%x', 's', NULL, %d, %d), (x'%x', 's', x'%x', %d, NULL)`,
				h("t0"), now.UnixMilli(), now.UnixMilli(), h("t1"), h("t0"), now.UnixMilli()))
		st, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if v, err := st.SchemaVersion(ctx); err != nil || v != len(migrations) {
			t.Errorf("schema version %d %v, want %d", v, err, len(migrations))
		}
		if res, err := st.Rotate(ctx, server.RotateRequest{Presented: h("t1"), Next: h("t2"), Now: now, Grace: time.Second}); err != nil || res.Replayed || res.User.Name != "alice" {
			t.Fatalf("rotating a migrated family: %+v %v", res, err)
		}
		if n, err := st.DeleteExpired(ctx, now.Add(2*time.Hour)); err != nil || n != 1 {
			t.Fatalf("DeleteExpired: %d %v", n, err)
		}
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var left int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM refresh_tokens").Scan(&left); err != nil || left != 0 {
			t.Errorf("%d tokens left after their family was deleted (%v)", left, err)
		}
	})

	t.Run("a database from a newer authctl is refused", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "authctl.db")
		rawDB(t, path, len(migrations)+1)
		st, err := Open(ctx, path)
		if err == nil {
			st.Close()
			t.Fatal("Open succeeded")
		}
		if errors.Is(err, server.ErrNotFound) {
			t.Errorf("unexpected error kind: %v", err)
		}
	})
}
