package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-cd/sluice/internal/store/sqlstore"
)

// tx is a transaction that costs as few round trips as its statements
// allow. Nothing reaches the server until the first statement that needs an
// answer: BEGIN goes with it, in one pipelined batch. Statements held
// through sqlstore.Pipeliner (writes whose outcome nobody reads before
// commit, such as an engine step's stage updates and events) wait and go
// with the next statement sent, or, at Commit, together with the COMMIT
// when the server checks them all (sqlstore.Held.Checked), else just
// before it. An engine step — lock and read the execution and its stages;
// write what changed, insert the next job, complete this one and commit —
// so costs two round trips instead of one per statement.
//
// The connection is the tx's from the first batch until Commit or
// Rollback returns it to the pool.
type tx struct {
	pool *pgxpool.Pool
	opts pgx.TxOptions
	conn *pgxpool.Conn // nil until the first batch
	t    pgx.Tx        // the transaction BEGIN opened, for River and plain statements
	held []sqlstore.Held
	done bool
}

var _ sqlstore.Pipeliner = (*tx)(nil)

// Hold implements sqlstore.Pipeliner.
func (t *tx) Hold(h sqlstore.Held) { t.held = append(t.held, h) }

// direct reports whether a statement can go straight to the open
// transaction: it has begun and holds nothing.
func (t *tx) direct() bool { return t.t != nil && len(t.held) == 0 && !t.done }

// send sends the held statements and then, when query is not empty, query
// itself, beginning the transaction first if need be. It returns the
// results positioned at query's; the caller reads them and closes them.
// With no query it closes the results itself and returns nil.
func (t *tx) send(ctx context.Context, query string, args ...any) (pgx.BatchResults, error) {
	if t.done {
		return nil, pgx.ErrTxClosed
	}
	var b pgx.Batch
	if t.t == nil {
		b.BeginTx(t.opts)
	}
	held := t.held
	t.held = nil
	for _, h := range held {
		b.Queue(h.Query, h.Args...)
	}
	if query != "" {
		b.Queue(query, args...)
	}
	if b.Len() == 0 {
		return nil, nil
	}
	if t.conn == nil {
		c, err := t.pool.Acquire(ctx)
		if err != nil {
			return nil, translate(err)
		}
		t.conn = c
	}
	br := t.conn.SendBatch(ctx, &b)
	if t.t == nil {
		t.t = br.Tx()
		if _, err := br.Exec(); err != nil { // BEGIN
			return nil, closeWith(br, fmt.Errorf("begin transaction: %w", err))
		}
	}
	for _, h := range held {
		if err := heldResult(br, h); err != nil {
			return nil, closeWith(br, err)
		}
	}
	if query == "" {
		return nil, translate(br.Close())
	}
	return br, nil
}

// heldResult reads one held statement's result and gives it to the
// statement's callback.
func heldResult(br pgx.BatchResults, h sqlstore.Held) error {
	if h.Row != nil {
		return h.Row(row{br.QueryRow()})
	}
	tag, err := br.Exec()
	return h.Done(tag.RowsAffected(), translate(err))
}

// closeWith closes br and returns err, which says more than Close's error.
func closeWith(br pgx.BatchResults, err error) error {
	_ = br.Close()
	return err
}

func (t *tx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if t.direct() {
		return executor{t.t}.Exec(ctx, query, args...)
	}
	br, err := t.send(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if err != nil {
		return 0, closeWith(br, translate(err))
	}
	return tag.RowsAffected(), translate(br.Close())
}

func (t *tx) Query(ctx context.Context, query string, args []any, scan func(sqlstore.Row) error) error {
	if t.direct() {
		return executor{t.t}.Query(ctx, query, args, scan)
	}
	br, err := t.send(ctx, query, args...)
	if err != nil {
		return err
	}
	rows, err := br.Query()
	if err != nil {
		return closeWith(br, translate(err))
	}
	err = scanRows(rows, scan)
	if cerr := br.Close(); err == nil {
		err = translate(cerr)
	}
	return err
}

func (t *tx) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	if t.direct() {
		return executor{t.t}.QueryRow(ctx, query, args...)
	}
	br, err := t.send(ctx, query, args...)
	if err != nil {
		return errRow{err}
	}
	return batchRow{br}
}

// Driver sends what is held, beginning the transaction if nothing has yet,
// and returns the pgx.Tx for the job queue.
func (t *tx) Driver(ctx context.Context) (any, error) {
	if len(t.held) > 0 || t.t == nil {
		if _, err := t.send(ctx, ""); err != nil {
			return nil, err
		}
	}
	return t.t, nil
}

// Commit sends the held statements and commits — or does nothing when
// nothing was ever sent or held. When every held statement is Checked (the
// server fails it for whatever its caller requires of it), COMMIT goes in
// the same batch: one round trip. Otherwise it waits for their outcomes
// and commits in a second: the server would run a COMMIT sent with them
// even when an outcome then fails its check on this side (an update that
// found no row). The connection goes back to the pool whatever happens.
func (t *tx) Commit(ctx context.Context) error {
	if t.done {
		return pgx.ErrTxClosed
	}
	defer t.finish(ctx)
	if t.t == nil && len(t.held) == 0 {
		return nil
	}
	if len(t.held) > 0 && !slices.ContainsFunc(t.held, func(h sqlstore.Held) bool { return !h.Checked }) {
		br, err := t.send(ctx, "COMMIT")
		if err != nil {
			return err
		}
		tag, err := br.Exec()
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return committed(tag, err)
	}
	if _, err := t.send(ctx, ""); err != nil {
		return err
	}
	return committed(t.conn.Exec(ctx, "COMMIT"))
}

// committed is the outcome of a COMMIT: the server answers one in a failed
// transaction with ROLLBACK.
func committed(tag pgconn.CommandTag, err error) error {
	if err == nil && tag.String() == "ROLLBACK" {
		err = pgx.ErrTxCommitRollback
	}
	return translate(err)
}

// Rollback drops the held statements and rolls back what was sent. It is
// a no-op after Commit.
func (t *tx) Rollback(ctx context.Context) error {
	if t.done {
		return nil
	}
	t.held = nil
	return t.finish(ctx)
}

// finish ends the transaction if it is still open on the server and
// returns the connection to the pool; a connection that cannot be rolled
// back is closed rather than reused.
func (t *tx) finish(ctx context.Context) error {
	t.done = true
	if t.conn == nil {
		return nil
	}
	c := t.conn
	t.conn = nil
	defer c.Release()
	if c.Conn().PgConn().TxStatus() == 'I' {
		return nil
	}
	if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
		_ = c.Conn().Close(ctx)
		return err
	}
	return nil
}

// batchRow is the row of a statement sent at the end of a batch.
type batchRow struct{ br pgx.BatchResults }

func (r batchRow) Scan(dest ...any) error {
	err := translate(r.br.QueryRow().Scan(dest...))
	if cerr := r.br.Close(); err == nil {
		err = translate(cerr)
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func scanRows(rows pgx.Rows, scan func(sqlstore.Row) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return translate(err)
		}
	}
	return translate(rows.Err())
}
