package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/authctl/authctl/server"
)

// staleRead is the outcome rotateInOneSQL answers when it read a spent token without its
// child. The rules never see that: a token is spent in the transaction that stores its child,
// and trims delete a chain from its old end. The statement read it because it waited for the
// lock of a concurrent rotation of the same token, and READ COMMITTED re-reads only the locked
// row, not the child that rotation stored. It writes nothing, and Rotate runs it again with a
// fresh snapshot (errStaleRead is retried at once).
const staleRead = -1

// commitRow runs query after the queued statements and commits; see Tx.CommitRow.
func (t txq) commitRow(ctx context.Context, query string, args ...any) row {
	return row{r: t.tx.CommitRow(ctx, t.s.b.bind(query), args...), s: t.s}
}

// factSQL spells each fact of server.RotationRules over the columns of rotateInOneSQL's f,
// which has a row only for a stored token. A condition is NULL where what it asks about is
// missing, and rulesSQL reads NULL as false, as server.RotationFact.Holds does. $2 is the
// request's Now and $3 its Grace, in ms.
var factSQL = map[server.RotationFact]string{
	server.FactTokenFound:     "TRUE",
	server.FactSessionRevoked: "f.revoked_at IS NOT NULL",
	server.FactUserFound:      "f.user_found",
	server.FactSessionExpired: "$2 >= f.expires_at",
	server.FactUnused:         "f.used_at IS NULL",
	server.FactWithinGrace:    "$2 - f.used_at <= $3",
	server.FactChildFound:     "f.child_found",
	server.FactChildUnused:    "f.child_found AND f.child_used IS NULL",
}

// rulesSQL renders rules as the WHEN and ELSE clauses of a CASE expression whose value is the
// RotationOutcome of the first rule whose tests pass, and RotationReuse when none does.
func rulesSQL(rules []server.RotationRule) string {
	var b strings.Builder
	for _, r := range rules {
		b.WriteString("\n\t\tWHEN ")
		for i, t := range r.If {
			cond, ok := factSQL[t.Fact]
			if !ok {
				panic(fmt.Sprintf("sqlstore: no SQL for rotation fact %d", t.Fact))
			}
			if i > 0 {
				b.WriteString(" AND ")
			}
			if !t.Want {
				b.WriteString("NOT ")
			}
			fmt.Fprintf(&b, "COALESCE(%s, FALSE)", cond)
		}
		fmt.Fprintf(&b, " THEN %d -- %v", r.Outcome, r.Outcome)
	}
	fmt.Fprintf(&b, "\n\t\tELSE %d -- %v", server.RotationReuse, server.RotationReuse)
	return b.String()
}

// rotateInOneSQL renders the rotation as one statement for a Dialect with RotateInOne:
//
//	f        the facts: the presented token ($1), locked (Dialect.LockRotation), with its
//	         family and user, and — once the token is spent — its child; no row when the
//	         token is unknown
//	d        f with the outcome: staleRead, or else server.RotationRules as a CASE (rulesSQL)
//	used     fresh: the token is spent at $2 …
//	child    … and its successor ($4) stored, one generation further
//	revoked  reuse: the family is revoked with reason $5, and the other processes told
//
// It answers with d's row and the token's gen. PostgreSQL runs each written CTE once, to the
// end, whether or not anything reads it. The chain's trim (Store.trim) is not in it: it is due
// once in SpentTokensKept rotations, and as part of this statement it would cost every
// rotation a plan for a recursive walk.
func rotateInOneSQL(d Dialect) string {
	fresh, reuse := int(server.RotationFresh), int(server.RotationReuse)
	notify := "1"
	if d.Notify != nil {
		notify = d.Notify("sessions.id")
	}
	return fmt.Sprintf(`WITH f AS (
	SELECT t.used_at, t.gen,
	       s.id AS sid, s.user_id, s.created_at AS s_created, s.expires_at, s.revoked_at, s.revoke_reason,
	       u.id IS NOT NULL AS user_found, u.id AS uid, u.name, u.role, u.password_hash, u.created_at AS u_created,
	       c.found AS child_found, c.used_at AS child_used
	FROM refresh_tokens t
	JOIN sessions s ON s.id = t.session_id
	LEFT JOIN users u ON u.id = s.user_id
	LEFT JOIN LATERAL (
		SELECT TRUE AS found, used_at FROM refresh_tokens WHERE parent_hash = t.hash AND t.used_at IS NOT NULL LIMIT 1
	) c ON TRUE
	WHERE t.hash = $1%[5]s
), d AS (
	SELECT f.*, CASE
		WHEN f.used_at IS NOT NULL AND f.child_found IS NULL THEN %[6]d -- staleRead%[1]s
	END AS outcome FROM f
), used AS (
	UPDATE refresh_tokens SET used_at = $2 WHERE hash = $1 AND EXISTS (SELECT FROM d WHERE outcome = %[2]d)
), child AS (
	INSERT INTO refresh_tokens (hash, session_id, parent_hash, issued_at, used_at, gen)
	SELECT $4, d.sid, $1, $2, NULL, d.gen + 1 FROM d WHERE d.outcome = %[2]d
), revoked AS (
	UPDATE sessions SET revoked_at = $2, revoke_reason = $5
	WHERE id = (SELECT sid FROM d WHERE outcome = %[3]d) AND revoked_at IS NULL
	RETURNING %[4]s
)
SELECT d.outcome, d.used_at, d.sid, d.user_id, d.s_created, d.expires_at, d.revoked_at, d.revoke_reason,
       d.user_found, d.uid, d.name, d.role, d.password_hash, d.u_created, COALESCE(d.child_found, FALSE), d.child_used,
       d.gen
FROM d`, rulesSQL(server.RotationRules()), fresh, reuse, notify, d.LockRotation, staleRead)
}
