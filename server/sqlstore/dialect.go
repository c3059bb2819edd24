package sqlstore

import (
	"strconv"
	"strings"
	"sync"
)

// Dialect is what truly differs between the databases the Store runs on. Everything else —
// every query, the schema's shape, the rotation rules — is written once.
type Dialect struct {
	// Name picks the migrations (migrationOrder) and the words of the shared ones.
	Name string
	// Numbered rewrites the queries' ? placeholders as $1, $2, … (PostgreSQL).
	Numbered bool

	// Unique reports a unique-constraint violation.
	Unique func(error) bool
	// Retryable reports a failure after which the whole transaction may simply run again: a
	// busy database, a serialization failure, a deadlock.
	Retryable func(error) bool
	// Unavailable reports a failure of the database rather than of the statement (a refused
	// or broken connection, a server shutting down); the Store wraps those in
	// server.ErrUnavailable. Nil when the database cannot be unavailable in that sense.
	Unavailable func(error) bool

	// LockRotation is appended to a read of the presented token (t) joined to its family (s):
	// it locks the token, so that concurrent rotations of it queue up, and shares the
	// family's row, so that DeleteExpired cannot delete the family under a rotation. Empty
	// where BEGIN takes the database's write lock already (SQLite).
	LockRotation string
	// RotateInOne says the database runs UPDATE and INSERT inside WITH and joins LATERAL, so
	// that Rotate can be one statement (rotateInOneSQL: the rules of server.RotationRules
	// rendered into SQL), a transaction of its own and one round trip. Without it, Rotate
	// reads the facts, decides in Go (server.DecideRotation) and writes.
	RotateInOne bool
	// LockExpired is appended to a read of the expiring sessions, run before DeleteExpired
	// walks their token chains: it waits for rotations in flight and holds off new ones.
	// Empty where BEGIN takes the write lock already.
	LockExpired string
	// AdvisoryLock is a statement taking a transaction-scoped lock on its one int64
	// argument, serialising migrations and signing-key changes between processes. Empty
	// where BEGIN takes the write lock already.
	AdvisoryLock string
	// LockPrune is appended to PruneSessions' read of the ended sessions it is about to
	// delete: it locks them, skipping rows another transaction holds (a rotation in flight,
	// another replica's pruner) for a later round. Empty where BEGIN takes the write lock.
	LockPrune string
	// Unbounded is a statement, without arguments, lifting the connection's statement and
	// lock timeouts for the rest of the transaction; the migration runs it first. Empty
	// where the connection has no such timeouts.
	Unbounded string
	// Notify, given an SQL expression for a session id, returns an SQL expression telling
	// other processes that this session was revoked. It is evaluated inside the revoking
	// transaction, so they hear of it only if it commits. Nil when nobody listens (other
	// processes poll RevokedSince).
	Notify func(id string) string

	// VersionInit runs before VersionRead (e.g. creates the table holding the version);
	// VersionRead returns the number of migrations a database has had; VersionWrite records
	// it (its %d is the number). None of them takes arguments.
	VersionInit, VersionRead, VersionWrite string
}

// binder rewrites placeholders for a Numbered dialect, remembering each query's rewrite.
type binder struct {
	numbered bool
	cache    sync.Map // query → rewritten query
}

func (b *binder) bind(query string) string {
	if !b.numbered {
		return query
	}
	if q, ok := b.cache.Load(query); ok {
		return q.(string)
	}
	q := rebind(query)
	b.cache.Store(query, q)
	return q
}

// rebind turns each ? outside quotes into $1, $2, …. The queries are the Store's own, so no
// ? ever appears in a comment or as an operator.
func rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	quoted := byte(0)
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quoted != 0:
			if c == quoted {
				quoted = 0
			}
		case c == '\'' || c == '"':
			quoted = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
