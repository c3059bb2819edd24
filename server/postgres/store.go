// Package postgres is the server.Store for several `authctl serve` replicas sharing one
// PostgreSQL database: rotations serialise on a row lock, revocations are pushed to every
// replica with LISTEN/NOTIFY, and schema migrations are guarded by an advisory lock. The
// queries and the rotation live in server/sqlstore; this package connects, says how
// PostgreSQL differs, and listens.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlstore"
)

// Store is a server.Store on a PostgreSQL database.
type Store struct {
	*sqlstore.Store
	pool *pgxpool.Pool
	log  atomic.Pointer[slog.Logger]
}

var (
	_ server.Store             = (*Store)(nil)
	_ server.RevocationWatcher = (*Store)(nil)
)

// Channel is the NOTIFY channel carrying revoked session ids; the store NOTIFYs and
// WatchRevocations LISTENs on it.
const Channel = "authctl_revocations"

// dialect is PostgreSQL's. A rotation is one statement (RotateInOne: the rules rendered into
// SQL, one round trip), which locks the presented token FOR UPDATE and shares its session FOR
// KEY SHARE (the lock its foreign key used to take); DeleteExpired locks the expiring
// sessions FOR UPDATE, and migrations and key changes take advisory locks: several replicas
// write at once. Revocations NOTIFY the other replicas inside the revoking transaction.
var dialect = sqlstore.Dialect{
	Name:         "postgres",
	Numbered:     true,
	Unique:       func(err error) bool { return pgCode(err) == "23505" },
	Retryable:    func(err error) bool { c := pgCode(err); return c == "40001" || c == "40P01" },
	Unavailable:  unavailable,
	LockRotation: " FOR UPDATE OF t FOR KEY SHARE OF s",
	RotateInOne:  true,
	LockExpired:  " FOR UPDATE",
	LockPrune:    " FOR UPDATE SKIP LOCKED",
	Unbounded:    "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0",
	AdvisoryLock: "SELECT pg_advisory_xact_lock(?)",
	Notify:       func(id string) string { return "pg_notify('" + Channel + "', " + id + ")" },
	VersionInit: `CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL);
		INSERT INTO schema_version SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version)`,
	VersionRead:  "SELECT version FROM schema_version",
	VersionWrite: "UPDATE schema_version SET version = %d",
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// unavailable tells a database that cannot answer — a refused or broken connection, a
// closed pool, a server shutting down or out of resources — from a statement that failed.
func unavailable(err error) bool {
	for _, known := range []error{server.ErrNotFound, server.ErrUserExists, server.ErrSessionRevoked,
		server.ErrSessionExpired, server.ErrReuseDetected, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, known) {
			return false
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// connection, operator intervention (statement_timeout's query_canceled too),
		// resources, and lock_timeout's lock_not_available: each says the database did not
		// answer in time or at all, not that the statement was wrong.
		class := pe.Code[:2]
		return class == "08" || class == "57" || class == "53" || pe.Code == "55P03"
	}
	return true
}

// Open connects to dsn and brings the schema up to date. Several replicas may open at once.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	return OpenConfig(ctx, cfg)
}

// Options are OpenOptions' settings.
type Options struct {
	// CallTimeout bounds each store call on the client side and, as statement_timeout and
	// lock_timeout, each statement on the server; zero is sqlstore.DefaultCallTimeout.
	CallTimeout time.Duration
}

// OpenConfig is Open with a parsed pool configuration (tests set search_path through it).
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	return OpenOptions(ctx, cfg, Options{})
}

// OpenOptions is OpenConfig with settings.
//
// A stalled database — a server that stopped answering without closing its connections —
// is met on both sides: the client gives every call a deadline (pgx then closes the
// connection, since its state is unknown) and the server ends any statement that runs, or
// waits for a lock, longer than the deadline, and any transaction left idle by a client
// that vanished, so that its locks do not hold up the other replicas. Timeouts already in
// the database URL (options such as statement_timeout) win.
func OpenOptions(ctx context.Context, cfg *pgxpool.Config, opts Options) (*Store, error) {
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = sqlstore.DefaultCallTimeout
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	params := cfg.ConnConfig.RuntimeParams
	for name, v := range map[string]time.Duration{
		"statement_timeout":                   opts.CallTimeout,
		"lock_timeout":                        opts.CallTimeout,
		"idle_in_transaction_session_timeout": 4 * opts.CallTimeout,
	} {
		if _, set := params[name]; !set {
			params[name] = strconv.FormatInt(v.Milliseconds(), 10)
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	st, err := sqlstore.New(ctx, pgDB{pool}, dialect, sqlstore.Options{CallTimeout: opts.CallTimeout})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate PostgreSQL schema: %w", err)
	}
	s := &Store{Store: st, pool: pool}
	s.log.Store(slog.New(slog.DiscardHandler))
	return s, nil
}

// SetLogger sets where WatchRevocations reports a lost or refused LISTEN connection; by
// default nowhere.
func (s *Store) SetLogger(log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s.log.Store(log)
}

// Reconnection backoff of WatchRevocations.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// WatchRevocations implements server.RevocationWatcher: it LISTENs on a dedicated connection
// and reconnects with backoff after losing it, until ctx ends. Revocations sent while it is
// disconnected are not lost for good: the Service's periodic RevokedSince poll covers them.
func (s *Store) WatchRevocations(ctx context.Context, fn func(sessionID string)) error {
	backoff := listenBackoffMin
	for ctx.Err() == nil {
		err := s.listen(ctx, fn, func() { backoff = listenBackoffMin })
		if ctx.Err() != nil {
			break
		}
		s.log.Load().Warn("revocation listener lost; other replicas' revocations arrive by polling until it reconnects",
			"channel", Channel, "retry_in", backoff, "err", err)
		pause := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			pause.Stop()
		case <-pause.C:
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
	return nil
}

func (s *Store) listen(ctx context.Context, fn func(string), connected func()) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		// A LISTENing connection must not go back to the pool.
		conn.Conn().Close(context.Background())
		conn.Release()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return fmt.Errorf("LISTEN: %w", err)
	}
	connected()
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notifications: %w", err)
		}
		fn(n.Payload)
	}
}
