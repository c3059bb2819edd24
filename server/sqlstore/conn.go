package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// Conn runs statements. Queries reach it already in the driver's placeholder style.
type Conn interface {
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Row is one result row; Scan reports the driver's "no rows" error, which the Store turns into
// server.ErrNotFound.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set; pgx.Rows has this shape already.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Tx is a write transaction.
type Tx interface {
	Conn
	// Queue runs a statement whose result is not needed. A driver that talks to a server may
	// hold it back and send it together with the next statement or the COMMIT, so its error
	// may surface only there.
	Queue(ctx context.Context, query string, args ...any)
	// CommitRow runs query after the queued statements and then commits, returning query's
	// one row: its Scan reports the first error of the statements, query or COMMIT (nothing
	// is committed after an error; no row is not one), and the transaction is over once Scan
	// returns (a later Commit or Rollback does nothing). A
	// driver that talks to a server sends all of it in one round trip — a refresh on
	// PostgreSQL (Dialect.RotateInOne).
	CommitRow(ctx context.Context, query string, args ...any) Row
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// DB is a database: reads run on it directly, writes in a transaction from Begin.
type DB interface {
	Conn
	Begin(ctx context.Context) (Tx, error)
	Close() error
}

// SQLDB adapts database/sql: reads on r, write transactions on w (which may be the same
// pool). Statements with arguments are prepared once per pool and reused — every refresh
// runs the same three statements, and SQLite spends much of a short statement's time
// compiling it. Statements without arguments (migrations, pragmas) may hold several
// statements and run unprepared, as pgx runs them with the simple protocol.
func SQLDB(w, r *sql.DB) DB {
	d := &sqlDB{w: stmtCache{db: w, stmts: new(sync.Map)}}
	d.r = d.w
	if r != w {
		d.r = stmtCache{db: r, stmts: new(sync.Map)}
	}
	return d
}

type sqlDB struct {
	w, r stmtCache
}

// stmtCache holds one pool's prepared statements by query text.
type stmtCache struct {
	db    *sql.DB
	stmts *sync.Map // query → *sql.Stmt
}

func (c stmtCache) get(query string) *sql.Stmt {
	if st, ok := c.stmts.Load(query); ok {
		return st.(*sql.Stmt)
	}
	return nil
}

// prepare stores a prepared statement for query unless another caller got there first.
func (c stmtCache) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func (c stmtCache) close() error {
	var errs []error
	c.stmts.Range(func(_, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close())
		return true
	})
	return errors.Join(append(errs, c.db.Close())...)
}

// read returns the prepared statement for a read, preparing it on first use.
func (d *sqlDB) read(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := d.r.get(query); st != nil {
		return st, nil
	}
	return d.r.prepare(ctx, query)
}

func (d *sqlDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if len(args) == 0 {
		return rowsAffected(d.r.db.ExecContext(ctx, query))
	}
	st, err := d.read(ctx, query)
	if err != nil {
		return 0, err
	}
	return rowsAffected(st.ExecContext(ctx, args...))
}

func (d *sqlDB) QueryRow(ctx context.Context, query string, args ...any) Row {
	if len(args) == 0 {
		return d.r.db.QueryRowContext(ctx, query)
	}
	st, err := d.read(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

func (d *sqlDB) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	if len(args) == 0 {
		return sqlRows(d.r.db.QueryContext(ctx, query))
	}
	st, err := d.read(ctx, query)
	if err != nil {
		return nil, err
	}
	return sqlRows(st.QueryContext(ctx, args...))
}

func (d *sqlDB) Begin(ctx context.Context) (Tx, error) {
	tx, err := d.w.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &sqlTx{tx: tx, cache: d.w}, nil
}

func (d *sqlDB) Close() error {
	if d.w.db == d.r.db {
		return d.w.close()
	}
	return errors.Join(d.r.close(), d.w.close())
}

// sqlTx is a database/sql transaction. Statements it finds unprepared run unprepared and are
// prepared after the transaction ends: the writer pool of the SQLite store has a single
// connection, which the transaction holds, so preparing on the pool now would wait forever.
type sqlTx struct {
	tx      *sql.Tx
	cache   stmtCache
	queued  error    // the first error of a queued statement
	prepare []string // statements to prepare once the transaction is over
	done    bool     // CommitRow ended the transaction
}

func (t *sqlTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := t.cache.get(query); st != nil {
		return t.tx.StmtContext(ctx, st)
	}
	t.prepare = append(t.prepare, query)
	return nil
}

func (t *sqlTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if t.queued != nil {
		return 0, t.queued
	}
	if st := t.stmtFor(ctx, query, args); st != nil {
		return rowsAffected(st.ExecContext(ctx, args...))
	}
	return rowsAffected(t.tx.ExecContext(ctx, query, args...))
}

func (t *sqlTx) QueryRow(ctx context.Context, query string, args ...any) Row {
	if t.queued != nil {
		return errRow{t.queued}
	}
	if st := t.stmtFor(ctx, query, args); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

func (t *sqlTx) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	if t.queued != nil {
		return nil, t.queued
	}
	if st := t.stmtFor(ctx, query, args); st != nil {
		return sqlRows(st.QueryContext(ctx, args...))
	}
	return sqlRows(t.tx.QueryContext(ctx, query, args...))
}

// stmtFor is the prepared statement for a query with arguments, nil when it must run
// unprepared.
func (t *sqlTx) stmtFor(ctx context.Context, query string, args []any) *sql.Stmt {
	if len(args) == 0 {
		return nil
	}
	return t.stmt(ctx, query)
}

// Queue runs the statement at once: the database is in-process, so there is no round trip
// to save.
func (t *sqlTx) Queue(ctx context.Context, query string, args ...any) {
	if _, err := t.Exec(ctx, query, args...); err != nil && t.queued == nil {
		t.queued = err
	}
}

// CommitRow runs query at once, and ends the transaction when its row has been scanned.
func (t *sqlTx) CommitRow(ctx context.Context, query string, args ...any) Row {
	return commitRow{t, ctx, t.QueryRow(ctx, query, args...)}
}

type commitRow struct {
	t   *sqlTx
	ctx context.Context
	row Row
}

func (r commitRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		r.t.Rollback(r.ctx)
		return err
	}
	if cerr := r.t.Commit(r.ctx); cerr != nil {
		return cerr
	}
	return err
}

func (t *sqlTx) Commit(ctx context.Context) error {
	if t.done {
		return nil
	}
	t.done = true
	if t.queued != nil {
		t.tx.Rollback()
		return t.queued
	}
	err := t.tx.Commit()
	t.prepareLater(ctx)
	return err
}

func (t *sqlTx) Rollback(ctx context.Context) error {
	if t.done {
		return nil
	}
	t.done = true
	err := t.tx.Rollback()
	t.prepareLater(ctx)
	return err
}

func (t *sqlTx) prepareLater(ctx context.Context) {
	for _, q := range t.prepare {
		if t.cache.get(q) == nil {
			// A statement that does not prepare keeps running unprepared; its error shows there.
			t.cache.prepare(ctx, q)
		}
	}
	t.prepare = nil
}

func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// rows adapts *sql.Rows, whose Close returns an error that Err reports as well.
type rows struct{ *sql.Rows }

func (r rows) Close() { r.Rows.Close() }

func sqlRows(r *sql.Rows, err error) (Rows, error) {
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}
