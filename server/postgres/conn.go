package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authctl/authctl/server/sqlstore"
)

// pgDB adapts a pgx pool to sqlstore.DB, keeping pgx's native protocol and its per-connection
// statement cache.
type pgDB struct{ pool *pgxpool.Pool }

func (d pgDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := d.pool.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (d pgDB) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.pool.QueryRow(ctx, query, args...)
}

func (d pgDB) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return d.pool.Query(ctx, query, args...)
}

func (d pgDB) Close() error {
	d.pool.Close()
	return nil
}

// Begin takes a connection but sends nothing yet: BEGIN goes out with the transaction's
// first statements.
func (d pgDB) Begin(ctx context.Context) (sqlstore.Tx, error) {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	t := &pgTx{conn: conn, pending: new(pgx.Batch)}
	t.pending.Queue("BEGIN")
	return t, nil
}

// pgTx is a transaction that pipelines: statements queued with Queue (and BEGIN) wait for the
// next statement whose result is needed, or for COMMIT, and go out with it in one batch —
// one round trip instead of one per statement.
type pgTx struct {
	conn    *pgxpool.Conn
	pending *pgx.Batch // the batch results read it after it was sent: each send starts a new one
	begun   bool       // BEGIN has been sent
	done    bool       // CommitRow ended the transaction
}

func (t *pgTx) Queue(_ context.Context, query string, args ...any) {
	t.pending.Queue(query, args...)
}

// send sends the pending statements in one batch.
func (t *pgTx) send(ctx context.Context) pgx.BatchResults {
	br := t.conn.SendBatch(ctx, t.pending)
	t.pending, t.begun = new(pgx.Batch), true
	return br
}

func (t *pgTx) flush(ctx context.Context) error {
	if t.pending.Len() == 0 {
		return nil
	}
	return t.send(ctx).Close()
}

// Exec runs query on its own after the pending statements: a statement without arguments
// may hold several (a migration), which only the simple protocol runs, never in a batch.
func (t *pgTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if err := t.flush(ctx); err != nil {
		return 0, err
	}
	tag, err := t.conn.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (t *pgTx) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return t.conn.Query(ctx, query, args...)
}

// QueryRow sends query in one batch with the pending statements.
func (t *pgTx) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	before := t.pending.Len()
	t.pending.Queue(query, args...)
	return batchRow{br: t.send(ctx), before: before}
}

// batchRow is the last result of a batch; the ones before it are statements whose results
// nobody needs except for their errors.
type batchRow struct {
	br     pgx.BatchResults
	before int
}

func (r batchRow) Scan(dest ...any) error {
	for range r.before {
		if _, err := r.br.Exec(); err != nil {
			r.br.Close()
			return err
		}
	}
	err := r.br.QueryRow().Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

var errRolledBack = errors.New("transaction was rolled back")

// Commit sends the pending statements and COMMIT in one batch.
func (t *pgTx) Commit(ctx context.Context) error {
	defer t.release()
	if t.done || !t.begun && t.pending.Len() == 1 {
		return nil // CommitRow committed, or only BEGIN is pending: the transaction did nothing
	}
	t.pending.Queue("COMMIT")
	n := t.pending.Len()
	br := t.send(ctx)
	defer br.Close()
	for range n - 1 {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	return commitTag(br.Exec())
}

// commitTag turns COMMIT's answer into an error: COMMIT in a failed transaction answers
// ROLLBACK without one.
func commitTag(tag pgconn.CommandTag, err error) error {
	if err == nil && tag.String() == "ROLLBACK" {
		return errRolledBack
	}
	return err
}

// CommitRow sends the pending statements and query in one batch, which PostgreSQL runs as
// one implicit transaction when BEGIN has not gone out yet, and with COMMIT otherwise.
func (t *pgTx) CommitRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	t.done = true
	implicit := !t.begun
	if implicit {
		t.pending.QueuedQueries = t.pending.QueuedQueries[1:] // BEGIN
	}
	before := t.pending.Len()
	t.pending.Queue(query, args...)
	if !implicit {
		t.pending.Queue("COMMIT")
	}
	return commitRow{batchRow{br: t.send(ctx), before: before}, !implicit}
}

// commitRow is a batchRow followed by COMMIT, or ending an implicit transaction.
type commitRow struct {
	batchRow
	commit bool
}

func (r commitRow) Scan(dest ...any) error {
	defer r.br.Close()
	for range r.before {
		if _, err := r.br.Exec(); err != nil {
			return err
		}
	}
	err := r.br.QueryRow().Scan(dest...)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if r.commit {
		if cerr := commitTag(r.br.Exec()); cerr != nil {
			return cerr
		}
	}
	if cerr := r.br.Close(); cerr != nil { // an implicit transaction commits here
		return cerr
	}
	return err
}

func (t *pgTx) Rollback(ctx context.Context) error {
	defer t.release()
	if !t.begun || t.done {
		return nil
	}
	_, err := t.conn.Exec(ctx, "ROLLBACK")
	return err
}

// release returns the connection to the pool, ending a transaction left open by a failed
// batch first; pgxpool would close a connection still in a transaction instead.
func (t *pgTx) release() {
	if t.begun && t.conn.Conn().PgConn().TxStatus() != 'I' && !t.conn.Conn().IsClosed() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		t.conn.Exec(ctx, "ROLLBACK")
		cancel()
	}
	t.conn.Release()
}
