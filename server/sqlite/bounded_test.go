package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authctl/authctl/server/storetest"
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
	path := filepath.Join(t.TempDir(), "authctl.db")
	rawDB(t, path, before, storetest.LongChainRows(func(b []byte) string { return fmt.Sprintf("x'%x'", b) })...)

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
	storetest.CheckTrimmedChain(t, st, func() (n int, minGen, maxGen int64) {
		t.Helper()
		if err := db.QueryRowContext(ctx, "SELECT count(*), COALESCE(min(gen), -1), COALESCE(max(gen), -1) FROM refresh_tokens").Scan(&n, &minGen, &maxGen); err != nil {
			t.Fatal(err)
		}
		return n, minGen, maxGen
	})
}
