package sqlstore

import (
	"context"
	"time"

	"github.com/authctl/authctl/server"
)

// Bounded storage. A family's tokens form one chain, each token the child of the one it
// replaced, numbered from 0 by gen. Rotate trims the chain's spent end as it grows (trim),
// and PruneSessions deletes whole families once they have ended; together they keep the
// database's size independent of how often anyone refreshes.

// insertChildSQL stores the successor of a rotated token, one generation further.
const insertChildSQL = "INSERT INTO refresh_tokens (hash, session_id, parent_hash, issued_at, used_at, gen) VALUES (?, ?, ?, ?, NULL, ?)"

// trimWalk bounds how far trim walks up a chain. The chain holds fewer than
// 2 × SpentTokensKept spent tokens (see trim), so the bound is never reached; it only keeps
// a damaged chain from making a rotation walk without end.
const trimWalk = 4 * server.SpentTokensKept

// The chain above a token, walked through the primary key: up(hash, parent_hash, d) with d
// the distance from the token.
const walkUp = `
	WITH RECURSIVE up(hash, parent_hash, d) AS (
		SELECT hash, parent_hash, 0 FROM refresh_tokens WHERE hash = ?
		UNION ALL
		SELECT t.hash, t.parent_hash, up.d + 1 FROM refresh_tokens t JOIN up ON t.hash = up.parent_hash WHERE up.d < ?
	)`

const (
	// trimSQL deletes the tokens at distance ≥ SpentTokensKept above the presented one.
	trimSQL = walkUp + `
	DELETE FROM refresh_tokens WHERE hash IN (SELECT hash FROM up WHERE d >= ?)`
	// newFirstSQL points the session at the oldest token it keeps, where DeleteExpired and
	// PruneSessions start walking its chain.
	newFirstSQL = `UPDATE sessions SET first_hash = COALESCE((` + walkUp + `
	SELECT hash FROM up WHERE d = ?), first_hash) WHERE id = ?`
)

// trim runs in a fresh rotation of the token presented, whose gen is gen: every
// SpentTokensKept rotations (trimDue) it deletes the family's spent tokens older than the
// newest SpentTokensKept, and moves the session's first_hash to the oldest one kept. Between
// trims the family grows by SpentTokensKept, so it never holds 2 × SpentTokensKept spent
// tokens, however fast it is refreshed, and each trim walks fewer than that many rows. Reuse
// of a kept token is detected as before; a trimmed token is simply unknown.
//
// The writes are queued with the rotation's own, before anything that updates the session
// row: on PostgreSQL a reuse of a token being trimmed holds that token and then revokes the
// session, so this transaction takes the tokens first and the session after, as that one does.
func (s *Store) trim(ctx context.Context, tx txq, sid string, presented []byte, gen int64) {
	if !trimDue(gen) {
		return
	}
	const k = server.SpentTokensKept
	tx.queue(ctx, trimSQL, presented, trimWalk, k)
	tx.queue(ctx, newFirstSQL, presented, k-1, k-1, sid)
}

// trimDue reports whether the fresh rotation of a token whose gen is gen trims its chain.
func trimDue(gen int64) bool { return (gen+1)%server.SpentTokensKept == 0 }

// trimAfter is trim in a transaction of its own, after a rotation that decided in one
// statement (Dialect.RotateInOne) has committed. The rotation stands whatever happens here: a
// trim that fails leaves the chain longer until the next one, 32 rotations later, which walks
// up to trimWalk tokens and so catches up after as many as two failures in a row; the tokens
// are deleted with their family in any case.
func (s *Store) trimAfter(ctx context.Context, sid string, presented []byte, gen int64) {
	s.tx(ctx, func(tx txq) error {
		s.trim(ctx, tx, sid, presented, gen)
		return nil
	})
}

// deleteFamilySQL deletes every token of the session whose id it is given, walking the chain
// from the session's first token through the parent index.
const deleteFamilySQL = `
	WITH RECURSIVE family(hash) AS (
		SELECT first_hash FROM sessions WHERE id = ?
		UNION ALL
		SELECT t.hash FROM refresh_tokens t JOIN family f ON t.parent_hash = f.hash
	)
	DELETE FROM refresh_tokens WHERE hash IN (SELECT hash FROM family)`

// PruneSessions implements server.Store: one transaction deleting up to limit ended
// sessions, each with its chain. The caller loops while a call deletes limit of them, so
// that a large backlog (an upgrade, a long outage) never holds the write lock for long.
func (s *Store) PruneSessions(ctx context.Context, endedBefore time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.tx(ctx, func(tx txq) error {
		cut := ms(endedBefore)
		ids, err := list(ctx, tx.runner, func(row scanner) (string, error) {
			var id string
			return id, row.Scan(&id)
		}, "SELECT id FROM sessions WHERE expires_at < ? OR revoked_at < ? LIMIT ?"+s.d.LockPrune, cut, cut, limit)
		if err != nil {
			return err
		}
		for _, id := range ids {
			tx.queue(ctx, deleteFamilySQL, id)
			tx.queue(ctx, "DELETE FROM sessions WHERE id = ?", id)
		}
		n = int64(len(ids))
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
