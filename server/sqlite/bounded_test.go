package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

// TestMigrationTrimsLongChains: a database from before bounded storage, whose family was
// refreshed 99 times and kept every token, keeps only the newest server.SpentTokensKept
// spent ones and its live one after the upgrade, rotates on from there, and still deletes
// whole.
func TestMigrationTrimsLongChains(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	before := -1 // the schema version just before the migration that adds gen
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
	h := func(i int) []byte { sum := sha256.Sum256(fmt.Appendf(nil, "t%d", i)); return sum[:] }
	const live = 99
	stmts := []string{
		fmt.Sprintf(`INSERT INTO users (id, name, role, password_hash, created_at) VALUES (1, 'alice', 'user', 'h', %d)`, at),
		fmt.Sprintf(`INSERT INTO sessions (id, user_id, created_at, expires_at, first_hash) VALUES ('s', 1, %d, %d, x'%x')`,
			at, now.Add(time.Hour).UnixMilli(), h(0)),
		fmt.Sprintf(`INSERT INTO refresh_tokens (hash, session_id, parent_hash, issued_at, used_at) VALUES (x'%x', 's', NULL, %d, %d)`, h(0), at, at),
	}
	for i := 1; i <= live; i++ {
		used := fmt.Sprint(at)
		if i == live {
			used = "NULL"
		}
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO refresh_tokens (hash, session_id, parent_hash, issued_at, used_at) VALUES (x'%x', 's', x'%x', %d, %s)`,
			h(i), h(i-1), at, used))
	}
	path := filepath.Join(t.TempDir(), "authctl.db")
	rawDB(t, path, before, stmts...)

	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := func() (n int, minGen, maxGen int64) {
		t.Helper()
		if err := db.QueryRowContext(ctx, "SELECT count(*), COALESCE(min(gen), -1), COALESCE(max(gen), -1) FROM refresh_tokens").Scan(&n, &minGen, &maxGen); err != nil {
			t.Fatal(err)
		}
		return n, minGen, maxGen
	}
	const k = server.SpentTokensKept
	if n, lo, hi := rows(); n != k+1 || lo != live-k || hi != live {
		t.Errorf("after the upgrade: %d tokens, gens %d…%d; want %d, %d…%d", n, lo, hi, k+1, live-k, live)
	}
	if _, err := st.SessionByToken(ctx, h(live-k)); err != nil {
		t.Errorf("the oldest kept token: %v", err)
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
