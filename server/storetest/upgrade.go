package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

// The migration that numbers each family's tokens (refresh_tokens.gen) and trims what
// earlier versions kept, tested on each store from a database laid out by hand at the
// version before it (TestMigrationTrimsLongChains in server/sqlite and server/postgres).

// LongChainLive is the gen of the live token of the family LongChainRows lays out.
const LongChainLive = 99

// LongChainAt is when that family was made; it expires an hour later.
var LongChainAt = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// LongChainToken is the hash of the family's token of gen i.
func LongChainToken(i int) []byte { sum := sha256.Sum256(fmt.Appendf(nil, "t%d", i)); return sum[:] }

// LongChainRows are the INSERTs of user alice and her session "s" with the tokens of gen 0
// to LongChainLive, each the child of the one before and all spent but the last, as a
// version without gen stored them. blob writes bytes as the dialect's literal.
func LongChainRows(blob func([]byte) string) []string {
	at := LongChainAt.UnixMilli()
	h := func(i int) string { return blob(LongChainToken(i)) }
	stmts := []string{
		fmt.Sprintf(`INSERT INTO users (id, name, role, password_hash, created_at) VALUES (1, 'alice', 'user', 'h', %d)`, at),
		fmt.Sprintf(`INSERT INTO sessions (id, user_id, created_at, expires_at, first_hash) VALUES ('s', 1, %d, %d, %s)`,
			at, LongChainAt.Add(time.Hour).UnixMilli(), h(0)),
		fmt.Sprintf(`INSERT INTO refresh_tokens (hash, session_id, parent_hash, issued_at, used_at) VALUES (%s, 's', NULL, %d, %d)`, h(0), at, at),
	}
	for i := 1; i <= LongChainLive; i++ {
		used := fmt.Sprint(at)
		if i == LongChainLive {
			used = "NULL"
		}
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO refresh_tokens (hash, session_id, parent_hash, issued_at, used_at) VALUES (%s, 's', %s, %d, %s)`,
			h(i), h(i-1), at, used))
	}
	return stmts
}

// CheckTrimmedChain checks st, opened on that database (so it ran the migration): the family
// keeps its newest SpentTokensKept spent tokens and its live one, numbered by gen, the oldest
// kept still known; further rotations keep it under 2 × SpentTokensKept; DeleteExpired
// removes all of it. rows reads the database directly: how many tokens, their lowest and
// highest gen (-1 when none).
func CheckTrimmedChain(t *testing.T, st server.Store, rows func() (n int, minGen, maxGen int64)) {
	t.Helper()
	ctx := context.Background()
	const k, live = server.SpentTokensKept, LongChainLive
	if n, lo, hi := rows(); n != k+1 || lo != live-k || hi != live {
		t.Errorf("after the upgrade: %d tokens, gens %d…%d; want %d, %d…%d", n, lo, hi, k+1, live-k, live)
	}
	if _, err := st.SessionByToken(ctx, LongChainToken(live-k)); err != nil {
		t.Errorf("the oldest kept token: %v", err)
	}
	for i := live; i < live+3*k; i++ {
		req := server.RotateRequest{Presented: LongChainToken(i), Next: LongChainToken(i + 1), Now: LongChainAt.Add(time.Minute), Grace: time.Second}
		if _, err := st.Rotate(ctx, req); err != nil {
			t.Fatalf("rotate %d: %v", i, err)
		}
	}
	if n, _, hi := rows(); n > 2*k || hi != live+3*k {
		t.Errorf("after %d more rotations: %d tokens, newest gen %d; want at most %d, %d", 3*k, n, hi, 2*k, live+3*k)
	}
	if n, err := st.DeleteExpired(ctx, LongChainAt.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("DeleteExpired: %d %v", n, err)
	}
	if n, _, _ := rows(); n != 0 {
		t.Errorf("%d tokens left after their family was deleted", n)
	}
}
